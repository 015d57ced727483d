"""BUG: word2vec skip-gram naive-softmax loss with y - y_hat instead of y_hat - y.

For one center word and its context window, the loss is the sum over the
outside words o of -log softmax(U v_c)[o]. The student wrote the error
signal as (one-hot - y_hat), so both the center-vector gradient U.T @ delta
and the outside-vectors gradient outer(delta, v_c) are exactly negated.
"""

import numpy as np

V, d = 10, 6
outside_idx = np.array([3, 7, 1, 3])  # the context window of the center word

EXPECTED = {"center_vec": ("sign", None), "outside_vecs": ("sign", None)}


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
    grad_center = np.zeros_like(v_c)
    grad_outside = np.zeros_like(U)
    for o in outside_idx:
        y = np.zeros(V)
        y[o] = 1
        delta = y - y_hat  # should be y_hat - y
        grad_center += U.T @ delta
        grad_outside += np.outer(delta, v_c)
    return {"center_vec": grad_center, "outside_vecs": grad_outside}
