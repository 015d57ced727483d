"""Every sample model gets the verdict its docstring promises."""

import json

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import main

from .conftest import SAMPLES

CORRECT = ["cube", "softmax", "svm", "two_layer_net", "sigmoid_tanh", "activations", "dropout", "svm_at_kink",
           "logistic_hvp"]  # (logistic_hvp: its hvp too, tests/test_hvp.py)
BUGGY = {
    "buggy_softsign": {"W"},
    "buggy_missing_bias": {"b"},
    "buggy_missing_1_over_n": {"W"},
    "buggy_sigmoid": {"W1", "b1"},
}


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def run_json(name, *args):
    result = run(SAMPLES / f"{name}.py", "--format", "json", *args)
    return result, json.loads(result.stdout)["models"][0]  # (the one model's report: docs/json.md)


def test_every_sample_is_covered_here():
    on_disk = {p.stem for p in SAMPLES.glob("*.py")}
    assert on_disk == set(CORRECT) | set(BUGGY) | {"buggy_softmax_overflow", "buggy_svm_no_mask", "two_layer_sanity",
                                                   "layers_check", "buggy_layers_check",  # tests/test_layers.py
                                                   "classifier",  # tests/test_model_objects.py
                                                   "newton_logistic", "buggy_least_squares"}  # below


@pytest.mark.parametrize("name", CORRECT)
def test_correct_models_pass_with_tiny_errors(name):
    result, report = run_json(name)
    assert result.exit_code == 0, result.output
    assert report["verdict"] == "pass"
    for block in report["blocks"]:
        assert block["grade"] == "pass", block["name"]
        # (below the warning band with room to spare; how far below is
        # round-off's to decide, which another BLAS kernel decides otherwise)
        assert block["max_rel_error"] < 1e-5, block["name"]


@pytest.mark.parametrize("name", CORRECT)
def test_correct_models_pass_every_coordinate(name):
    result, report = run_json(name, "--samples", "all")
    assert report["verdict"] == "pass", [(b["name"], b["grade"], b["max_rel_error"]) for b in report["blocks"]]


@pytest.mark.parametrize("name, wrong", sorted(BUGGY.items()))
def test_buggy_models_fail_naming_the_wrong_blocks(name, wrong):
    result, report = run_json(name)
    assert result.exit_code == 1
    assert report["verdict"] == "fail"
    failed = {b["name"] for b in report["blocks"] if b["grade"] == "fail"}
    assert failed == wrong


def test_overflowing_softmax_is_unusable_and_the_message_says_why():
    result = run(SAMPLES / "buggy_softmax_overflow.py")
    assert result.exit_code == 2
    assert "shift the scores by their max" in result.stderr
    assert "overflow encountered in exp" in result.stderr
    assert "Traceback" not in result.stderr


def test_svm_parked_on_its_kink_passes_and_reports_the_crossings():
    result, report = run_json("svm_at_kink")
    assert result.exit_code == 0
    assert report["verdict"] == "pass"
    assert report["kinked"] is True
    line = next(i for i, text in enumerate((SAMPLES / "svm_at_kink.py").read_text().splitlines(), 1)
                if "np.maximum" in text)
    on_kink = {
        (block["name"], tuple(d["index"]))
        for block in report["blocks"]
        for d in block["dims"]
        if d["bracket"] is not None
    }
    # The margin of example 0 against class 1 depends on W[:, 0], W[:, 1], b[0], b[1].
    assert on_kink == {("W", (0, 0)), ("W", (1, 0)), ("W", (0, 1)), ("W", (1, 1)), ("b", (0,)), ("b", (1,))}
    for block in report["blocks"]:
        assert block["kink_crossings"] == {"W": 4, "b": 2}[block["name"]]
        for d in block["dims"]:
            if d["bracket"] is not None:
                # No step avoids this kink: the analytic value is judged as a subgradient.
                low, high = d["bracket"]
                assert d["grade"] == "ok" and "subgradient" in d["message"]
                assert low <= d["analytic"] <= high
                assert d["kink"]["line"] == line and d["kink"]["op"] == "maximum"


def test_a_wrong_value_at_a_kink_is_not_a_subgradient(model_file):
    source = (SAMPLES / "svm_at_kink.py").read_text().replace(
        'return {"W": X.T @ active / N + 2 * REG * p["W"], "b": active.sum(axis=0) / N}',
        'return {"W": X.T @ active / N + 2 * REG * p["W"], "b": active.sum(axis=0) / N + np.array([1.0, 0, 0])}',
    )
    result = run(model_file(source), "--format", "json")
    report = json.loads(result.stdout)["models"][0]
    assert result.exit_code == 1
    bad = next(d for b in report["blocks"] if b["name"] == "b" for d in b["dims"] if d["index"] == [0])
    assert bad["grade"] == "fail" and "not a subgradient" in bad["message"]


def test_svm_parked_on_its_kink_fails_without_tracking_only_if_graded_across_the_kink():
    """With tracking off the numerical test must still find every crossing."""
    result, report = run_json("svm_at_kink", "--no-track-kinks")
    assert report["verdict"] == "pass"
    assert sum(b["kink_crossings"] for b in report["blocks"]) == 6


@pytest.mark.parametrize("name", CORRECT + sorted(BUGGY) + ["buggy_softmax_overflow", "buggy_svm_no_mask",
                                                           "two_layer_sanity"])
def test_every_sample_explains_itself(name):
    import ast

    doc = ast.get_docstring(ast.parse((SAMPLES / f"{name}.py").read_text()))
    assert doc
    if name.startswith("buggy"):
        assert doc.startswith("BUG:")


def test_softmax_at_tied_scores_is_not_a_kink(tmp_path):
    """W = 0 ties every score: the max shift's winner flips, the loss does not care."""
    import numpy as np

    npz = tmp_path / "zeros.npz"
    np.savez(npz, W=np.zeros((5, 4)), b=np.zeros(4))
    result, report = run_json("softmax", "--params", npz)
    assert report["verdict"] == "pass"
    assert report["kink_crossings"] == 0
    flips = [d for b in report["blocks"] for d in b["dims"] if d["kink"]]
    assert flips and all(d["kink"]["harmless"] for d in flips)


def test_the_sanity_sample_passes_its_gradient_check():
    """At its 1e-3 initialisation some gradient entries are tiny: they are
    graded within their error budget, never fail; the verdict is pass."""
    result, report = run_json("two_layer_sanity")
    assert result.exit_code == 0 and report["verdict"] == "pass"
    assert {b["grade"] for b in report["blocks"]} <= {"pass", "ok"}


def test_scipy_conventions_samples_check_each_derivative():
    """minimize's fun/jac/hess/hessp and least_squares' residuals and
    Jacobian (docs/derivatives.md): each derivative a model of its own."""
    result = run(SAMPLES / "newton_logistic.py", "--format", "json")
    assert result.exit_code == 0, result.output
    models = json.loads(result.stdout)["models"]
    assert [(m["model"].rsplit(":", 1)[1], m["derivative"], m["verdict"]) for m in models] == [
        ("jac", "gradient", "pass"), ("hess", "Hessian", "pass"), ("hessp", "Hessian-vector product", "pass")]
    result, report = run_json("buggy_least_squares")
    assert (result.exit_code, report["derivative"], report["verdict"]) == (1, "Jacobian", "fail")
    # (every wrong element is in column 1, d/dk: the drill-down's and the hint's)
    assert {tuple(b["worst"]["index"]) for b in report["blocks"] if b["grade"] == "fail"} == {(1,)}
    assert any("column 1" in hint for hint in report["hints"])
