"""Correct: affine - batchnorm - ReLU - affine - softmax, batchnorm backward
in the compact form (the mean and variance paths both in)."""

import numpy as np

N, D, H, C = 16, 5, 6, 3
EPS = 1e-5

_data = np.random.default_rng(206)
X = 0.7 + _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": 0.5 * rng.standard_normal((D, H)),
        "gamma": 1.0 + 0.2 * rng.standard_normal(H),
        "beta": 0.2 * rng.standard_normal(H),
        "W2": 0.5 * rng.standard_normal((H, C)),
        "b2": 0.2 * rng.standard_normal(C),
    }


def loss_and_grad(params):
    W1, gamma, beta, W2, b2 = (params[k] for k in ("W1", "gamma", "beta", "W2", "b2"))
    x = X @ W1
    mu = x.mean(axis=0)
    std = np.sqrt(x.var(axis=0) + EPS)
    xhat = (x - mu) / std
    bn = gamma * xhat + beta
    a = np.maximum(0, bn)
    scores = a @ W2 + b2
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y]))
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dbn = (dscores @ W2.T) * (bn > 0)
    dxhat = dbn * gamma
    dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std
    return loss, {
        "W1": X.T @ dx,
        "gamma": np.sum(dbn * xhat, axis=0),
        "beta": dbn.sum(axis=0),
        "W2": a.T @ dscores,
        "b2": dscores.sum(axis=0),
    }
