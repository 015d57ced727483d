"""BUG: square linear map Y_hat = X @ A + b with its gradient in the other layout.

The model maps D features to D targets with a (D, D) matrix A applied as
X @ A (mean squared error over the N examples). The student took the
gradient formula of a layer written as X @ A.T (PyTorch's Linear
convention): dA = dY.T @ X instead of X.T @ dY, which is exactly the
transpose of the true gradient. The bias is right.
"""

import numpy as np

N, D = 16, 5

_data = np.random.default_rng(108)
X = _data.standard_normal((N, D))
Y = X @ _data.standard_normal((D, D)) + 0.2 * _data.standard_normal((N, D))

EXPECTED = {"A": ("transpose", None)}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"A": 0.5 * rng.standard_normal((D, D)), "b": 0.3 * rng.standard_normal(D)}


def loss(params):
    r = X @ params["A"] + params["b"] - Y
    return np.sum(r ** 2) / N


def grad(params):
    r = X @ params["A"] + params["b"] - Y
    dY = 2 * r / N
    return {"A": dY.T @ X, "b": dY.sum(axis=0)}
