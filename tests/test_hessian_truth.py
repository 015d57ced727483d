"""A Hessian's truth is fun's (issue 27): hess and hessp are judged against
jac's differences only where jac is fun's gradient, and against fun's own
differences where it is not, so a right Hessian passes beside a wrong jac
and a wrong one fails there too, located.

The truth is mpmath's, at 30 digits, of each function written again here:
which Hessian elements are right, and that each jac is wrong."""

import runpy

import mpmath
import numpy as np
import pytest

from gradcheck_cli import check

from .test_scipy_conventions import ROSEN, failing, true_hessian, wrong_elements

mpmath.mp.dps = 30

# Each classic function: its numpy file with a right jac, hess and hessp, a bug to put in its jac
# (source text, replaced once), and the function for mpmath.
# (test_scipy_conventions' Rosenbrock without its hessp: HESSP is appended to every source here)
ROSENBROCK = ROSEN[:ROSEN.index("\ndef hessp")] + "\n"

BEALE = """
import numpy as np

x0 = np.array([1.0, 1.0])

def parts(x):
    a, b = x
    r = np.array([1.5 - a + a * b, 2.25 - a + a * b ** 2, 2.625 - a + a * b ** 3])
    dr = np.array([[b - 1, a], [b ** 2 - 1, 2 * a * b], [b ** 3 - 1, 3 * a * b ** 2]])
    ddr = np.array([[[0, 1], [1, 0]], [[0, 2 * b], [2 * b, 2 * a]], [[0, 3 * b ** 2], [3 * b ** 2, 6 * a * b]]])
    return r, dr, ddr

def fun(x):
    return np.sum(parts(x)[0] ** 2)

def jac(x):
    r, dr, _ = parts(x)
    return 2 * dr.T @ r

def hess(x):
    r, dr, ddr = parts(x)
    return 2 * (dr.T @ dr + np.einsum("i,ijk->jk", r, ddr))
"""

WOOD = """
import numpy as np

x0 = np.array([-3.0, -1.0, -3.0, -1.0])

def fun(x):
    a, b, c, d = x
    return (100 * (b - a ** 2) ** 2 + (1 - a) ** 2 + 90 * (d - c ** 2) ** 2 + (1 - c) ** 2
            + 10.1 * ((b - 1) ** 2 + (d - 1) ** 2) + 19.8 * (b - 1) * (d - 1))

def jac(x):
    a, b, c, d = x
    return np.array([-400 * a * (b - a ** 2) - 2 * (1 - a),
                     200 * (b - a ** 2) + 20.2 * (b - 1) + 19.8 * (d - 1),
                     -360 * c * (d - c ** 2) - 2 * (1 - c),
                     180 * (d - c ** 2) + 20.2 * (d - 1) + 19.8 * (b - 1)])

def hess(x):
    a, b, c, d = x
    return np.array([[1200 * a ** 2 - 400 * b + 2, -400 * a, 0, 0],
                     [-400 * a, 220.2, 0, 19.8],
                     [0, 0, 1080 * c ** 2 - 360 * d + 2, -360 * c],
                     [0, 19.8, -360 * c, 200.2]])
"""

POWELL = """
import numpy as np

x0 = np.array([3.0, -1.0, 0.0, 1.0])

def fun(x):
    return (x[0] + 10 * x[1]) ** 2 + 5 * (x[2] - x[3]) ** 2 + (x[1] - 2 * x[2]) ** 4 + 10 * (x[0] - x[3]) ** 4

def jac(x):
    a, b, c, d = x[0] + 10 * x[1], x[2] - x[3], x[1] - 2 * x[2], x[0] - x[3]
    return np.array([2 * a + 40 * d ** 3, 20 * a + 4 * c ** 3, 10 * b - 8 * c ** 3, -10 * b - 40 * d ** 3])

def hess(x):
    c, d = x[1] - 2 * x[2], x[0] - x[3]
    return np.array([[2 + 120 * d ** 2, 20, 0, -120 * d ** 2],
                     [20, 200 + 12 * c ** 2, -24 * c ** 2, 0],
                     [0, -24 * c ** 2, 10 + 48 * c ** 2, -10],
                     [-120 * d ** 2, 0, -10, 10 + 120 * d ** 2]])
"""

LOGISTIC = """
import numpy as np

rng = np.random.default_rng(7)
X = rng.standard_normal((20, 5))
y = np.where(rng.standard_normal(20) > 0, 1.0, -1.0)
lam = 0.1
x0 = 0.3 * rng.standard_normal(5)

def fun(w):
    return np.sum(np.logaddexp(0, -y * (X @ w))) + 0.5 * lam * w @ w

def jac(w):
    s = 1 / (1 + np.exp(y * (X @ w)))
    return -X.T @ (y * s) + lam * w

def hess(w):
    p = 1 / (1 + np.exp(-(X @ w)))
    return X.T @ (X * (p * (1 - p))[:, None]) + lam * np.eye(w.size)
"""

HESSP = """
def hessp(x, p):
    return hess(x) @ p
"""


def rosenbrock_mp(_, *x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def beale_mp(_, a, b):
    return (mpmath.mpf("1.5") - a + a * b) ** 2 + (mpmath.mpf("2.25") - a + a * b ** 2) ** 2 + \
        (mpmath.mpf("2.625") - a + a * b ** 3) ** 2


def wood_mp(_, a, b, c, d):
    return (100 * (b - a ** 2) ** 2 + (1 - a) ** 2 + 90 * (d - c ** 2) ** 2 + (1 - c) ** 2
            + mpmath.mpf("10.1") * ((b - 1) ** 2 + (d - 1) ** 2) + mpmath.mpf("19.8") * (b - 1) * (d - 1))


def powell_mp(_, a, b, c, d):
    return (a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b - 2 * c) ** 4 + 10 * (a - d) ** 4


def logistic_mp(namespace, *w):
    X, y, lam = namespace["X"], namespace["y"], namespace["lam"]
    total = sum(mpmath.log(1 + mpmath.exp(-mpmath.mpf(yi) * sum(mpmath.mpf(xij) * wj for xij, wj in zip(row, w))))
                for row, yi in zip(X, y))
    return total + mpmath.mpf(lam) / 2 * sum(wj ** 2 for wj in w)


# (name, source, the bug in its jac: old text -> new text, the function for mpmath)
CLASSICS = [
    ("rosenbrock", ROSENBROCK, ("- 2 * (1 - x[:-1])", "+ 2 * (1 - x[:-1])"), rosenbrock_mp),
    ("beale", BEALE, ("return 2 * dr.T @ r", "return np.array([2, 1]) * (dr.T @ r)"), beale_mp),
    ("wood", WOOD, ("+ 20.2 * (b - 1) + 19.8 * (d - 1)", "+ 20.2 * (b - 1) + 9.9 * (d - 1)"), wood_mp),
    ("powell", POWELL, ("-10 * b - 40 * d ** 3", "-10 * b - 40 * d ** 2"), powell_mp),
    ("logistic", LOGISTIC, ("+ lam * w\n", "- lam * w\n"), logistic_mp),
]


def true_gradient(f, x):
    return np.array([float(mpmath.diff(f, list(map(mpmath.mpf, x)), tuple(int(k == i) for k in range(len(x)))))
                     for i in range(len(x))])


def written(model_file, name, source, jac_bug, hess_bug=None):
    """The file with its jac broken (and its hess, by ``hess_bug``: the line that changes the returned H), the
    mpmath function's namespace, and the premises: jac is wrong at x0, and which elements of hess are."""
    text = source.replace(*jac_bug)
    assert text != source
    if hess_bug is not None:
        text = text.replace("\ndef hess(x):", "\ndef _right_hess(x):").replace("\ndef hess(w):", "\ndef _right_hess(w):")
        text += f"\ndef hess(x):\n    H = np.array(_right_hess(x), dtype=float)\n    {hess_bug}\n    return H\n"
    path = model_file(text + HESSP, f"{name}.py")
    return path, runpy.run_path(path)


def truths(namespace, f):
    x0 = namespace["x0"]
    function = lambda *x: f(namespace, *x)  # noqa: E731
    return true_gradient(function, x0), true_hessian(function, x0)


@pytest.mark.parametrize("name, source, jac_bug, f", CLASSICS, ids=[c[0] for c in CLASSICS])
def test_a_right_hessian_beside_a_wrong_jac_passes_and_says_which_truth_it_met(model_file, name, source, jac_bug, f):
    path, namespace = written(model_file, name, source, jac_bug)
    gradient, hessian = truths(namespace, f)
    x0 = namespace["x0"]
    assert not np.allclose(namespace["jac"](x0), gradient, rtol=1e-6)  # (the premises: jac is wrong,
    assert not wrong_elements(namespace["hess"](x0), hessian)  # hess is right)
    assert check(f"{path}:jac").verdict == "fail"
    for derivative in ("hess", "hessp"):
        report = check(f"{path}:{derivative}")
        assert report.verdict == "pass", (derivative, [(b.name, b.grade) for b in report.blocks])
        assert any("jac fails against fun's central differences" in n and "fun's second differences" in n
                   for n in report.notes), report.notes


# A wrong element of H beside the wrong jac: one element 10 % off, a sign, a factor 2.
HESS_BUGS = [("H[1, 1] *= 1.1", {(1, 1)}), ("H[0, 1] = -H[0, 1]", {(0, 1)}), ("H[1, 0] *= 2", {(1, 0)})]


@pytest.mark.parametrize("hess_bug, where", HESS_BUGS, ids=["10 percent", "sign", "factor 2"])
@pytest.mark.parametrize("name, source, jac_bug, f", CLASSICS, ids=[c[0] for c in CLASSICS])
def test_a_wrong_hessian_element_beside_a_wrong_jac_fails_where_the_truth_says(model_file, name, source, jac_bug, f,
                                                                               hess_bug, where):
    path, namespace = written(model_file, name, source, jac_bug, hess_bug)
    _, hessian = truths(namespace, f)
    wrong = wrong_elements(namespace["hess"](namespace["x0"]), hessian)
    assert wrong == where  # (the premise: that element, and only it, is wrong at x0)
    report = check(f"{path}:hess")
    assert report.verdict == "fail"
    assert failing(report, "H") == ("fail", wrong)
    # hessp's implied matrix is the same wrong H; its column blocks locate the element as [r, c] too.
    report = check(f"{path}:hessp")
    assert report.verdict == "fail"
    assert failing(report, "H") == ("fail", wrong)


JAC_RIGHT_ONLY_AT_X0 = """
import numpy as np

x0 = np.array([-1.2, 1.0])

def fun(x):
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1 - x[0]) ** 2

def jac(x):  # wrong: x0[0] for x[0] in the second element, right at x0 only
    return np.array([-400.0 * x[0] * (x[1] - x[0] ** 2) - 2 * (1 - x[0]), 200.0 * (x[1] - x0[0] ** 2)])

def hess(x):
    return np.array([[1200.0 * x[0] ** 2 - 400.0 * x[1] + 2, -400.0 * x[0]], [-400.0 * x[0], 200.0]])
"""


def test_a_jac_right_at_x0_whose_derivative_is_wrong_is_not_the_hessians_truth(model_file):
    path = model_file(JAC_RIGHT_ONLY_AT_X0 + HESSP, "rosen_x0.py")
    namespace = runpy.run_path(path)
    x0 = namespace["x0"]
    f = lambda a, b: 100 * (b - a ** 2) ** 2 + (1 - a) ** 2  # noqa: E731
    assert np.allclose(namespace["jac"](x0), true_gradient(f, x0), rtol=1e-12)  # (right at x0,
    assert not wrong_elements(namespace["hess"](x0), true_hessian(f, x0))  # the hess right)
    for derivative in ("hess", "hessp"):
        report = check(f"{path}:{derivative}")
        assert report.verdict == "pass", (derivative, [(b.name, b.grade) for b in report.blocks])
        assert any("fun's second differences" in n for n in report.notes)


X_LOG_X = """
import numpy as np

x0 = np.array([1e-5, 1.0, 3.0])

def fun(x):
    return np.sum(x * np.log(x))

def jac(x):
    return np.log(x) + x  # wrong: d(x log x)/dx is log(x) + 1, and its derivative is no longer H

def hess(x):
    return np.diag(1 / x)
"""


def test_a_right_hessian_near_the_edge_of_funs_domain_passes_beside_a_wrong_jac(model_file):
    # fun's slopes step 1e-3 relative to max(1, |x|): from x = 1e-5 they leave log's domain unless shrunk.
    path = model_file(X_LOG_X + HESSP, "xlogx.py")
    namespace = runpy.run_path(path)
    x0 = namespace["x0"]
    f = lambda *x: sum(v * mpmath.log(v) for v in x)  # noqa: E731
    assert not wrong_elements(namespace["hess"](x0), true_hessian(f, x0))
    for derivative in ("hess", "hessp"):
        report = check(f"{path}:{derivative}")
        assert report.verdict == "pass", (derivative, [(b.name, b.grade) for b in report.blocks])
        assert any("fun's second differences" in n for n in report.notes)


def test_a_right_jac_stays_the_truth_and_the_report_says_nothing_of_it(model_file):
    path = model_file(ROSENBROCK + HESSP, "rosen.py")
    for derivative in ("hess", "hessp"):
        report = check(f"{path}:{derivative}")
        assert report.verdict == "pass"
        assert not any("jac fails" in n for n in report.notes)


JAC_WRONG_AWAY_FROM_X0 = """
import numpy as np

x0 = np.array([1.0, -0.5, 2.0])
X0 = x0.copy()

def fun(x):
    return np.sum(x ** 2) + x[0] * x[1] + np.sin(x[2])

def jac(x):  # wrong away from x0 only: an error 1e3 |x - x0|^4, unmeasurable within 1e-4 of it
    return np.array([2 * x[0] + x[1], 2 * x[1] + x[0], 2 * x[2] + np.cos(x[2])]) + 1e3 * np.sum((x - X0) ** 2) ** 2

def hess(x):
    return np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 2 - np.sin(x[2])]])
"""


def test_a_jac_wrong_only_at_the_generic_point_is_not_the_truth_there_and_the_report_says_so(model_file):
    path = model_file(JAC_WRONG_AWAY_FROM_X0 + HESSP, "far.py")
    namespace = runpy.run_path(path)
    f = lambda a, b, c: a ** 2 + b ** 2 + c ** 2 + a * b + mpmath.sin(c)  # noqa: E731
    for x in (namespace["x0"], np.array([0.3, 0.8, -1.1])):  # (hess is right anywhere: at x0 and elsewhere)
        assert not wrong_elements(namespace["hess"](x), true_hessian(f, x))
    for derivative in ("hess", "hessp"):
        report = check(f"{path}:{derivative}")
        assert report.verdict == "pass" and report.generic is not None
        assert not any("jac fails" in n for n in report.notes)  # (at x0 and near it, jac is fun's gradient)
        assert any("jac fails" in n and "at the generic point" in n for n in report.generic.notes)
