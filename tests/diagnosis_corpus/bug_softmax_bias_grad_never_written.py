"""BUG: naive-loop softmax classifier that never accumulates the bias gradient.

softmax_loss_naive with L2 on W: the inner loop adds each class's term to
dW[:, j] but the matching db[j] += ... line was never written, so the bias
gradient is returned as the np.zeros it was initialised with. W is right.
"""

import numpy as np

N, D, C = 24, 5, 3
REG = 0.05

_data = np.random.default_rng(109)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"b": ("zero", None)}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.3 * rng.standard_normal(C)}


def loss_and_grad(params):
    W, b = params["W"], params["b"]
    loss = 0.0
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    for i in range(N):
        scores = X[i] @ W + b
        scores -= np.max(scores)
        p = np.exp(scores) / np.sum(np.exp(scores))
        loss += -np.log(p[y[i]])
        for j in range(C):
            dW[:, j] += (p[j] - (j == y[i])) * X[i]
    loss = loss / N + REG * np.sum(W * W)
    dW = dW / N + 2 * REG * W
    return loss, {"W": dW, "b": db}
