"""BUG: linear regression with the loss 0.5 * sum(r**2) but the gradient of sum(r**2).

The student halved the squared error in the loss so that the 2 of the
derivative cancels, then differentiated as if it were not there: dr = 2 * r.
Both W and b come out exactly twice the true gradient.
"""

import numpy as np

N, D, K = 20, 5, 3

_data = np.random.default_rng(102)
X = _data.standard_normal((N, D))
Y = X @ _data.standard_normal((D, K)) + 0.3 * _data.standard_normal((N, K))

EXPECTED = {"W": ("ratio", "2"), "b": ("ratio", "2")}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, K)), "b": 0.3 * rng.standard_normal(K)}


def loss(params):
    r = X @ params["W"] + params["b"] - Y
    return 0.5 * np.sum(r ** 2)


def grad(params):
    r = X @ params["W"] + params["b"] - Y
    dr = 2 * r  # d/dr of r**2 ... but the loss has the 0.5 in front
    return {"W": X.T @ dr, "b": dr.sum(axis=0)}
