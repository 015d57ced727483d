"""`gradcheck taylor`: the Taylor test's remainders against eps, its verdicts and outputs.

The models are written here; which derivative is right is established by
the test's own central differences (or, at a kink, by the one-sided
derivatives of |x| worked by hand), never by gradcheck.
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import TaylorReport, taylor
from gradcheck_cli.cli import main

from .conftest import ROOT

SMOOTH = """\
import numpy as np

def init_params(seed):
    rng = np.random.default_rng(seed)
    return {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}

def loss(p):
    return float(np.sum(np.sin(p["W"]) ** 2) + np.sum(np.exp(0.3 * p["b"])))

def grad(p):
    return {"W": 2 * np.sin(p["W"]) * np.cos(p["W"]), "b": B_FACTOR * np.exp(0.3 * p["b"])}
"""
RIGHT = SMOOTH.replace("B_FACTOR", "0.3")
WRONG_B = SMOOTH.replace("B_FACTOR", "0.33")  # b's gradient 10 % too large

# |x| + x^2 / 2 with two elements exactly at 0: the one-sided derivatives
# there are +-1 (+ x), so any value in [-1, 1] is a valid subgradient.
KINKED = """\
import numpy as np

params = {"x": np.array([0.0, 1.5, -0.7, 0.0, 2.0])}

def loss(p):
    return float(np.sum(np.abs(p["x"])) + 0.5 * np.sum(p["x"] ** 2))

def grad(p):
    return {"x": np.where(p["x"] == 0, AT_ZERO, np.sign(p["x"])) + p["x"]}
"""

# A hinge loss at w = 0, where every hinge is active: a gradient that
# forgets the mask is exactly right there, and wrong once some are not.
HINGE = """\
import numpy as np

rng = np.random.default_rng(3)
X = rng.standard_normal((40, 5))
y = np.sign(rng.standard_normal(40))

params = {"w": np.zeros(5)}

def loss(p):
    return float(np.sum(np.maximum(0.0, 1.0 - y * (X @ p["w"]))) + 0.5 * np.sum(p["w"] ** 2))

def grad(p):
    return {"w": -(X.T @ y) + p["w"]}   # no mask: the inactive hinges counted too
"""


def run(*args, env=None):
    return CliRunner().invoke(main, ["taylor", *map(str, args)], prog_name="gradcheck", env=env)


def write(tmp_path, name, source):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def load(path):
    namespace = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return namespace


def central(f, params, name, k, h=1e-6):
    """An independent central difference of f along element k of block name."""
    plus = {n: a.copy() for n, a in params.items()}
    minus = {n: a.copy() for n, a in params.items()}
    plus[name].reshape(-1)[k] += h
    minus[name].reshape(-1)[k] -= h
    return (f(plus) - f(minus)) / (2 * h)


def models_of(result):
    return json.loads(result.stdout)["models"]


def blocks_of(result):
    return {(b["point"], b["block"]): b for m in models_of(result) for b in m["blocks"]}


# -- the truth the models below are built on (the test's own differences) ----------------


def test_the_models_are_what_the_tests_say(tmp_path):
    for source, wrong in ((RIGHT, set()), (WRONG_B, {"b"})):
        model = load(write(tmp_path, "m.py", source))
        params = model["init_params"](0)
        analytic = model["grad"](params)
        for name, block in params.items():
            numeric = np.array([central(model["loss"], params, name, k) for k in range(block.size)])
            close = np.allclose(numeric, analytic[name].reshape(-1), rtol=1e-6, atol=1e-8)
            assert close == (name not in wrong), name
    hinge = load(write(tmp_path, "hinge.py", HINGE))
    at = {"w": np.full(5, 0.4)}  # some hinges inactive here
    numeric = np.array([central(hinge["loss"], at, "w", k) for k in range(5)])
    assert not np.allclose(numeric, hinge["grad"](at)["w"], rtol=1e-3)
    at_zero = {"w": np.zeros(5)}
    numeric = np.array([central(hinge["loss"], at_zero, "w", k) for k in range(5)])
    assert np.allclose(numeric, hinge["grad"](at_zero)["w"], rtol=1e-6)


# -- orders and verdicts ------------------------------------------------------------------


def test_a_right_gradient_has_order_near_2_and_exits_0(tmp_path):
    result = run(write(tmp_path, "right.py", RIGHT), "--format", "json")
    assert result.exit_code == 0, result.output
    blocks = blocks_of(result)
    assert {name for _, name in blocks} == {"W", "b"}
    for key, block in blocks.items():
        assert block["verdict"] == "right", key
        assert 1.7 < block["order"] < 2.3, key


def test_a_wrong_gradient_has_order_near_1_and_exits_1(tmp_path):
    result = run(write(tmp_path, "wrong.py", WRONG_B), "--format", "json")
    assert result.exit_code == 1, result.output
    blocks = blocks_of(result)
    for (point, name), block in blocks.items():
        if name == "b":
            assert block["verdict"] == "wrong" and 0.7 < block["order"] < 1.3, (point, block["order"])
        else:
            assert block["verdict"] == "right" and 1.7 < block["order"] < 2.3, (point, block["order"])
    assert models_of(result)[0]["verdict"] == "fail"


def test_the_remainders_fall_as_eps_squared_and_as_eps(tmp_path):
    """What the plot shows, read off the numbers: over the decades between
    1e-5 and 1e-2 (well above round-off) a right block's remainder falls
    about a hundredfold per decade, a wrong one's about tenfold."""
    blocks = blocks_of(run(write(tmp_path, "wrong.py", WRONG_B), "--format", "json"))
    for name, (low, high) in (("W", (30, 300)), ("b", (3, 30))):
        points = {p["eps"]: abs(p["remainder"]) for p in blocks[("start point", name)]["points"]}
        scale = blocks[("start point", name)]["scale"]
        small = min(points, key=lambda e: abs(np.log10(e / (1e-5 * scale))))
        large = min(points, key=lambda e: abs(np.log10(e / (1e-2 * scale))))
        per_decade = (points[large] / points[small]) ** (1 / np.log10(large / small))
        assert low < per_decade < high, (name, per_decade)


def test_a_valid_subgradient_at_a_kink_is_kinked_and_exits_0(tmp_path):
    result = run(write(tmp_path, "kinked.py", KINKED.replace("AT_ZERO", "0.0")), "--format", "json")
    assert result.exit_code == 0, result.output
    start = blocks_of(result)[("start point", "x")]
    # The slope jumps along v at x (two elements at |x|'s kink): both sides fall as eps.
    assert start["verdict"] == "kinked" and 0.7 < start["order"] < 1.3


def test_a_value_outside_the_kink_s_one_sided_derivatives_is_wrong(tmp_path):
    # 5 at x = 0 is no subgradient of |x| (its one-sided derivatives are -1 and 1).
    result = run(write(tmp_path, "kinked.py", KINKED.replace("AT_ZERO", "5.0")), "--format", "json")
    assert result.exit_code == 1, result.output
    assert blocks_of(result)[("start point", "x")]["verdict"] == "wrong"


def test_a_degenerate_start_point_is_followed_to_the_generic_point_as_the_check_does(tmp_path):
    # At w = 0 the maskless gradient is exactly right; the check moves on
    # and fails it, and so must the Taylor test, there.
    result = run(write(tmp_path, "hinge.py", HINGE), "--format", "json")
    assert result.exit_code == 1, result.output
    blocks = blocks_of(result)
    assert blocks[("start point", "w")]["verdict"] == "right"
    generic = blocks[("generic point", "w")]
    assert generic["verdict"] == "wrong" and 0.7 < generic["order"] < 1.3


def test_scipy_conventions_targets_are_models_too(tmp_path):
    """A file with fun, jac, hess and x0 is its derivatives: a hess wrong in
    one element fails as FILE:hess while FILE:jac passes."""
    pytest.importorskip("scipy")
    path = write(tmp_path, "rosen.py", """\
        import numpy as np
        from scipy.optimize import rosen, rosen_der, rosen_hess

        x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
        fun, jac = rosen, rosen_der

        def hess(x):
            H = rosen_hess(x)
            H[1, 2] += 3.0
            return H
        """)
    from scipy.optimize import rosen_der, rosen_hess

    x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    column = (rosen_der(x0 + 1e-6 * np.eye(5)[2]) - rosen_der(x0 - 1e-6 * np.eye(5)[2])) / 2e-6
    assert abs(column[1] - (rosen_hess(x0)[1, 2] + 3.0)) > 1.0  # the test's own truth: H[1, 2] is off by 3
    result = run(path, "--format", "json")
    assert result.exit_code == 1, result.output
    verdicts = {m["model"]: {b["verdict"] for b in m["blocks"]} for m in models_of(result)}
    assert verdicts == {f"{path}:jac": {"right"}, f"{path}:hess": {"right", "wrong"}}
    # A block per row of the Hessian (each checked apart): the wrong row alone reads wrong.
    hess = next(m for m in models_of(result) if m["model"] == f"{path}:hess")
    assert {b["block"] for b in hess["blocks"] if b["verdict"] == "wrong"} == {"H[1]"}
    assert [m["derivative"] for m in models_of(result)] == ["gradient", "Hessian"]


def test_the_library_function_returns_a_frozen_report(tmp_path):
    report = taylor(str(write(tmp_path, "wrong.py", WRONG_B)), block=["b"])
    assert isinstance(report, TaylorReport) and report.verdict == "fail"
    assert {b.block for b in report.blocks} == {"b"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.blocks[0].order = 2.0


# -- outputs ---------------------------------------------------------------------------------

DOCUMENTED = {
    "model": {"model", "derivative", "verdict", "seed", "evaluations", "seconds", "loss", "loss_noise", "steps", "blocks"},
    "block": {"block", "point", "scale", "analytic", "order", "verdict", "grade", "message", "points", "readings"},
    "point": {"eps", "remainder", "remainder_minus"},
    "reading": {"h", "outcome", "order", "difference", "uncertainty", "kink", "broken"},
}


def test_json_has_the_documented_keys(tmp_path):
    result = run(write(tmp_path, "right.py", RIGHT), "--format", "json")
    document = json.loads(result.stdout)
    assert document["verdict"] == "pass" and document["schema_version"] == 2
    model = document["models"][0]
    assert set(model) == DOCUMENTED["model"]
    for block in model["blocks"]:
        assert set(block) == DOCUMENTED["block"]
        assert len(block["readings"]) == len(model["steps"])
        assert all(set(p) == DOCUMENTED["point"] for p in block["points"])
        assert all(set(r) == DOCUMENTED["reading"] for r in block["readings"])
        eps = [p["eps"] for p in block["points"]]
        assert eps == sorted(eps) and len(eps) == 3 * len(model["steps"])


def test_the_terminal_plot_fits_80_columns_and_reads_without_colour(tmp_path):
    path = write(tmp_path, "wrong.py", WRONG_B)
    process = subprocess.run([sys.executable, "-m", "gradcheck_cli", "taylor", str(path)], capture_output=True,
                             text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "80", "TERM": "dumb"}, timeout=300)
    assert process.returncode == 1, process.stderr
    lines = process.stdout.splitlines()
    assert max(map(len, lines)) <= 80, [line for line in lines if len(line) > 80]
    assert "\x1b" not in process.stdout
    # Both axes labelled, the reference slopes drawn, a legend line per block with its order and verdict.
    assert any(line.lstrip().startswith("|r|") for line in lines)
    assert any(line.rstrip().endswith("eps") and "1e-05" in line for line in lines)
    assert any("1" in line.split("┤")[-1] and "2" in line.split("┤")[-1] for line in lines if "┤" in line)
    legend = [line.split() for line in lines if line.startswith("  ") and "order" in line]
    assert ["o", "W", "order", "2.0", "right"] in [words[:5] for words in legend]
    assert any(words[:3] == ["x", "b", "order"] and words[4].startswith("wrong") for words in legend)


@pytest.mark.parametrize("width", [30, 50])
def test_a_narrow_console_narrows_the_plot(tmp_path, width):
    result = run(write(tmp_path, "right.py", RIGHT), env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    assert max(map(len, result.stdout.splitlines())) <= width


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "taylor.png"
    result = run(write(tmp_path, "right.py", RIGHT), "--plot", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name not in ("right.py", "taylor.png")]  # (no temporary left)


def test_plot_without_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # (import matplotlib raises ImportError)
    result = run(write(tmp_path, "right.py", RIGHT), "--plot", tmp_path / "t.png")
    assert result.exit_code == 2
    assert "--plot needs matplotlib" in result.stderr and "Traceback" not in result.output


def test_the_config_table_sets_its_options(tmp_path, monkeypatch):
    write(tmp_path, "wrong.py", WRONG_B)
    (tmp_path / "pyproject.toml").write_text('[tool.gradcheck.taylor]\nblock = ["W"]\n')
    monkeypatch.chdir(tmp_path)
    result = run("wrong.py", "--format", "json")
    assert result.exit_code == 0, result.output  # (b, the wrong block, is not tested)
    assert {name for _, name in blocks_of(result)} == {"W"}


# -- bad input -------------------------------------------------------------------------------


def test_an_unknown_block_is_named(tmp_path):
    result = run(write(tmp_path, "right.py", RIGHT), "--block", "Q")
    assert result.exit_code == 2
    assert "has no block(s) 'Q' (it has 'W', 'b')" in result.stderr and "Traceback" not in result.output


def test_a_gradient_of_the_wrong_shape_is_named(tmp_path):
    path = write(tmp_path, "bad.py", RIGHT.replace('"b": 0.3 * np.exp(0.3 * p["b"])',
                                                   '"b": 0.3 * np.exp(0.3 * p["b"])[:3]'))
    result = run(path, "--format", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["models"][0]["verdict"] == "error" and "'b'" in document["models"][0]["error"]
    assert "Traceback" not in result.output


def test_a_missing_model_exits_2_and_the_others_are_still_tested(tmp_path):
    right = write(tmp_path, "right.py", RIGHT)
    result = run(tmp_path / "missing.py", right, "--format", "json")
    assert result.exit_code == 2
    models = models_of(result)
    assert models[0]["verdict"] == "error" and "missing.py" in models[0]["error"]
    assert models[1]["verdict"] == "pass"


def test_no_model_is_a_usage_error():
    result = run()
    assert result.exit_code == 2 and "Missing argument 'MODEL...'" in result.stderr


def test_a_loss_that_breaks_at_the_widest_steps_keeps_the_others_and_says_where(tmp_path):
    # x log x at x = 0.05: x - 0.4 v leaves the domain at the widest step only.
    path = write(tmp_path, "edge.py", """\
        import numpy as np

        params = {"x": np.array([0.05, 0.3, 2.0])}

        def loss(p):
            return float(np.sum(p["x"] * np.log(p["x"])))

        def grad(p):
            return {"x": np.log(p["x"]) + 1}
        """)
    model = load(path)
    params = {"x": model["params"]["x"].copy()}
    numeric = [central(model["loss"], params, "x", k, h=1e-7) for k in range(3)]
    assert np.allclose(numeric, model["grad"](params)["x"], rtol=1e-6)  # the test's own truth: right
    result = run(path, "--format", "json")
    assert result.exit_code == 0, result.output
    start = blocks_of(result)[("start point", "x")]
    broken = [r for r in start["readings"] if r["broken"]]
    assert broken and broken[0]["h"] == max(r["h"] for r in start["readings"])
    assert "nan" in broken[0]["broken"] and "counts as failed" not in broken[0]["broken"]
    assert start["verdict"] == "right" and 1.7 < start["order"] < 2.3


def test_plot_over_the_model_file_is_refused_before_it_runs(tmp_path):
    path = write(tmp_path, "right.py", RIGHT)
    result = run(path, "--plot", path)
    assert result.exit_code == 2
    assert "is the model file" in result.stderr and path.read_text() == textwrap.dedent(RIGHT)


def test_params_as_one_array_are_followed_to_the_generic_point(tmp_path):
    # (params as a bare array, not a dict: the generic point's are read back under the block's own name)
    path = write(tmp_path, "cube.py", """\
        import numpy as np

        params = np.array([0.5, -1.2, 2.0])

        def loss(x):
            return float(np.sum(x ** 3))

        def grad(x):
            return 3 * x ** 2
        """)
    model = load(path)
    at = {"p": model["params"].copy()}
    numeric = [central(lambda q: model["loss"](q["p"]), at, "p", k) for k in range(3)]
    assert np.allclose(numeric, model["grad"](at["p"]), rtol=1e-6)  # the test's own truth: right
    result = run(path, "--format", "json")
    assert result.exit_code == 0, result.output
    blocks = blocks_of(result)
    assert {point for point, _ in blocks} == {"start point", "generic point"}
    assert all(b["verdict"] == "right" and 1.7 < b["order"] < 2.3 for b in blocks.values())


def test_a_kink_crossed_by_the_widest_step_alone_does_not_set_the_order(tmp_path):
    # |x - 0.3| at x = 0.25: the loss is linear along v out to 0.05 / |v_0|
    # (> 0.05), crossed only by the widest step's points (0.1, 0.2, 0.4):
    # every finer remainder is round-off, and the order there is the
    # crossing's, not the derivative's.
    path = write(tmp_path, "hinge1.py", """\
        import numpy as np

        params = {"x": np.array([0.25, 1.0, -0.5])}

        def loss(p):
            return float(np.sum(np.abs(p["x"] - 0.3)))

        def grad(p):
            return {"x": np.sign(p["x"] - 0.3)}
        """)
    model = load(path)
    at = {"x": model["params"]["x"].copy()}
    numeric = [central(model["loss"], at, "x", k) for k in range(3)]
    assert np.allclose(numeric, model["grad"](at)["x"])  # the test's own truth: right, away from the kink
    result = run(path, "--format", "json")
    assert result.exit_code == 0, result.output
    start = blocks_of(result)[("start point", "x")]
    widest = start["readings"][0]
    assert widest["order"] is not None  # the crossing, seen at that step
    assert start["order"] is None and start["verdict"] == "right"


def test_a_models_hvp_is_a_model_too(tmp_path):
    """A params-dict model's hvp(params, v) is FILE:hvp, expanded from FILE
    as check expands it: a Hessian-vector product that forgets the
    quadratic term's 2 fails there while the gradient passes."""
    path = write(tmp_path, "quartic.py", """\
        import numpy as np

        def init_params(seed=0):
            return {"w": np.random.default_rng(seed).standard_normal(4)}

        def loss(p):
            return float(np.sum(p["w"] ** 4) + np.sum(p["w"] ** 2))

        def grad(p):
            return {"w": 4 * p["w"] ** 3 + 2 * p["w"]}

        def hvp(p, v):
            return {"w": 12 * p["w"] ** 2 * v["w"] + v["w"]}   # the x^2 term's is 2 v
        """)
    model = load(path)
    params, v = model["init_params"](0), {"w": np.array([0.3, -0.7, 0.2, 0.5])}
    plus = model["grad"]({"w": params["w"] + 1e-6 * v["w"]})["w"]
    minus = model["grad"]({"w": params["w"] - 1e-6 * v["w"]})["w"]
    numeric = (plus - minus) / 2e-6  # the test's own truth: H v from grad's differences
    assert not np.allclose(numeric, model["hvp"](params, v)["w"], rtol=1e-3)
    result = run(path, "--format", "json")
    assert result.exit_code == 1, result.output
    verdicts = {m["model"]: {b["verdict"] for b in m["blocks"]} for m in models_of(result)}
    assert verdicts == {str(path): {"right"}, f"{path}:hvp": {"wrong"}}
