"""BUG (shows only away from the start point): softmax classifier that adds
an L2 gradient term to the bias, which the loss does not regularize.

The gradient loop adds 2 * REG * param to every block, b included, but the
loss has REG * sum(W**2) only. The bias is initialised at exactly zero, the
usual init, so the extra term vanishes there and the gradient is right at
the start point; anywhere b != 0, db is off by exactly 2 * REG * b.
"""

import numpy as np

N, D, C = 30, 6, 4
REG = 0.1

_data = np.random.default_rng(122)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"b": ("param", None)}
EXPECTED_HINT = "generic point"


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": np.zeros(C)}


def loss_and_grad(params):
    W, b = params["W"], params["b"]
    scores = X @ W + b
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + REG * np.sum(W * W)
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads = {"W": X.T @ dscores, "b": dscores.sum(axis=0)}
    for name in grads:
        grads[name] += 2 * REG * params[name]
    return loss, grads
