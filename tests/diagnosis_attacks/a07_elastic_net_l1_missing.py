"""BUG: elastic-net linear regression: loss = 0.5*mean||XW - Y||^2
+ alpha*sum|W| + reg*sum(W**2). The gradient has the data part and the
L2 part (2*reg*W) right, and forgets the L1 part alpha*sign(W).

True pattern: analytic - true = -alpha*sign(W) in every element: not
proportional to W (no `param` kind: |W| is not constant), not a ratio.
The data loss's gradient (the MSE part) is right; what is wrong is a
regularization term (the L1 one). A report hint "the data loss's gradient
is wrong there" is false about this model.
"""
import numpy as np

N, D, K = 30, 6, 3
alpha = 0.05
reg = 0.1
_r = np.random.default_rng(4)
X = _r.standard_normal((N, D))
Y = _r.standard_normal((N, K))


def init_params(seed=0):
    return {"W": np.random.default_rng(seed).standard_normal((D, K))}


def loss_and_grad(p):
    W = p["W"]
    r = X @ W - Y
    L = 0.5 * np.mean(np.sum(r * r, axis=1)) + alpha * np.sum(np.abs(W)) + reg * np.sum(W * W)
    return L, {"W": X.T @ r / N + 2 * reg * W}   # BUG: + alpha * np.sign(W) missing
