"""Correct: embedding lookup - affine - softmax tagger, the embedding gradient
accumulated with np.add.at (word 7 repeats)."""

import numpy as np

V, d, C = 12, 5, 3
idx = np.array([4, 7, 1, 7, 9, 0, 7, 3, 11, 5])
N = len(idx)

_data = np.random.default_rng(205)
tags = _data.integers(0, C, size=N)

EXPECTED = {}


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
    dE = np.zeros_like(E)
    np.add.at(dE, idx, dscores @ W.T)
    return loss, {"E": dE, "W": emb.T @ dscores, "b": dscores.sum(axis=0)}
