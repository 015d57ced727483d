"""A two-layer net: affine - ReLU - affine - softmax, with L2 (correct).

Defines loss_and_grad instead of separate loss and grad, as the CS231n
assignments do.
"""

import numpy as np

N, D, H, C = 6, 5, 7, 3
REG = 0.05

_data = np.random.default_rng(3)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": 0.5 * rng.standard_normal((D, H)),
        "b1": 0.1 * rng.standard_normal(H),
        "W2": 0.5 * rng.standard_normal((H, C)),
        "b2": 0.1 * rng.standard_normal(C),
    }


def loss_and_grad(params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z = X @ W1 + b1
    hidden = np.maximum(0, z)  # ReLU
    scores = hidden @ W2 + b2
    scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + REG * (np.sum(W1**2) + np.sum(W2**2))

    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dhidden = dscores @ W2.T
    dz = dhidden * (z > 0)
    grads = {
        "W1": X.T @ dz + 2 * REG * W1,
        "b1": dz.sum(axis=0),
        "W2": hidden.T @ dscores + 2 * REG * W2,
        "b2": dscores.sum(axis=0),
    }
    return loss, grads
