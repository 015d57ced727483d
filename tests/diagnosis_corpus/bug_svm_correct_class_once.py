"""BUG: naive-loop multiclass SVM that subtracts x_i from the correct class once.

svm_loss_naive: for every class j with a positive margin, dW[:, j] += x_i;
the correct class's column must lose x_i once per positive margin, but the
student subtracts it once per example, after the loop (and likewise for the
bias). The error in column y_i is (count_i - 1) * x_i summed over examples,
different in every column and element: no simple pattern. The L2 term is right.
"""

import numpy as np

N, D, C = 30, 6, 5
REG = 0.05

_data = np.random.default_rng(121)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"W": None, "b": None}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.3 * rng.standard_normal(C)}


def loss_and_grad(params):
    W, b = params["W"], params["b"]
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    loss = 0.0
    for i in range(N):
        scores = X[i].dot(W) + b
        correct_class_score = scores[y[i]]
        for j in range(C):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                db[j] += 1
        dW[:, y[i]] -= X[i]  # should be inside the `if margin > 0` branch
        db[y[i]] -= 1
    loss = loss / N + REG * np.sum(W * W)
    dW = dW / N + 2 * REG * W
    db /= N
    return loss, {"W": dW, "b": db}
