"""BUG: two-layer tanh regression net with tanh'(z) written as 1 - tanh(z).

h = tanh(X @ W1 + b1), y_hat = h @ W2 + b2, mean squared error. In the
backward the student wrote dz = dh * (1 - h) instead of dh * (1 - h**2).
The first-layer gradients are wrong element by element with no simple
pattern (the factor (1 - h) / (1 - h**2) = 1 / (1 + h) differs per element);
W2 and b2 are right.
"""

import numpy as np

N, D, H, K = 24, 5, 8, 3

_data = np.random.default_rng(117)
X = _data.standard_normal((N, D))
Y = _data.standard_normal((N, K))

EXPECTED = {"W1": None, "b1": None}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": 0.5 * rng.standard_normal((D, H)),
        "b1": 0.3 * rng.standard_normal(H),
        "W2": 0.5 * rng.standard_normal((H, K)),
        "b2": 0.2 * rng.standard_normal(K),
    }


def loss_and_grad(params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    r = out - Y
    loss = np.sum(r ** 2) / N
    dout = 2 * r / N
    dW2 = h.T @ dout
    db2 = dout.sum(axis=0)
    dh = dout @ W2.T
    dz = dh * (1 - h)  # tanh' = 1 - tanh**2
    dW1 = X.T @ dz
    db1 = dz.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
