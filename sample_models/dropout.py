"""A two-layer ReLU net with (inverted) dropout on the hidden layer (correct).

The mask comes from np.random.rand inside loss and grad. gradcheck reseeds
numpy's global RNG before every call, so f(x+h), f(x-h) and the gradient
all see the same mask and the dropout itself is checked too.
"""

import numpy as np

N, D, H, C = 6, 5, 8, 3
KEEP = 0.5

_data = np.random.default_rng(6)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": 0.5 * rng.standard_normal((D, H)), "W2": 0.5 * rng.standard_normal((H, C))}


def _forward(params):
    z = X @ params["W1"]
    mask = (np.random.rand(*z.shape) < KEEP) / KEEP
    hidden = np.maximum(0, z) * mask
    scores = hidden @ params["W2"]
    scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    return z, mask, hidden, probs


def loss(params):
    *_, probs = _forward(params)
    return -np.mean(np.log(probs[np.arange(N), y]))


def grad(params):
    z, mask, hidden, probs = _forward(params)
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dz = (dscores @ params["W2"].T) * mask * (z > 0)
    return {"W1": X.T @ dz, "W2": hidden.T @ dscores}
