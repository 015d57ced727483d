"""BUG: embedding-layer backward with fancy-index += that drops repeated words.

A tiny tagger: each token's embedding E[idx] goes through an affine layer
and a softmax over C tags (mean cross-entropy). The backward writes
dE[idx] += dembed, and numpy's buffered fancy-index assignment adds only
one of the contributions of a repeated index (np.add.at is needed). Word 7
occurs three times in the sentence, so row 7 of dE is wrong; every other
row (used once, or not at all) is right, and so are W and b.
"""

import numpy as np

V, d, C = 12, 5, 3
idx = np.array([4, 7, 1, 7, 9, 0, 7, 3, 11, 5])
N = len(idx)

_data = np.random.default_rng(116)
tags = _data.integers(0, C, size=N)

EXPECTED = {"E": ("confined", "row 7")}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "E": 0.5 * rng.standard_normal((V, d)),
        "W": 0.5 * rng.standard_normal((d, C)),
        "b": 0.2 * rng.standard_normal(C),
    }


def loss_and_grad(params):
    E, W, b = params["E"], params["W"], params["b"]
    emb = E[idx]
    scores = emb @ W + b
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), tags]))

    dscores = probs.copy()
    dscores[np.arange(N), tags] -= 1
    dscores /= N
    dW = emb.T @ dscores
    db = dscores.sum(axis=0)
    demb = dscores @ W.T
    dE = np.zeros_like(E)
    dE[idx] += demb  # repeated indices: only one contribution survives
    return loss, {"E": dE, "W": dW, "b": db}
