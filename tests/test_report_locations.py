"""Where a report points, and what it says once (issue 25, section 4).

- A layer() check's annotations (GitHub) and JUnit testcases point at the
  user's file: the checks file, at the line of its ``name = layer(...)``
  assignment (the first line of a call spread over several). That is the
  line that names the check, whether forward and backward are defined in
  the checks file or in a module it imports; never a line of gradcheck's
  own adapter, and always within the user's file.
- A plain model points at grad's definition; a model object whose class
  another module defines, at the line that makes the object; a grad
  imported from another module at no line of the model file.
- A float32 loss or gradient is said once per model, not once per block,
  per value or per check.
- No advice the run already followed: a model on kinks checked at a
  generic point is not told to check at a point off them (--warmup), nor
  at "a point where this block matters" once the generic point was one.
"""

import json
import re
import textwrap
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from gradcheck_cli import check, layer
from gradcheck_cli.cli import main
from gradcheck_cli.model import load_model

from .conftest import SAMPLES


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


def line_of(path, start):
    """The 1-based line of ``path`` that starts with ``start``."""
    return next(i for i, t in enumerate(path.read_text().splitlines(), 1) if t.startswith(start))


# A library module with a wrong backward (dw doubled), defined far down its
# file, and a short checks file that imports it.
LIBRARY = "\n" * 40 + textwrap.dedent("""
    import numpy as np


    def scale_forward(x, w):
        return x * w, (x, w)


    def scale_backward(dout, cache):
        x, w = cache
        return dout * w, 2 * (dout * x).sum(axis=0)
""")

CHECKS = textwrap.dedent("""
    from gradcheck_cli import layer
    from scalelib import scale_forward, scale_backward

    scale = layer(scale_forward, scale_backward,
                  x=(3, 4), w=(4,))
""")


@pytest.fixture
def checks_file(tmp_path, monkeypatch):
    (tmp_path / "scalelib.py").write_text(LIBRARY)
    path = tmp_path / "checks.py"
    path.write_text(CHECKS)
    monkeypatch.chdir(tmp_path)
    return path


# -- a layer() check points at its layer(...) line --------------------------------------

def test_github_annotations_of_a_failing_layer_point_at_its_layer_line(checks_file):
    result = run("checks.py", "--format", "github")
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert errors and result.exit_code == 1
    expected = line_of(checks_file, "scale = layer(")
    length = len(checks_file.read_text().splitlines())
    for error in errors:
        where = dict(part.split("=", 1) for part in error.split("::")[1].split(" ", 1)[1].split(",")
                     if part.startswith(("file=", "line=")))
        assert where["file"] == "checks.py"
        assert int(where["line"]) == expected <= length


def test_junit_testcases_of_a_failing_layer_point_at_its_layer_line(checks_file):
    run("checks.py", "--junit-xml", "out.xml")
    cases = list(ET.parse("out.xml").getroot().iter("testcase"))
    failing = [c for c in cases if c.find("failure") is not None]
    assert failing
    expected = line_of(checks_file, "scale = layer(")
    for case in cases:
        assert case.get("file") == "checks.py" and case.get("line") == str(expected)


def test_the_sample_checks_files_point_at_each_layer_line():
    path = SAMPLES / "buggy_layers_check.py"
    result = run(path, "--format", "github")
    (error,) = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert f"buggy_layers_check.py,line={line_of(path, 'lstm_step = layer(')}," in error
    for name in ("affine", "relu", "conv", "lstm_step"):
        model = load_model(f"{SAMPLES / 'layers_check.py'}:{name}")
        assert model.source_line == line_of(SAMPLES / "layers_check.py", f"{name} = layer(")


def test_a_layer_made_in_code_remembers_the_line_that_made_it():
    import inspect

    made = layer(lambda x: (2 * x, None), lambda dout, cache: 2 * dout, x=(3,)); here = inspect.currentframe().f_lineno
    assert made.location() == (__file__, here)


# -- plain models and model objects --------------------------------------------------------

def test_a_plain_model_still_points_at_grad():
    path = SAMPLES / "buggy_missing_bias.py"
    assert load_model(str(path)).source_line == line_of(path, "def grad")


def test_a_model_object_of_another_module_points_at_the_line_making_it():
    path = SAMPLES / "classifier.py"
    assert load_model(f"{path}:net").source_line == line_of(path, "net = ")


def test_a_grad_imported_from_another_module_points_at_no_line_of_the_model_file(tmp_path):
    (tmp_path / "helpers.py").write_text("\n" * 30 + "def grad(p):\n    return {'w': 2 * p['w']}\n")
    path = tmp_path / "model.py"
    path.write_text("import numpy as np\nfrom helpers import grad\nparams = {'w': np.ones(3)}\n"
                    "def loss(p):\n    return float(np.sum(p['w'] ** 2))\n")
    model = load_model(str(path))
    assert model.source_line is None or model.source_line <= 5


# -- float32, said once -----------------------------------------------------------------------

FLOAT32 = """
import numpy as np

rng = np.random.default_rng(0)
X = rng.standard_normal((20, 5)).astype(np.float32)
y = rng.integers(0, 3, 20)


def init_params(seed=0):
    r = np.random.default_rng(seed)
    return {"W1": r.standard_normal((5, 4)), "b1": r.standard_normal(4) * 0.1,
            "W2": r.standard_normal((4, 3)), "b2": r.standard_normal(3) * 0.1}


def _forward(p):
    W1, b1, W2, b2 = (p[k].astype(np.float32) for k in ("W1", "b1", "W2", "b2"))
    h = np.maximum(X @ W1 + b1, 0)
    s = h @ W2 + b2
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    P = e / e.sum(axis=1, keepdims=True)
    return W2, h, P


def loss(p):
    _, _, P = _forward(p)
    return RETURNED(-np.mean(np.log(P[np.arange(len(y)), y])))


def grad(p):
    W2, h, P = _forward(p)
    d = P.copy()
    d[np.arange(len(y)), y] -= 1
    d /= len(y)
    dh = d @ W2.T
    dh[h <= 0] = 0
    return {"W1": X.T @ dh, "b1": dh.sum(0), "W2": h.T @ d, "b2": d.sum(0)}
"""


def _said(document):
    """Every warning, note and value message of every check in a JSON report
    (of one model: the document's, or its one entry of "models")."""
    if "models" in document:
        (document,) = document["models"]
    checks = [document]
    generic = document.get("generic_point") or {}
    if generic.get("check"):
        checks.append(generic["check"])
    data_only = (document.get("regularization") or {}).get("data_only")
    if data_only:
        checks.append(data_only)
    said = []
    for one in checks:
        said += one["warnings"] + one["notes"] + one["hints"]
        said += [d["message"] or "" for b in one["blocks"] for d in b["dims"] + b["directions"]]
    return checks, said


@pytest.mark.parametrize("returned", ["np.float32", "float"])  # a float32 return value; float32 returned as float64
def test_a_float32_model_is_said_float32_once(model_file, returned):
    path = model_file(FLOAT32.replace("RETURNED", returned))
    document = json.loads(run(path, "--format", "json").stdout)
    checks, said = _said(document)
    assert len(checks) > 1  # the start point and the generic point: said once for both
    about = [s for s in said if "float32" in s]
    assert len(about) == 1, about
    # The text report says it once too (as many times as the one message names it).
    shown = " ".join(run(path).stdout.replace(path, "model.py").split())  # (pytest's tmp_path names the test)
    assert shown.count("float32") == about[0].count("float32")


# -- no advice the run already followed --------------------------------------------------------

ON_KINKS = """
import numpy as np

X = np.random.default_rng(1).standard_normal((6, 3))


def init_params(seed=0):
    return {"W": np.zeros((3, 4)), "v": np.linspace(-1, 1, 4)}


def loss(p):
    h = np.maximum(X @ p["W"], 0)
    return float(np.sum(h @ p["v"]) + 0.5 * np.sum(p["W"] ** 2))


def grad(p):
    h = np.maximum(X @ p["W"], 0)
    dh = np.outer(np.ones(len(X)), p["v"]) * (X @ p["W"] > 0)
    return {"W": X.T @ dh + p["W"], "v": h.sum(0)}
"""


def test_a_model_on_kinks_checked_at_a_generic_point_gets_no_advice_to_go_there(model_file):
    path = model_file(ON_KINKS)
    report = check(path)
    assert report.moved is not None and report.generic is not None  # it went off the kinks, and checked there
    assert any(b.grade == "kink" for b in report.blocks)
    shown = " ".join(run(path).stdout.split())
    assert "--warmup" not in shown
    assert "check at a point" not in shown
    assert "judges off them" not in shown


def test_with_warmup_off_the_advice_stays(model_file):
    path = model_file(ON_KINKS)
    shown = " ".join(run(path, "--warmup", "off").stdout.split())
    assert "--warmup auto (the default) checks at a generic point too" in shown
    assert "v is exactly zero at the point checked: check at a point where it matters (other --params)" in shown


def test_complex_step_is_not_advised_to_a_run_that_used_it():
    from gradcheck_cli.pipeline import _precision
    from gradcheck_cli.report import UNVERIFIED, DimResult
    from gradcheck_cli.settings import Thresholds
    from gradcheck_cli.verdict.grading import ROUNDING_LIMITS, grade_block
    from gradcheck_cli.verdict.noise import Noise

    dim = DimResult((0,), None, 1.0, 1.0, None, UNVERIFIED, 1e-5, message=f"too uncertain to verify; {ROUNDING_LIMITS}")
    block = grade_block("w", (1,), 1, (dim,), (), Thresholds())
    _, central = _precision({}, Noise(0.0), [block], "central")
    _, complex_step = _precision({}, Noise(0.0), [block], "complex-step")
    assert any("--method complex-step" in n for n in central)
    assert complex_step and not any("--method complex-step" in n for n in complex_step)
    assert not re.search("complex-step", " ".join(block.warnings))
