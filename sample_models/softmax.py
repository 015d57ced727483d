"""A linear softmax classifier with L2 regularization (correct)."""

import numpy as np

N, D, C = 8, 5, 4  # few examples: fewer kinks, same verdict as the full batch
REG = 0.1

_data = np.random.default_rng(1)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.1 * rng.standard_normal(C)}


def _probs(params):
    scores = X @ params["W"] + params["b"]
    scores = scores - scores.max(axis=1, keepdims=True)  # exp cannot overflow
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def loss(params):
    probs = _probs(params)
    data_loss = -np.mean(np.log(probs[np.arange(N), y]))
    return data_loss + REG * np.sum(params["W"] ** 2)


def grad(params):
    dscores = _probs(params)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return {"W": X.T @ dscores + 2 * REG * params["W"], "b": dscores.sum(axis=0)}
