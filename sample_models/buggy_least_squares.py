"""An exponential decay fit, as scipy.optimize.least_squares is handed it
(buggy): fun returns the residuals, jac their m x n Jacobian.

    least_squares(fun, x0, jac=jac)

The Jacobian's column 1 (d/dk) misses the chain rule's factor t:
`gradcheck buggy_least_squares.py` fails it, every row of column 1."""

import numpy as np

t = np.linspace(0.0, 3.0, 12)
y = 2.5 * np.exp(-1.3 * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)
x0 = np.array([1.0, -0.5])  # amplitude a, rate k


def fun(x):
    a, k = x
    return a * np.exp(k * t) - y


def jac(x):
    a, k = x
    J = np.empty((t.size, 2))
    J[:, 0] = np.exp(k * t)
    J[:, 1] = a * np.exp(k * t)  # the bug: d/dk of a e^(k t) is a t e^(k t)
    return J
