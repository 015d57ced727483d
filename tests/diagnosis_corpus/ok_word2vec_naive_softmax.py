"""Correct: word2vec skip-gram naive-softmax loss over a context window."""

import numpy as np

V, d = 10, 6
outside_idx = np.array([3, 7, 1, 3])

EXPECTED = {}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"center_vec": 0.5 * rng.standard_normal(d), "outside_vecs": 0.5 * rng.standard_normal((V, d))}


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def loss(params):
    y_hat = softmax(params["outside_vecs"] @ params["center_vec"])
    return -np.sum(np.log(y_hat[outside_idx]))


def grad(params):
    v_c, U = params["center_vec"], params["outside_vecs"]
    y_hat = softmax(U @ v_c)
    delta = len(outside_idx) * y_hat
    np.subtract.at(delta, outside_idx, 1.0)
    return {"center_vec": U.T @ delta, "outside_vecs": np.outer(delta, v_c)}
