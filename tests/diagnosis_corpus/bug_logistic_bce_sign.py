"""BUG: multi-label logistic regression whose gradient has the wrong sign.

The loss is the binary cross-entropy (negative log-likelihood) of K
independent sigmoid outputs, averaged over N. The student copied the
log-likelihood gradient X.T @ (y - p), the direction of gradient *ascent*,
instead of the loss gradient X.T @ (p - y): W and b are exactly negated.
"""

import numpy as np

N, D, K = 30, 5, 3

_data = np.random.default_rng(106)
X = _data.standard_normal((N, D))
Yb = (_data.random((N, K)) < 0.5).astype(float)

EXPECTED = {"W": ("sign", None), "b": ("sign", None)}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, K)), "b": 0.2 * rng.standard_normal(K)}


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def loss(params):
    p = sigmoid(X @ params["W"] + params["b"])
    return -np.sum(Yb * np.log(p) + (1 - Yb) * np.log(1 - p)) / N


def grad(params):
    p = sigmoid(X @ params["W"] + params["b"])
    dz = (Yb - p) / N  # gradient of the log-likelihood, not of the loss
    return {"W": X.T @ dz, "b": dz.sum(axis=0)}
