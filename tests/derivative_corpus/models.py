"""Classic test functions and fits in scipy.optimize's conventions
(module-level fun, jac, x0, optionally args, hess, hessp), each correct
version with realistic buggy variants: the corpus of an adversarial pass
on issue 27, kept as tests (tests/test_derivative_corpus.py).

A variant is the correct source with one edit (old -> new); the edit must
occur exactly once, so a typo in this table cannot make a "buggy" model
that is silently correct. Whether a variant is really wrong is NOT taken
from this table: truth.py decides it with mpmath."""

ROSEN2 = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2

def jac(x):
    return np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]),
                     200.0 * (x[1] - x[0] ** 2)])

def hess(x):
    return np.array([[1200.0 * x[0] ** 2 - 400.0 * x[1] + 2, -400.0 * x[0]],
                     [-400.0 * x[0], 200.0]])

def hessp(x, p):
    return hess(x) @ p
'''

ROSEN10 = '''import numpy as np

x0 = X0

def fun(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

def jac(x):
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g

def hess(x):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2
        H[i, i + 1] = -400.0 * x[i]
        H[i + 1, i] = -400.0 * x[i]
        H[i + 1, i + 1] += 200.0
    return H

def hessp(x, p):
    # scipy.optimize.rosen_hess_prod's formula
    Hp = np.zeros_like(x)
    Hp[0] = (1200 * x[0] ** 2 - 400 * x[1] + 2) * p[0] - 400 * x[0] * p[1]
    Hp[1:-1] = (-400 * x[:-2] * p[:-2] + (202 + 1200 * x[1:-1] ** 2 - 400 * x[2:]) * p[1:-1]
                - 400 * x[1:-1] * p[2:])
    Hp[-1] = -400 * x[-2] * p[-2] + 200 * p[-1]
    return Hp
'''

BEALE = '''import numpy as np

x0 = np.array(X0)
c = np.array([1.5, 2.25, 2.625])

def fun(x):
    a, b = x
    r = c - a * (1 - b ** np.arange(1, 4))
    return np.sum(r ** 2)

def jac(x):
    a, b = x
    k = np.arange(1, 4)
    r = c - a * (1 - b ** k)
    dr_da = -(1 - b ** k)
    dr_db = a * k * b ** (k - 1)
    return np.array([2 * r @ dr_da, 2 * r @ dr_db])

def hess(x):
    a, b = x
    k = np.arange(1, 4)
    r = c - a * (1 - b ** k)
    dr_da = -(1 - b ** k)
    dr_db = a * k * b ** (k - 1)
    d2_ab = k * b ** (k - 1)
    d2_bb = a * k * (k - 1) * b ** np.maximum(k - 2, 0)
    h_aa = 2 * dr_da @ dr_da
    h_ab = 2 * (dr_da @ dr_db + r @ d2_ab)
    h_bb = 2 * (dr_db @ dr_db + r @ d2_bb)
    return np.array([[h_aa, h_ab], [h_ab, h_bb]])
'''

BOOTH = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2

def jac(x):
    u = x[0] + 2 * x[1] - 7
    v = 2 * x[0] + x[1] - 5
    return np.array([2 * u + 4 * v, 4 * u + 2 * v])

def hess(x):
    return np.array([[10.0, 8.0], [8.0, 10.0]])

def hessp(x, p):
    return np.array([10.0 * p[0] + 8.0 * p[1], 8.0 * p[0] + 10.0 * p[1]])
'''

HIMMELBLAU = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2

def jac(x):
    u = x[0] ** 2 + x[1] - 11
    v = x[0] + x[1] ** 2 - 7
    return np.array([4 * x[0] * u + 2 * v, 2 * u + 4 * x[1] * v])

def hess(x):
    u = x[0] ** 2 + x[1] - 11
    v = x[0] + x[1] ** 2 - 7
    return np.array([[12 * x[0] ** 2 + 4 * x[1] - 42, 4 * x[0] + 4 * x[1]],
                     [4 * x[0] + 4 * x[1], 4 * x[0] + 12 * x[1] ** 2 - 26]])

def hessp(x, p):
    return hess(x) @ p
'''

RASTRIGIN = '''import numpy as np

x0 = X0

def fun(x):
    return 10.0 * x.size + np.sum(x ** 2 - 10.0 * np.cos(2 * np.pi * x))

def jac(x):
    return 2 * x + 20.0 * np.pi * np.sin(2 * np.pi * x)

def hess(x):
    return np.diag(2 + 40.0 * np.pi ** 2 * np.cos(2 * np.pi * x))

def hessp(x, p):
    return (2 + 40.0 * np.pi ** 2 * np.cos(2 * np.pi * x)) * p
'''

STYBLINSKI = '''import numpy as np

x0 = X0

def fun(x):
    return 0.5 * np.sum(x ** 4 - 16 * x ** 2 + 5 * x)

def jac(x):
    return 0.5 * (4 * x ** 3 - 32 * x + 5)

def hess(x):
    return np.diag(0.5 * (12 * x ** 2 - 32))
'''

POWELL = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return ((x[0] + 10 * x[1]) ** 2 + 5 * (x[2] - x[3]) ** 2 + (x[1] - 2 * x[2]) ** 4
            + 10 * (x[0] - x[3]) ** 4)

def jac(x):
    a = x[0] + 10 * x[1]
    b = x[2] - x[3]
    c = x[1] - 2 * x[2]
    d = x[0] - x[3]
    return np.array([2 * a + 40 * d ** 3,
                     20 * a + 4 * c ** 3,
                     10 * b - 8 * c ** 3,
                     -10 * b - 40 * d ** 3])

def hess(x):
    c = x[1] - 2 * x[2]
    d = x[0] - x[3]
    H = np.zeros((4, 4))
    H[0, 0] = 2 + 120 * d ** 2
    H[0, 1] = H[1, 0] = 20
    H[0, 3] = H[3, 0] = -120 * d ** 2
    H[1, 1] = 200 + 12 * c ** 2
    H[1, 2] = H[2, 1] = -24 * c ** 2
    H[2, 2] = 10 + 48 * c ** 2
    H[2, 3] = H[3, 2] = -10
    H[3, 3] = 10 + 120 * d ** 2
    return H

def hessp(x, p):
    return hess(x) @ p
'''

WOOD = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return (100 * (x[0] ** 2 - x[1]) ** 2 + (x[0] - 1) ** 2 + (x[2] - 1) ** 2
            + 90 * (x[2] ** 2 - x[3]) ** 2 + 10.1 * ((x[1] - 1) ** 2 + (x[3] - 1) ** 2)
            + 19.8 * (x[1] - 1) * (x[3] - 1))

def jac(x):
    return np.array([
        400 * x[0] * (x[0] ** 2 - x[1]) + 2 * (x[0] - 1),
        -200 * (x[0] ** 2 - x[1]) + 20.2 * (x[1] - 1) + 19.8 * (x[3] - 1),
        2 * (x[2] - 1) + 360 * x[2] * (x[2] ** 2 - x[3]),
        -180 * (x[2] ** 2 - x[3]) + 20.2 * (x[3] - 1) + 19.8 * (x[1] - 1)])

def hess(x):
    H = np.zeros((4, 4))
    H[0, 0] = 1200 * x[0] ** 2 - 400 * x[1] + 2
    H[0, 1] = H[1, 0] = -400 * x[0]
    H[1, 1] = 220.2
    H[1, 3] = H[3, 1] = 19.8
    H[2, 2] = 1080 * x[2] ** 2 - 360 * x[3] + 2
    H[2, 3] = H[3, 2] = -360 * x[2]
    H[3, 3] = 200.2
    return H

def hessp(x, p):
    return hess(x) @ p
'''

BROWN = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return (x[0] - 1e6) ** 2 + (x[1] - 2e-6) ** 2 + (x[0] * x[1] - 2) ** 2

def jac(x):
    r = x[0] * x[1] - 2
    return np.array([2 * (x[0] - 1e6) + 2 * r * x[1], 2 * (x[1] - 2e-6) + 2 * r * x[0]])

def hess(x):
    return np.array([[2 + 2 * x[1] ** 2, 4 * x[0] * x[1] - 4],
                     [4 * x[0] * x[1] - 4, 2 + 2 * x[0] ** 2]])
'''

FREUDENSTEIN = '''import numpy as np

x0 = np.array(X0)

def residuals(x):
    return np.array([-13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1],
                     -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1]])

def residuals_jac(x):
    return np.array([[1.0, 10 * x[1] - 3 * x[1] ** 2 - 2],
                     [1.0, 3 * x[1] ** 2 + 2 * x[1] - 14]])

def fun(x):
    return np.sum(residuals(x) ** 2)

def jac(x):
    return 2 * residuals_jac(x).T @ residuals(x)

def hess(x):
    r = residuals(x)
    J = residuals_jac(x)
    second = np.array([10 - 6 * x[1], 6 * x[1] + 2])  # d2 r_i / d x1^2
    H = 2 * J.T @ J
    H[1, 1] += 2 * r @ second
    return H
'''

FREUDENSTEIN_LSQ = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return np.array([-13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1],
                     -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1]])

def jac(x):
    return np.array([[1.0, 10 * x[1] - 3 * x[1] ** 2 - 2],
                     [1.0, 3 * x[1] ** 2 + 2 * x[1] - 14]])
'''

LOGBARRIER = '''import numpy as np

# minimize c.x - sum(log x) - sum(log(1 - x)) over the open box (0, 1)^n
x0 = np.array(X0)
c = np.array([0.3, -1.0, 2.0])

def fun(x):
    return c @ x - np.sum(np.log(x)) - np.sum(np.log1p(-x))

def jac(x):
    return c - 1 / x + 1 / (1 - x)

def hess(x):
    return np.diag(1 / x ** 2 + 1 / (1 - x) ** 2)

def hessp(x, p):
    return (1 / x ** 2 + 1 / (1 - x) ** 2) * p
'''

ENTROPY = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return np.sum(x * np.log(x))

def jac(x):
    return np.log(x) + 1

def hess(x):
    return np.diag(1 / x)

def hessp(x, p):
    return p / x
'''

LOGISTIC = '''import numpy as np

_rng = np.random.default_rng(7)
A = _rng.standard_normal((40, 5))
y = np.where(_rng.standard_normal(40) > 0, 1.0, -1.0)
lam = 0.1
args = (A, y, lam)
x0 = X0

def fun(x, A, y, lam):
    z = y * (A @ x)
    return np.sum(np.logaddexp(0, -z)) + 0.5 * lam * x @ x

def jac(x, A, y, lam):
    z = y * (A @ x)
    s = 1 / (1 + np.exp(z))          # sigma(-z)
    return -A.T @ (y * s) + lam * x

def hess(x, A, y, lam):
    z = y * (A @ x)
    s = 1 / (1 + np.exp(z))
    d = s * (1 - s)
    return A.T @ (d[:, None] * A) + lam * np.eye(x.size)

def hessp(x, p, A, y, lam):
    z = y * (A @ x)
    s = 1 / (1 + np.exp(z))
    d = s * (1 - s)
    return A.T @ (d * (A @ p)) + lam * p
'''

SOFTMAX = '''import numpy as np

_rng = np.random.default_rng(3)
N, D, K = 30, 3, 3
X = _rng.standard_normal((N, D))
labels = _rng.integers(0, K, N)
Y = np.eye(K)[labels]
args = (X, Y)
x0 = X0

def _probs(w, X):
    z = X @ w.reshape(D, K)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)

def fun(w, X, Y):
    z = X @ w.reshape(D, K)
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return np.mean(lse - np.sum(Y * z, axis=1))

def jac(w, X, Y):
    P = _probs(w, X)
    return (X.T @ (P - Y) / X.shape[0]).ravel()

def hess(w, X, Y):
    P = _probs(w, X)
    H = np.zeros((D * K, D * K))
    for i in range(X.shape[0]):
        S = np.diag(P[i]) - np.outer(P[i], P[i])
        H += np.kron(np.outer(X[i], X[i]), S)
    return H / X.shape[0]

def hessp(w, p, X, Y):
    P = _probs(w, X)
    V = X @ p.reshape(D, K)                      # directional logits
    PV = P * V
    G = PV - P * PV.sum(axis=1, keepdims=True)   # (diag(P) - P P^T) V, row by row
    return (X.T @ G / X.shape[0]).ravel()
'''

EXPFIT = '''import numpy as np

# least_squares: y ~ a exp(-b t)
t = np.linspace(0, 4, 12)
y = 3.0 * np.exp(-0.7 * t) + 0.01 * np.sin(7 * t)
args = (t, y)
x0 = np.array(X0)

def fun(x, t, y):
    return x[0] * np.exp(-x[1] * t) - y

def jac(x, t, y):
    e = np.exp(-x[1] * t)
    return np.column_stack([e, -x[0] * t * e])
'''

GAUSSFIT = '''import numpy as np

# least_squares: y ~ A exp(-(t - mu)^2 / (2 s^2)) + c
t = np.linspace(-3, 5, 25)
y = 2.0 * np.exp(-(t - 1.0) ** 2 / (2 * 0.8 ** 2)) + 0.3
args = (t, y)
x0 = np.array(X0)

def fun(x, t, y):
    A, mu, s, c = x
    return A * np.exp(-(t - mu) ** 2 / (2 * s ** 2)) + c - y

def jac(x, t, y):
    A, mu, s, c = x
    g = np.exp(-(t - mu) ** 2 / (2 * s ** 2))
    return np.column_stack([g,
                            A * g * (t - mu) / s ** 2,
                            A * g * (t - mu) ** 2 / s ** 3,
                            np.ones_like(t)])
'''

HUBER = '''import numpy as np

# robust regression: sum huber(A x - b), delta = 1: its second derivative jumps at |r| = 1
A = np.array([[1.0, 0.5], [0.2, 1.0], [1.0, -1.0], [0.3, 0.3], [2.0, 1.0]])
b = np.array([1.0, -2.0, 0.5, 3.0, 0.0])
delta = 1.0
args = (A, b)
x0 = np.array(X0)

def fun(x, A, b):
    r = A @ x - b
    a = np.abs(r)
    return np.sum(np.where(a <= delta, 0.5 * r ** 2, delta * (a - 0.5 * delta)))

def jac(x, A, b):
    r = A @ x - b
    return A.T @ np.clip(r, -delta, delta)

def hess(x, A, b):
    r = A @ x - b
    w = (np.abs(r) <= delta).astype(float)
    return A.T @ (w[:, None] * A)

def hessp(x, p, A, b):
    r = A @ x - b
    w = (np.abs(r) <= delta).astype(float)
    return A.T @ (w * (A @ p))
'''

SMOOTHL1 = '''import numpy as np

# lasso-like: 0.5 |x - c|^2 + lam * sum sqrt(x^2 + eps^2) (a smoothed |x|)
c = np.array([0.5, -0.2, 0.0, 2.0])
lam, eps = 0.3, 1e-3
x0 = np.array(X0)

def fun(x):
    return 0.5 * np.sum((x - c) ** 2) + lam * np.sum(np.sqrt(x ** 2 + eps ** 2))

def jac(x):
    return x - c + lam * x / np.sqrt(x ** 2 + eps ** 2)

def hess(x):
    return np.diag(1 + lam * eps ** 2 / (x ** 2 + eps ** 2) ** 1.5)

def hessp(x, p):
    return (1 + lam * eps ** 2 / (x ** 2 + eps ** 2) ** 1.5) * p
'''

ABSL1 = '''import numpy as np

# 0.5 |x - c|^2 + lam * |x|_1: the subgradient sign(x) (0 at 0, as most code writes it)
c = np.array([0.5, -0.2, 0.1, 2.0])
lam = 0.3
x0 = np.array(X0)

def fun(x):
    return 0.5 * np.sum((x - c) ** 2) + lam * np.sum(np.abs(x))

def jac(x):
    return x - c + lam * np.sign(x)
'''

ONE_EXP = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return np.exp(x[0]) - 2 * x[0]

def jac(x):
    return np.exp(x[0]) - 2          # a float: scipy takes np.atleast_1d

def hess(x):
    return np.exp(x[0])              # a float: scipy takes np.atleast_2d

def hessp(x, p):
    return np.exp(x) * p
'''

ONE_QUARTIC = '''import numpy as np

x0 = np.array(X0)

def fun(x):
    return x[0] ** 4 + 0.5 * x[0] ** 2

def jac(x):
    return np.array([4 * x[0] ** 3 + x[0]])

def hess(x):
    return np.array([[12 * x[0] ** 2 + 1]])
'''

QUAD_NONSYM = '''import numpy as np

# f = 0.5 x^T B x + sum(x^4)/4 with B NOT symmetric: grad = (B + B^T)/2 x + x^3
B = np.array([[2.0, 3.0, 0.0], [-1.0, 4.0, 1.0], [0.5, 0.0, 3.0]])
x0 = np.array(X0)

def fun(x):
    return 0.5 * x @ B @ x + 0.25 * np.sum(x ** 4)

def jac(x):
    return 0.5 * (B + B.T) @ x + x ** 3

def hess(x):
    return 0.5 * (B + B.T) + np.diag(3 * x ** 2)

def hessp(x, p):
    return 0.5 * (B + B.T) @ p + 3 * x ** 2 * p
'''


WLSQ = '''import numpy as np

# weighted least_squares of a Gaussian peak on m = 400 points: r = w (model - y)
t = np.linspace(-4, 6, 400)
w = 1 + 0.05 * np.cos(t)
y = 2.0 * np.exp(-(t - 1.0) ** 2 / 2) + 0.3
args = (t, y, w)
x0 = np.array(X0)

def fun(x, t, y, w):
    A, mu, c = x
    return w * (A * np.exp(-(t - mu) ** 2 / 2) + c - y)

def jac(x, t, y, w):
    A, mu, c = x
    g = np.exp(-(t - mu) ** 2 / 2)
    J = np.column_stack([g, A * g * (t - mu), np.ones_like(t)])
    J *= w[:, None]
    return J
'''

ROSEN50 = '''import numpy as np

x0 = X0

def fun(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

def jac(x):
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g

def hess(x):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2
        H[i, i + 1] = -400.0 * x[i]
        H[i + 1, i] = -400.0 * x[i]
        H[i + 1, i + 1] += 200.0
    return H

def hessp(x, p):
    return hess(x) @ p
'''

EDGE = '''import numpy as np

# log barrier of the box (0, 1)^3 with x0 right at its walls
x0 = np.array(X0)
c = np.array([0.3, -1.0, 2.0])
args = c  # scipy's rule: a single non-tuple argument is the one argument

def fun(x, c):
    return c @ x - np.sum(np.log(x)) - np.sum(np.log1p(-x))

def jac(x, c):
    return c - 1 / x + 1 / (1 - x)

def hess(x, c):
    return np.diag(1 / x ** 2 + 1 / (1 - x) ** 2)

def hessp(x, p, c):
    return (1 / x ** 2 + 1 / (1 - x) ** 2) * p
'''

# name: (template, {x0 variant: X0 text}, [(bug name, old, new), ...])
FAMILIES = {
    "rosen2": (ROSEN2, {"std": "[-1.2, 1.0]", "min": "[1.0, 1.0]", "large": "[300.0, -2000.0]"}, [
        ("jac_sign", "- 2 * (1 - x[0])", "+ 2 * (1 - x[0])"),
        ("hess_offdiag", "[[1200.0 * x[0] ** 2 - 400.0 * x[1] + 2, -400.0 * x[0]]",
         "[[1200.0 * x[0] ** 2 - 400.0 * x[1] + 2, -400.0 * x[1]]"),
        ("hessp_unit_p", "return hess(x) @ p", "return hess(x) @ (p / np.linalg.norm(p))"),
        ("jac_only_at_x0", "200.0 * (x[1] - x[0] ** 2)])", "200.0 * (x[1] - x0[0] ** 2)])"),
        ("hess_only_at_x0", "[-400.0 * x[0], 200.0]])", "[-400.0 * x0[0], 200.0]])"),
    ]),
    "rosen10": (ROSEN10, {"std": "np.array([-1.2, 1.0] * 5)", "min": "np.ones(10)",
                          "ramp": "np.linspace(-2.0, 2.0, 10)"}, [
        ("hess_diag_assign", "H[i + 1, i + 1] += 200.0", "H[i + 1, i + 1] = 200.0"),
        ("hessp_index", "- 400 * x[1:-1] * p[2:])", "- 400 * x[2:] * p[2:])"),
        ("jac_last", "g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)", "g[1:-1] += 200.0 * (x[1:-1] - x[:-2] ** 2)"),
    ]),
    "beale": (BEALE, {"std": "[1.0, 1.0]", "min": "[3.0, 0.5]", "zeros": "[0.0, 0.0]"}, [
        ("jac_factor2", "return np.array([2 * r @ dr_da, 2 * r @ dr_db])", "return np.array([2 * r @ dr_da, r @ dr_db])"),
        ("hess_offdiag", "h_ab = 2 * (dr_da @ dr_db + r @ d2_ab)", "h_ab = 2 * dr_da @ dr_db"),
    ]),
    "booth": (BOOTH, {"zeros": "[0.0, 0.0]", "min": "[1.0, 3.0]"}, [
        ("jac_sign", "return np.array([2 * u + 4 * v, 4 * u + 2 * v])", "return np.array([2 * u - 4 * v, 4 * u + 2 * v])"),
        ("hess_offdiag", "return np.array([[10.0, 8.0], [8.0, 10.0]])", "return np.array([[10.0, 4.0], [4.0, 10.0]])"),
        ("hessp_transposed_p", "8.0 * p[0] + 10.0 * p[1]])", "8.0 * p[1] + 10.0 * p[0]])"),
    ]),
    "himmelblau": (HIMMELBLAU, {"zeros": "[0.0, 0.0]", "min": "[3.0, 2.0]"}, [
        ("hess_diag", "4 * x[0] + 12 * x[1] ** 2 - 26]]", "12 * x[1] ** 2 - 26]]"),
        ("jac_factor2", "return np.array([4 * x[0] * u + 2 * v,", "return np.array([2 * x[0] * u + 2 * v,"),
    ]),
    "rastrigin": (RASTRIGIN, {"zeros": "np.zeros(4)", "large": "np.array([5.12, -4.5, 3.3, 0.25])"}, [
        ("jac_missing_2pi", "20.0 * np.pi * np.sin", "10.0 * np.sin"),
        ("hess_sign", "np.diag(2 + 40.0", "np.diag(2 - 40.0"),
        ("hessp_ignores_p", "np.cos(2 * np.pi * x)) * p", "np.cos(2 * np.pi * x))"),
    ]),
    "styblinski": (STYBLINSKI, {"std": "np.array([0.5, -1.0, 2.0, 3.0, -4.0])",
                                "min": "np.full(5, -2.903534027771178)"}, [
        ("hess_factor2", "np.diag(0.5 * (12 * x ** 2 - 32))", "np.diag(12 * x ** 2 - 32)"),
        ("jac_16", "0.5 * (4 * x ** 3 - 32 * x + 5)", "0.5 * (4 * x ** 3 - 16 * x + 5)"),
    ]),
    "powell": (POWELL, {"std": "[3.0, -1.0, 0.0, 1.0]", "min": "[0.0, 0.0, 0.0, 0.0]"}, [
        ("hess_offdiag_sign", "H[1, 2] = H[2, 1] = -24 * c ** 2", "H[1, 2] = H[2, 1] = 24 * c ** 2"),
        ("hess_one_side", "H[0, 3] = H[3, 0] = -120 * d ** 2", "H[0, 3] = -120 * d ** 2"),
        ("jac_cube", "-10 * b - 40 * d ** 3])", "-10 * b - 40 * d ** 2])"),
    ]),
    "wood": (WOOD, {"std": "[-3.0, -1.0, -3.0, -1.0]", "min": "[1.0, 1.0, 1.0, 1.0]"}, [
        ("hess_missing_cross", "H[1, 3] = H[3, 1] = 19.8", "H[1, 3] = 19.8"),
        ("jac_coef", "+ 20.2 * (x[3] - 1) + 19.8 * (x[1] - 1)])", "+ 20.2 * (x[3] - 1) + 19.8 * (x[3] - 1)])"),
        ("hessp_transpose_wrong", "return hess(x) @ p", "H = hess(x)\n    H[0, 2] = 1.0\n    return H.T @ p"),
    ]),
    "brown": (BROWN, {"std": "[1.0, 1.0]", "min": "[1e6, 2e-6]"}, [
        ("jac_missing_term", "2 * (x[1] - 2e-6) + 2 * r * x[0]])", "2 * r * x[0]])"),
        ("hess_offdiag", "[[2 + 2 * x[1] ** 2, 4 * x[0] * x[1] - 4],", "[[2 + 2 * x[1] ** 2, 2 * x[0] * x[1] - 4],"),
    ]),
    "freudenstein": (FREUDENSTEIN, {"std": "[0.5, -2.0]", "min": "[5.0, 4.0]"}, [
        ("jac_no_transpose", "return 2 * residuals_jac(x).T @ residuals(x)", "return 2 * residuals_jac(x) @ residuals(x)"),
        ("hess_gauss_newton", "H[1, 1] += 2 * r @ second", "pass"),
    ]),
    "freudenstein_lsq": (FREUDENSTEIN_LSQ, {"std": "[0.5, -2.0]", "min": "[5.0, 4.0]"}, [
        ("jac_row1", "[1.0, 3 * x[1] ** 2 + 2 * x[1] - 14]]", "[1.0, 3 * x[1] ** 2 + x[1] - 14]]"),
    ]),
    "logbarrier": (LOGBARRIER, {"mid": "[0.2, 0.5, 0.7]", "edge": "[1e-4, 0.5, 1 - 1e-4]"}, [
        ("hess_sign", "np.diag(1 / x ** 2 + 1 / (1 - x) ** 2)", "np.diag(1 / x ** 2 - 1 / (1 - x) ** 2)"),
        ("jac_sign", "return c - 1 / x + 1 / (1 - x)", "return c - 1 / x - 1 / (1 - x)"),
    ]),
    "entropy": (ENTROPY, {"mid": "[0.2, 0.3, 0.5]", "edge": "[1e-5, 1.0, 3.0]"}, [
        ("jac_missing_1", "return np.log(x) + 1", "return np.log(x)"),
        ("hess_log", "return np.diag(1 / x)", "return np.diag(1 / x ** 2)"),
    ]),
    "logistic": (LOGISTIC, {"zeros": "np.zeros(5)", "std": "np.array([0.5, -1.0, 0.3, 2.0, -0.7])",
                            "large": "np.array([30.0, -20.0, 10.0, 25.0, -15.0])"}, [
        ("jac_sign", "return -A.T @ (y * s) + lam * x", "return A.T @ (y * s) + lam * x"),
        ("hess_no_lam", "return A.T @ (d[:, None] * A) + lam * np.eye(x.size)", "return A.T @ (d[:, None] * A)"),
        ("hessp_unit_p", "return A.T @ (d * (A @ p)) + lam * p", "return A.T @ (d * (A @ p)) / np.linalg.norm(p) + lam * p"),
    ]),
    "softmax": (SOFTMAX, {"zeros": "np.zeros(9)", "std": "np.linspace(-1.0, 1.0, 9)"}, [
        ("jac_no_mean", "return (X.T @ (P - Y) / X.shape[0]).ravel()", "return (X.T @ (P - Y)).ravel()"),
        ("hessp_no_outer", "G = PV - P * PV.sum(axis=1, keepdims=True)", "G = PV"),
        ("hess_kron_order", "H += np.kron(np.outer(X[i], X[i]), S)", "H += np.kron(S, np.outer(X[i], X[i]))"),
    ]),
    "expfit": (EXPFIT, {"std": "[1.0, 0.1]", "min": "[3.0, 0.7]", "zeros": "[0.0, 0.0]"}, [
        ("jac_col_sign", "return np.column_stack([e, -x[0] * t * e])", "return np.column_stack([e, x[0] * t * e])"),
        ("jac_rows_tail", "return np.column_stack([e, -x[0] * t * e])",
         "J = np.column_stack([e, -x[0] * t * e])\n    J[8:, 1] = -x[0] * t[8:] ** 2 * e[8:]\n    return J"),
    ]),
    "gaussfit": (GAUSSFIT, {"std": "[1.5, 0.5, 1.0, 0.0]", "min": "[2.0, 1.0, 0.8, 0.3]"}, [
        ("jac_s_power", "(t - mu) ** 2 / s ** 3,", "(t - mu) ** 2 / s ** 2,"),
        ("jac_c_column", "np.ones_like(t)])", "np.zeros_like(t)])"),
    ]),
    "huber": (HUBER, {"std": "[0.3, -0.4]", "kink": "[1.0, 0.5]"}, [
        ("hess_no_mask", "w = (np.abs(r) <= delta).astype(float)\n    return A.T @ (w[:, None] * A)",
         "return A.T @ A"),
        ("jac_no_clip", "return A.T @ np.clip(r, -delta, delta)", "return A.T @ r"),
    ]),
    "smoothl1": (SMOOTHL1, {"zero": "[0.0, 0.0, 0.0, 0.0]", "std": "[0.4, -0.1, 0.01, 1.5]"}, [
        ("hess_no_eps2", "np.diag(1 + lam * eps ** 2 / (x ** 2 + eps ** 2) ** 1.5)",
         "np.diag(1 + lam / (x ** 2 + eps ** 2) ** 0.5)"),
        ("hessp_eps", "(1 + lam * eps ** 2 / (x ** 2 + eps ** 2) ** 1.5) * p",
         "(1 + lam * eps / (x ** 2 + eps ** 2)) * p"),
    ]),
    "absl1": (ABSL1, {"kink": "[0.0, 0.0, 0.0, 0.0]", "std": "[0.4, -0.1, 0.2, 1.5]"}, [
        ("jac_factor2", "return x - c + lam * np.sign(x)", "return x - c + 2 * lam * np.sign(x)"),
    ]),
    "one_exp": (ONE_EXP, {"std": "[0.7]", "min": "[0.6931471805599453]", "large": "[30.0]"}, [
        ("hess_minus2", "return np.exp(x[0])              #", "return np.exp(x[0]) - 2          #"),
        ("jac_sign", "return np.exp(x[0]) - 2          # a float", "return np.exp(x[0]) + 2          # a float"),
    ]),
    "one_quartic": (ONE_QUARTIC, {"zero": "[0.0]", "std": "[0.8]"}, [
        ("hess_cubic", "12 * x[0] ** 2 + 1", "12 * x[0] ** 3 + 1"),
    ]),
    "wlsq": (WLSQ, {"std": "[1.5, 0.5, 0.0]", "min": "[2.0, 1.0, 0.3]"}, [
        ("jac_last_row", "J *= w[:, None]", "J[:-1] *= w[:-1, None]"),
        ("jac_one_row", "J *= w[:, None]", "J *= w[:, None]\n    J[137, 0] = g[137]"),
        ("jac_col_unweighted", "J *= w[:, None]", "J[:, :2] *= w[:, None]"),
    ]),
    "rosen50": (ROSEN50, {"std": "np.array([-1.2, 1.0] * 25)", "ramp": "np.linspace(-1.5, 1.5, 50)"}, [
        ("hess_loop_short", "for i in range(n - 1):", "for i in range(n - 2):"),
        ("hessp_one_element", "return hess(x) @ p", "Hp = hess(x) @ p\n    Hp[23] -= 2 * p[23]\n    return Hp"),
    ]),
    "edge": (EDGE, {"e7": "[1e-7, 0.5, 1 - 1e-7]", "e10": "[1e-10, 0.5, 0.9]"}, [
        ("hess_sign", "np.diag(1 / x ** 2 + 1 / (1 - x) ** 2)", "np.diag(1 / x ** 2 - 1 / (1 - x) ** 2)"),
        ("jac_sign", "return c - 1 / x + 1 / (1 - x)", "return c - 1 / x - 1 / (1 - x)"),
    ]),
    "quad_nonsym": (QUAD_NONSYM, {"std": "[0.5, -1.0, 0.8]", "zeros": "[0.0, 0.0, 0.0]"}, [
        ("hess_B", "return 0.5 * (B + B.T) + np.diag(3 * x ** 2)", "return B + np.diag(3 * x ** 2)"),
        ("hessp_BT", "return 0.5 * (B + B.T) @ p + 3 * x ** 2 * p", "return B.T @ p + 3 * x ** 2 * p"),
        ("jac_B", "return 0.5 * (B + B.T) @ x + x ** 3", "return B @ x + x ** 3"),
    ]),
}


def sources():
    """{name: source}: FAMILY__POINT__VARIANT for every family, start point
    and variant ("ok" the correct one)."""
    out = {}
    for family, (template, points, bugs) in FAMILIES.items():
        for point, x0 in points.items():
            assert template.count("X0") == 1, family
            source = template.replace("X0", x0)
            out[f"{family}__{point}__ok"] = source
            for bug, old, new in bugs:
                assert source.count(old) == 1, (family, bug, source.count(old))
                out[f"{family}__{point}__{bug}"] = source.replace(old, new)
    return out
