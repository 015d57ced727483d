"""BUG: affine - batchnorm - ReLU - affine - softmax net whose batchnorm
backward drops the path through the batch mean.

The staged backward computes dxhat, dvar and then
dx = dxhat / std + dvar * 2 * (x - mu) / N, but never adds dmu / N with
dmu = -sum(dxhat / std). So the gradient of the first affine layer W1 is
off by a rank-one term outer(X.sum(0), dmu) / N (X is not centred):
no ratio, sign, transpose, parameter or confined pattern. gamma, beta, W2
and b2 are right.
"""

import numpy as np

N, D, H, C = 16, 5, 6, 3
EPS = 1e-5

_data = np.random.default_rng(119)
X = 0.7 + _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"W1": None}


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
    var = x.var(axis=0)
    std = np.sqrt(var + EPS)
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
    dW2 = a.T @ dscores
    db2 = dscores.sum(axis=0)
    dbn = (dscores @ W2.T) * (bn > 0)
    dgamma = np.sum(dbn * xhat, axis=0)
    dbeta = dbn.sum(axis=0)
    dxhat = dbn * gamma
    dvar = np.sum(dxhat * (x - mu) * -0.5 * (var + EPS) ** -1.5, axis=0)
    dx = dxhat / std + dvar * 2 * (x - mu) / N  # + dmu / N missing
    dW1 = X.T @ dx
    return loss, {"W1": dW1, "gamma": dgamma, "beta": dbeta, "W2": dW2, "b2": db2}
