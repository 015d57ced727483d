"""A two-layer ReLU net set up for `gradcheck sanity` (correct).

Small weights and 20 examples, as the notes prescribe before training: the
initial loss (with REG = 0) is ln C for C = 5 classes, raising REG raises
the loss, and the net can overfit its 20 examples.

    gradcheck sanity sample_models/two_layer_sanity.py --classes 5 --reg REG
"""

import numpy as np

N, D, H, C = 20, 10, 30, 5
REG = 1e-3

_data = np.random.default_rng(13)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": 1e-3 * rng.standard_normal((D, H)),
        "b1": np.zeros(H),
        "W2": 1e-3 * rng.standard_normal((H, C)),
        "b2": np.zeros(C),
    }


def loss_and_grad(params):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    z = X @ W1 + b1
    hidden = np.maximum(0, z)
    scores = hidden @ W2 + b2
    scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + REG * (np.sum(W1**2) + np.sum(W2**2))
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dz = (dscores @ W2.T) * (z > 0)
    return loss, {
        "W1": X.T @ dz + 2 * REG * W1,
        "b1": dz.sum(axis=0),
        "W2": hidden.T @ dscores + 2 * REG * W2,
        "b2": dscores.sum(axis=0),
    }
