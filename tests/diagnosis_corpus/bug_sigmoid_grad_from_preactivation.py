"""BUG: two-layer sigmoid net whose sigmoid derivative is taken of the pre-activation.

h = sigmoid(X @ W1 + b1), y_hat = h @ W2 + b2, mean squared error. The
backward uses dz = dh * z * (1 - z) with z the pre-activation instead of
the activation h, i.e. sigma'(z) computed as z(1 - z). W1 and b1 are wrong
with no simple pattern; W2 and b2 are right.
"""

import numpy as np

N, D, H, K = 20, 4, 7, 3

_data = np.random.default_rng(120)
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


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def loss_and_grad(params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z = X @ W1 + b1
    h = sigmoid(z)
    out = h @ W2 + b2
    r = out - Y
    loss = 0.5 * np.mean(np.sum(r ** 2, axis=1))
    dout = r / N
    dW2 = h.T @ dout
    db2 = dout.sum(axis=0)
    dh = dout @ W2.T
    dz = dh * z * (1 - z)  # should be h * (1 - h)
    return loss, {"W1": X.T @ dz, "b1": dz.sum(axis=0), "W2": dW2, "b2": db2}
