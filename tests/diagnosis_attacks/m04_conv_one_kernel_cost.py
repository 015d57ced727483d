"""BUG (loop bounds): a 3x3 conv layer, W (64, 64, 3, 3), batch N = 2 of 8x8
images. The backward never accumulates the (filter 0, input channel 0)
kernel: dW[0, 0] is left 0 (a double loop `if f and c:` guard).

True pattern: the 9 wrong elements are W[0, 0, :, :]; everything else is
right. What this model measures is the COST of the diagnosis: axes 0 and 1
have 64 slices each (= HINT_MAX_SLICES), so confine() probes 64 + 64 + 3 + 3
directions.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

NB, CIN, F, HW = 2, 64, 64, 8
_rng = np.random.default_rng(5)
X = _rng.standard_normal((NB, CIN, HW, HW))
Y = _rng.standard_normal((NB, F, HW, HW))
_P = sliding_window_view(np.pad(X, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), axis=(2, 3))  # (N,C,H,W,3,3)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((F, CIN, 3, 3)) * np.sqrt(2.0 / (CIN * 9)), "b": np.zeros(F)}


def _out(p):
    return np.einsum("nchwij,fcij->nfhw", _P, p["W"], optimize=True) + p["b"][None, :, None, None]


def loss(p):
    return 0.5 * np.sum((_out(p) - Y) ** 2) / NB


def grad(p):
    d = (_out(p) - Y) / NB
    dW = np.zeros_like(p["W"])
    for f in range(F):
        dW[f] = np.einsum("nchwij,nhw->cij", _P, d[:, f], optimize=True)
    dW[0, 0] = 0.0  # BUG: the (filter 0, channel 0) kernel is never accumulated (a loop that starts at 1 for both)
    return {"W": dW, "b": d.sum(axis=(0, 2, 3))}
