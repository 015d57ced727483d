"""BUG: ridge-free linear regression on N = 50000 examples (CIFAR-10 sized), loss
0.5*mean||XW - Y||^2, the gradient divides by N - 1 instead of N
(an 'unbiased' habit): dW = X.T @ r / (N - 1).

True pattern: ratio N/(N-1) = 1.00002 exactly in every element
(analytic - true = true/(N-1), proportional to the gradient, NOT to W).
There is no L2 term. A `param` hint ("analytic - numeric = c x W: an L2
term's gradient missing or wrong?") is false: the difference is not
proportional to W.
"""
import numpy as np

N, D, K = 50000, 4, 3
_r = np.random.default_rng(13)
X = _r.standard_normal((N, D))
Y = X @ _r.standard_normal((D, K)) + 0.5 * _r.standard_normal((N, K))


def init_params(seed=0):
    return {"W": np.random.default_rng(seed).standard_normal((D, K))}


def loss_and_grad(p):
    r = X @ p["W"] - Y
    return 0.5 * np.mean(np.sum(r * r, axis=1)), {"W": X.T @ r / (N - 1)}
