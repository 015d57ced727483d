"""Skip-gram with naive softmax whose gradient forgets the "- 1" at the
outside word (found on a public CS224n solution with that bug made in it).

Truth (full finite differences): in `center` the wrong rows are exactly the
rows of the centre words the windows use (1, 4, 5 here); the other rows are
used by no window, so both gradients are 0 there. That is the loss's
support, not a bug confined to those rows: no "confined" hint.
"""
import numpy as np

V, D = 6, 4
_r = np.random.default_rng(7)
CENTERS = [1, 4, 5, 4, 1]
OUTSIDE = [list(_r.integers(0, V, 4)) for _ in CENTERS]


def init_params(seed=0):
    r = np.random.default_rng(seed)
    return {"center": r.standard_normal((V, D)), "outside": r.standard_normal((V, D))}


def _softmax(s):
    e = np.exp(s - s.max())
    return e / e.sum()


def loss(p):
    total = 0.0
    for c, outs in zip(CENTERS, OUTSIDE):
        y = _softmax(p["outside"] @ p["center"][c])
        total += -np.sum(np.log(y[outs]))
    return total / len(CENTERS)


def grad(p):
    gc, go = np.zeros((V, D)), np.zeros((V, D))
    for c, outs in zip(CENTERS, OUTSIDE):
        y = _softmax(p["outside"] @ p["center"][c])
        for o in outs:
            delta = y.copy()  # the bug: delta[o] -= 1 forgotten
            gc[c] += delta @ p["outside"]
            go += np.outer(delta, p["center"][c])
    return {"center": gc / len(CENTERS), "outside": go / len(CENTERS)}
