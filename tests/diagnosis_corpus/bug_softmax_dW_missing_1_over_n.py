"""BUG: softmax classifier whose weight gradient is not averaged over the batch.

The loss is the mean cross-entropy over the N = 50 examples, and the bias
gradient is averaged with np.mean, but dW is built as X.T @ dscores from
dscores that were never divided by N, so dW is exactly N times too large.
"""

import numpy as np

N, D, C = 50, 6, 4

_data = np.random.default_rng(101)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"W": ("ratio", "N = 50"), "b": None}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.2 * rng.standard_normal(C)}


def softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def loss(params):
    probs = softmax(X @ params["W"] + params["b"])
    return -np.mean(np.log(probs[np.arange(N), y]))


def grad(params):
    probs = softmax(X @ params["W"] + params["b"])
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dW = X.T @ dscores          # forgot / N here
    db = np.mean(dscores, axis=0)
    return {"W": dW, "b": db}
