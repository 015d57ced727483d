"""BUG (classic): softmax classifier on a debugging batch of 10 examples;
the gradient forgets the 1/N of the mean (N = X.shape[0] = 10).

Hyperparameters come from `from m07_config import *` (EPOCHS = 10, SEED,
PRINT_EVERY, LEARNING_RATE), as in many course projects.

True pattern: dW and db are exactly 10 x the true gradient, because the
batch has 10 examples. EPOCHS (the training loop's epoch count) plays no
part in loss or grad.
"""
import numpy as np
from m07_config import *  # noqa: F401,F403

_rng = np.random.default_rng(1)
X = _rng.standard_normal((10, 32))
y = _rng.integers(0, 3, size=10)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.01 * rng.standard_normal((32, 3)), "b": np.zeros(3)}


def _probs(p):
    s = X @ p["W"] + p["b"]
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


def loss(p):
    return -np.mean(np.log(_probs(p)[np.arange(len(y)), y]))


def grad(p):
    d = _probs(p)
    d[np.arange(len(y)), y] -= 1  # BUG: d /= len(y) forgotten
    return {"W": X.T @ d, "b": d.sum(axis=0)}
