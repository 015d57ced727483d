"""A multiclass SVM parked exactly on a hinge kink (correct).

The bias is chosen so that example 0's margin against class 1 is exactly
0: max(0, margin) sits on its kink, and any step in W[:, 0], W[:, 1],
b[0] or b[1] -- however small -- lands on different sides of it at x+h and
x-h. A naive checker reports those dimensions as failures; gradcheck sees
the winner of the max flip, reports the kink crossings and grades those
dimensions `kink` (inconclusive), while the others pass.
All values are small dyadic fractions, so the margin is exactly 0.0.
"""

import numpy as np

N, D, C = 3, 2, 3
REG = 0.25

X = np.array([[1.0, 2.0], [2.0, -1.0], [-1.0, 1.0]])
y = np.array([0, 2, 1])

_W = np.array([[0.5, -0.25, 0.75], [0.25, 0.5, -0.5]])
# margin(0, 1) = x0 . (W[:, 1] - W[:, 0]) + b[1] - b[0] + 1 = 0 exactly:
_b0 = 0.125
_b1 = _b0 - 1.0 - X[0] @ (_W[:, 1] - _W[:, 0])
params = {"W": _W, "b": np.array([_b0, _b1, -0.375])}


def _margins(p):
    scores = X @ p["W"] + p["b"]
    correct = scores[np.arange(N), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(N), y] = 0
    return margins


def loss(p):
    return _margins(p).sum() / N + REG * np.sum(p["W"] ** 2)


def grad(p):
    active = (_margins(p) > 0).astype(float)
    active[np.arange(N), y] = -active.sum(axis=1)
    return {"W": X.T @ active / N + 2 * REG * p["W"], "b": active.sum(axis=0) / N}
