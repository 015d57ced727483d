"""Logistic regression with L2, as scipy.optimize.minimize is handed it
for Newton-CG or trust-ncg (correct): fun, jac, hess and hessp of the
weights, the data in args.

    minimize(fun, x0, args=args, jac=jac, hess=hess, method="trust-exact")

`gradcheck newton_logistic.py` checks jac (the gradient), hess (the
Hessian, row by row against jac's differences) and hessp (the product
H p, column by column and along a random p)."""

import numpy as np

N, D = 40, 4
REG = 0.1

_data = np.random.default_rng(3)
X = np.hstack([_data.standard_normal((N, D - 1)), np.ones((N, 1))])  # (the last weight is the intercept)
y = (_data.random(N) < 0.5).astype(float)
args = (X, y, REG)
x0 = 0.3 * _data.standard_normal(D)


def fun(w, X, y, reg):
    z = X @ w
    # log(1 + e^z) - y z, written so that a large |z| cannot overflow
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * reg * w[:-1] @ w[:-1]


def jac(w, X, y, reg):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    g = X.T @ (p - y) / len(y)
    g[:-1] += reg * w[:-1]  # (the intercept is not regularized)
    return g


def hess(w, X, y, reg):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    H = (X * (p * (1 - p))[:, None]).T @ X / len(y)
    H[np.arange(len(w) - 1), np.arange(len(w) - 1)] += reg
    return H


def hessp(w, v, X, y, reg):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    Hv = X.T @ (p * (1 - p) * (X @ v)) / len(y)
    Hv[:-1] += reg * v[:-1]
    return Hv
