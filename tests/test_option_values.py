"""One value, one meaning: every option's value is read alike on the
command line, in [tool.gradcheck] and as a keyword of check(), sweep() and
sanity(), and a value one of them refuses, each refuses with the same
words, naming the option its own way. And what the file and the functions
that hand keywords on say of an option names the right file and function."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import click
import numpy as np
import pytest
from click.testing import CliRunner

import gradcheck_cli
from gradcheck_cli import check, check_layers, sanity_checks, sweep, taylor, values
from gradcheck_cli.cli import main
from gradcheck_cli.options import NOT_KEYWORDS, PER_COMMAND

from .conftest import ROOT, SAMPLES

MISSING = "no-such-model.py"  # (a value that is read goes on to load the model: "not found" means accepted)


TABLES = {"check": values.CHECK, "sweep": values.SWEEP, "taylor": values.TAYLOR, "sanity": values.SANITY}
FUNCTIONS = {"check": check, "sweep": sweep, "taylor": taylor, "sanity": sanity_checks.sanity}


def _values_to_try(command: str, param: click.Option) -> list:
    """Good and bad values for an option, as the command line types them,
    and as TOML and Python give them natively."""
    kind = TABLES[command][param.name]
    if isinstance(kind, values.Flag):
        return [True, False, "yes", 1]
    if isinstance(kind, values.Count):
        return ["3", "0", "1", "x", "2.5", 3, True, *(k.upper() for k in kind.keywords), str(2**32)]
    if isinstance(kind, values.Number):
        return ["0.5", "0", "-1", "1.5", "nan", "inf", "x", 0.5, True]
    if isinstance(kind, values.Step):
        return ["1e-4", "AUTO", "0", "x", "0.5", 1e-4]
    if isinstance(kind, values.Seconds):
        return ["10", "inf", "0", "x", 10]
    if isinstance(kind, values.Choice):
        return [kind.choices[-1], kind.choices[0].upper(), 5]
    if isinstance(kind, values.Name):
        return ["REG", "none", "not a name", 5]
    if isinstance(kind, values.File):
        return ["w.npz", 5]
    if isinstance(kind, values.Names):
        return ["W1", 5, ["W1", "b"]]
    raise AssertionError(f"--{param.name}: no values to try for {param.type!r}")


def _walked() -> list[tuple[str, click.Option]]:
    """Every option that is a keyword of its command's function, but those
    whose Python values are of a richer kind (params= takes arrays, set= a
    mapping, dask= a Client: tested apart)."""
    rich = {"params", "set", "dask"}
    return [(name, param) for name, command in main.commands.items() for param in command.params
            if isinstance(param, click.Option) and param.expose_value and param.name not in NOT_KEYWORDS
            and param.name not in rich]


def test_each_click_type_parses_with_its_keyword_s_parser():
    """One definition: a click option that parses (values.py) parses with
    the very parser its function's keyword does."""
    parsing = [(command, param) for command, param in _walked() if getattr(param.type, "parser", None) is not None]
    assert len(parsing) > 20
    for command, param in parsing:
        assert param.type.parser is TABLES[command][param.name], f"{command} --{param.name}"


def _outcome(text: str) -> str:
    """'accepted' when the run went on to load the model, else what it said."""
    return "accepted" if "not found" in text and MISSING in text else text


def _by_cli(command: str, args: list[str]) -> str:
    result = CliRunner().invoke(main, [command, MISSING, *args], prog_name="gradcheck")
    assert result.exit_code == 2, result.output
    return _outcome(result.output)


def _by_python(command: str, name: str, value) -> str:
    function = {"check": check, "sweep": sweep, "taylor": taylor, "sanity": gradcheck_cli.sanity}[command]
    try:
        function(MISSING, **{name: value})
    except (ValueError, gradcheck_cli.ModelError) as exc:
        return _outcome(str(exc))
    raise AssertionError("a missing model was checked")


@pytest.mark.parametrize("command, param", _walked(), ids=lambda p: p if isinstance(p, str) else p.name)
def test_every_option_reads_a_value_alike_everywhere(command, param, tmp_path):
    long = next(opt for opt in param.opts if opt.startswith("--"))
    for value in _values_to_try(command, param):
        python = _by_python(command, param.name, value)
        # (the top level is held to the command that runs; an option whose name means
        # another thing to another command is the command's own table's)
        table = f"tool.gradcheck.{command}" if param.name in PER_COMMAND else "tool.gradcheck"
        (tmp_path / "gradcheck.toml").write_text(f"[{table}]\n{param.name} = {_toml(value)}\n")
        config = _by_cli(command, ["--config", str(tmp_path / "gradcheck.toml")])
        outcomes = {"python": python, "config": config}
        if param.is_flag:
            if value is True or value is False:
                outcomes["cli"] = _by_cli(command, [long if value else param.secondary_opts[0]]
                                          if value or param.secondary_opts else [])
        elif isinstance(value, str):
            outcomes["cli"] = _by_cli(command, [long, value])
        accepted = {route for route, outcome in outcomes.items() if outcome == "accepted"}
        assert accepted in (set(), set(outcomes)), f"{long} {value!r}: {outcomes}"
        if not accepted:  # the same words, whoever said them (the keyword's message names it first)
            said = python.split(f"({long}): ", 1)[-1]
            assert said in python and said in outcomes.get("cli", said) and said in config, \
                f"{long} {value!r}: {outcomes}"
            if python.startswith(f"{command}(): invalid value"):
                assert f"{param.name}= ({long})" in python
                assert f"'{long}'" in outcomes.get("cli", f"'{long}'") and f"'{long[2:]}' in " in config


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not np.isfinite(value):
        return "nan" if np.isnan(value) else "inf"
    return json.dumps(value)


def test_the_keyword_takes_the_command_line_s_spellings():
    """samples="ALL", h="1e-5", warmup="OFF": what --samples ALL --h 1e-5
    --warmup OFF mean, not a ValueError."""
    model = str(SAMPLES / "cube.py")
    by_python = check(model, samples="ALL", h="1e-5", warmup="OFF", reg="none", max_evals="5", directions="1")
    result = CliRunner().invoke(main, [model, "--samples", "ALL", "--h", "1e-5", "--warmup", "OFF", "--reg", "none",
                                       "--max-evals", "5", "--directions", "1", "--format", "json"])
    by_cli = json.loads(result.stdout)["models"][0]
    assert by_python.settings.to_dict() == by_cli["settings"]
    assert by_python.settings.samples is None and by_python.generic is None


@pytest.mark.parametrize("call, message", [
    (lambda: check(MISSING, timeout="x"), r"check\(\): invalid value for timeout= \(--timeout\): 'x'"),
    (lambda: check(MISSING, lr=0), r"lr= \(--lr\): 0 must be above 0"),
    (lambda: check(MISSING, jobs="x"), r"jobs= \(--jobs\): 'x' is neither a whole number nor 'auto'"),
    (lambda: gradcheck_cli.sanity(MISSING, classes=1), r"sanity\(\): invalid value for classes= \(--classes\)"),
    (lambda: gradcheck_cli.sanity(MISSING, steps="20x"), r"steps= \(--steps\): '20x' is not a whole number"),
    (lambda: gradcheck_cli.sanity(MISSING, overfit_factor=0.5), r"overfit_factor= .*0.5 must be above 1"),
    (lambda: gradcheck_cli.sanity(MISSING, loss_tolerance=-1), r"loss_tolerance= .*-1 must be above 0"),
    (lambda: sweep(MISSING, dims=0), r"sweep\(\): invalid value for dims= \(--dims\): 0 must be at least 1"),
])
def test_a_wrong_keyword_value_is_a_value_error_naming_it(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_python_s_own_kinds_of_value_say_what_they_take():
    """set=, progress= (no parser of the command line's): a wrong kind is
    said before anything runs, never a raw TypeError from deep inside."""
    with pytest.raises(gradcheck_cli.ModelError, match=r"--set 5: expected NAME=VALUE strings or a mapping"):
        check(MISSING, set=5)
    with pytest.raises(TypeError, match=r"^progress= must be a function taking a Progress event, not int"):
        check(str(SAMPLES / "cube.py"), progress=5)


def test_forwarding_functions_name_themselves_once(recwarn):
    """check_layers() hands its keywords to check() for each layer: an old
    name is one warning naming check_layers(), not one per layer naming
    check(); a wrong value names it too."""
    target = str(SAMPLES / "buggy_layers_check.py")
    warnings.simplefilter("always")
    check_layers(target, overrides=[], samples=1, warmup="off", reg="none", max_evals=0)
    said = [str(w.message) for w in recwarn.list if issubclass(w.category, DeprecationWarning)]
    assert said == ["check_layers(): overrides= is deprecated, use set= (the command line's --set)"]
    with pytest.raises(ValueError, match=r"^check_layers\(\): invalid value for timeout="):
        check_layers(target, timeout="soon")
    with pytest.raises(ValueError, match=r"^assert_gradients\(\): invalid value for samples="):
        gradcheck_cli.assert_gradients(target, samples="some")


def test_no_model_at_all_says_so_in_the_call_s_words():
    for call in (check, sweep, gradcheck_cli.assert_gradients):
        with pytest.raises(TypeError, match=r"^no model given: pass a target .* or the functions as loss= and grad="):
            call()
    with pytest.raises(gradcheck_cli.ModelError, match=r"^loss= was given without grad="):
        check(loss=lambda p: 0.0, params=np.ones(2))


def test_sanity_from_the_package_is_the_function():
    """`from gradcheck_cli import sanity` is the function; the module's old
    path still imports, and calling the package's name works after it."""
    from gradcheck_cli import SanityReport, sanity

    assert callable(sanity) and sanity.__name__ == "sanity"
    import gradcheck_cli.sanity as old  # noqa: F401  (what release 3 code does)
    from gradcheck_cli.sanity import SanityReport as same
    from gradcheck_cli.sanity import sanity as function

    assert same is SanityReport and function is sanity
    report = gradcheck_cli.sanity(str(SAMPLES / "two_layer_sanity.py"), classes=5, steps=2)
    assert isinstance(report, SanityReport)


# -- [tool.gradcheck] ----------------------------------------------------------------------

def _project(tmp_path, table: str):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck]\n" + textwrap.dedent(table))
    return tmp_path


def test_relative_paths_in_the_file_are_the_file_s_directory_s(tmp_path, monkeypatch):
    """params, data, junit-xml, save-params are read and written beside the
    pyproject.toml, wherever gradcheck runs, as models are; the command
    line's own are the working directory's."""
    project = _project(tmp_path, """
        params = "w.npz"
        junit-xml = "out/junit.xml"
        save-params = "out/at.npz"
        warmup = "off"
    """)
    (project / "out").mkdir()
    (project / "sub").mkdir()
    np.savez(project / "w.npz", np.array([0.5, -2.0, 3.0]))
    monkeypatch.chdir(project / "sub")
    model = str(SAMPLES / "cube.py")
    result = CliRunner().invoke(main, [model, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["models"][0]["loss"] == float(np.sum(np.array([0.5, -2.0, 3.0]) ** 3))
    assert (project / "out" / "junit.xml").is_file() and (project / "out" / "at.npz").is_file()
    # A file named by a relative --config: its directory, once (every command's options are read from it).
    result = CliRunner().invoke(main, [model, "--config", os.path.join(os.pardir, "pyproject.toml"), "--format",
                                       "json"])
    assert result.exit_code == 0, result.output
    # The command line's path is the working directory's.
    result = CliRunner().invoke(main, [model, "--params", "w.npz"])
    assert result.exit_code == 2 and os.path.join("sub", "w.npz") in result.output


def test_set_and_block_take_what_their_keywords_take(tmp_path, monkeypatch):
    """set = "REG=0" and set = {REG = 0} as set="REG=0" and set={"REG": 0};
    block = "W1" as block="W1"."""
    model = str(SAMPLES / "softmax.py")
    by_python = check(model, set={"REG": 0.5}, samples=2, warmup="off", reg="none")
    for number, table in enumerate(('set = "REG=0.5"', "set = {REG = 0.5}", 'set = ["REG=0.5"]')):
        (tmp_path / str(number)).mkdir()
        monkeypatch.chdir(_project(tmp_path / str(number), table))
        result = CliRunner().invoke(main, [model, "--samples", "2", "--warmup", "off", "--reg", "none",
                                           "--format", "json"])
        assert result.exit_code == 0, (table, result.output)
        assert json.loads(result.stdout)["models"][0]["loss"] == by_python.loss, table
    (tmp_path / "block").mkdir()
    monkeypatch.chdir(_project(tmp_path / "block", 'block = "b"'))
    result = CliRunner().invoke(main, ["sweep", model, "--samples", "1", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert {curve["block"] for curve in json.loads(result.stdout)["models"][0]["curves"]} == {"b"}


def test_two_spellings_of_one_key_are_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(_project(tmp_path, "fail-above = 1e-2\nfail_above = 0.1\n"))
    result = CliRunner().invoke(main, [str(SAMPLES / "cube.py")])
    assert result.exit_code == 2
    assert "sets 'fail-above' and 'fail_above' in [tool.gradcheck], two spellings of one option" in result.stderr


def test_an_old_key_is_a_warning_on_the_command_line(tmp_path, monkeypatch):
    """A DeprecationWarning is hidden by default: the command line says it
    on stderr; the fixture (Python) keeps the DeprecationWarning."""
    project = _project(tmp_path, 'params_file = "w.npz"\nwarmup = "off"\n')
    np.savez(project / "w.npz", np.array([1.0, 2.0, 3.0]))
    monkeypatch.chdir(project)
    process = subprocess.run([sys.executable, "-m", "gradcheck_cli", str(SAMPLES / "cube.py"), "-q"],
                             capture_output=True, text=True, cwd=project,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.returncode == 0, process.stderr
    assert ("gradcheck: warning: 'params_file' in [tool.gradcheck] of "
            f"{project / 'pyproject.toml'} is deprecated: name it 'params'") in process.stderr
    from gradcheck_cli import pytest_plugin

    with pytest.warns(DeprecationWarning, match="'params_file' in .tool.gradcheck. .* is deprecated"):
        options = pytest_plugin.fixture_options(project)
    assert options["params"] == str(project / "w.npz")


def test_jobs_from_a_script_without_the_main_guard_says_why(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(f"from gradcheck_cli import check\ncheck({str(SAMPLES / 'cube.py')!r}, jobs=2, samples=1, "
                      "warmup='off')\n")
    process = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.returncode != 0
    assert ("worker process of check(jobs=...) was starting: workers start afresh and import unguarded.py, which "
            "calls gradcheck as it is imported. Call it only under `if __name__ == \"__main__\":`") in process.stderr


@pytest.mark.parametrize("table", ["check", "sweep", "taylor", "sanity"])
def test_a_parser_reads_its_own_results_back(table):
    """A function that hands its keywords on parses them, and check() parses
    them again: a parsed value must mean the same the second time."""
    for name, parser in TABLES[table].items():
        for raw in ["3", "1", "ALL", "AUTO", "OFF", "inf", "0.5", "1e-4", "none", "REG", "adam", "central", True,
                    "w.npz", ["W1"], 10**400]:
            try:
                once = parser.parse(raw)
            except ValueError:
                continue
            # (None is "not given" where a keyword's default is None: timeout="inf", no limit)
            assert (once is None and name in values.nullable(FUNCTIONS[table])) or parser.parse(once) == once, \
                (name, raw)


@pytest.mark.parametrize("given", ["none", "NONE", "None"])
def test_reg_none_is_no_regularization_check_for_sanity_as_for_check(given, tmp_path):
    """One key for both commands: reg = "none" in the file runs sanity
    without a regularization check (it took "none" for a constant's name),
    and --reg's keywords are read in any case, as every option's are."""
    model = str(SAMPLES / "two_layer_sanity.py")
    (tmp_path / "gradcheck.toml").write_text(f'[tool.gradcheck]\nreg = "{given}"\n')
    result = CliRunner().invoke(main, ["sanity", model, "--config", str(tmp_path / "gradcheck.toml"), "--steps", "2",
                                       "--format", "json"], prog_name="gradcheck")
    assert result.exit_code in (0, 1), result.output
    checks = {c["name"]: c for c in json.loads(result.stdout)["models"][0]["checks"]}
    assert checks["regularization raises the loss"]["status"] == "skip"
    assert values.REG.parse(given) == "none"


def test_reg_auto_finds_the_strength_for_sanity_as_for_check():
    report = sanity_checks.sanity(str(SAMPLES / "two_layer_sanity.py"), reg="AUTO", steps=2)
    regularization = next(c for c in report.checks if c.name == "regularization raises the loss")
    assert regularization.status == "pass" and regularization.summary.startswith("REG 0.001 -> 0.01 raised the loss")


def test_reg_auto_with_no_strength_skips_sanity_s_check_saying_why():
    report = sanity_checks.sanity(str(SAMPLES / "cube.py"), reg="auto", steps=2)
    regularization = next(c for c in report.checks if c.name == "regularization raises the loss")
    assert regularization.status == "skip"
    assert regularization.summary.startswith("no module-level constant is named like a regularization strength")
