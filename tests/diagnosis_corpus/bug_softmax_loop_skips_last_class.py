"""BUG: naive-loop softmax with L2 whose gradient loop stops one class short.

The inner loop runs `for j in range(C - 1)` (C - 1 taken for the last index),
so the last class's column of dW and element of db never receive the data
term: column 3 of dW holds only 2 * REG * W[:, 3], and db[3] stays 0. All
other columns and elements are right.
"""

import numpy as np

N, D, C = 24, 5, 4
REG = 0.05

_data = np.random.default_rng(115)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"W": ("confined", "column 3"), "b": ("confined", "element 3")}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.3 * rng.standard_normal(C)}


def loss_and_grad(params):
    W, b = params["W"], params["b"]
    loss = 0.0
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    for i in range(N):
        scores = X[i].dot(W) + b
        scores -= scores.max()
        p = np.exp(scores) / np.sum(np.exp(scores))
        loss -= np.log(p[y[i]])
        for j in range(C - 1):
            dW[:, j] += (p[j] - (j == y[i])) * X[i]
            db[j] += p[j] - (j == y[i])
    loss = loss / N + REG * np.sum(W * W)
    dW = dW / N + 2 * REG * W
    db /= N
    return loss, {"W": dW, "b": db}
