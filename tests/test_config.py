"""[tool.gradcheck] in pyproject.toml: defaults, models, precedence, errors."""

import json
import shutil
import textwrap

import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import main

from .conftest import SAMPLES


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project directory with two models and a pyproject.toml to write."""
    (tmp_path / "models").mkdir()
    shutil.copy(SAMPLES / "softmax.py", tmp_path / "models" / "softmax.py")
    shutil.copy(SAMPLES / "buggy_missing_bias.py", tmp_path / "models" / "bias.py")
    monkeypatch.chdir(tmp_path)

    def configure(body: str):
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n\n[tool.gradcheck]\n" + textwrap.dedent(body))
        return tmp_path

    return configure


def run(*args, **kw):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck", **kw)


def document_of(result):
    return json.loads(result.stdout)


def report_of(result):
    """The one model's report (or sweep) in the document (docs/json.md)."""
    models = document_of(result)["models"]
    assert len(models) == 1
    return models[0]


def test_bare_gradcheck_checks_the_listed_models(project):
    project('models = ["models/softmax.py", "models/bias.py"]\nformat = "json"\n')
    result = run()
    assert result.exit_code == 1
    data = document_of(result)
    assert [m["model"] for m in data["models"]] == ["models/softmax.py", "models/bias.py"]
    assert data["verdict"] == "fail"


def test_models_may_be_globs_and_are_relative_to_the_config(project, monkeypatch):
    root = project('models = ["models/*.py"]\n')
    (root / "deeper").mkdir()
    monkeypatch.chdir(root / "deeper")
    result = run("--format", "json")
    assert sorted(m["model"] for m in document_of(result)["models"]) == ["../models/bias.py", "../models/softmax.py"]


def test_config_values_are_defaults(project):
    project("samples = 3\nfail-above = 0.5\nmethod = 'five-point'\n")
    settings = report_of(run("models/softmax.py", "--format", "json"))["settings"]
    assert (settings["samples"], settings["fail_above"], settings["method"]) == (3, 0.5, "five-point")


def test_underscored_keys_work_too(project):
    project("fail_above = 0.5\ntrack_kinks = false\n")
    settings = report_of(run("models/softmax.py", "--format", "json"))["settings"]
    assert settings["fail_above"] == 0.5 and settings["track_kinks"] is False


def test_command_line_overrides_the_file(project):
    project("samples = 3\nfail-above = 0.5\n")
    settings = report_of(run("models/softmax.py", "--format", "json", "--samples", "5", "--fail-above", "0.2"))[
        "settings"]
    assert (settings["samples"], settings["fail_above"]) == (5, 0.2)


def test_strict_in_the_file(project):
    root = project("strict = true\n")
    (root / "models" / "warns.py").write_text(
        "import numpy as np\nparams = {'w': np.array([1.0, 2.0])}\n"
        "def loss(p): return np.float32(np.sum(p['w'] ** 2))\n"
        "def grad(p): return {'w': 2 * p['w']}\n"
    )
    assert run("models/warns.py").exit_code == 1
    assert run("models/warns.py", "--config", root / "pyproject.toml").exit_code == 1


def test_unknown_key_is_an_error_naming_it(project):
    project("colour = 'red'\n")
    result = run("models/softmax.py")
    assert result.exit_code == 2
    assert "unknown key 'colour' in [tool.gradcheck]" in result.stderr
    assert "fail-above" in result.stderr
    assert "Did you mean" not in result.stderr  # (nothing is near 'colour')


def test_a_misspelt_key_gets_the_near_one(project):
    project("fail_abov = 0.1\n")
    result = run("models/softmax.py")
    assert result.exit_code == 2
    assert "unknown key 'fail_abov' in [tool.gradcheck]" in result.stderr and "Did you mean 'fail-above'?" in \
        result.stderr


def test_bad_value_in_the_file_names_the_option(project):
    project("samples = 'many'\n")
    result = run("models/softmax.py")
    assert result.exit_code == 2
    assert "samples" in result.stderr and "neither a whole number nor 'all'" in result.stderr


def test_invalid_toml(project):
    root = project("")
    (root / "pyproject.toml").write_text("[tool.gradcheck\n")
    result = run("models/softmax.py")
    assert result.exit_code == 2 and "not valid TOML" in result.stderr


def test_config_option_points_elsewhere(project, tmp_path):
    project("samples = 3\n")
    other = tmp_path / "ci.toml"
    other.write_text("[tool.gradcheck]\nsamples = 7\n")
    assert report_of(run("models/softmax.py", "--format", "json", "--config", other))["settings"]["samples"] == 7
    assert report_of(run("--config=" + str(other), "models/softmax.py", "--format", "json"))["settings"]["samples"] == 7


def test_config_option_to_a_missing_file(project):
    project("")
    result = run("models/softmax.py", "--config", "nope.toml")
    assert result.exit_code == 2 and "config file not found: nope.toml" in result.stderr


def test_no_model_and_no_models_listed(project):
    project("samples = 3\n")
    result = run()
    assert result.exit_code == 2
    assert "no MODEL given" in result.stderr and "lists no `models`" in result.stderr


def test_a_glob_that_matches_nothing(project):
    project('models = ["nothing/*.py"]\n')
    result = run()
    assert result.exit_code == 2 and "matches no file" in result.stderr


def test_sweep_reads_its_options_from_the_file_too(project):
    project("method = 'five-point'\ndims = 2\n")
    data = report_of(run("sweep", "models/softmax.py", "--format", "json"))
    assert data["method"] == "five-point"
    assert len(data["curves"]) == 4


def test_help_and_version_are_not_configuration_keys(tmp_path):
    """--version answers and exits: a file that sets it is told the key is
    unknown, and the list of known keys does not offer it."""
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck]\nversion = true\n")
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "pyproject.toml"), str(SAMPLES / "cube.py")])
    assert result.exit_code == 2
    assert "unknown key 'version'" in result.output
    assert "'version'" not in result.output.split("known keys:")[1]
