"""BUG: linear regression on scaled features, loss 0.5*mean((X@W*SCALE - Y)**2)
with SCALE = 0.125; the gradient forgets the chain-rule factor SCALE
(dW = X.T @ r / N instead of SCALE * X.T @ r / N).

True pattern: dW = 8 x the true gradient in every element (8 = 1/SCALE, a
float constant). The module also has T = 8, the number of demo training
steps run under __main__; the loss and gradient never read the global T
(they only use the transpose attribute X.T). A hint naming T ("a missing
1/T (T = 8)") names a constant the model does not read.
"""
import numpy as np

N, D, K = 40, 5, 3
T = 8  # demo: training steps under __main__
SCALE = 0.125
_r = np.random.default_rng(11)
X = _r.standard_normal((N, D))
Y = _r.standard_normal((N, K))


def init_params(seed=0):
    return {"W": np.random.default_rng(seed).standard_normal((D, K))}


def loss(p):
    r = X @ p["W"] * SCALE - Y
    return 0.5 * np.mean(np.sum(r * r, axis=1))


def grad(p):
    r = X @ p["W"] * SCALE - Y
    return {"W": X.T @ r / N}   # BUG: * SCALE missing


if __name__ == "__main__":
    p = init_params()
    for _ in range(T):
        p["W"] -= 0.1 * grad(p)["W"]
