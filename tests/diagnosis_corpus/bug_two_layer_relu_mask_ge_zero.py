"""BUG (shows only away from the start point): two-layer ReLU net whose
ReLU backward masks with (h >= 0) on the ReLU's output.

h = max(0, z) is never negative, so the mask (h >= 0) is all ones and the
backward lets the gradient through the inactive units too. The first-layer
biases start at 0.5 with small weights (to keep every unit alive), so at
the start point every pre-activation is positive and the gradient is right;
where some units are inactive, W1 and b1 are wrong with no simple pattern.
W2 and b2 are right.
"""

import numpy as np

N, D, H, C = 16, 4, 10, 3

_data = np.random.default_rng(124)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"W1": None, "b1": None}
EXPECTED_HINT = "generic point"


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": 0.05 * rng.standard_normal((D, H)),
        "b1": np.full(H, 0.5),
        "W2": 0.5 * rng.standard_normal((H, C)),
        "b2": 0.2 * rng.standard_normal(C),
    }


def loss_and_grad(params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z = X @ W1 + b1
    h = np.maximum(0, z)
    scores = h @ W2 + b2
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y]))
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dW2 = h.T @ dscores
    db2 = dscores.sum(axis=0)
    dh = dscores @ W2.T
    dz = dh * (h >= 0)  # always true: should be (z > 0)
    return loss, {"W1": X.T @ dz, "b1": dz.sum(axis=0), "W2": dW2, "b2": db2}
