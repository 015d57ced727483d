"""BUG: softmax without the max shift, on large scores.

exp(scores) overflows to inf for scores above ~709, inf/inf is nan, and
the loss is nan before any gradient can be checked. The fix is the shift
exp(s - s.max(axis=1, keepdims=True)), which changes nothing
mathematically. Expected: gradcheck stops with exit code 2 and says so.
"""

import numpy as np

N, D, C = 8, 5, 4

_data = np.random.default_rng(11)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 400.0 * rng.standard_normal((D, C)), "b": np.zeros(C)}


def _probs(params):
    exp = np.exp(X @ params["W"] + params["b"])  # the bug: no max shift
    return exp / exp.sum(axis=1, keepdims=True)


def loss(params):
    return -np.mean(np.log(_probs(params)[np.arange(N), y]))


def grad(params):
    dscores = _probs(params)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return {"W": X.T @ dscores, "b": dscores.sum(axis=0)}
