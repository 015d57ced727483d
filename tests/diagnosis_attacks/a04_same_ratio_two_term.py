"""BUG: L2-regularized logistic regression with a scalar bias; loss is
mean BCE + reg*sum(W**2). The gradient forgets the data part's 1/N in both
dW and db (dW = X.T @ (p - y) + 2*reg*W, db = sum(p - y)); the L2 term is right.

True pattern: dW = N*(true - 2 reg W) + 2 reg W (two-term: alpha = N, beta = -2 reg (N-1));
db = N x true (a pure ratio N; b has no L2 term and nothing of W in it).
A hint for b that says "analytic ≈ N x numeric + beta x W" (W's term in
b's hint) is false about b.
"""
import numpy as np

N, D = 25, 6
reg = 0.1
_r = np.random.default_rng(2)
X = _r.standard_normal((N, D))
y = (_r.random(N) < 0.5).astype(float)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal(D), "b": np.array(0.3)}


def loss_and_grad(p):
    W, b = p["W"], p["b"]
    z = X @ W + b
    q = 1 / (1 + np.exp(-z))
    L = -np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)) + reg * np.sum(W * W)
    d = q - y                      # BUG: / N missing
    return L, {"W": X.T @ d + 2 * reg * W, "b": np.array(np.sum(d))}
