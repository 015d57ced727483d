"""Correct: naive-loop multiclass SVM with L2 regularization (x_i subtracted
from the correct class once per positive margin)."""

import numpy as np

N, D, C = 30, 6, 5
REG = 0.05

_data = np.random.default_rng(202)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.3 * rng.standard_normal(C)}


def loss_and_grad(params):
    W, b = params["W"], params["b"]
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    loss = 0.0
    for i in range(N):
        scores = X[i].dot(W) + b
        correct_class_score = scores[y[i]]
        for j in range(C):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
                db[j] += 1
                db[y[i]] -= 1
    loss = loss / N + REG * np.sum(W * W)
    return loss, {"W": dW / N + 2 * REG * W, "b": db / N}
