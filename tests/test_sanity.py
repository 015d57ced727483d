"""The pre-training gate: --set, --reg, --warmup and `gradcheck sanity`."""

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from gradcheck_cli import ModelError, check
from gradcheck_cli.cli import main
from gradcheck_cli import sanity

from .conftest import SAMPLES

SANE = str(SAMPLES / "two_layer_sanity.py")


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


# -- --set ---------------------------------------------------------------------------

def test_set_overrides_a_constant_before_checking():
    on = check(str(SAMPLES / "dropout.py"), samples=None)
    off = check(str(SAMPLES / "dropout.py"), samples=None, set={"KEEP": "1.0"})
    assert on.verdict == off.verdict == "pass"
    assert on.loss != off.loss  # the dropout mask is gone


def test_set_on_the_command_line_for_every_command():
    assert run(SAMPLES / "dropout.py", "--set", "KEEP=1.0").exit_code == 0
    assert run("sweep", SAMPLES / "softmax.py", "--set", "REG=0", "--format", "json").exit_code == 0
    assert run("sanity", SANE, "--set", "REG=0", "--classes", "5").exit_code == 0
    # a penalty left on keeps the model from overfitting: what --reg is for
    assert run("sanity", SANE, "--set", "REG=0.01", "--classes", "5").exit_code == 1


@pytest.mark.parametrize("assignment, words", [
    ("NOPE=1", "has no module-level name 'NOPE' (its constants: C, D, H, KEEP, N)"),
    ("KEEP=dropout", "has KEEP = 0.5, a float; 'dropout' is not a number"),
    ("N=2.5", "has N = 6, a int; '2.5' is not a whole number"),
    ("KEEP", "expected NAME=VALUE"),
])
def test_set_refuses_unknown_names_and_other_types(assignment, words):
    result = run(SAMPLES / "dropout.py", "--set", assignment)
    assert result.exit_code == 2
    assert words in result.stderr


def test_set_needs_a_model_file():
    import numpy as np

    with pytest.raises(ModelError, match="needs a model file"):
        check(loss=lambda p: 0.0, grad=lambda p: p, params=np.ones(2), set={"REG": "0"})


# -- --reg ---------------------------------------------------------------------------

def test_reg_name_checks_the_data_loss_too_and_measures_the_share_per_block():
    report = check(str(SAMPLES / "softmax.py"), reg="REG")
    reg = report.regularization
    assert reg.name == "REG" and reg.explicit and reg.data_only is not None
    assert report.verdict == reg.data_only.verdict == "pass"
    assert reg.data_only.loss < report.loss
    assert 0 < reg.share["W"] < 1 and reg.share["b"] == 0  # the bias is not regularised


def test_reg_auto_checks_the_data_loss_where_the_regularization_dominates():
    result = run(SAMPLES / "softmax.py", "--set", "REG=50", "--format", "json")
    data = json.loads(result.stdout)["models"][0]
    assert result.exit_code == 0 and data["verdict"] == "pass"
    assert data["regularization"]["name"] == "REG" and data["regularization"]["dominated"] == ["W"]
    assert data["regularization"]["data_only"]["verdict"] == "pass"
    text = run(SAMPLES / "softmax.py", "--set", "REG=50").stdout
    assert "regularization REG = 50" in text and "the data loss alone (REG = 0" in text


def test_reg_auto_costs_one_call_where_it_does_not_dominate():
    plain = check(str(SAMPLES / "softmax.py"), reg="none")
    auto = check(str(SAMPLES / "softmax.py"))
    assert plain.regularization is None
    assert auto.regularization.data_only is None and auto.regularization.share["W"] < 0.5
    # Loss and grad at strength 0 (one call each): the share, and its premise
    # (the loss moved by an L2-shaped term).
    assert auto.evaluations == plain.evaluations + 2


def test_reg_names_an_unknown_constant():
    result = run(SAMPLES / "cube.py", "--reg", "REG")
    assert result.exit_code == 2 and "has no module-level constant 'REG'" in result.stderr


# -- --warmup ------------------------------------------------------------------------

def test_the_tiny_initialisation_sample_fails_by_default_and_passes_only_at_its_start():
    model = str(SAMPLES / "buggy_svm_no_mask.py")
    result = run(model)
    assert result.exit_code == 1 and "the start point is degenerate" in result.stdout
    off = run(model, "--warmup", "off")
    assert off.exit_code == 0 and "--warmup auto (the default) checks at a generic point too" in off.stdout.replace("\n", " ")
    report = check(model)
    assert report.blocks[0].grade == "pass"  # at the start point the buggy gradient is exactly right
    assert {b.name: b.grade for b in report.generic.blocks} == {"W": "fail", "b": "fail"}


def test_warmup_n_forces_n_adam_steps():
    report = check(str(SAMPLES / "softmax.py"), warmup=3)
    moved = report.to_dict()["generic_point"]
    assert moved["steps"] == 3 and moved["optimizer"] == "adam" and moved["stopped"] == "steps"
    assert moved["check"]["verdict"] == "pass" and report.evaluations > moved["evaluations"] >= 4


def test_warmup_that_diverges_says_to_lower_the_rate(model_file):
    path = model_file("""
import numpy as np
def init_params(seed=0):
    return {"w": np.array([1.0, 2.0])}
def loss(p):
    return float(np.exp(np.sum(p["w"] ** 2)))
def grad(p):
    return {"w": 2 * p["w"] * np.exp(np.sum(p["w"] ** 2))}
""")
    result = run(path, "--warmup", "20", "--lr", "100")
    assert result.exit_code == 2 and "give a smaller --lr" in result.stderr


# -- gradcheck sanity ----------------------------------------------------------------

def test_a_sane_model_passes_every_check():
    report = sanity(SANE, classes=5, reg="REG")
    assert [(c.name, c.status) for c in report.checks] == [
        ("initial loss", "pass"), ("regularization raises the loss", "pass"), ("overfit", "pass"),
        ("update/param ratio", "pass")]
    assert report.losses[-1] < report.losses[0] / 10


def test_initial_loss_far_from_chance_fails():
    report = sanity(str(SAMPLES / "softmax.py"), classes=4, reg="REG", expect_loss=3.0)
    assert report.checks[0].status == "fail" and "expected 3" in report.checks[0].summary


def test_svm_expectation_is_c_minus_1():
    report = sanity(str(SAMPLES / "buggy_svm_no_mask.py"), classes=3, svm=True)
    assert "C - 1 = 2" in report.checks[0].summary


def test_a_regularization_with_the_wrong_sign_fails(model_file):
    source = (SAMPLES / "two_layer_sanity.py").read_text().replace(
        "+ REG * (np.sum(W1**2) + np.sum(W2**2))", "- REG * (np.sum(W1**2) + np.sum(W2**2))")
    report = sanity(model_file(source), classes=5, reg="REG")
    assert report.checks[1].status == "fail" and "LOWERED the loss" in report.checks[1].summary


def test_a_model_that_cannot_overfit_fails_and_tiny_updates_warn():
    report = sanity(SANE, classes=5, optimizer="sgd", lr=1e-6, steps=20)
    by_name = {c.name: c for c in report.checks}
    assert by_name["overfit"].status == "fail" and "do not train on the full set" in by_name["overfit"].summary
    assert by_name["update/param ratio"].status == "warn" and "too low" in by_name["update/param ratio"].summary


def test_checks_without_their_options_are_skipped():
    report = sanity(SANE)
    assert report.checks[0].status == "skip" and report.checks[1].status == "skip"


def test_sanity_cli_exit_codes_json_and_junit(tmp_path):
    xml = tmp_path / "s.xml"
    good = run("sanity", SANE, "--classes", "5", "--reg", "REG", "--format", "json", "--junit-xml", xml)
    assert good.exit_code == 0
    document = json.loads(good.stdout)
    data = document["models"][0]
    assert document["verdict"] == data["verdict"] == "pass" and len(data["checks"]) == 4 and len(data["losses"]) == 201
    root = ET.parse(xml).getroot()
    assert root.get("tests") == "4" and root.get("failures") == "0"
    bad = run("sanity", SAMPLES / "softmax.py", "--classes", "4", "--expect-loss", "9", "--junit-xml", xml)
    assert bad.exit_code == 1 and "FAIL" in bad.stdout
    failures = ET.parse(xml).getroot().findall(".//failure")
    # the initial loss (expected 9) and the overfit run (REG left on) both fail
    messages = [f.get("message") for f in failures]
    assert len(messages) == 2 and "expected 9 (--expect-loss)" in messages[0] and "loss only" in messages[1]
    run("sanity", SANE, "--junit-xml", xml)  # no --classes, no --reg: two checks skipped
    root = ET.parse(xml).getroot()
    assert root.get("skipped") == "2" and len(root.findall(".//skipped")) == 2


def test_sanity_text_draws_the_loss_curve():
    result = run("sanity", SANE, "--classes", "5")
    assert "overfit run: loss by step (log scale)" in result.stdout and "•" in result.stdout


def test_a_pass_with_checks_skipped_says_how_many():
    """Two of the four checks need --classes and --reg: the headline must not
    read as the whole gate passing."""
    result = run("sanity", SAMPLES / "two_layer_sanity.py")
    assert result.exit_code == 0
    assert "2 of 4 checks run (2 skipped)" in " ".join(result.stdout.split())
