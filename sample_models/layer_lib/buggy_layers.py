"""layers.py with one planted bug: lstm_step_backward's gradient into the
previous cell state misses the forget gate (dprev_c = dc, not dc * f)."""

import numpy as np

from .layers import *  # noqa: F403  (every other layer as it is)
from .layers import lstm_step_forward  # noqa: F401


def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    da = np.hstack([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * tanh_c * o * (1 - o),
                    dc * i * (1 - g ** 2)])
    return da @ Wx.T, da @ Wh.T, dc, x.T @ da, prev_h.T @ da, da.sum(axis=0)  # BUG: dc * f
