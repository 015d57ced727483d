"""BUG: the sigmoid derivative is computed from the pre-activation.

The derivative of s = sigmoid(z) is s(1 - s); this grad uses z(1 - z).
Expected: `fail` in W1 and b1 (before the sigmoid); W2 and b2 pass.
"""

import numpy as np

N, D, H, K = 6, 4, 5, 3

_data = np.random.default_rng(10)
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
    z = X @ params["W1"] + params["b1"]
    s = 1 / (1 + np.exp(-z))
    out = s @ params["W2"] + params["b2"]
    return z, s, out


def loss(params):
    *_, out = _forward(params)
    return 0.5 * np.sum((out - T) ** 2) / N


def grad(params):
    z, s, out = _forward(params)
    dout = (out - T) / N
    dz = (dout @ params["W2"].T) * z * (1 - z)  # the bug: should be s * (1 - s)
    return {"W1": X.T @ dz, "b1": dz.sum(axis=0), "W2": s.T @ dout, "b2": dout.sum(axis=0)}
