"""BUG: ridge regression with the L2 term in the gradient but not in the loss.

The student added 2 * REG * W to dW but forgot to add REG * sum(W**2) to the
returned loss (it computes mean squared error only). The gradient is the one
of a different loss: dW is off by exactly 2 * REG times W; b is right.
"""

import numpy as np

N, D, K = 28, 6, 3
REG = 0.2

_data = np.random.default_rng(114)
X = _data.standard_normal((N, D))
Y = X @ _data.standard_normal((D, K)) + 0.1 * _data.standard_normal((N, K))

EXPECTED = {"W": ("param", None)}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, K)), "b": 0.3 * rng.standard_normal(K)}


def loss(params):
    r = X @ params["W"] + params["b"] - Y
    mse = np.sum(r ** 2) / N
    return mse  # reg_loss = REG * np.sum(W ** 2) never added


def grad(params):
    r = X @ params["W"] + params["b"] - Y
    dr = 2 * r / N
    dW = X.T @ dr + 2 * REG * params["W"]
    db = dr.sum(axis=0)
    return {"W": dW, "b": db}
