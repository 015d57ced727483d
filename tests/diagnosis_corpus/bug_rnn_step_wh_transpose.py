"""BUG: vanilla RNN step backward with dWh transposed.

next_h = tanh(x @ Wx + prev_h @ Wh + b), checked as in the CS231n notebook
with the scalar loss sum(next_h * dnext_h) for a fixed upstream dnext_h.
The student wrote dWh = dtanh.T @ prev_h; since Wh is (H, H) the shapes
match and nothing complains, but the right product is prev_h.T @ dtanh:
the analytic dWh is the transpose of the true gradient. Wx and b are right.
"""

import numpy as np

N, D, H = 5, 4, 6

_data = np.random.default_rng(107)
x = _data.standard_normal((N, D))
prev_h = _data.standard_normal((N, H))
dnext_h = _data.standard_normal((N, H))

EXPECTED = {"Wh": ("transpose", None)}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "Wx": 0.4 * rng.standard_normal((D, H)),
        "Wh": 0.4 * rng.standard_normal((H, H)),
        "b": 0.2 * rng.standard_normal(H),
    }


def rnn_step_forward(params):
    return np.tanh(x @ params["Wx"] + prev_h @ params["Wh"] + params["b"])


def loss(params):
    return np.sum(rnn_step_forward(params) * dnext_h)


def grad(params):
    next_h = rnn_step_forward(params)
    dtanh = dnext_h * (1 - next_h ** 2)
    dWx = x.T @ dtanh
    dWh = dtanh.T @ prev_h  # should be prev_h.T @ dtanh
    db = dtanh.sum(axis=0)
    return {"Wx": dWx, "Wh": dWh, "b": db}
