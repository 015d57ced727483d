"""BUG: softmax classifier whose loss is -mean(log(p_y + 1e-7)) (a guard
against log 0) plus reg * sum(W**2), but whose gradient is that of
-mean(log(p_y)) (the 1e-7 ignored); the L2 term's gradient 2*reg*W is right.

True pattern: dW = true + E with E = X.T @ D / N, D the softmax-Jacobian
image of the eps error: a small (relative ~1e-6) data-term error, NOT
proportional to W (corr with W is accidental). No kind holds. A `param`
hint ("analytic - numeric = c x W: an L2 term's gradient missing or wrong")
would be false; the L2 term is exactly right.
"""
import numpy as np

N, D, C = 30, 6, 4
reg = 0.05
_r = np.random.default_rng(7)
X = _r.standard_normal((N, D))
y = _r.integers(0, C, size=N)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.8 * rng.standard_normal((D, C))}


def loss_and_grad(p):
    W = p["W"]
    s = X @ W
    s = s - s.max(axis=1, keepdims=True)
    P = np.exp(s); P /= P.sum(axis=1, keepdims=True)
    py = P[np.arange(N), y]
    L = -np.mean(np.log(py + 1e-7)) + reg * np.sum(W * W)
    d = P.copy(); d[np.arange(N), y] -= 1; d /= N
    dW = X.T @ d + 2 * reg * W
    return L, {"W": dW}
