"""Sigmoid hidden layer, tanh output layer, squared error (correct).

Derivatives: sigmoid s(1 - s), tanh 1 - tanh^2. A smooth objective: the
worst relative error should sit far below 1e-7.
"""

import numpy as np

N, D, H, K = 6, 4, 5, 3

_data = np.random.default_rng(4)
X = _data.standard_normal((N, D))
T = _data.uniform(-0.5, 0.5, size=(N, K))


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": 0.5 * rng.standard_normal((D, H)),
        "b1": 0.1 * rng.standard_normal(H),
        "W2": 0.5 * rng.standard_normal((H, K)),
        "b2": 0.1 * rng.standard_normal(K),
    }


def _forward(params):
    s = 1 / (1 + np.exp(-(X @ params["W1"] + params["b1"])))
    out = np.tanh(s @ params["W2"] + params["b2"])
    return s, out


def loss(params):
    _, out = _forward(params)
    return 0.5 * np.sum((out - T) ** 2) / N


def grad(params):
    s, out = _forward(params)
    dout = (out - T) / N
    dpre2 = dout * (1 - out**2)
    ds = dpre2 @ params["W2"].T
    dpre1 = ds * s * (1 - s)
    return {"W1": X.T @ dpre1, "b1": dpre1.sum(axis=0), "W2": s.T @ dpre2, "b2": dpre2.sum(axis=0)}
