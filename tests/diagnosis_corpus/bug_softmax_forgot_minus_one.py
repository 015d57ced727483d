"""BUG: softmax classifier whose dscores forgets to subtract 1 at the correct class.

The student set dscores = probs / N and skipped dscores[range(N), y] -= 1,
so the gradient is that of sum(log-sum-exp) alone. The error,
-X.T @ onehot(y) / N for W and -class_counts / N for b, follows the labels,
not any pattern of the gradient or the parameters: W and b are wrong with
no simple relation to the truth.
"""

import numpy as np

N, D, C = 36, 6, 4
REG = 0.05

_data = np.random.default_rng(118)
X = _data.standard_normal((N, D))
y = _data.integers(0, C, size=N)

EXPECTED = {"W": None, "b": None}


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.2 * rng.standard_normal(C)}


def loss_and_grad(params):
    W, b = params["W"], params["b"]
    scores = X @ W + b
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(N), y])) + REG * np.sum(W ** 2)
    dscores = probs / N  # missing: dscores[np.arange(N), y] -= 1 (before / N)
    dW = X.T @ dscores + 2 * REG * W
    db = dscores.sum(axis=0)
    return loss, {"W": dW, "b": db}
