"""BUG: softsign with the misprinted derivative sgn(z)/(1+z)^2.

One of the course notes prints the derivative of softsign z/(1+|z|) as
sgn(z)/(1+z)^2. The right one is 1/(1+|z|)^2: the misprint is wrong
wherever z < 0 (negative sign, wrong denominator). Expected: `fail` in W.
"""

import numpy as np

N, D, K = 6, 4, 3

_data = np.random.default_rng(7)
X = _data.standard_normal((N, D))
T = _data.uniform(-0.5, 0.5, size=(N, K))


def init_params(seed=0):
    return {"W": 0.8 * np.random.default_rng(seed).standard_normal((D, K))}


def loss(params):
    z = X @ params["W"]
    out = z / (1 + np.abs(z))
    return 0.5 * np.sum((out - T) ** 2) / N


def grad(params):
    z = X @ params["W"]
    out = z / (1 + np.abs(z))
    dz = (out - T) / N * np.sign(z) / (1 + z) ** 2  # the misprint; should be 1 / (1 + np.abs(z)) ** 2
    return {"W": X.T @ dz}
