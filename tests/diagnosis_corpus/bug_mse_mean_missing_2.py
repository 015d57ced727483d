"""BUG: mean-squared-error regression whose gradient drops the 2 of d(r**2)/dr.

The loss is np.mean(r**2) over the N x K residuals, the gradient is written
as X.T @ r / (N * K): the derivative of r**2 is 2r, so W and b are both
half the true gradient.
"""

import numpy as np

N, D, K = 24, 7, 3

_data = np.random.default_rng(103)
X = _data.standard_normal((N, D))
Y = X @ _data.standard_normal((D, K)) + 0.5 + 0.2 * _data.standard_normal((N, K))

EXPECTED = {"W": ("ratio", "1/2"), "b": ("ratio", "1/2")}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.4 * rng.standard_normal((D, K)), "b": 0.3 * rng.standard_normal(K)}


def loss(params):
    r = X @ params["W"] + params["b"] - Y
    return np.mean(r ** 2)


def grad(params):
    r = X @ params["W"] + params["b"] - Y
    dr = r / (N * K)  # d(r**2)/dr is 2 * r
    return {"W": X.T @ dr, "b": dr.sum(axis=0)}
