"""BUG (shows only away from the start point): two-layer ReLU net that
regularizes the biases' gradients but not the loss's biases.

CS231n-style init: W1, W2 random, b1 and b2 exactly zero. The loss has
REG * (sum(W1**2) + sum(W2**2)); the backward ends with a loop
`for k in grads: grads[k] += 2 * REG * params[k]`, biases included. At the
start point the biases are 0, so the extra terms vanish and every gradient
is right; anywhere else db1 and db2 are off by exactly 2 * REG times the
biases. W1 and W2 stay right.
"""

import numpy as np

N, D, H, C = 20, 5, 8, 3
REG = 0.1

_data = np.random.default_rng(123)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"b1": ("param", None), "b2": ("param", None)}
EXPECTED_HINT = "generic point"


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": 0.5 * rng.standard_normal((D, H)),
        "b1": np.zeros(H),
        "W2": 0.5 * rng.standard_normal((H, C)),
        "b2": np.zeros(C),
    }


def loss_and_grad(params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z1 = X @ W1 + b1
    h1 = np.maximum(0, z1)
    scores = h1 @ W2 + b2
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + REG * (np.sum(W1 ** 2) + np.sum(W2 ** 2))

    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    grads = {"W2": h1.T @ dscores, "b2": dscores.sum(axis=0)}
    dz1 = (dscores @ W2.T) * (z1 > 0)
    grads["W1"] = X.T @ dz1
    grads["b1"] = dz1.sum(axis=0)
    for k in grads:
        grads[k] += 2 * REG * params[k]
    return loss, grads
