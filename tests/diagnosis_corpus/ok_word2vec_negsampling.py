"""Correct: word2vec negative-sampling loss and gradient, with a repeated
negative sample accumulated by np.add.at."""

import numpy as np

V, d = 10, 4
outside_idx = 2
neg_idx = np.array([3, 5, 3, 8, 1, 9])

EXPECTED = {}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"center_vec": 0.5 * rng.standard_normal(d), "outside_vecs": 0.5 * rng.standard_normal((V, d))}


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def loss_and_grad(params):
    v_c, U = params["center_vec"], params["outside_vecs"]
    pos = sigmoid(U[outside_idx] @ v_c)
    neg = sigmoid(-U[neg_idx] @ v_c)
    loss = -np.log(pos) - np.sum(np.log(neg))
    grad_center = (pos - 1) * U[outside_idx] + (1 - neg) @ U[neg_idx]
    grad_outside = np.zeros_like(U)
    grad_outside[outside_idx] += (pos - 1) * v_c
    np.add.at(grad_outside, neg_idx, np.outer(1 - neg, v_c))
    return loss, {"center_vec": grad_center, "outside_vecs": grad_outside}
