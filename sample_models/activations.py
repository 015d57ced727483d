"""Hard tanh, softsign and leaky ReLU layers in sequence (correct).

Derivatives: hard tanh 1 on [-1, 1] else 0; softsign z/(1+|z|) has
1/(1+|z|)^2; leaky ReLU max(z, kz) has 1 for z > 0 else k.
"""

import numpy as np

N, D, H = 6, 4, 5
LEAK = 0.1

_data = np.random.default_rng(5)
X = _data.standard_normal((N, D))
T = _data.uniform(-1, 1, size=(N, 2))


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": 0.8 * rng.standard_normal((D, H)), "W2": 0.8 * rng.standard_normal((H, H)),
            "W3": 0.8 * rng.standard_normal((H, 2))}


def _forward(params):
    z1 = X @ params["W1"]
    a1 = np.clip(z1, -1, 1)  # hard tanh
    z2 = a1 @ params["W2"]
    a2 = z2 / (1 + np.abs(z2))  # softsign
    z3 = a2 @ params["W3"]
    a3 = np.where(z3 > 0, z3, LEAK * z3)  # leaky ReLU
    return z1, a1, z2, a2, z3, a3


def loss(params):
    *_, a3 = _forward(params)
    return 0.5 * np.sum((a3 - T) ** 2) / N


def grad(params):
    z1, a1, z2, a2, z3, a3 = _forward(params)
    da3 = (a3 - T) / N
    dz3 = da3 * np.where(z3 > 0, 1.0, LEAK)
    da2 = dz3 @ params["W3"].T
    dz2 = da2 / (1 + np.abs(z2)) ** 2
    da1 = dz2 @ params["W2"].T
    dz1 = da1 * ((z1 >= -1) & (z1 <= 1))
    return {"W1": X.T @ dz1, "W2": a1.T @ dz2, "W3": a2.T @ dz3}
