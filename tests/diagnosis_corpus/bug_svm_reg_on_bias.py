"""BUG: multiclass SVM whose bias gradient carries an L2 term the loss does not have.

The loss regularizes only W (REG * sum(W**2)), but the student looped over
all parameters adding 2 * REG * param to each gradient, the bias included.
db is off by exactly 2 * REG times b; W is right.
"""

import numpy as np

N, D, C = 30, 5, 4
REG = 0.1

_data = np.random.default_rng(113)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"b": ("param", None)}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.5 * rng.standard_normal(C)}


def margins_of(params):
    scores = X @ params["W"] + params["b"]
    correct = scores[np.arange(N), y][:, None]
    margins = np.maximum(0, scores - correct + 1.0)
    margins[np.arange(N), y] = 0
    return margins


def loss(params):
    return margins_of(params).sum() / N + REG * np.sum(params["W"] ** 2)


def grad(params):
    active = (margins_of(params) > 0).astype(float)
    active[np.arange(N), y] = -active.sum(axis=1)
    grads = {"W": X.T @ active / N, "b": active.sum(axis=0) / N}
    for name in grads:
        grads[name] += 2 * REG * params[name]  # the bias is not regularized in the loss
    return grads
