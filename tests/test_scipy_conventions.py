"""scipy.optimize's conventions checked as they are (issue 27, section 1):
fun/jac/x0 (and args, hess, hessp) files, each derivative a model.

The truth is established here, independently of gradcheck: each model's
function is written again for mpmath, whose derivatives at 30 digits say
which elements of the hand-written derivatives are right."""

import json
import re
import runpy

import mpmath
import numpy as np
import pytest
from click.testing import CliRunner
from scipy import optimize

from gradcheck_cli import ModelError, check
from gradcheck_cli.cli import main

mpmath.mp.dps = 30

ROSEN = """
import numpy as np

x0 = np.array([-1.2, 1.0, 0.7, 1.3])

def fun(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

def jac(x):
    g = np.zeros_like(x)
    g[:-1] = -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    g[1:] += 200 * (x[1:] - x[:-1] ** 2)
    return g

def hess(x):
    n = x.size
    H = np.zeros((n, n))
    for i in range(n - 1):
        H[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        H[i, i + 1] = -400 * x[i]
        H[i + 1, i] = -400 * x[i]
        H[i + 1, i + 1] += 200
    return H

def hessp(x, p):
    return hess(x) @ p
"""


def rosen_mp(*x):
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1))


def true_hessian(f, x):
    n = len(x)
    orders = [tuple(int(k == i) + int(k == j) for k in range(n)) for i in range(n) for j in range(n)]
    return np.array([float(mpmath.diff(f, list(map(mpmath.mpf, x)), order)) for order in orders]).reshape(n, n)


def true_jacobian(residuals, x, m):
    n = len(x)
    return np.array([[float(mpmath.diff(lambda *v: residuals(*v)[r], list(map(mpmath.mpf, x)),
                                        tuple(int(k == c) for k in range(n)))) for c in range(n)] for r in range(m)])


def wrong_elements(analytic, truth):
    """The elements of a hand-written derivative that the truth says are wrong."""
    return {tuple(int(i) for i in index) for index in np.argwhere(~np.isclose(analytic, truth, rtol=1e-9, atol=0))}


def failing(report, block):
    """The elements gradcheck failed in ``block`` at the start point."""
    found = next(b for b in report.blocks if b.name == block)
    return found.grade, {d.index for d in found.dims if d.grade == "fail" and d.index is not None}


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


@pytest.fixture
def rosen(model_file):
    return model_file(ROSEN, "rosen.py")


def test_a_correct_rosenbrock_passes_jac_hess_and_hessp(rosen):
    namespace = runpy.run_path(rosen)
    x0 = namespace["x0"]
    assert not wrong_elements(namespace["hess"](x0), true_hessian(rosen_mp, x0))  # (the premise)
    for derivative in ("jac", "hess", "hessp"):
        report = check(f"{rosen}:{derivative}")
        assert report.verdict == "pass", derivative


def test_a_wrong_hessian_element_fails_where_the_truth_says(model_file):
    # H[0, 1] alone uses x[i + 1] for x[i]: not symmetric, and row 0 is wrong.
    path = model_file(ROSEN.replace("H[i, i + 1] = -400 * x[i]", "H[i, i + 1] = -400 * x[i + 1]"), "rosen.py")
    namespace = runpy.run_path(path)
    x0 = namespace["x0"]
    wrong = wrong_elements(namespace["hess"](x0), true_hessian(rosen_mp, x0))
    assert wrong == {(0, 1), (1, 2), (2, 3)}
    report = check(f"{path}:hess")
    grade, found = failing(report, "H")
    assert report.verdict == "fail" and grade == "fail"
    assert found and found <= wrong
    assert report.blocks[0].worst.index in wrong
    assert any("hess is not symmetric at x0" in note for note in report.notes)
    assert check(f"{path}:jac").verdict == "pass"  # (its jac is right: the hess is what is wrong)


def test_a_hessp_right_only_on_coordinate_vectors_fails_along_its_direction(model_file):
    # |p| for p: right for every e_r, wrong for a direction with a negative element.
    path = model_file(ROSEN.replace("return hess(x) @ p", "return hess(x) @ np.abs(p)"), "rosen.py")
    namespace = runpy.run_path(path)
    x0 = namespace["x0"]
    v = np.array([1.0, -1.0, 0.5, -2.0])
    assert not np.allclose(namespace["hessp"](x0, v), true_hessian(rosen_mp, x0) @ v)  # (the premise)
    report = check(f"{path}:hessp")
    assert report.verdict == "fail"
    assert failing(report, "H")[0] != "fail" and failing(report, "Hv")[0] == "fail"


def test_a_hessp_that_is_wrong_fails_in_the_rows_it_gets_wrong(model_file):
    path = model_file(ROSEN.replace("return hess(x) @ p", "return hess(x) @ p + np.array([0, 0, 0, 1.0]) * p[1]"),
                      "rosen.py")
    namespace = runpy.run_path(path)
    x0 = namespace["x0"]
    n = x0.size
    columns = np.column_stack([namespace["hessp"](x0, np.eye(n)[r]) for r in range(n)])
    # Row r of the block is hessp(x, e_r), H's column r: its transpose is the matrix the rows hold.
    wrong = wrong_elements(columns.T, true_hessian(rosen_mp, x0))
    assert wrong == {(1, 3)}
    report = check(f"{path}:hessp")
    grade, found = failing(report, "H")
    assert grade == "fail" and found == wrong


LEAST_SQUARES = """
import numpy as np

t = np.linspace(0.0, 3.0, 8)
y = 2.0 * np.exp(-1.3 * t) + 0.5 + 0.01 * np.sin(7 * t)
x0 = np.array([1.5, 1.0, 0.2])
args = (t, y)

def fun(x, t, y):
    a, b, c = x
    return a * np.exp(-b * t) + c - y

def jac(x, t, y):
    a, b, c = x
    e = np.exp(-b * t)
    return np.column_stack([e, -a * t * e, np.ones_like(t)])
"""


def residuals_mp(t, y):
    return lambda a, b, c: [a * mpmath.exp(-b * mpmath.mpf(ti)) + c - mpmath.mpf(yi) for ti, yi in zip(t, y)]


def test_a_least_squares_jacobian_with_one_wrong_column_is_located_by_row_and_column(model_file):
    right = model_file(LEAST_SQUARES, "fit.py")
    wrong_path = model_file(LEAST_SQUARES.replace("-a * t * e", "a * t * e"), "fit_wrong.py")
    for path, expected in ((right, set()), (wrong_path, {(r, 1) for r in range(1, 8)})):
        namespace = runpy.run_path(path)
        truth = true_jacobian(residuals_mp(namespace["t"], namespace["y"]), namespace["x0"], 8)
        assert wrong_elements(namespace["jac"](namespace["x0"], *namespace["args"]), truth) == expected
    assert check(right).verdict == "pass"
    report = check(wrong_path)
    grade, found = failing(report, "J")
    assert report.blocks[0].shape == (8, 3)
    assert grade == "fail" and found and found <= {(r, 1) for r in range(1, 8)}
    assert report.blocks[0].diagnosis is not None and "column 1" in report.blocks[0].diagnosis.text


def test_the_command_line_checks_every_derivative_a_file_defines(rosen, model_file):
    result = run(rosen, "--format", "json")
    assert result.exit_code == 0, result.output
    models = json.loads(result.stdout)["models"]
    assert [(m["model"].rsplit("/", 1)[-1], m["verdict"]) for m in models] == \
        [("rosen.py:jac", "pass"), ("rosen.py:hess", "pass"), ("rosen.py:hessp", "pass")]
    buggy = model_file(ROSEN.replace("return hess(x) @ p", "return hess(x) @ np.abs(p)"), "buggy.py")
    result = run(buggy)
    assert result.exit_code == 1 and "3 models: 2 pass, 1 fail" in result.output
    result = run(buggy, "--format", "json")
    verdicts = {m["model"].rsplit(":", 1)[-1]: m["verdict"] for m in json.loads(result.stdout)["models"]}
    assert verdicts == {"jac": "pass", "hess": "pass", "hessp": "fail"}


def test_a_file_with_only_jac_is_its_jac_and_one_with_several_names_them(model_file):
    only_jac = model_file(ROSEN.split("def hess")[0], "rosen_jac.py")
    assert check(only_jac).verdict == "pass"
    with pytest.raises(ModelError, match=r"defines jac, hess, hessp, each checked as a model of its own: "
                                         r"check one as '.*rosen.py:jac'"):
        check(model_file(ROSEN, "rosen.py"))


@pytest.mark.parametrize("change, message", [
    (("return g", "return g[:, None]"), r"jac returned shape \(4, 1\) at .*; it returns the gradient of a scalar "
                                        r"fun, shape \(4,\); ravel it"),
    (("return H", "return H[:3]"), r"hess returned shape \(3, 4\); it returns the Hessian, n x n with n = 4 "
                                   r"variables, shape \(4, 4\)"),
    (("return hess(x) @ p", "return hess(x) * p"), r"hessp returned a matrix for p = v; it returns the product "
                                                  r"H p, shape \(4,\)"),
    (("x0 = np.array([-1.2, 1.0, 0.7, 1.3])", "x0 = np.ones((2, 2))"), r"x0 has shape \(2, 2\); "
                                                                      r"scipy.optimize's x0 is a 1-d array"),
])
def test_shapes_are_refused_by_name_with_exit_code_2(model_file, change, message):
    path = model_file(ROSEN.replace(*change), "rosen.py")
    result = run(path)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert re.search(message, result.output.replace("\n", " ")), result.output


def test_a_least_squares_jacobian_transposed_is_refused_by_name(model_file):
    path = model_file(LEAST_SQUARES.replace("np.column_stack(", "np.vstack("), "fit.py")
    result = run(path)
    assert result.exit_code == 2
    assert "jac returned shape (3, 8)" in result.output and "transposed?" in result.output


RELU_SQUARED = """
import numpy as np

x0 = np.array([0.0, 1.5, -0.7, 0.3])  # x0[0] on the kink of jac (the ReLU)

def fun(x):
    return 0.5 * np.sum(np.maximum(x, 0.0) ** 2)

def jac(x):
    return np.maximum(x, 0.0)

def hess(x):
    return np.diag((x > 0).astype(float))
"""


def test_a_kinked_second_derivative_passes_right_and_fails_wrong_away_from_its_kink(model_file):
    right = model_file(RELU_SQUARED, "relu2.py")
    wrong = model_file(RELU_SQUARED.replace("(x > 0).astype(float)", "np.ones_like(x)"), "relu2_wrong.py")
    namespace = runpy.run_path(wrong)
    x0 = namespace["x0"]
    smooth = [1, 2, 3]  # (x0[0] is on the kink: any value in [0, 1] is a subgradient there)
    truth = true_hessian(lambda *x: sum(mpmath.mpf(0.5) * max(v, 0) ** 2 for v in x), x0)
    given = namespace["hess"](x0)
    assert wrong_elements(given[np.ix_(smooth, smooth)], truth[np.ix_(smooth, smooth)]) == {(1, 1)}  # H[2, 2]
    report = check(f"{right}:hess")
    assert report.verdict == "pass" and report.kinked
    report = check(f"{wrong}:hess")
    grade, found = failing(report, "H")
    assert grade == "fail" and found == {(2, 2)}


def test_scipys_own_rosenbrock_derivatives_pass_as_scipy_names_them(model_file):
    # Public code we did not write, in the conventions it defines: scipy.optimize's rosen_der, rosen_hess and
    # rosen_hess_prod, imported under the names minimize takes.
    path = model_file("""
        import numpy as np
        from scipy.optimize import rosen as fun, rosen_der as jac, rosen_hess as hess, rosen_hess_prod as hessp

        x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    """, "scipy_rosen.py")
    x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    assert not wrong_elements(optimize.rosen_hess(x0), true_hessian(rosen_mp, x0))  # (the premise)
    result = run(path, "--format", "json")
    assert result.exit_code == 0, result.output
    assert [m["model"].rsplit(":", 1)[-1] for m in json.loads(result.stdout)["models"]] == ["jac", "hess", "hessp"]


def test_a_hess_beside_residuals_is_refused_by_name(model_file):
    path = model_file(LEAST_SQUARES + "\ndef hess(x, t, y):\n    return np.eye(3)\n", "fit.py")
    result = run(f"{path}:hess")
    assert result.exit_code == 2
    assert "hess is for a scalar fun, but fun returns 8 residuals" in result.output.replace("\n", " ")


def test_a_one_element_fun_beside_a_gradient_is_minimizes_scalar(model_file):
    # scipy's minimize takes a fun returning np.array([f]); its jac is then the gradient, shape (n,).
    path = model_file(ROSEN.split("def hess")[0].replace("return np.sum(", "return np.array([np.sum(")
                      .replace("** 2)\n", "** 2)])\n", 1), "rosen1.py")
    assert "np.array([np.sum(" in open(path).read()
    assert check(path).verdict == "pass"
