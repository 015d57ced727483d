"""Correct: square linear map Y_hat = X @ A + b (A is D x D), mean squared error."""

import numpy as np

N, D = 16, 5

_data = np.random.default_rng(209)
X = _data.standard_normal((N, D))
Y = X @ _data.standard_normal((D, D)) + 0.2 * _data.standard_normal((N, D))

EXPECTED = {}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"A": 0.5 * rng.standard_normal((D, D)), "b": 0.3 * rng.standard_normal(D)}


def loss(params):
    r = X @ params["A"] + params["b"] - Y
    return np.sum(r ** 2) / N


def grad(params):
    r = X @ params["A"] + params["b"] - Y
    dY = 2 * r / N
    return {"A": X.T @ dY, "b": dY.sum(axis=0)}
