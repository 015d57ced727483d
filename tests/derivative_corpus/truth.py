"""The truth for every model of models.py, independently of gradcheck.

Each family's function is written again here for mpmath (from its
textbook definition, not from the model file's code); its derivatives at
40 digits (mpmath.diff) are compared with the model's jac, hess and hessp
at x0 and at two seeded points near x0 (a relative move of 3 %, which
keeps a point in its domain), so a derivative right only at x0 is wrong.
A kinked family (huber, absl1) at its kink x0 is compared at the two
points near it only: at the kink the derivative is one of its one-sided
values, and any of them is right."""

import mpmath
import numpy as np

mpmath.mp.dps = 40
M = mpmath
# What a verdict must be, from the worst element's relative error: gradcheck
# fails above 1e-2 and warns above 1e-4 (settings' defaults); a right
# derivative agrees to round-off. Between RIGHT and WRONG either verdict is
# defensible (a wrong term too small to matter, e.g. beside a 1e10 one).
RIGHT, WRONG = 1e-7, 1e-2


def expected(err):
    """'right' (must pass), 'wrong' (must fail) or 'gray'."""
    return "right" if err <= RIGHT else "wrong" if err > WRONG else "gray"


def _rosen(x, mod):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def _beale(x, mod):
    a, b = x
    return (M.mpf("1.5") - a + a * b) ** 2 + (M.mpf("2.25") - a + a * b ** 2) ** 2 + (M.mpf("2.625") - a + a * b ** 3) ** 2


def _booth(x, mod):
    return (x[0] + 2 * x[1] - 7) ** 2 + (2 * x[0] + x[1] - 5) ** 2


def _himmelblau(x, mod):
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def _rastrigin(x, mod):
    return 10 * len(x) + sum(v ** 2 - 10 * M.cos(2 * M.pi * v) for v in x)


def _styblinski(x, mod):
    return sum(v ** 4 - 16 * v ** 2 + 5 * v for v in x) / 2


def _powell(x, mod):
    x1, x2, x3, x4 = x
    return (x1 + 10 * x2) ** 2 + 5 * (x3 - x4) ** 2 + (x2 - 2 * x3) ** 4 + 10 * (x1 - x4) ** 4


def _wood(x, mod):
    x1, x2, x3, x4 = x
    return (100 * (x1 ** 2 - x2) ** 2 + (x1 - 1) ** 2 + (x3 - 1) ** 2 + 90 * (x3 ** 2 - x4) ** 2
            + M.mpf("10.1") * ((x2 - 1) ** 2 + (x4 - 1) ** 2) + M.mpf("19.8") * (x2 - 1) * (x4 - 1))


def _brown(x, mod):
    return (x[0] - 10 ** 6) ** 2 + (x[1] - 2 * M.mpf(10) ** -6) ** 2 + (x[0] * x[1] - 2) ** 2


def _freud_res(x, mod):
    x1, x2 = x
    return [-13 + x1 + ((5 - x2) * x2 - 2) * x2, -29 + x1 + ((x2 + 1) * x2 - 14) * x2]


def _freudenstein(x, mod):
    return sum(r ** 2 for r in _freud_res(x, mod))


def _logbarrier(x, mod):
    c = [M.mpf(float(v)) for v in mod.c]
    return sum(ci * xi - M.log(xi) - M.log(1 - xi) for ci, xi in zip(c, x))


def _entropy(x, mod):
    return sum(v * M.log(v) for v in x)


def _logistic(x, mod):
    A, y, lam = mod.args
    total = 0
    for i in range(A.shape[0]):
        z = float(y[i]) * sum(M.mpf(float(A[i, j])) * x[j] for j in range(len(x)))
        total += M.log(1 + M.exp(-z))
    return total + M.mpf(lam) / 2 * sum(v ** 2 for v in x)


def _softmax(x, mod):
    X, Y = mod.args
    D, K = mod.D, mod.K
    total = 0
    for i in range(X.shape[0]):
        z = [sum(M.mpf(float(X[i, d])) * x[d * K + k] for d in range(D)) for k in range(K)]
        label = int(np.argmax(Y[i]))
        total += M.log(sum(M.exp(v) for v in z)) - z[label]
    return total / X.shape[0]


def _expfit(x, mod):
    t, y = mod.args
    return [x[0] * M.exp(-x[1] * float(ti)) - float(yi) for ti, yi in zip(t, y)]


def _gaussfit(x, mod):
    t, y = mod.args
    A, mu, s, c = x
    return [A * M.exp(-(float(ti) - mu) ** 2 / (2 * s ** 2)) + c - float(yi) for ti, yi in zip(t, y)]


def _wlsq(x, mod):
    t, y, w = mod.args
    A, mu, c = x
    return [float(wi) * (A * M.exp(-(float(ti) - mu) ** 2 / 2) + c - float(yi)) for ti, yi, wi in zip(t, y, w)]


def _huber(x, mod):
    A, b = mod.args
    total = 0
    for i in range(A.shape[0]):
        r = sum(M.mpf(float(A[i, j])) * x[j] for j in range(len(x))) - float(b[i])
        total += r ** 2 / 2 if abs(r) <= 1 else abs(r) - M.mpf(1) / 2
    return total


def _smoothl1(x, mod):
    c = [M.mpf(float(v)) for v in mod.c]
    lam, eps = M.mpf(mod.lam), M.mpf(mod.eps)
    return sum((xi - ci) ** 2 / 2 + lam * M.sqrt(xi ** 2 + eps ** 2) for xi, ci in zip(x, c))


def _absl1(x, mod):
    c = [M.mpf(float(v)) for v in mod.c]
    return sum((xi - ci) ** 2 / 2 + M.mpf(mod.lam) * abs(xi) for xi, ci in zip(x, c))


def _one_exp(x, mod):
    return M.exp(x[0]) - 2 * x[0]


def _one_quartic(x, mod):
    return x[0] ** 4 + x[0] ** 2 / 2


def _quad_nonsym(x, mod):
    B = mod.B
    n = len(x)
    return sum(float(B[i, j]) * x[i] * x[j] for i in range(n) for j in range(n)) / 2 + sum(v ** 4 for v in x) / 4


SCALAR = {"rosen2": _rosen, "rosen10": _rosen, "beale": _beale, "booth": _booth, "himmelblau": _himmelblau,
          "rastrigin": _rastrigin, "styblinski": _styblinski, "powell": _powell, "wood": _wood, "brown": _brown,
          "freudenstein": _freudenstein, "logbarrier": _logbarrier, "entropy": _entropy, "logistic": _logistic,
          "softmax": _softmax, "huber": _huber, "smoothl1": _smoothl1, "absl1": _absl1, "one_exp": _one_exp,
          "one_quartic": _one_quartic, "rosen50": _rosen, "edge": _logbarrier, "quad_nonsym": _quad_nonsym}
RESIDUALS = {"freudenstein_lsq": _freud_res, "expfit": _expfit, "gaussfit": _gaussfit, "wlsq": _wlsq}
# attack/minimal: the smallest models that show each finding
MINIMAL = {
    "brown_badly_scaled": _brown, "brown_min_hess": _brown,
    "jac_wrong_hess_right": lambda x, mod: sum(v ** 2 for v in x),
    "log_wall_jac": lambda x, mod: -sum(M.log(v) for v in x),
    "log_wall_hess": lambda x, mod: -sum(M.log(v) for v in x),
    "pole_wall_hess": lambda x, mod: -sum(M.log(1 - v) for v in x),
    "quadratic_min_jac": lambda x, mod: sum((v - 1) ** 2 for v in x),
}
SCALAR.update(MINIMAL)
KINKED = {("huber", "kink"), ("absl1", "kink")}


def _mp(x):
    return [M.mpf(float(v)) for v in x]


def gradient(f, x, mod):
    n = len(x)
    return np.array([float(M.diff(lambda *v: f(list(v), mod), _mp(x), tuple(int(k == i) for k in range(n))))
                     for i in range(n)])


def hessian(f, x, mod):
    n = len(x)
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            order = tuple(int(k == i) + int(k == j) for k in range(n))
            H[i, j] = H[j, i] = float(M.diff(lambda *v: f(list(v), mod), _mp(x), order))
    return H


def jacobian(res, x, mod):
    n = len(x)
    m = len(res(_mp(x), mod))
    return np.array([[float(M.diff(lambda *v: res(list(v), mod)[r], _mp(x), tuple(int(k == c) for k in range(n))))
                      for c in range(n)] for r in range(m)])


def points(family, point, x0):
    """x0 and two seeded points 10 % away (0.5 for a zero coordinate; in
    the domain: the log barrier's moves are relative to the distance to
    the nearer wall)."""
    rng = np.random.default_rng(12345)
    scale = np.where(x0 == 0, 5.0, np.abs(x0))
    if family in ("logbarrier", "edge", "log_wall_jac", "log_wall_hess", "pole_wall_hess"):
        scale = np.minimum(np.abs(x0), np.abs(1 - x0))
    near = [x0 + 0.1 * scale * rng.uniform(-1, 1, x0.size) for _ in range(2)]
    return near if (family, point) in KINKED else [x0, *near]


def truth(mod, family, point):
    """{derivative: (worst relative error, at which point)} for the
    derivatives the model defines. An element's error is relative to the
    element, or where it is (near) zero to 1e-7 of the largest value that
    element takes at any of the points (a gradient is 0 at a minimum, but
    its terms are not), and no less than 1e-12 of the derivative's
    largest value anywhere."""
    args = getattr(mod, "args", ())
    args = args if isinstance(args, tuple) else (args,)
    x0 = np.atleast_1d(np.asarray(mod.x0, dtype=float))
    pairs = {}  # derivative -> [(analytic, truth, label)]
    for k, x in enumerate(points(family, point, x0)):
        label = "x0" if (k == 0 and (family, point) not in KINKED) else f"near{k}"
        if family in RESIDUALS:
            pairs.setdefault("jac", []).append(
                (np.atleast_2d(mod.jac(x.copy(), *args)), jacobian(RESIDUALS[family], x, mod), label))
            continue
        f = SCALAR[family]
        pairs.setdefault("jac", []).append((np.atleast_1d(mod.jac(x.copy(), *args)), gradient(f, x, mod), label))
        if getattr(mod, "hess", None) is None and getattr(mod, "hessp", None) is None:
            continue
        H = hessian(f, x, mod)
        if getattr(mod, "hess", None) is not None:
            pairs.setdefault("hess", []).append((np.atleast_2d(mod.hess(x.copy(), *args)), H, label))
        if getattr(mod, "hessp", None) is not None:
            prng = np.random.default_rng(99)
            ps = [np.eye(x.size)[i] for i in range(x.size)] + [prng.standard_normal(x.size),
                                                               1e3 * prng.standard_normal(x.size)]
            for p in ps:
                pairs.setdefault("hessp", []).append((np.asarray(mod.hessp(x.copy(), p.copy(), *args)), H @ p, label))
    out = {}
    for name, found in pairs.items():
        element = np.max([np.abs(t) for _, t, _ in found], axis=0)
        floor = np.maximum(1e-7 * element, max(1e-12 * float(np.max(element)), 1e-300))
        worst = (0.0, "x0")
        for analytic, t, label in found:
            err = float(np.max(np.abs(np.asarray(analytic, dtype=float) - t) / np.maximum(np.abs(t), floor)))
            if err > worst[0]:
                worst = (err, label)
        out[name] = worst
    return out
