"""Issue 24, outputs a hostile model, name or config can break: non-finite
numbers in the JSON report, workflow commands injected into --format github,
and [tool.gradcheck] keys the pytest fixture did not take."""

import dataclasses
import inspect
import json
import math
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import click
import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import check
from gradcheck_cli.cli import main
from gradcheck_cli.options import PER_COMMAND
from gradcheck_cli.render import github
from gradcheck_cli.render import json as json_render
from gradcheck_cli.report import ModelFailure

# (the fixture tests set thresholds looser than the defaults on purpose:
# the fixture's warning that they are is tests/test_outputs.py's to check)
pytestmark = pytest.mark.filterwarnings("ignore:gradcheck.*looser than the default:UserWarning")


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


def strict_json(text: str):
    """The document, refusing NaN and Infinity as a strict JSON reader does."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def non_finite(document, path="$"):
    """Where a float that is not finite hides in ``document``."""
    if isinstance(document, float) and not math.isfinite(document):
        return [path]
    if isinstance(document, dict):
        return [p for k, v in document.items() for p in non_finite(v, f"{path}.{k}")]
    if isinstance(document, (list, tuple)):
        return [p for i, v in enumerate(document) for p in non_finite(v, f"{path}[{i}]")]
    return []


SMOOTH = """
import numpy as np
{extra}
def init_params(seed=0):
    return {{"w": np.linspace(0.1, 1.0, 4)}}
def loss(p):
    return float(np.sum(np.sin(p["w"])))
def grad(p):
    return {{"w": np.cos(p["w"])}}
"""

# The loss is inf past w[0] = 0.5, which the probes of w[0] step over.
INF_AT_A_PROBE = """
import numpy as np
def init_params(seed=0):
    return {"w": np.array([0.5, 0.2, 0.3])}
def loss(p):
    w = p["w"]
    return float("inf") if w[0] > 0.5 else float(np.sum(w ** 2))
def grad(p):
    return {"w": 2 * p["w"]}
"""


# -- 1. every number in the JSON report is finite or null --------------------------

@pytest.mark.parametrize("strength", ["float('nan')", "float('inf')", "-float('inf')", "np.float32('nan')"])
def test_json_with_a_non_finite_unused_strength_is_strict_json(model_file, strength):
    """`reg = nan` is a number named like a strength, so --reg auto reports it
    (Regularization.value); the JSON writer refused the document."""
    path = model_file(SMOOTH.format(extra=f"reg = {strength}"))
    result = run(path, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.stderr
    document = strict_json(result.stdout)
    assert document["verdict"] == "pass"
    assert document["models"][0]["regularization"]["value"] is None


def test_json_of_several_models_with_a_non_finite_strength(model_file):
    nan = model_file(SMOOTH.format(extra="reg = float('nan')"), "nan_reg.py")
    plain = model_file(SMOOTH.format(extra=""), "plain.py")
    result = run(nan, plain, "--format", "json")
    assert result.exit_code == 0, result.output
    document = strict_json(result.stdout)
    assert [m["verdict"] for m in document["models"]] == ["pass", "pass"]


@pytest.mark.parametrize("output_format", ["text", "github", "json"])
@pytest.mark.parametrize("source", [SMOOTH.format(extra="reg = float('nan')"),
                                    SMOOTH.format(extra="lam = float('inf')"), INF_AT_A_PROBE],
                         ids=["nan-strength", "inf-strength", "inf-loss-at-a-probe"])
def test_a_report_with_non_finite_values_renders_in_every_format(model_file, tmp_path, source, output_format):
    path = model_file(source)
    junit = tmp_path / "report.xml"
    result = run(path, "--format", output_format, "--junit-xml", junit)
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "inside its own code" not in result.output
    ET.parse(junit)
    if output_format == "json":
        assert not non_finite(strict_json(result.stdout))


def _nasty_report():
    """A real report, with non-finite numbers (numpy's too) put where the
    report's own fields can carry them."""
    from gradcheck_cli.report import Regularization

    report = check(loss=lambda p: float(np.sum(p["w"] ** 2)), grad=lambda p: {"w": 2 * p["w"]},
                   params={"w": np.array([0.3, -0.7, 1.1])})
    regularization = Regularization("reg", np.float64("nan"), {"w": np.float32("inf")}, float("-inf"),
                                    "start point")
    moved = report.moved and dataclasses.replace(report.moved, lr=np.float32("nan"), jitter=float("inf"),
                                                 flipped=(("model.py:3 (maximum)", np.float64("nan")),))
    return dataclasses.replace(report, regularization=regularization, moved=moved, loss=np.float64("inf"),
                               loss_noise=np.float32("nan"))


def test_the_json_writer_maps_every_non_finite_number_to_null():
    text = json_render.dumps(_nasty_report())
    document = strict_json(text)["models"][0]
    assert document["regularization"]["value"] is None
    assert document["regularization"]["share"] == {"w": None}
    assert document["regularization"]["overall"] is None
    assert document["loss"] is None and document["loss_noise"] is None
    if document["generic_point"] is not None:
        assert document["generic_point"]["lr"] is None and document["generic_point"]["jitter"] is None
        assert document["generic_point"]["flipped"][0]["share"] is None


class _Document:
    """Anything with to_dict(): the writer's contract is the document, nested anywhere."""

    verdict = "pass"

    def to_dict(self):
        return {
            "floats": [1.5, float("nan"), (float("inf"), {"deep": np.float64("-inf")})],
            "numpy": {"f32": np.float32(0.25), "f32_nan": np.float32("nan"), "f16_inf": np.float16("inf"),
                      "int": np.int64(3), "bool": np.bool_(True), "array": np.array([1.0, np.nan])},
            "tuple": (np.float64("nan"), 2),
            "kept": {"int": 7, "bool": False, "none": None, "text": "nan"},
        }


EXPECTED = {
    "floats": [1.5, None, [None, {"deep": None}]],
    "numpy": {"f32": 0.25, "f32_nan": None, "f16_inf": None, "int": 3, "bool": True, "array": [1.0, None]},
    "tuple": [None, 2],
    "kept": {"int": 7, "bool": False, "none": None, "text": "nan"},
}


def test_non_finite_numbers_become_null_nested_anywhere():
    import io

    stream = io.StringIO()
    json_render.render(_Document(), stream)
    document = strict_json(stream.getvalue())
    assert document["models"] == [EXPECTED] and document["config"] is None and document["verdict"] == "pass"
    stream = io.StringIO()
    json_render.render_many([_Document(), ModelFailure("m.py", "broken")], stream)
    document = strict_json(stream.getvalue())
    assert document["models"][0] == EXPECTED and document["verdict"] == "error"


def test_a_finite_report_is_unchanged():
    report = check(loss=lambda p: float(np.sum(np.sin(p["w"]))), grad=lambda p: {"w": np.cos(p["w"])},
                   params={"w": np.linspace(0.1, 1, 4)})
    assert json.loads(json_render.dumps(report))["models"] == [report.to_dict()]


# -- 2. --format github: no user string starts a line or a command ------------------

# gradcheck's own workflow commands: ::error / ::warning, properties from
# file, line and title, each value escaped (no ':' or ',' left raw).
_COMMAND = re.compile(r"::(error|warning) ([^:\r\n]*)::([^\r\n]*)")
_PROPERTY = re.compile(r"(file|line|title)=([^,:\r\n]*)")


def _unescape_property(value: str) -> str:
    # The runner's order (its ActionCommand unescaping), '%25' last.
    for escaped, raw in (("%3A", ":"), ("%2C", ","), ("%0D", "\r"), ("%0A", "\n"), ("%25", "%")):
        value = value.replace(escaped, raw)
    return value


def commands(stdout: str) -> list[dict]:
    """The workflow commands in a log, checked to be gradcheck's own: every
    line the runner would read as a command (`::` after leading blanks, or
    the legacy `##[` anywhere, which it tries only where `::` is not a
    command) is an annotation with escaped properties."""
    found = []
    for line in re.split(r"\r\n|\r|\n", stdout):  # (the runner splits lines at CR too)
        if not line.lstrip().startswith("::"):
            assert "##[" not in line, f"a legacy command: {line!r}"
            continue
        match = _COMMAND.fullmatch(line)
        assert match, f"not one of gradcheck's annotations: {line!r}"
        properties = {}
        for item in match.group(2).split(","):
            prop = _PROPERTY.fullmatch(item)
            assert prop, f"a property not escaped: {item!r} in {line!r}"
            properties[prop.group(1)] = _unescape_property(prop.group(2))
        found.append({"level": match.group(1), **properties, "data": match.group(3)})
    return found


PASSING_NAME = "m\n::warning file=x::owned.py"
FAILING_NAME = "f\r\n::error file=y,line=1::owned ##[error]x.py"
BAD_BLOCKS = """
import numpy as np
W, B = "w\\n::error::blk", "b##[warning]x\\r::warning::z"
def init_params(seed=0):
    return {W: np.linspace(0.1, 1.0, 4), B: np.ones(2)}
def loss(p):
    return float(np.sum(np.sin(p[W])) + np.sum(p[B] ** 2))
def grad(p):
    return {W: 2 * np.cos(p[W]), B: 3 * p[B]}  # both wrong
"""


def test_a_file_name_or_block_name_cannot_inject_a_workflow_command(model_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    passing = model_file(SMOOTH.format(extra=""), PASSING_NAME)
    failing = model_file(BAD_BLOCKS, FAILING_NAME)
    result = run(passing, failing, "--format", "github")
    assert result.exit_code == 1, result.output
    found = commands(result.stdout)
    # an annotation per wrong block of the failing model, pointing at it
    assert [c["level"] for c in found] == ["error", "error"]
    assert all(c["file"] == FAILING_NAME for c in found)
    assert "w\n::error::blk" in found[0]["title"] and "b##[warning]x\r::warning::z" in found[1]["title"]
    assert "%0A" in found[0]["data"] and "\n" not in found[0]["data"]
    # the verdict lines name both models, escaped, each on a line of its own
    verdicts = [line for line in result.stdout.splitlines() if line.startswith(("PASS ", "FAIL "))]
    assert len(verdicts) == 2
    assert "owned.py" in verdicts[0] and "owned" in verdicts[1]


def test_every_user_string_in_github_lines_is_escaped():
    report = check(loss=lambda p: float(np.sum(np.sin(p["w"]))), grad=lambda p: {"w": 2 * np.cos(p["w"])},
                   params={"w": np.linspace(0.1, 1, 4)}, warmup="off")
    block = dataclasses.replace(report.blocks[0], name="w\n::error::blk,x:y")
    hostile = dataclasses.replace(report, model="m\r::warning::m ##[error]x", source="d\n::error::/m,1:.py",
                                  blocks=(block,), warnings=("careful\n::warning::w ##[warning]y",))
    lines = github.lines(hostile)
    found = commands("\n".join(lines))
    assert len(found) == 2 == len(lines) - 1
    assert all(c["file"].endswith("d\n::error::/m,1:.py") for c in found)
    assert "w\n::error::blk,x:y" in found[0]["title"]
    failure = ModelFailure("x\n::error::y ##[error]z", "cannot import\n::warning::z\r##[warning]w",
                           "s\n::error::.py")
    (line,) = github.lines(failure)
    (command,) = commands(line)
    assert command["file"].endswith("s\n::error::.py") and command["title"].startswith("gradcheck: x\n::error::y")


def test_a_plain_log_line_never_breaks():
    escaped = github.plain("a\n::warning::b\r\n##[error]c\u2028d\x85e\x1bf")
    assert not re.search("[\r\n\u2028\u2029\x85\x1b]", escaped) and "##[" not in escaped
    assert escaped.startswith("a") and escaped.endswith("f")


# -- 3. the pytest fixture takes every key the command line takes -------------------

def _long_name(param: click.Option) -> str:
    return next(opt[2:] for opt in param.opts if opt.startswith("--"))


# Values that are valid and not the default, where the type alone does not say one.
_SAMPLE_VALUES = {
    "set": ["REG=0"],
    "fail_above": 0.05, "warn_above": 1e-3, "good_below": 1e-8, "tiny_below": 1e-12,
    "reg": "REG", "dask": "tcp://127.0.0.1:8786", "timeout": 60, "lr": 0.01, "h": 1e-4,
    "expect_loss": 2.3, "loss_tolerance": 0.2, "overfit_factor": 5.0, "overfit_below": 0.1,
}


def sample_value(param: click.Option, tmp_path):
    """A TOML value for the option that its type accepts and that is not its
    default. A new option of a new type fails here until it has one."""
    if param.name in _SAMPLE_VALUES:
        return _SAMPLE_VALUES[param.name]
    kind = param.type
    if param.is_flag:
        return not param.default
    if isinstance(kind, click.Choice):
        return next(c for c in kind.choices if c != param.default)
    if isinstance(kind, click.Path):
        return str(tmp_path / f"{param.name}.out")
    if isinstance(kind, click.IntRange):
        return (kind.min or 0) + 3
    if type(kind).__name__ == "_CountOr":
        return 3
    if param.multiple and kind is click.STRING:
        return ["x"]
    if kind is click.STRING:
        return "x"
    raise AssertionError(f"--{_long_name(param)} ({kind!r}): add a sample value to _SAMPLE_VALUES")


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else repr(value)


def _options(command_name: str):
    """The command's settings (not --config, which names the file itself, nor
    the eager --help and --version, which answer and exit)."""
    return [p for p in main.commands[command_name].params
            if isinstance(p, click.Option) and p.expose_value and p.name != "config"]


CHECK_OPTIONS = _options("check")
OTHER_OPTIONS = sorted({p.name: p for name in main.commands if name != "check" for p in _options(name)
                        if p.name not in {q.name for q in CHECK_OPTIONS}}.values(), key=lambda p: p.name)


@pytest.fixture
def fixture_call(request, monkeypatch, tmp_path):
    """Set up the real `gradcheck` fixture for a project whose pyproject.toml
    holds ``table``, call it on a model, and return what reached check()
    (its keyword arguments, bound to check()'s signature as a call would
    be: an unknown one is the TypeError users saw) and assert_gradients()."""
    from gradcheck_cli import assertions, pipeline

    real_assert = assertions.assert_gradients
    calls = []

    def recording_check(model=None, **kwargs):
        inspect.signature(pipeline.check).bind(model, **kwargs)
        # (strict is the assertion's, recorded there: assert_gradients hands it on for Report.passed)
        calls[-1]["check"] = {k: v for k, v in kwargs.items() if k != "strict"}
        return SimpleNamespace(verdict="pass", passed=True)

    def recording_assert(model=None, **kwargs):
        calls.append({"assertion": {k: kwargs[k] for k in ("strict", "verbose") if k in kwargs}})
        return real_assert(model, **kwargs)

    monkeypatch.setattr(assertions, "check", recording_check)
    monkeypatch.setattr(assertions, "assert_gradients", recording_assert)

    def call(table: dict):
        # (a test gets one fixture value: pytest caches it, config and all)
        assert not calls, "one call per test"
        root = tmp_path / "project"
        root.mkdir()
        (root / ".git").mkdir()  # (the project's root: no config above it is read)
        # (an option whose name means another thing to another command is set in check's own table)
        own = {key for key in table if key.replace("-", "_") in PER_COMMAND}
        (root / "pyproject.toml").write_text(
            "[tool.gradcheck]\n" + "".join(f"{key} = {_toml(value)}\n" for key, value in table.items()
                                           if key not in own)
            + "[tool.gradcheck.check]\n" + "".join(f"{key} = {_toml(table[key])}\n" for key in own))
        with monkeypatch.context() as patch:
            # (the fixture reads the project of the test file that asks for it)
            patch.setattr(pytest.FixtureRequest, "path", property(lambda _: root / "test_model.py"))
            gradcheck = request.getfixturevalue("gradcheck")
        gradcheck("model.py")
        return calls[-1]

    return call


# What an empty [tool.gradcheck] hands on: nothing (check()'s defaults are the options').
NOTHING = {"assertion": {}, "check": {}}


def test_an_empty_table_hands_on_nothing(fixture_call):
    assert fixture_call({}) == NOTHING


@pytest.mark.parametrize("param", CHECK_OPTIONS, ids=lambda p: _long_name(p))
def test_the_fixture_takes_every_option_of_the_check_command(fixture_call, param, tmp_path):
    """Each option reaches check() or the assertion -- or is ignored, with
    the reason the plugin documents -- and never raises a TypeError."""
    from gradcheck_cli import pytest_plugin

    got = fixture_call({_long_name(param): sample_value(param, tmp_path)})
    ignored = getattr(pytest_plugin, "IGNORED", {})
    if param.name in ignored:
        assert got == NOTHING and ignored[param.name]
    else:
        assert got != NOTHING, f"--{_long_name(param)} in [tool.gradcheck] changed nothing the fixture does"


@pytest.mark.parametrize("param", OTHER_OPTIONS, ids=lambda p: _long_name(p))
def test_the_fixture_leaves_other_commands_options_alone(fixture_call, param, tmp_path):
    """A key of `sanity` or `sweep` is valid in [tool.gradcheck]: the fixture
    (a check) must not refuse it."""
    assert fixture_call({_long_name(param): sample_value(param, tmp_path)}) == NOTHING


def test_the_fixture_says_what_it_does_with_every_run_parameter():
    """The check command's parameters that are not check()'s: each honoured
    by the fixture or ignored with a reason, none left to chance."""
    from gradcheck_cli import cli, pytest_plugin

    handled = {**pytest_plugin.ASSERTION, **pytest_plugin.PER_CALL, **pytest_plugin.IGNORED}
    assert set(handled) == set(cli.RUN_PARAMETERS) and all(handled.values())
    assert set(cli.RUN_PARAMETERS) <= {p.name for p in main.commands["check"].params}


def test_set_and_dask_from_the_config_reach_check(fixture_call):
    got = fixture_call({"set": ["REG=0", "KEEP = 1.0"], "dask": "tcp://10.0.0.1:8786", "fail-above": 0.05})
    assert got["check"]["set"] == {"REG": "0", "KEEP": "1.0"}
    assert got["check"]["dask"] == "tcp://10.0.0.1:8786"
    assert got["check"]["thresholds"].fail_above == 0.05


def test_the_fixture_honours_set_and_every_run_option_in_a_real_run(pytester):
    """End to end, as users run it: the model is right only with SCALE = 2."""
    pytester.makepyprojecttoml("""
        [tool.gradcheck]
        set = ["SCALE=2.0"]
        strict = true
        verbose = true
        timeout = 120
        format = "json"
        junit-xml = "ignored.xml"
        save-params = "ignored.npz"
        classes = 10
        dims = 2
    """)
    pytester.makepyfile(scaled="""
        import numpy as np
        SCALE = 1.0
        def init_params(seed=0):
            return {"w": np.linspace(0.1, 1.0, 4)}
        def loss(p):
            return float(SCALE * np.sum(p["w"] ** 2))
        def grad(p):
            return {"w": 4 * p["w"]}
    """)
    pytester.makepyfile(test_scaled="""
        def test_scaled(gradcheck):
            assert gradcheck("scaled.py").verdict == "pass"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "ignored.xml").exists() and not (pytester.path / "ignored.npz").exists()


def test_the_fixture_hands_dask_to_check(pytester, monkeypatch):
    import importlib.util

    # (not imported here: dask reads its config, this 2 s timeout too, once
    # per process, and a later test's cluster would live with it)
    if importlib.util.find_spec("distributed") is None:
        pytest.skip("needs distributed")
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "2s")  # (an unreachable scheduler, quickly)
    pytester.makepyprojecttoml("""
        [tool.gradcheck]
        dask = "tcp://127.0.0.1:1"
    """)
    pytester.makepyfile(smooth=SMOOTH.format(extra=""))
    pytester.makepyfile(test_dask="""
        import pytest
        from gradcheck_cli import ModelError

        def test_dask(gradcheck):
            with pytest.raises(ModelError, match="Dask scheduler at 'tcp://127.0.0.1:1'"):
                gradcheck("smooth.py")
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
