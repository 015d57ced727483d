"""BUG: softmax classifier with L2 regularization in the loss but not in the gradient.

The loss adds REG * sum(W**2); the vectorized gradient returns only the data
term X.T @ dscores / N and forgets + 2 * REG * W. The error is exactly
-2 * REG times W. The bias is not regularized and its gradient is right.
"""

import numpy as np

N, D, C = 32, 6, 5
REG = 0.1

_data = np.random.default_rng(111)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"W": ("param", None)}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.2 * rng.standard_normal(C)}


def loss_and_grad(params):
    W, b = params["W"], params["b"]
    scores = X @ W + b
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + REG * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dW = X.T @ dscores  # + 2 * REG * W forgotten
    db = dscores.sum(axis=0)
    return loss, {"W": dW, "b": db}
