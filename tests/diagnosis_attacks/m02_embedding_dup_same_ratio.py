"""BUGS (two, both classic): a bag-of-words classifier with an embedding
table E (V = 200 words, 8 dims) and a linear head W.
 1. the softmax gradient forgets the 1/N (N = 6 sentences): every block is
    scaled by 6;
 2. the embedding backward uses fancy-index `dE[idx] += d` instead of
    np.add.at, so a word used twice keeps only one of its contributions
    (CS231n's word_embedding_backward pitfall).

True pattern: W is exactly 6 x the true gradient. E is NOT a constant
multiple of the true gradient: rows of words used once are 6 x, rows of
words used several times are something else (and E is zero elsewhere).
"""
import numpy as np

V, DIM, C = 200, 8, 5
_rng = np.random.default_rng(11)
# sentences of 4 word ids; some words repeat (ids drawn from a small vocabulary part)
IDX = _rng.integers(40, 44, size=(6, 4))  # a small vocabulary part: words repeat
IDX[:, 0] = 3  # word 3 (<bos>) starts every sentence: 6 duplicates in one fancy-index call
IDX[0, 1] = 18  # words 18 and 23 occur once each
IDX[1, 2] = 23
Y = _rng.integers(0, C, size=6)
N = IDX.shape[0]


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"E": 0.5 * rng.standard_normal((V, DIM)), "W": 0.5 * rng.standard_normal((DIM, C))}


def _forward(p):
    H = p["E"][IDX].mean(axis=1)  # (N, DIM)
    S = H @ p["W"]
    S = S - S.max(axis=1, keepdims=True)
    P = np.exp(S); P /= P.sum(axis=1, keepdims=True)
    return H, P


def loss(p):
    H, P = _forward(p)
    return -np.mean(np.log(P[np.arange(N), Y]))


def grad(p):
    H, P = _forward(p)
    dS = P.copy(); dS[np.arange(N), Y] -= 1  # BUG 1: / N forgotten
    dW = H.T @ dS
    dH = dS @ p["W"].T / IDX.shape[1]
    dE = np.zeros_like(p["E"])
    for t in range(IDX.shape[1]):
        dE[IDX[:, t]] += dH  # BUG 2: duplicates in IDX[:, t] overwrite; np.add.at needed
    return {"E": dE, "W": dW}
