"""BUG: softmax classifier whose grad never computes the bias gradient.

grad returns zeros for b. The bias is 4 of 24 parameters: a checker that
samples 10 coordinates from the concatenated vector misses it about a
fifth of the time. gradcheck samples every block. Expected: `fail` in b,
W passes.
"""

import numpy as np

N, D, C = 8, 5, 4

_data = np.random.default_rng(8)
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
    dscores /= N
    return {"W": X.T @ dscores, "b": np.zeros_like(params["b"])}  # the bug: db = dscores.sum(axis=0)
