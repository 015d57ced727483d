"""BUG: word2vec negative-sampling gradient that loses repeated negative samples.

negSamplingLossAndGradient: loss = -log sig(u_o . v_c) - sum_k log sig(-u_k . v_c)
over K sampled negatives. The outside-vectors gradient is written with one
fancy-index update, grad_outside[neg_idx] += outer(sig(u_k . v_c), v_c);
negative word 3 was sampled twice, and the buffered += keeps only one of its
two terms, so row 3 of the outside-vectors gradient is wrong. The center
vector's gradient (a plain sum over k) and all other rows are right.
"""

import numpy as np

V, d = 10, 4
outside_idx = 2
neg_idx = np.array([3, 5, 3, 8, 1, 9])

EXPECTED = {"outside_vecs": ("confined", "row 3")}


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
    grad_outside[neg_idx] += np.outer(1 - neg, v_c)  # needs np.add.at for repeated samples
    return loss, {"center_vec": grad_center, "outside_vecs": grad_outside}
