"""BUG: single-head self-attention; the backward pass forgets the 1/sqrt(DK)
scaling of the scores (DK = 64, so sqrt(DK) = 8).

True pattern: dWq and dWk are exactly 8 x the true gradient (8 = sqrt(DK)),
dWv is right. The loss averages over the T = 8 positions correctly: nothing
is missing a 1/T. A hint naming T (or N = X.shape[0]) points at the wrong
dimension: the factor is sqrt(DK), which diagnosis.py never considers.
"""
import numpy as np

T, D, DK = 8, 16, 64
_rng = np.random.default_rng(3)
X = _rng.standard_normal((T, D))
Y = _rng.standard_normal((T, DK))


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"Wq": 0.3 * rng.standard_normal((D, DK)), "Wk": 0.3 * rng.standard_normal((D, DK)),
            "Wv": 0.3 * rng.standard_normal((D, DK))}


def _forward(p):
    Q, K, V = X @ p["Wq"], X @ p["Wk"], X @ p["Wv"]
    S = Q @ K.T / np.sqrt(DK)
    S = S - S.max(axis=1, keepdims=True)
    A = np.exp(S); A /= A.sum(axis=1, keepdims=True)
    return Q, K, V, A, A @ V


def loss(p):
    *_, out = _forward(p)
    return 0.5 * np.sum((out - Y) ** 2) / T


def grad(p):
    Q, K, V, A, out = _forward(p)
    dout = (out - Y) / T
    dA = dout @ V.T
    dV = A.T @ dout
    dS = A * (dA - np.sum(dA * A, axis=1, keepdims=True))
    # BUG: dS /= np.sqrt(DK) forgotten
    dQ = dS @ K
    dK = dS.T @ Q
    return {"Wq": X.T @ dQ, "Wk": X.T @ dK, "Wv": X.T @ dV}
