import numpy as np

# a right gradient at the exact minimum of sum (x - 1)^2 (loss 0, gradient exactly 0): WARN,
# "the loss is noisy ... far more than float64 rounding", though the generic point passes
x0 = np.array([1.0, 1.0])

def fun(x):
    return np.sum((x - 1) ** 2)

def jac(x):
    return 2 * (x - 1)
