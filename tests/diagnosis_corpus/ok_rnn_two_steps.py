"""Correct: a vanilla tanh RNN run for two steps (square recurrent matrix Wh),
mean squared error of an affine readout of the last hidden state."""

import numpy as np

N, T, D, H, K = 4, 2, 3, 5, 6

_data = np.random.default_rng(204)
x = _data.standard_normal((N, T, D))
h0 = 0.5 * _data.standard_normal((N, H))
target = _data.standard_normal((N, K))

EXPECTED = {}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "Wx": 0.5 * rng.standard_normal((D, H)),
        "Wh": 0.4 * rng.standard_normal((H, H)),
        "b": 0.2 * rng.standard_normal(H),
        "Wy": 0.5 * rng.standard_normal((H, K)),
        "by": 0.2 * rng.standard_normal(K),
    }


def loss_and_grad(params):
    Wx, Wh, b, Wy, by = (params[k] for k in ("Wx", "Wh", "b", "Wy", "by"))
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(x[:, t] @ Wx + hs[-1] @ Wh + b))
    out = hs[-1] @ Wy + by
    r = out - target
    loss = np.sum(r ** 2) / N
    dout = 2 * r / N
    grads = {"Wy": hs[-1].T @ dout, "by": dout.sum(axis=0),
             "Wx": np.zeros_like(Wx), "Wh": np.zeros_like(Wh), "b": np.zeros_like(b)}
    dh = dout @ Wy.T
    for t in reversed(range(T)):
        dz = dh * (1 - hs[t + 1] ** 2)
        grads["Wx"] += x[:, t].T @ dz
        grads["Wh"] += hs[t].T @ dz
        grads["b"] += dz.sum(axis=0)
        dh = dz @ Wh.T
    return loss, grads
