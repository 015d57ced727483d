import numpy as np

# -log(x) at 1e-10 from its wall (an interior-point iterate): a right jac fails
x0 = np.array([1e-10])

def fun(x):
    return -np.sum(np.log(x))

def jac(x):
    return -1 / x
