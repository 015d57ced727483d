import numpy as np

# -log(1 - x) at 1e-7 below its wall x = 1: jac = 1/(1 - x) is finite past the wall (a pole, not a nan),
# so the steps of H's check cross it; a right hess FAILS ("the loss is inf with H[0, 0] changed ...")
x0 = np.array([1 - 1e-7])

def fun(x):
    return -np.sum(np.log1p(-x))

def jac(x):
    return 1 / (1 - x)

def hess(x):
    return np.diag(1 / (1 - x) ** 2)
