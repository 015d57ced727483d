"""BUG: two-layer ReLU net whose first-layer bias gradient is never filled in.

The grads dict starts as zeros_like of every parameter and the backward pass
assigns W2, b2 and W1, but the line for b1 was forgotten: grads["b1"] stays
exactly zero although b1 moves the loss. Everything else is right.
"""

import numpy as np

N, D, H, C = 20, 5, 8, 3
REG = 0.05

_data = np.random.default_rng(110)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"b1": ("zero", None)}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": 0.5 * rng.standard_normal((D, H)),
        "b1": 0.2 * rng.standard_normal(H),
        "W2": 0.5 * rng.standard_normal((H, C)),
        "b2": 0.2 * rng.standard_normal(C),
    }


def loss_and_grad(params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1 = X @ W1 + b1
    h1 = np.maximum(0, z1)
    scores = h1 @ W2 + b2
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + REG * (np.sum(W1 ** 2) + np.sum(W2 ** 2))

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads["W2"] = h1.T @ dscores + 2 * REG * W2
    grads["b2"] = dscores.sum(axis=0)
    dh1 = dscores @ W2.T
    dz1 = dh1 * (z1 > 0)
    grads["W1"] = X.T @ dz1 + 2 * REG * W1
    return loss, grads
