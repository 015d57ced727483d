"""Correct: multi-output ridge regression, 0.5 * mean squared error plus
REG * sum(W**2)."""

import numpy as np

N, D, K = 28, 6, 3
REG = 0.2

_data = np.random.default_rng(207)
X = _data.standard_normal((N, D))
Y = X @ _data.standard_normal((D, K)) + 0.1 * _data.standard_normal((N, K))

EXPECTED = {}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, K)), "b": 0.3 * rng.standard_normal(K)}


def loss(params):
    r = X @ params["W"] + params["b"] - Y
    return 0.5 * np.sum(r ** 2) / N + REG * np.sum(params["W"] ** 2)


def grad(params):
    r = X @ params["W"] + params["b"] - Y
    return {"W": X.T @ r / N + 2 * REG * params["W"], "b": r.sum(axis=0) / N}
