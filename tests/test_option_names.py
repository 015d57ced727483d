"""One name per option: every option of every command is taken under its
command-line name by check(), sweep(), sanity(), assert_gradients, the
pytest fixture and [tool.gradcheck], with the same meaning; the old Python
names still work, with a DeprecationWarning; what only the command line
can do is a TypeError that says what to use instead."""

import inspect
import json
import shutil

import click
import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import ModelError, assert_gradients, check, check_layers, load_model, sweep, taylor
from gradcheck_cli import config as config_module
from gradcheck_cli import options, pytest_plugin
from gradcheck_cli.cli import main
from gradcheck_cli import sanity

from .conftest import SAMPLES

# The Python function(s) each command's options are keywords of.
FUNCTIONS = {"check": (check, assert_gradients), "sweep": (sweep,), "taylor": (taylor,), "sanity": (sanity,)}


def _keywords(function) -> set[str]:
    own = set(inspect.signature(function).parameters)
    if function is assert_gradients:  # (its other keywords are check()'s, handed on)
        own |= set(inspect.signature(check).parameters)
    return own


def _options(command: str) -> list[click.Option]:
    """The command's settings: every option but the eager ones that answer
    and exit (--help, --version), which set nothing."""
    return [p for p in main.commands[command].params if isinstance(p, click.Option) and p.expose_value]


ALL = [(command, function, param) for command, functions in FUNCTIONS.items()
       for function in functions for param in _options(command)]


def _id(case) -> str:
    command, function, param = case
    return f"{function.__name__}-{param.name}"


@pytest.mark.parametrize("command", FUNCTIONS)
def test_every_option_is_named_as_on_the_command_line(command):
    """The click parameter's name is its long option's, dashes as
    underscores: the name [tool.gradcheck] and the Python API take."""
    for param in _options(command):
        long = next(opt for opt in param.opts if opt.startswith("--"))
        assert param.name == long[2:].replace("-", "_"), f"{long} is named {param.name!r}"
        assert config_module.parameter_names(main.commands[command])[param.name] == param.name


@pytest.mark.parametrize("case", ALL, ids=_id)
def test_every_option_is_a_keyword_or_refused_with_a_reason(case):
    command, function, param = case
    if param.name in _keywords(function):
        assert param.name not in options.NOT_KEYWORDS or function is assert_gradients
        return
    assert param.name in options.NOT_KEYWORDS, f"{function.__name__}() neither takes nor refuses --{param.name}"
    # Refused before anything is imported, naming the option and what to do.
    with pytest.raises(TypeError, match=rf"{function.__name__}\(\) takes no {param.name}= \(--"):
        function(str(SAMPLES / "cube.py"), **{param.name: param.default})


def test_the_refusal_says_what_to_use_instead():
    with pytest.raises(TypeError, match=r"check\(\) takes no verbose=.*assert_gradients\(verbose=True\)"):
        check(str(SAMPLES / "cube.py"), verbose=True)
    with pytest.raises(TypeError, match=r"check\(\) takes no format=.*to_dict\(\)"):
        check(str(SAMPLES / "cube.py"), format="json")


def _cli_json(*args) -> dict:
    result = CliRunner().invoke(main, [*map(str, args), "--format", "json"], prog_name="gradcheck")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)["models"][0]


def test_check_and_the_command_line_agree_option_for_option(tmp_path):
    """The same options under the same names give the same settings and
    verdict: through the command line, check() and [tool.gradcheck]."""
    model = str(SAMPLES / "softmax.py")
    np.savez(tmp_path / "w.npz", **load_model(model, seed=4).params)
    given = {"samples": 3, "method": "five-point", "seed": 2, "track_kinks": False, "directions": 1,
             "fail_above": 0.5, "warn_above": 1e-3, "max_evals": 0, "warmup": "off", "reg": "none",
             "params": str(tmp_path / "w.npz"), "set": ["REG=0.5"]}
    args = [model, "--samples", 3, "--method", "five-point", "--seed", 2, "--no-track-kinks", "--directions", 1,
            "--fail-above", 0.5, "--warn-above", 1e-3, "--max-evals", 0, "--warmup", "off", "--reg", "none",
            "--params", tmp_path / "w.npz", "--set", "REG=0.5"]
    by_cli = _cli_json(*args)
    by_python = check(model, **given)
    assert by_python.settings.to_dict() == by_cli["settings"]
    assert by_python.verdict == by_cli["verdict"] and by_python.loss == by_cli["loss"]
    # The regularization constant reached the model (REG=0.5 against the file's own).
    assert by_python.loss != check(model, **{**given, "set": []}).loss

    project = tmp_path / "project"
    project.mkdir()
    (project / ".git").mkdir()
    lines = [f"{name.replace('_', '-')} = {json.dumps(value)}" for name, value in given.items()]
    (project / "pyproject.toml").write_text("[tool.gradcheck]\n" + "\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="looser than the default"):  # (said, as a test's report is not shown)
        from_config = check(model, **pytest_plugin.fixture_options(project))
    assert from_config.settings.to_dict() == by_cli["settings"] and from_config.loss == by_cli["loss"]


def test_set_takes_a_mapping_or_the_command_line_s_strings():
    dropout = str(SAMPLES / "dropout.py")
    by_strings = check(dropout, set=["KEEP=1.0"], samples=2, warmup="off")
    assert check(dropout, set={"KEEP": 1.0}, samples=2, warmup="off").loss == by_strings.loss
    assert check(dropout, set={"KEEP": np.float64(1.0)}, samples=2, warmup="off").loss == by_strings.loss
    assert check(dropout, samples=2, warmup="off").loss != by_strings.loss
    with pytest.raises(ModelError, match="expected NAME=VALUE"):
        check(dropout, set=["KEEP"])


def test_params_is_a_path_or_the_arrays(tmp_path):
    cube = str(SAMPLES / "cube.py")
    at = np.array([0.5, -2.0, 3.0])
    np.savez(tmp_path / "at.npz", at)
    by_path = check(cube, params=tmp_path / "at.npz", warmup="off")  # (an os.PathLike)
    by_arrays = check(cube, params=at, warmup="off")
    assert by_path.loss == by_arrays.loss == float(np.sum(at ** 3))
    with pytest.raises(ModelError, match="shape"):
        check(cube, params=np.ones(4))
    # Functions take an .npz too.
    functions = check(loss=lambda t: float(np.sum(t ** 3)), grad=lambda t: 3 * t ** 2, params=str(tmp_path / "at.npz"),
                      warmup="off")
    assert functions.loss == by_path.loss


@pytest.mark.parametrize("function, old, new, value", [
    (check, "overrides", "set", {"KEEP": "1.0"}),
    (check, "params_file", "params", None),
    (check, "data_file", "data", None),
    (assert_gradients, "overrides", "set", {"KEEP": "1.0"}),
    (sweep, "blocks", "block", ("W1",)),
])
def test_old_names_work_with_a_deprecation_warning_naming_the_new(function, old, new, value):
    with pytest.warns(DeprecationWarning, match=rf"{old}= is deprecated, use {new}=") as caught:
        function(str(SAMPLES / "dropout.py"), **{old: value}, samples=1, **(
            {"warmup": "off", "reg": "none"} if function is not sweep else {}))
    assert caught[0].filename == __file__  # (the user's line, where Python's filters show it)
    with pytest.raises(TypeError, match=rf"both {old}= \(deprecated\) and {new}="):
        function(str(SAMPLES / "dropout.py"), **{old: value, new: value})


def test_sanity_and_load_model_take_the_new_names_and_the_old():
    model = str(SAMPLES / "two_layer_sanity.py")
    report = sanity(model, classes=5, set={"REG": 0}, steps=5, strict=True)
    assert report.strict and report.passed == (report.verdict == "pass")
    with pytest.warns(DeprecationWarning, match="overrides= is deprecated, use set="):
        load_model(str(SAMPLES / "dropout.py"), overrides={"KEEP": "1.0"})


def test_a_config_key_by_its_old_name_is_read_and_said_deprecated(tmp_path):
    """(Said by the reader: tests/test_option_values.py, the command line's
    warning line and the fixture's DeprecationWarning.)"""
    (tmp_path / "pyproject.toml").write_text('[tool.gradcheck]\nassignments = ["REG=0"]\n')
    config = config_module.load(main.commands.values(), tmp_path / "pyproject.toml")
    assert config.values == {"set": ["REG=0"]}
    assert len(config.deprecations) == 1 and "'assignments' in [tool.gradcheck]" in config.deprecations[0]
    assert "deprecated: name it 'set'" in config.deprecations[0]
    (tmp_path / "pyproject.toml").write_text('[tool.gradcheck]\nassignments = ["REG=0"]\nset = ["REG=1"]\n')
    with pytest.raises(config_module.ConfigError, match="both 'assignments'"):
        config_module.load(main.commands.values(), tmp_path / "pyproject.toml")


def _float32_loss(p):
    return np.float32(np.sum(p["w"] ** 2))  # a warning: the loss is float32


def test_strict_is_the_command_line_s_rule_for_warnings():
    """--strict: a warning fails too. The verdict stays the grade;
    Report.passed is the exit code's decision."""
    functions = {"loss": _float32_loss, "grad": lambda p: {"w": 2 * p["w"]}, "params": {"w": np.ones(3)}}
    lenient, strict = check(**functions), check(**functions, strict=True)
    assert lenient.verdict == strict.verdict == "warn"
    assert lenient.passed and not strict.passed and strict.settings.strict
    with pytest.raises(AssertionError, match="WARN"):
        assert_gradients(**functions, strict=True)


def test_check_layers_checks_each_layer_as_the_command_line_does():
    target = str(SAMPLES / "buggy_layers_check.py")
    reports = check_layers(target, samples=2, warmup="off")
    by_cli = CliRunner().invoke(main, [target, "--samples", "2", "--warmup", "off", "--format", "json"])
    models = json.loads(by_cli.stdout)["models"]
    assert [f"{target}:{name}" for name in reports] == [m["model"] for m in models]
    assert {name: r.verdict for name, r in reports.items()} == \
        {m["model"].rsplit(":", 1)[1]: m["verdict"] for m in models}
    assert reports["lstm_step"].verdict == "fail"
    with pytest.raises(ModelError, match=r"check_layers\("):
        check(target)
    with pytest.raises(ModelError, match="assigns no layer"):
        check_layers(str(SAMPLES / "cube.py"))


def test_the_fixture_takes_the_new_names_and_refuses_the_command_line_s_own(pytester):
    """In a real session: params= as arrays, set= as a mapping, strict=; an
    old name warns in pytest's summary; format= says what to use."""
    shutil.copy(SAMPLES / "dropout.py", pytester.path / "dropout.py")
    pytester.makepyprojecttoml("""
        [tool.gradcheck]
        samples = 2
        warmup = "off"
    """)
    pytester.makepyfile(test_names="""
        import numpy as np
        import pytest

        def test_new_names(gradcheck):
            report = gradcheck("dropout.py", set={"KEEP": 1.0}, strict=True)
            assert report.settings.samples == 2 and report.passed

        def test_params_arrays(gradcheck):
            report = gradcheck(loss=lambda p: float(np.sum(p ** 2)), grad=lambda p: 2 * p, params=np.ones(3))
            assert report.verdict == "pass"

        def test_old_name(gradcheck):
            gradcheck("dropout.py", overrides={"KEEP": "1.0"})

        def test_format(gradcheck):
            with pytest.raises(TypeError, match="gradcheck.. takes no format="):
                gradcheck("dropout.py", format="json")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*DeprecationWarning: gradcheck(): overrides= is deprecated, use set=*"])


def test_every_public_function_documents_each_of_its_parameters():
    import gradcheck_cli

    for name in gradcheck_cli.__all__:
        function = getattr(gradcheck_cli, name)
        if inspect.isfunction(function):
            doc = inspect.getdoc(function) or ""
            parameters = [p.name for p in inspect.signature(function).parameters.values()
                          if p.kind is not p.VAR_KEYWORD]
            assert all(f"``{p}``" in doc for p in parameters), f"{name}: {parameters}"
