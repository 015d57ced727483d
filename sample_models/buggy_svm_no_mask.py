"""BUG: an SVM gradient that ignores the max(0, ·) mask.

The gradient treats every margin s_j - s_y + 1 as active. At this model's
tiny initialisation that is true: W is 1e-3 * randn, so every margin sits
near 1 (the bias holds class priors), and the buggy gradient is exactly
right: the start point's check passes, as it should. The point is
degenerate, and gradcheck says so (every hinge on one side); it moves off
it with a few Adam steps until margins cross the hinge, and the check there
fails, in W and b. `gradcheck --warmup off` checks the start point only.
"""

import numpy as np

N, D, C = 12, 6, 3

_data = np.random.default_rng(12)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)


def init_params(seed=0):
    # Drawn from the data's generator, after X and y, so the point is fixed.
    rng = np.random.default_rng(12)
    rng.standard_normal((N, D))
    rng.integers(0, C, size=N)
    return {"W": 1e-3 * rng.standard_normal((D, C)), "b": np.array([0.0, -0.96, -0.4])}


def _margins(p):
    scores = X @ p["W"] + p["b"]
    margins = scores - scores[np.arange(N), y][:, None] + 1
    margins[np.arange(N), y] = 0
    return margins


def loss(p):
    return np.maximum(0, _margins(p)).sum() / N


def grad(p):
    active = np.ones((N, C))  # the bug: should be (_margins(p) > 0).astype(float)
    active[np.arange(N), y] = 0
    active[np.arange(N), y] = -active.sum(axis=1)
    return {"W": X.T @ active / N, "b": active.sum(axis=0) / N}
