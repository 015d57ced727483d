import numpy as np

# Brown's badly scaled function (More, Garbow, Hillstrom #4) at its standard start:
# jac[1] drops the term 2 (x1 - 2e-6): analytic -2, true -4e-6, beside jac[0] = -2e6
x0 = np.array([1.0, 1.0])

def fun(x):
    return (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2

def jac(x):
    r = x[0] * x[1] - 2
    return np.array([2 * (x[0] - 1e6) + 2 * r * x[1], 2 * r * x[0]])
