"""BUG: the weight gradient forgets to divide by the number of examples.

The loss averages over N examples, the bias gradient does too, but dW is
computed from the un-averaged dscores: it is N times too large.
Expected: `fail` in W, b passes.
"""

import numpy as np

N, D, C = 8, 5, 4

_data = np.random.default_rng(9)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.1 * rng.standard_normal(C)}


def _probs(params):
    scores = X @ params["W"] + params["b"]
    scores -= scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def loss(params):
    return -np.mean(np.log(_probs(params)[np.arange(N), y]))


def grad(params):
    dscores = _probs(params)
    dscores[np.arange(N), y] -= 1
    return {"W": X.T @ dscores, "b": dscores.sum(axis=0) / N}  # the bug: dW needs / N too
