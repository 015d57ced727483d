"""A multiclass (Weston-Watkins) SVM with L2 regularization (correct).

The hinge max(0, s_j - s_y + 1) has a kink at 0; gradcheck tracks which
side of it every margin is on and never grades across it.
"""

import numpy as np

N, D, C = 8, 5, 4
REG = 0.1

_data = np.random.default_rng(2)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.1 * rng.standard_normal(C)}


def _margins(params):
    scores = X @ params["W"] + params["b"]
    correct = scores[np.arange(N), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(N), y] = 0
    return margins


def loss(params):
    return _margins(params).sum() / N + REG * np.sum(params["W"] ** 2)


def grad(params):
    active = (_margins(params) > 0).astype(float)
    active[np.arange(N), y] = -active.sum(axis=1)
    return {"W": X.T @ active / N + 2 * REG * params["W"], "b": active.sum(axis=0) / N}
