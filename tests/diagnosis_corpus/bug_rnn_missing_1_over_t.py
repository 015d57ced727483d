"""BUG: vanilla RNN (tanh) over T time steps whose backward averages over N only.

The temporal softmax loss is averaged over the N sequences and the T = 5
time steps, but the backward pass divides dscores by N alone, so every
gradient (Wx, Wh, b, Wy, by) is exactly T times too large.
"""

import numpy as np

N, T, D, H, C = 3, 5, 4, 6, 7

_data = np.random.default_rng(104)
x = _data.standard_normal((N, T, D))
y = _data.integers(0, C, size=(N, T))
h0 = np.zeros((N, H))

EXPECTED = {"Wx": ("ratio", "T = 5"), "Wh": ("ratio", "T = 5"), "b": ("ratio", "T = 5"),
            "Wy": ("ratio", "T = 5"), "by": ("ratio", "T = 5")}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "Wx": 0.4 * rng.standard_normal((D, H)),
        "Wh": 0.3 * rng.standard_normal((H, H)),
        "b": 0.1 * rng.standard_normal(H),
        "Wy": 0.5 * rng.standard_normal((H, C)),
        "by": 0.1 * rng.standard_normal(C),
    }


def loss_and_grad(params):
    Wx, Wh, b, Wy, by = (params[k] for k in ("Wx", "Wh", "b", "Wy", "by"))
    hs = [h0]
    probs = []
    loss = 0.0
    for step in range(T):
        h = np.tanh(x[:, step] @ Wx + hs[-1] @ Wh + b)
        hs.append(h)
        scores = h @ Wy + by
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        probs.append(p)
        loss -= np.sum(np.log(p[np.arange(N), y[:, step]]))
    loss /= N * T

    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next = np.zeros((N, H))
    for step in reversed(range(T)):
        dscores = probs[step].copy()
        dscores[np.arange(N), y[:, step]] -= 1
        dscores /= N  # should be N * T
        h, h_prev = hs[step + 1], hs[step]
        grads["Wy"] += h.T @ dscores
        grads["by"] += dscores.sum(axis=0)
        dh = dscores @ Wy.T + dh_next
        dz = dh * (1 - h ** 2)
        grads["Wx"] += x[:, step].T @ dz
        grads["Wh"] += h_prev.T @ dz
        grads["b"] += dz.sum(axis=0)
        dh_next = dz @ Wh.T
    return loss, grads
