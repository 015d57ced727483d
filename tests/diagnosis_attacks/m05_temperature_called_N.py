"""BUG: a softmax classifier with a temperature (TEMP = 7.0, a float: scores
are divided by it). The backward forgets the 1/TEMP of the chain rule.

True pattern: dW and db are exactly 7 x the true gradient; 7 is the
temperature. The loss averages over the N = 20 examples correctly. The
model's 7 features (X.shape[1] = W.shape[0] = 7) have nothing to do with
it; in particular 7 is not the number of examples N.
"""
import numpy as np

TEMP = 7.0
_rng = np.random.default_rng(2)
X = _rng.standard_normal((20, 7))
y = _rng.integers(0, 4, size=20)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((7, 4)), "b": 0.1 * rng.standard_normal(4)}


def _probs(p):
    s = (X @ p["W"] + p["b"]) / TEMP
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


def loss(p):
    return -np.mean(np.log(_probs(p)[np.arange(len(y)), y]))


def grad(p):
    d = _probs(p)
    d[np.arange(len(y)), y] -= 1
    d /= len(y)  # (right)   BUG: d /= TEMP forgotten
    return {"W": X.T @ d, "b": d.sum(axis=0)}
