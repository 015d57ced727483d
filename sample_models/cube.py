"""The course notes' worked example: f(t) = sum(t^3), gradient 3 t^2.

With h = 0.01 at t = 1 the centered difference gives 3.0001 and the
one-sided one 3.0301; gradcheck's default h = 1e-5 is far closer still.
The params are one array, not a dict: grad returns an array too.
"""

import numpy as np

params = np.array([1.0, -0.5, 2.0])


def loss(t):
    return np.sum(t**3)


def grad(t):
    return 3 * t**2
