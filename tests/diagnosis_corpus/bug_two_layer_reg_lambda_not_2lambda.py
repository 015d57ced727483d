"""BUG: two-layer ReLU net whose L2 gradient is REG * W instead of 2 * REG * W.

The loss is the mean softmax cross-entropy plus REG * (sum(W1**2) + sum(W2**2)),
without the conventional 0.5, but the gradient adds REG * W (the derivative of
0.5 * REG * W**2). W1 and W2 are each off by exactly -REG times their own
values; the biases are right.
"""

import numpy as np

N, D, H, C = 20, 5, 8, 3
REG = 0.1

_data = np.random.default_rng(112)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"W1": ("param", None), "W2": ("param", None)}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": 0.5 * rng.standard_normal((D, H)),
        "b1": 0.2 * rng.standard_normal(H),
        "W2": 0.5 * rng.standard_normal((H, C)),
        "b2": 0.2 * rng.standard_normal(C),
    }


def loss_and_grad(params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1 = X @ W1 + b1
    h1 = np.maximum(0, z1)
    scores = h1 @ W2 + b2
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    data_loss = -np.mean(np.log(probs[np.arange(N), y]))
    reg_loss = REG * (np.sum(W1 * W1) + np.sum(W2 * W2))
    loss = data_loss + reg_loss

    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dW2 = h1.T @ dscores
    db2 = dscores.sum(axis=0)
    dz1 = (dscores @ W2.T) * (z1 > 0)
    dW1 = X.T @ dz1
    db1 = dz1.sum(axis=0)
    dW2 += REG * W2
    dW1 += REG * W1
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
