"""Correct: multi-label logistic regression (sigmoid + binary cross-entropy)."""

import numpy as np

N, D, K = 30, 5, 3

_data = np.random.default_rng(208)
X = _data.standard_normal((N, D))
Yb = (_data.random((N, K)) < 0.5).astype(float)

EXPECTED = {}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, K)), "b": 0.2 * rng.standard_normal(K)}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss(params):
    p = sigmoid(X @ params["W"] + params["b"])
    return -np.sum(Yb * np.log(p) + (1 - Yb) * np.log(1 - p)) / N


def grad(params):
    p = sigmoid(X @ params["W"] + params["b"])
    dz = (p - Yb) / N
    return {"W": X.T @ dz, "b": dz.sum(axis=0)}
