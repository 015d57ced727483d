"""The derivatives of issue 27 in every output a user reads: the JSON
document says which derivative was checked, JUnit and GitHub annotations
name it, check_derivatives() checks a file's derivatives as the command
line does, and the pytest fixture and assert_gradients take their targets.

The bug in WRONG_HESS is planted in a known element, so the truth is the
file's own construction: H[1, 2] is twice scipy's rosen_hess, which the
other tests (test_scipy_conventions.py) check against mpmath."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from gradcheck_cli import ModelError, assert_gradients, check_derivatives
from gradcheck_cli.cli import main

WRONG_HESS = """
import numpy as np
from scipy.optimize import rosen, rosen_der, rosen_hess, rosen_hess_prod

fun = rosen
jac = rosen_der

def hess(x):
    H = rosen_hess(x)
    H[1, 2] *= 2  # the bug: one element, not mirrored
    return H

hessp = rosen_hess_prod
x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
"""

RESIDUALS = """
import numpy as np

t = np.linspace(0, 2, 9)
y = 2.5 * np.exp(-1.3 * t)
x0 = np.array([2.0, -1.0])

def fun(x):
    return x[0] * np.exp(x[1] * t) - y

def jac(x):
    J = np.empty((t.size, 2))
    J[:, 0] = np.exp(x[1] * t)
    J[:, 1] = x[0] * np.exp(x[1] * t)  # the bug: the chain rule's factor t is missing
    return J
"""


@pytest.fixture
def wrong_hess(tmp_path):
    path = tmp_path / "rosen_wrong_hess.py"
    path.write_text(WRONG_HESS)
    return path


def test_json_names_the_derivative_each_model_checked(wrong_hess):
    result = CliRunner().invoke(main, [str(wrong_hess), "--format", "json"])
    assert result.exit_code == 1, result.output
    models = {m["model"].rsplit(":", 1)[1]: m for m in json.loads(result.output)["models"]}
    assert {name: m["derivative"] for name, m in models.items()} == \
        {"jac": "gradient", "hess": "Hessian", "hessp": "Hessian-vector product"}
    assert [m["verdict"] for m in models.values()] == ["pass", "fail", "pass"]
    # The matrix is checked row by row: block H[1] fails, its worst index reads as the column.
    assert [(b["name"], b["worst"]["index"]) for b in models["hess"]["blocks"] if b["grade"] == "fail"] == \
        [("H[1]", [2])]


def test_a_least_squares_jacobian_is_named_so(tmp_path):
    path = tmp_path / "decay.py"
    path.write_text(RESIDUALS)
    result = CliRunner().invoke(main, [str(path), "--format", "json"])
    model = json.loads(result.output)["models"][0]
    assert (model["derivative"], model["verdict"]) == ("Jacobian", "fail")
    # column 1 (d/dx1) is the wrong one, in every row that fails
    assert {tuple(b["worst"]["index"]) for b in model["blocks"] if b["grade"] == "fail"} == {(1,)}


def test_junit_and_github_say_hessian_not_gradient(wrong_hess, tmp_path):
    xml = tmp_path / "junit.xml"
    result = CliRunner().invoke(main, [f"{wrong_hess}:hess", "--format", "github", "--junit-xml", str(xml)])
    assert result.exit_code == 1
    assert "title=gradcheck%3A Hessian H[1] fails::" in result.output  # (':' escaped in a title)
    assert "gradient of H" not in result.output
    assert ":hess (Hessian): 5 blocks" in result.output  # (a block per row)
    failures = ET.parse(xml).getroot().findall(".//failure")
    assert [f.get("type") for f in failures] == ["HessianMismatch"]


def test_the_text_verdict_line_names_the_derivative(wrong_hess):
    result = CliRunner().invoke(main, [f"{wrong_hess}:hessp", "-q"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert "(Hessian-vector product)" in " ".join(result.output.split()).replace("\u00a0", " ")


def test_check_derivatives_checks_each_as_the_command_line_does(wrong_hess):
    reports = check_derivatives(wrong_hess)
    assert list(reports) == ["jac", "hess", "hessp"]
    assert {name: r.verdict for name, r in reports.items()} == {"jac": "pass", "hess": "fail", "hessp": "pass"}
    assert reports["hess"].model == f"{wrong_hess}:hess"


def test_check_derivatives_refuses_what_it_cannot_do(wrong_hess, tmp_path):
    with pytest.raises(ValueError, match="defines 3 derivatives .*check one as"):
        check_derivatives(wrong_hess, save_params=tmp_path / "x.npz")
    plain = tmp_path / "plain.py"
    plain.write_text("import numpy as np\nparams = {'w': np.ones(3)}\n"
                     "def loss(p): return float(p['w'] @ p['w'])\ndef grad(p): return {'w': 2 * p['w']}\n")
    with pytest.raises(ModelError, match="defines no derivative"):
        check_derivatives(plain)
    with pytest.raises(ModelError, match="no such file"):
        check_derivatives(tmp_path / "missing.py")


def test_assert_gradients_names_the_derivative_that_failed(wrong_hess):
    assert_gradients(f"{wrong_hess}:jac")
    with pytest.raises(AssertionError, match=r"^Hessian check FAIL for .*:hess"):
        assert_gradients(f"{wrong_hess}:hess")


def test_the_pytest_fixture_checks_a_derivative(pytester):
    pytester.makepyfile(rosen_wrong_hess=WRONG_HESS)
    pytester.makepyfile(test_rosen="""
        def test_jacobian(gradcheck):
            assert gradcheck("rosen_wrong_hess.py:jac").derivative == "gradient"

        def test_hessian(gradcheck):
            gradcheck("rosen_wrong_hess.py:hess")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: Hessian check FAIL for rosen_wrong_hess.py:hess*"])


def test_a_reductions_loss_is_not_split_into_a_regularization_share(tmp_path):
    # The strength reaches the functions through args (an import-time copy),
    # and a Hessian's loss has no regularization term: no note about REG
    # under auto, a note naming why under --reg REG.
    from .conftest import SAMPLES

    from gradcheck_cli import check

    target = f"{SAMPLES / 'newton_logistic.py'}:hess"
    assert not [n for n in check(target).notes if "REG" in n]
    named = check(target, reg="REG")
    assert named.regularization is None
    assert any("--reg REG is not applied" in n and "Hessian" in n for n in named.notes)


def test_a_jacobian_wrong_in_every_row_reads_in_a_few_lines(tmp_path):
    # 40 residuals, column 1 wrong in each (the chain rule's t missing): the
    # rows are blocks checked apart, and the report says so in a bounded
    # number of lines, not 40 reasons and a hint naming 40 blocks.
    path = tmp_path / "decay40.py"
    path.write_text(RESIDUALS.replace("np.linspace(0, 2, 9)", "np.linspace(0.1, 2, 40)"))
    result = CliRunner().invoke(main, [str(path)], env={"COLUMNS": "80"})
    assert result.exit_code == 1
    lines = result.output.splitlines()
    reasons = [line for line in lines if re.match(r"  J\[\d+\]\[1\]: fail", line)]
    assert 1 <= len(reasons) <= 6
    rest = [line for line in lines if re.match(r"  \d+ more in J\[\d+\]", line)]
    assert len(rest) == 1 and "-v shows every value" in rest[0]
    hint = " ".join(lines[i] + lines[i + 1] for i, line in enumerate(lines) if "hint:" in line)
    assert "40 rows" in hint and "37 more" in hint and "column 1 of the matrix is wrong" in " ".join(hint.split())
    assert max(len(line) for line in lines) <= 80


def test_a_wrong_hvp_is_named_in_junit_github_and_json(tmp_path):
    # The sample's hvp without its regularization term REG v: wrong in w
    # only (b is not regularized), by REG v_w, which the test computes.
    from .conftest import SAMPLES

    source = (SAMPLES / "logistic_hvp.py").read_text()
    assert source.count(" + REG * v[\"w\"]") == 1
    path = tmp_path / "logistic_hvp_noreg.py"
    path.write_text(source.replace(" + REG * v[\"w\"]", ""))
    xml = tmp_path / "junit.xml"
    result = CliRunner().invoke(main, [str(path), "--format", "github", "--junit-xml", str(xml)])
    assert result.exit_code == 1
    assert "title=gradcheck%3A Hessian-vector product w fails::" in result.output
    assert ":hvp (Hessian-vector product): 2 blocks" in result.output
    failures = ET.parse(xml).getroot().findall(".//failure")
    assert [f.get("type") for f in failures] == ["HessianVectorProductMismatch"]
    result = CliRunner().invoke(main, [f"{path}:hvp", "--format", "json"])
    model = json.loads(result.output)["models"][0]
    assert model["derivative"] == "Hessian-vector product"
    assert {b["name"]: b["grade"] for b in model["blocks"]} == {"w": "fail", "b": "pass"}


def test_a_hessp_with_state_is_named_not_grad(tmp_path):
    # A hessp that keeps a cache keyed by id(x) (Python reuses ids once an
    # array is freed, so it hands back another point's Hessian): the error
    # names hessp, which the user wrote, not gradcheck's wrapper "grad", and
    # says what kind of state can do it.
    path = tmp_path / "stateful_hessp.py"
    path.write_text(
        "import numpy as np\n"
        "x0 = np.array([0.4, -0.3, 0.2])\n"
        "calls = []\n"
        "def fun(x): return float(np.sum(np.cosh(x)))\n"
        "def jac(x): return np.sinh(x)\n"
        "def hessp(x, p):\n"
        "    calls.append(1)\n"
        "    return np.cosh(x) * p * (1 + 1e-6 * len(calls))  # drifts with each call\n")
    result = CliRunner().invoke(main, [f"{path}:hessp"])
    assert result.exit_code == 2
    assert "hessp (the Hessian-vector product checked) is nondeterministic" in result.stderr
    assert "grad is nondeterministic" not in result.stderr
    assert "a cache" in result.stderr
