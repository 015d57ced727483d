"""Correct: vectorized softmax classifier with L2 regularization on W."""

import numpy as np

N, D, C = 40, 6, 4
REG = 0.1

_data = np.random.default_rng(201)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.2 * rng.standard_normal(C)}


def loss_and_grad(params):
    W, b = params["W"], params["b"]
    scores = X @ W + b
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + REG * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return loss, {"W": X.T @ dscores + 2 * REG * W, "b": dscores.sum(axis=0)}
