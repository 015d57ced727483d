"""The command line: options, exit codes, messages and the JSON report."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import cli, settings
from gradcheck_cli.cli import main

from .conftest import ROOT, SAMPLES

SOFTMAX = str(SAMPLES / "softmax.py")


def run(*args, env=None):
    return CliRunner().invoke(main, [*map(str, args)], env=env, prog_name="gradcheck")


def strict_json(text):
    """Parse JSON, rejecting NaN and Infinity, which strict parsers refuse."""

    def reject(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=reject)


def only_report(text):
    """The one model's report in a --format json document (docs/json.md)."""
    document = strict_json(text)
    assert len(document["models"]) == 1 and document["error"] is None
    return document["models"][0]


def test_model_is_the_default_command():
    plain, explicit = run(SOFTMAX), run("check", SOFTMAX)
    assert plain.exit_code == explicit.exit_code == 0
    assert "PASS" in plain.stdout and "PASS" in explicit.stdout


def test_options_may_come_before_the_model():
    result = run("--samples", "3", "--format", "json", SOFTMAX)
    assert result.exit_code == 0
    assert only_report(result.stdout)["blocks"][0]["checked"] == 3


def test_text_report_names_blocks_and_verdict():
    result = run(SOFTMAX, env={"COLUMNS": "200"})  # (at 80, the shape column gives way)
    assert result.exit_code == 0
    for text in ("block", "W", "b", "(5, 4)", "10/20", "PASS", "evaluations"):
        assert text in result.stdout


def test_json_report_schema():
    result = run(SOFTMAX, "--format", "json")
    document = strict_json(result.stdout)
    assert list(document) == ["schema_version", "tool_version", "verdict", "config", "models", "error"]
    assert document["schema_version"] == 2 and document["verdict"] == "pass" and len(document["models"]) == 1
    report = document["models"][0]
    assert {"verdict", "model", "evaluations", "settings", "kinked", "blocks", "warnings"} <= set(report)
    assert report["settings"] == {"method": "central", "h": 1e-5, "samples": 10, "directions": 2, "seed": 0,
                                  "fail_above": 1e-2, "warn_above": 1e-4, "good_below": 1e-7, "tiny_below": 0.0,
                                  "max_evals": 500, "track_kinks": True}
    block = report["blocks"][0]
    assert {"name", "shape", "size", "checked", "grade", "max_rel_error", "worst", "kink_crossings", "dims"} <= set(block)
    assert block["shape"] == [5, 4] and block["size"] == 20 and block["checked"] == 10
    assert len(block["dims"]) == 10 and len(block["directions"]) == 2
    dim = block["dims"][0]
    assert {"index", "analytic", "numeric", "rel_error", "grade", "h", "kink"} <= set(dim)
    assert len(dim["index"]) == 2
    assert set(block["worst"]) >= {"index", "analytic", "numeric", "rel_error"}


def test_json_stays_valid_when_the_model_prints(model_file):
    path = model_file("""
        import numpy as np
        print("importing!")
        def init_params(seed=0):
            print("init!")
            return {"w": np.array([1.0, 2.0])}
        def loss(p):
            print("loss!", p["w"])
            return float(np.sum(p["w"] ** 2))
        def grad(p):
            print("grad!")
            return {"w": 2 * p["w"]}
    """)
    result = run(path, "--format", "json")
    assert result.exit_code == 0
    assert strict_json(result.stdout)["verdict"] == "pass"
    assert "loss!" in result.stderr and "importing!" in result.stderr


def test_json_has_no_nan_when_a_dimension_broke(model_file):
    path = model_file("""
        import numpy as np
        params = {"w": np.array([1.0, 2.0])}
        def loss(p):
            if p["w"][0] > 1.0:
                raise ValueError("no")
            return float(np.sum(p["w"] ** 2))
        def grad(p): return {"w": 2 * p["w"]}
    """)
    result = run(path, "--format", "json")
    # w[0] = 1.0 is on the wall: no step measures it (not verified, not failed).
    assert result.exit_code == 0, result.output
    report = only_report(result.stdout)
    broken = report["blocks"][0]["dims"][0]
    assert broken["numeric"] is None and broken["grade"] == "unverified" and "ValueError" in broken["message"]


def test_exit_1_on_failure_and_names_the_block():
    result = run(SAMPLES / "buggy_missing_bias.py")
    assert result.exit_code == 1
    assert "FAIL" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("b "))
    assert "fail" in row


# A correct gradient of a loss computed in float32: a warning about the
# model, and values too uncertain to verify, but nothing wrong.
WARNING_MODEL = """
import numpy as np
params = {"w": np.array([1.0, 2.0])}
def loss(p): return np.float32(np.sum(p["w"] ** 2))
def grad(p): return {"w": 2 * p["w"]}
"""

# Off by 1e-5 relative: a confirmed disagreement, inside the notes' "warn" band.
SLIGHTLY_WRONG = """
import numpy as np
params = {"w": np.array([1.0, 2.0])}
def loss(p): return float(np.sum(p["w"] ** 2))
def grad(p): return {"w": 2 * p["w"] * (1 + 1e-5)}
"""


def test_warnings_exit_0_unless_strict(model_file):
    path = model_file(WARNING_MODEL)
    relaxed, strict = run(path), run(path, "--strict")
    assert "WARN" in relaxed.stdout
    assert relaxed.exit_code == 0
    assert strict.exit_code == 1


def test_thresholds_are_options(model_file):
    path = model_file(SLIGHTLY_WRONG)
    assert "FAIL" in run(path).stdout
    assert "PASS" in run(path, "--good-below", "1e-4").stdout


def test_unusable_model_exits_2_with_a_message_and_no_traceback(model_file):
    result = run(model_file("def loss(p): return 0.0\nparams = {'w': [1.0]}\n"))
    assert result.exit_code == 2
    assert result.stderr.startswith("gradcheck: error: ")
    assert "defines loss but no grad" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_user_exception_shows_only_the_users_frames(model_file):
    path = model_file("""
        import numpy as np
        params = {"w": np.ones(2)}
        def helper(p):
            return p["nope"]
        def loss(p):
            return helper(p)
        def grad(p): return {"w": p["w"]}
    """)
    result = run(path)
    assert result.exit_code == 2
    assert "loss raised KeyError" in result.stderr
    assert 'return p["nope"]' in result.stderr and "in helper" in result.stderr
    assert "gradcheck_cli" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--samples", "0"], "must be at least 1"),
        (["--samples", "many"], "neither a whole number nor 'all'"),
        (["--h", "0"], "must be a positive number"),
        (["--h", "big"], "neither a number nor 'auto'"),
        (["--method", "forward"], "--method"),
        (["--h", "-1e-5"], "--h"),
        (["--directions", "-1"], "--directions"),
        (["--format", "xml"], "--format"),
        (["--warn-above", "0.5"], "good_below <= warn_above <= fail_above"),
    ],
)
def test_bad_options_exit_2_naming_the_option(args, message):
    result = run(SOFTMAX, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_missing_model_argument_exits_2():
    result = run("check")
    assert result.exit_code == 2
    assert "MODEL" in result.stderr


def test_samples_all_checks_every_coordinate():
    report = only_report(run(SOFTMAX, "--samples", "all", "--format", "json").stdout)
    assert [b["checked"] for b in report["blocks"]] == [20, 4]
    assert all(b["directions"] == [] for b in report["blocks"])


def test_seed_changes_the_sampled_coordinates():
    first = only_report(run(SOFTMAX, "--format", "json", "--seed", "1").stdout)
    second = only_report(run(SOFTMAX, "--format", "json", "--seed", "2").stdout)
    again = only_report(run(SOFTMAX, "--format", "json", "--seed", "1").stdout)
    indices = lambda r: [d["index"] for d in r["blocks"][0]["dims"]]  # noqa: E731
    assert indices(first) == indices(again)
    assert indices(first) != indices(second)


def test_params_file(tmp_path):
    npz = tmp_path / "weights.npz"
    np.savez(npz, W=np.full((5, 4), 0.3), b=np.zeros(4))
    report = only_report(run(SOFTMAX, "--params", npz, "--format", "json").stdout)
    assert report["verdict"] == "pass"
    assert report["blocks"][1]["dims"][0]["index"] == [0]


def test_verbose_lists_every_dimension():
    result = run(SAMPLES / "cube.py", "-v")
    assert result.exit_code == 0
    for index in ("[0]", "[1]", "[2]"):
        assert index in result.stdout


def test_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("gradcheck, version ")


def test_help_shows_the_check_options_examples_and_commands():
    result = run("--help")
    assert result.exit_code == 0
    for text in ("Usage: gradcheck [OPTIONS] [MODEL]...", "--samples", "--h", "Examples:", "Exit codes", "Commands:"):
        assert text in result.stdout


def test_cli_defaults_agree_with_settings():
    assert cli.DEFAULT_STEPS == settings.DEFAULT_STEPS
    assert cli.METHODS == settings.METHODS
    assert cli.DEFAULT_MAX_EVALS == settings.DEFAULT_MAX_EVALS
    assert cli.DEFAULT_SAMPLES == settings.DEFAULT_SAMPLES
    assert cli.DEFAULT_DIRECTIONS == settings.DEFAULT_DIRECTIONS
    assert cli.DEFAULT_SEED == settings.DEFAULT_SEED
    t = settings.Thresholds()
    assert cli.DEFAULT_THRESHOLDS == {"fail_above": t.fail_above, "warn_above": t.warn_above,
                                      "good_below": t.good_below, "tiny_below": t.tiny_below}


def test_python_dash_m():
    result = subprocess.run([sys.executable, "-m", "gradcheck_cli", str(SAMPLES / "cube.py")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "PASS" in result.stdout


def test_the_users_files_are_not_modified(tmp_path):
    npz = tmp_path / "weights.npz"
    np.savez(npz, W=np.full((5, 4), 0.3), b=np.zeros(4))
    before_npz, before_model = npz.read_bytes(), (SAMPLES / "softmax.py").read_bytes()
    run(SOFTMAX, "--params", npz)
    assert npz.read_bytes() == before_npz
    assert (SAMPLES / "softmax.py").read_bytes() == before_model


def test_the_console_script_answers_version_without_click_and_agrees_with_the_metadata():
    # --version is answered before click and the command definitions are
    # imported (~55 ms of start-up); the number is the one pip installed.
    import subprocess
    import sys
    from importlib.metadata import version

    code = ("import sys; sys.argv = ['gradcheck', '--version']; from gradcheck_cli.launch import run; run(); "
            "print('click' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [f"gradcheck, version {version('gradcheck-cli')}", "False"]


@pytest.mark.parametrize("columns", ["100", "60"])
def test_the_console_script_prints_clicks_help_at_every_width(columns):
    env = {**os.environ, "COLUMNS": columns}
    done = subprocess.run([sys.executable, "-m", "gradcheck_cli", "--help"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: gradcheck [OPTIONS] [MODEL]...\n") and "-h, --help " in done.stdout


def test_the_usage_says_a_model_is_optional():
    # With no MODEL, gradcheck checks the `models` of [tool.gradcheck].
    assert run("--help").stdout.startswith("Usage: gradcheck [OPTIONS] [MODEL]...\n")


@pytest.mark.parametrize("command", [[], ["check"], ["sweep"], ["taylor"], ["sanity"]])
def test_every_help_lists_both_help_options_and_the_version(command):
    out = run(*command, "--help", env={"COLUMNS": "100"}).stdout
    assert "-h, --help " in out and "--version " in out


@pytest.mark.parametrize("command", [[], ["check"], ["sweep"], ["taylor"], ["sanity"]])
def test_no_help_shows_an_unset_bound(command):
    # (click describes a range with neither bound as "x<=None": --expect-loss)
    out = run(*command, "--help", env={"COLUMNS": "200"}).stdout
    assert "None" not in out


@pytest.mark.parametrize("args", [[SOFTMAX, "--version"], ["--samples", "3", "--version"], ["--version", SOFTMAX],
                                  ["check", "--version"], ["sweep", "--version"], ["sweep", SOFTMAX, "--version"],
                                  ["sanity", SOFTMAX, "--version"]])
def test_version_anywhere_on_the_line(args):
    from importlib.metadata import version

    # Answered before the model is loaded, and the line the console script prints alone.
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"gradcheck, version {version('gradcheck-cli')}\n"


# Configuration files that stop a check: not TOML, a key no option has.
BROKEN_CONFIGS = ["[tool.gradcheck\n", "[tool.gradcheck]\nbogus_key = 1\n"]


def version_line():
    from importlib.metadata import version

    return f"gradcheck, version {version('gradcheck-cli')}\n"


@pytest.mark.parametrize("config", BROKEN_CONFIGS)
@pytest.mark.parametrize("args", [["m.py", "-h"], ["m.py", "--version"], ["sweep", "-h"], ["sweep", "--version"],
                                  ["sanity", "m.py", "--help"], ["--config", "missing.toml", "--version"],
                                  ["--config", "missing.toml", "m.py", "-h"]])
def test_help_and_version_read_no_configuration(config, args, tmp_path, monkeypatch):
    # The file is the project's to fix; what the options are and which
    # version runs is what a user asks to fix it.
    (tmp_path / "pyproject.toml").write_text(config)
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: gradcheck") or result.stdout == version_line()


@pytest.mark.parametrize("answer", ["-h", "--help", "--version"])
@pytest.mark.parametrize("line", [["{}", "--seed", "1", SOFTMAX], ["--seed", "1", "{}", SOFTMAX],
                                  ["--samples", "3", SOFTMAX, "{}"], [SOFTMAX, "{}", "--seed", "1"],
                                  ["-v", "{}"], ["{}", "--seed", "not-a-number"]])
def test_help_and_version_anywhere_among_the_check_options(answer, line):
    # Options come before or after the model, these too: the answer is the
    # one `gradcheck -h` / `gradcheck --version` gives, whatever surrounds it.
    result = run(*[answer if word == "{}" else word for word in line], env={"COLUMNS": "100"})
    alone = run(answer, env={"COLUMNS": "100"})
    assert result.exit_code == alone.exit_code == 0, result.output
    assert result.stdout == alone.stdout
    assert alone.stdout == version_line() if answer == "--version" else "Commands:" in alone.stdout


# A model whose gradient ends the process: only the exit guard (the console
# script's forked child) can say so; unguarded, gradcheck would exit 0.
EXITER = """
import os
import numpy as np
params = {"w": np.ones(3)}
def loss(p): return float(np.sum(p["w"] ** 2))
def grad(p): os._exit(0)
"""


@pytest.mark.parametrize("args, env", [
    (["exiter.py", "--junit-xml", "-h"], {}),  # an option's value that reads like an option
    (["exiter.py", "--junit-xml", "--version"], {}),
    (["exiter.py", "--save-params", "--help"], {}),
    (["--", "-h"], {}),  # after --, a model's path (a directory of models named -h)
    (["exiter.py"], {"_GRADCHECK_COMPLETE": ""}),  # set but empty: click completes nothing
])
def test_the_exit_guard_holds_unless_click_answers_the_line_itself(args, env, tmp_path):
    (tmp_path / "exiter.py").write_text(EXITER)
    if "--" in args:
        (tmp_path / "-h").mkdir()
        (tmp_path / "-h" / "exiter.py").write_text(EXITER)
    done = subprocess.run([sys.executable, "-m", "gradcheck_cli", *args], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, **env}, timeout=120)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "the process was ended while running grad" in done.stderr


@pytest.mark.parametrize("word, says", [("swep", "no command or model 'swep'. Did you mean 'sweep'?"),
                                        ("chek", "no command or model 'chek'. Did you mean 'check'?"),
                                        ("sanit", "no command or model 'sanit'. Did you mean 'sanity'?"),
                                        ("help", "no command or model 'help': run 'gradcheck --help'"),
                                        ("version", "no command or model 'version': run 'gradcheck --version'")])
def test_a_first_word_that_is_no_model_but_reads_as_a_command_is_an_error(word, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(word, SOFTMAX)
    assert result.exit_code == 2
    assert says in result.stderr and "Traceback" not in result.output
    assert "PASS" not in result.stdout  # (the rest of the line is not checked as if the word were a model)


def test_help_before_a_command_says_that_commands_help(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("help", "sweep")
    assert result.exit_code == 2 and "run 'gradcheck sweep --help'" in result.stderr


@pytest.mark.parametrize("word", ["swep", "chek", "help", "version"])
@pytest.mark.parametrize("kind", ["module", "directory"])
def test_a_model_named_like_a_command_is_checked(word, kind, tmp_path, monkeypatch):
    # A model that exists is never taken for a mistyped command.
    source = (SAMPLES / "cube.py").read_text()
    if kind == "module":  # (gradcheck swep: the module swep, imported from the working directory)
        (tmp_path / f"{word}.py").write_text(source)
    else:
        (tmp_path / word).mkdir()
        (tmp_path / word / "cube.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    result = run(word)
    assert result.exit_code == 0, result.output
    assert "PASS" in result.stdout


def test_a_first_word_far_from_every_command_is_a_model_not_found(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("svm")
    assert result.exit_code == 2
    assert "no model file or module named 'svm'" in result.stderr and "Did you mean" not in result.stderr


@pytest.mark.parametrize("config, args, names", [
    ("", ["-v", "-q"], ["-v/--verbose and -q/--quiet"]),
    ("", ["--verbose", "--quiet"], ["-v/--verbose and -q/--quiet"]),
    ("verbose = true", ["-q"], ["-v/--verbose (verbose = true in pyproject.toml)", "-q/--quiet"]),
    ("quiet = true", ["-v"], ["-v/--verbose and -q/--quiet (quiet = true in pyproject.toml)"]),
    ("verbose = true\nquiet = true", [], ["(verbose = true in pyproject.toml)", "(quiet = true in pyproject.toml)"]),
])
def test_verbose_and_quiet_together_are_a_usage_error_naming_both(config, args, names, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(f"[tool.gradcheck]\n{config}\n")
    monkeypatch.chdir(tmp_path)
    result = run(SOFTMAX, *args)
    assert result.exit_code == 2
    assert "ask for opposite reports" in result.stderr
    for name in names:
        assert name in result.stderr
    assert result.stdout == ""


COMMANDS = [[], ["check"], ["sweep"], ["taylor"], ["sanity"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_line_fits_80_columns(command):
    out = run(*command, "--help", env={"COLUMNS": "80"}).stdout
    assert max(len(line) for line in out.splitlines()) <= 80, [line for line in out.splitlines() if len(line) > 80]


def option_helps(name: str):
    """(option, help as --help shows it) of each option of a command."""
    import click

    command = main.commands[name]
    ctx = click.Context(command, info_name=name)
    return [(param, param.get_help_record(ctx)[1]) for param in command.get_params(ctx)
            if isinstance(param, click.Option)]


@pytest.mark.parametrize("name", ["check", "sweep", "taylor", "sanity"])
def test_an_options_help_says_its_default_once_in_one_bracket(name):
    # (click adds "[default: ...; range]" to a help that may say a default itself)
    import re

    for param, text in option_helps(name):
        assert len(re.findall(r"\bdefault\b", text)) <= 1, (param.opts, text)
        assert text.count("  [") <= 1, (param.opts, text)


@pytest.mark.parametrize("name", ["check", "sweep", "taylor", "sanity"])
def test_a_shared_options_help_speaks_of_what_its_command_does(name):
    # --seed and --config are every command's; their help must not promise
    # sampling to a command that samples nothing, or `models` to one that
    # takes a single MODEL.
    import click

    command = main.commands[name]
    samples = any(param.name == "samples" for param in command.params)
    several = any(isinstance(param, click.Argument) and param.nargs == -1 for param in command.params)
    for param, text in option_helps(name):
        assert samples or "sampling" not in text, (param.opts, text)
        assert several or "`models`" not in text, (param.opts, text)
