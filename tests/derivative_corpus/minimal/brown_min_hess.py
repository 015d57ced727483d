import numpy as np

# Brown's badly scaled function at its minimum [1e6, 2e-6]: H[0, 1] is 0 instead of 4,
# beside H[1, 1] = 2e12
x0 = np.array([1e6, 2e-6])

def fun(x):
    return (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2

def jac(x):
    r = x[0] * x[1] - 2
    return np.array([2 * (x[0] - 1e6) + 2 * r * x[1], 2 * (x[1] - 2e-6) + 2 * r * x[0]])

def hess(x):
    return np.array([[2 + 2 * x[1] ** 2, 2 * x[0] * x[1] - 4],   # wrong: 4 x0 x1 - 4
                     [4 * x[0] * x[1] - 4, 2 + 2 * x[0] ** 2]])
