"""BUG: vectorized multiclass SVM that divides the weight gradient by N twice.

The student scaled the margin-indicator matrix by 1/N (as for dscores in the
softmax) and then, out of habit, divided X.T @ active by N again. The loss is
the mean hinge loss, so dW is 1/N = 1/40 of the true gradient; db, summed
from the already-scaled matrix, is right.
"""

import numpy as np

N, D, C = 40, 6, 5

_data = np.random.default_rng(105)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"W": ("ratio", "N = 40")}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.2 * rng.standard_normal(C)}


def svm_loss(params):
    scores = X @ params["W"] + params["b"]
    correct = scores[np.arange(N), y][:, None]
    margins = np.maximum(0, scores - correct + 1.0)
    margins[np.arange(N), y] = 0
    return margins


def loss(params):
    return svm_loss(params).sum() / N


def grad(params):
    margins = svm_loss(params)
    active = (margins > 0).astype(float)
    active[np.arange(N), y] = -active.sum(axis=1)
    active /= N
    dW = X.T @ active / N  # already divided above
    db = active.sum(axis=0)
    return {"W": dW, "b": db}
