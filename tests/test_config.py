"""[tool.gradcheck] in pyproject.toml: defaults, models, precedence, errors."""

import json
import re
import shutil
import textwrap

import pytest
from click.testing import CliRunner

from gradcheck_cli import config as config_module
from gradcheck_cli.cli import main

from .conftest import ROOT, SAMPLES


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


def _example(marker: str) -> str:
    """The code block after ``<!-- marker -->`` in docs/configuration.md."""
    page = (ROOT / "docs" / "configuration.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```\w*\n(.*?)```", page, re.S)
    assert match, f"docs/configuration.md has no code block after <!-- {marker} -->"
    return match.group(1)


def test_the_documented_command_tables_give_each_command_its_own_values(project):
    """docs/configuration.md's example: the top for every command that has
    the option, a command's table over it for that command alone, and lr
    with its own meaning in check's table and sanity's."""
    root = project("")
    (root / "pyproject.toml").write_text(_example("config-tables-example"))
    shutil.copy(SAMPLES / "two_layer_sanity.py", root / "models")

    result = run("models/bias.py")  # (format = "github" in check's table: a failure is an annotation)
    assert result.exit_code == 1 and "\n::error file=models/bias.py," in result.stdout, result.output
    checked = document_of(run("models/softmax.py", "--format", "json"))
    settings = checked["models"][0]["settings"]
    assert (settings["method"], settings["samples"], settings["seed"]) == ("five-point", 4, 1)
    assert "lr" in checked["config"]["keys"]

    swept = document_of(run("sweep", "models/softmax.py", "--format", "json"))
    assert swept["models"][0]["method"] == "central" and len(swept["models"][0]["curves"]) == 2
    assert sorted(swept["config"]["keys"]) == ["dims", "method", "seed"]  # (not check's samples)

    result = run("sanity", "models/two_layer_sanity.py", "--format", "json")
    checks = {c["name"]: c for c in report_of(result)["checks"]}
    assert checks["overfit"]["details"]["steps"] == 20 and checks["overfit"]["details"]["lr"] == 0.05
    assert checks["regularization raises the loss"]["status"] == "pass"  # (reg = "auto" found REG)


def test_format_github_at_the_top_is_check_s_and_refused_for_sweep_naming_check_s_table(project):
    root = project('format = "github"\n')
    result = run("models/bias.py")
    assert result.exit_code == 1 and "\n::error file=models/bias.py," in result.stdout, result.output
    from gradcheck_cli.pytest_plugin import fixture_options

    assert "format" not in fixture_options(root)  # (the fixture reads it without error, and ignores it)

    result = run("sweep", "models/softmax.py")
    assert result.exit_code == 2
    assert ("invalid value for 'format' in [tool.gradcheck] of " in result.stderr
            and "'github' is not one of 'text', 'json' for gradcheck sweep" in result.stderr
            and "[tool.gradcheck.check] sets it for check alone" in result.stderr), result.stderr


def test_an_option_whose_meaning_differs_is_refused_at_the_top_naming_the_tables(project):
    project("lr = 0.01\n")
    for command in (["check"], ["sweep"], ["sanity"]):
        result = run(*command, "models/softmax.py")
        assert result.exit_code == 2
        assert ("'lr' in [tool.gradcheck] of " in result.stderr and "means different things" in result.stderr
                and "set it in [tool.gradcheck.check] or [tool.gradcheck.sanity]" in result.stderr), result.stderr


@pytest.mark.parametrize("body, said", [
    ("[tool.gradcheck.sweep]\nsampels = 3\n", "unknown key 'sampels' in [tool.gradcheck.sweep] of "),
    ("[tool.gradcheck.sweep]\nsampels = 3\n", "Did you mean 'samples'?"),
    ("[tool.gradcheck.check]\nclasses = 5\n",
     "'classes' in [tool.gradcheck.check] of {file} is not an option of gradcheck check; it is sanity's: set it in "
     "[tool.gradcheck.sanity]"),
    ("[tool.gradcheck.check]\nfail-above = 0.1\nfail_above = 0.2\n",
     "sets 'fail-above' and 'fail_above' in [tool.gradcheck.check], two spellings of one option"),
    ("[tool.gradcheck.sanity]\nclasses = 1\n", "invalid value for 'classes' in [tool.gradcheck.sanity] of {file}"),
    ("[tool.gradcheck.sweep]\nplot = ''\n", "'plot' in [tool.gradcheck.sweep] of {file} is empty"),
    ("[tool.gradcheck]\nsweep = 2\n", "'sweep' in [tool.gradcheck] of {file} must be a table"),
])
def test_a_command_s_table_is_checked_like_the_top(project, body, said):
    """(A table's values are checked whichever command runs: sanity's
    `classes = 1` is wrong when check runs too.)"""
    root = project("")
    (root / "pyproject.toml").write_text(body)
    result = run("models/softmax.py")
    assert result.exit_code == 2
    assert said.format(file=root / "pyproject.toml") in result.stderr, result.stderr


def test_a_command_s_table_reads_old_names_and_paths_as_the_top_does(tmp_path):
    file = tmp_path / "conf" / "gradcheck.toml"
    file.parent.mkdir()
    file.write_text('[tool.gradcheck.check]\nparams_file = "w.npz"\n[tool.gradcheck.sanity]\njunit-xml = "out.xml"\n')
    config = config_module.load(main.commands.values(), file, runs="check")
    assert config.values == {"params": str(tmp_path / "conf" / "w.npz")}
    assert config.deprecations == (f"'params_file' in [tool.gradcheck.check] of {file} is deprecated: name it "
                                   "'params', as the command line does",)
    sanity = config_module.load(main.commands.values(), file, runs="sanity")
    assert sanity.values == {"junit_xml": str(tmp_path / "conf" / "out.xml")}


def test_paths_in_the_file_expand_home_and_a_link_s_are_its_own_directory_s(tmp_path, monkeypatch):
    """A relative path is the directory's of the file as it was named: a
    symlinked config reads its link's folder (one shared file, each
    project's own data), and ~ is the home directory, as a shell reads it."""
    shared, project_dir, home = tmp_path / "shared", tmp_path / "project", tmp_path / "home"
    for folder in (shared, project_dir, home):
        folder.mkdir()
    (shared / "gradcheck.toml").write_text('[tool.gradcheck]\ndata = "d.npz"\nparams = "~/w.npz"\n'
                                           'models = ["~/m.py"]\n')
    (project_dir / "gradcheck.toml").symlink_to(shared / "gradcheck.toml")
    monkeypatch.setenv("HOME", str(home))
    config = config_module.load(main.commands.values(), project_dir / "gradcheck.toml")
    assert config.values == {"data": str(project_dir / "d.npz"), "params": str(home / "w.npz")}
    assert config.models == (str(home / "m.py"),)


@pytest.mark.parametrize("key", ["params", "data", "junit-xml", "save-params", "models"])
def test_an_empty_path_is_refused_naming_its_key(project, key):
    root = project(f'{key} = ""\n')
    result = run("models/softmax.py")
    assert result.exit_code == 2
    assert f"'{key}' in [tool.gradcheck] of {root / 'pyproject.toml'} is empty: name a file" in result.stderr, \
        result.stderr
