import numpy as np

# jac has a sign error; hess is the true Hessian of fun: gradcheck fails hess ("H[0, 0]: analytic 2, numeric -2")
x0 = np.array([0.5, -0.3])

def fun(x):
    return np.sum(x ** 2)

def jac(x):
    return np.array([-2 * x[0], 2 * x[1]])  # wrong: d/dx0 is +2 x0

def hess(x):
    return 2 * np.eye(2)  # right
