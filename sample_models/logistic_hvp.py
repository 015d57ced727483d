"""L2-regularized logistic regression with its Hessian-vector product (correct).

Defines hvp(params, v) beside loss and grad: `gradcheck logistic_hvp.py`
checks the gradient, then the hvp as `logistic_hvp.py:hvp` (a Newton-CG or
trust-region optimizer's H v). The Hessian is X^T S X / N + REG I on w,
with S = diag(p (1 - p)) the sigmoid's derivative.
"""

import numpy as np

N, D = 30, 4
REG = 0.1

_data = np.random.default_rng(2)
X = _data.standard_normal((N, D))
y = (_data.random(N) < 0.5).astype(float)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"w": 0.5 * rng.standard_normal(D), "b": np.array([0.1])}


def _scores(params):
    return X @ params["w"] + params["b"][0]


def _probs(params):
    return 1.0 / (1.0 + np.exp(-_scores(params)))


def loss(params):
    z = _scores(params)
    # log(1 + e^z) - y z, the cross-entropy of sigmoid(z), without overflow
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * REG * np.sum(params["w"] ** 2)


def grad(params):
    residual = _probs(params) - y
    return {"w": X.T @ residual / N + REG * params["w"], "b": np.array([residual.mean()])}


def hvp(params, v):
    p = _probs(params)
    weights = p * (1.0 - p) / N  # the sigmoid's derivative: S / N
    xv = X @ v["w"] + v["b"][0]  # the scores' change along v
    return {"w": X.T @ (weights * xv) + REG * v["w"], "b": np.array([weights @ xv])}
