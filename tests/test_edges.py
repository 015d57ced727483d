"""Edges found by the second review: a keyword's None, a deadline that
fires at once, --timeout past what a timer holds, odd thread variables,
the package's sanity, numpy's bools as flags, options before a command's
name, repeated options, and a folder named as a command."""

import collections
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import CheckTimeout, assert_gradients, check, sanity_checks, settings, sweep, values
from gradcheck_cli.cli import main
from gradcheck_cli.report import Report

from .conftest import SAMPLES

CUBE = str(SAMPLES / "cube.py")


# -- None for a keyword typed `... | None` ------------------------------------------------

def test_none_is_the_default_of_a_keyword_typed_to_take_it():
    """check(reg=None, warmup=None) is check() as the signature says (both
    are `str | None`), and the generic point is checked as by default."""
    report = check(CUBE, reg=None, warmup=None, samples=1)
    assert report.generic is not None
    assert report.verdict == check(CUBE, samples=1).verdict


@pytest.mark.parametrize("function", [check, sweep, sanity_checks.sanity], ids=lambda f: f.__name__)
def test_none_for_any_keyword_typed_to_take_it_is_its_default(function):
    """The rule is the annotation's, for every keyword of every function: None
    is the default, or None itself where the parser gives None a meaning
    (samples=None: every coordinate)."""
    table = {"check": values.CHECK, "sweep": values.SWEEP, "sanity": values.SANITY}[function.__name__]
    defaults = values.nullable(function)
    for name in table.keys() & defaults.keys():
        given = values.parse_keywords(function.__name__, {name: None}, table, defaults)[name]
        if table[name].takes_none:
            assert given is None, name
        else:
            assert given == (None if defaults[name] is None else table[name].parse(defaults[name])), name


# -- a deadline that fires at once --------------------------------------------------------

def test_a_tiny_timeout_raises_check_timeout_or_returns_a_report():
    """The timer can fire at any line after it is armed, before the model is
    loaded or as the check ends: only CheckTimeout (or a report) comes out,
    never the internal stop signal."""
    seen = collections.Counter()
    for timeout in (1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2):
        for _ in range(20):
            try:
                seen[type(check(CUBE, timeout=timeout, samples=1, warmup="off")).__name__] += 1
            except CheckTimeout:
                seen["CheckTimeout"] += 1
            except BaseException as exc:  # noqa: B036  (what leaked is the finding)
                seen[type(exc).__name__] += 1
    assert set(seen) <= {"CheckTimeout", Report.__name__}, seen
    # Nor does a stop that lands in gradcheck's own clean-up leave the model's module behind.
    assert not [name for name in sys.modules if name.startswith("gradcheck_user_")]


def test_a_stop_waits_for_gradcheck_s_own_bookkeeping_and_comes_just_after():
    """The --timeout alarm is raised at whatever line runs: where that is
    gradcheck putting the process back in order (a model's modules taken
    out of sys.modules), it waits until that is done, then stops the check."""
    from gradcheck_cli.errors import StopSignal
    from gradcheck_cli.pipeline import _deadline
    from gradcheck_cli.process_state import shielded

    with pytest.raises(StopSignal):
        with _deadline(0.001):
            with shielded():
                ends = time.monotonic() + 0.1
                while time.monotonic() < ends:  # (the alarm is due long before this ends)
                    pass
                finished = True
            ends = time.monotonic() + 10
            while time.monotonic() < ends:
                pass
    assert finished


# -- --timeout past what a clock holds ----------------------------------------------------

def test_a_timeout_past_any_clock_runs_the_command_line_without_a_thread_s_traceback():
    result = subprocess.run([sys.executable, "-m", "gradcheck_cli", CUBE, "-q", "--timeout", "1e12"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr


def test_the_overrun_watch_waits_for_its_deadline_past_the_timer_s_limit(monkeypatch):
    """A wait longer than TIMER_LIMIT is waited in spells: the run is ended
    after its deadline and its grace, not when the first spell is over."""
    from gradcheck_cli import cli, guard, settings

    monkeypatch.setattr(settings, "TIMER_LIMIT", 0.02)
    monkeypatch.setattr(cli, "OVERRUN_GRACE", 0.1)
    monkeypatch.setattr(guard, "active", lambda: True)
    ended = threading.Event()
    started = time.monotonic()
    cli._overrun_timer(started + 0.2, lambda: ended.set())
    assert ended.wait(10)
    assert time.monotonic() - started >= 0.3
    cancelled = threading.Event()
    cli._overrun_timer(time.monotonic() + 0.1, cancelled.set).set()
    assert not cancelled.wait(0.5)


# -- thread variables ---------------------------------------------------------------------

@pytest.mark.parametrize("text", ["²", "99999999999999999999", str(settings.MAX_BLAS_THREADS + 1), "-2", "many"])
def test_a_thread_variable_that_is_no_count_leaves_every_process_its_own(monkeypatch, text):
    from gradcheck_cli import executors

    monkeypatch.setenv("OMP_NUM_THREADS", text)
    assert executors.blas_share(2) is None


def test_a_thread_variable_that_is_a_count_is_every_process_s(monkeypatch):
    from gradcheck_cli import executors

    monkeypatch.setenv("OMP_NUM_THREADS", " 3,1")
    assert executors.blas_share(2) == 3


def test_a_check_with_workers_runs_under_an_absurd_thread_variable(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "99999999999999999999")
    assert check(CUBE, jobs=2, samples=1, warmup="off").verdict == "pass"


# -- the package's sanity -----------------------------------------------------------------

SANITY_IDENTITY = """
import inspect, pickle, pydoc, sys
if sys.argv[1] == "module first":
    import gradcheck_cli.sanity as old
    from gradcheck_cli import sanity
else:
    from gradcheck_cli import sanity
    import gradcheck_cli.sanity as old
import gradcheck_cli
from gradcheck_cli.sanity import SanityReport, sanity as function
from gradcheck_cli.sanity_checks import sanity as real
assert sanity is real and gradcheck_cli.sanity is real and function is real and old is real
assert inspect.isfunction(sanity) and pickle.loads(pickle.dumps(sanity)) is real
assert "function sanity" in pydoc.render_doc(sanity, renderer=pydoc.plaintext)
assert old.SanityReport is SanityReport
"""


@pytest.mark.parametrize("order", ["module first", "function first"])
def test_the_package_s_sanity_is_the_function_whatever_was_imported_before(order):
    """`import gradcheck_cli.sanity` (the old module's path) binds the module
    to the package's name as it ends; the name stays the function: one
    that pickles, inspect knows and help() shows."""
    result = subprocess.run([sys.executable, "-c", SANITY_IDENTITY, order], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


# -- numpy's bools as flags ---------------------------------------------------------------

@pytest.mark.parametrize("flag", [np.True_, np.False_])
def test_a_numpy_bool_is_a_flag_s_value(flag):
    """strict=(errors < tol).all() is a numpy bool: it means what the Python bool does."""
    report = check(CUBE, strict=flag, track_kinks=flag, samples=1, warmup="off")
    assert report.settings.strict is bool(flag) and type(report.settings.strict) is bool


def test_assert_gradients_reads_verbose_as_every_flag_is_read():
    with pytest.raises(ValueError, match=r"^assert_gradients\(\): invalid value for verbose= .*'false' must be true "
                                         r"or false"):
        assert_gradients(CUBE, verbose="false", samples=1, warmup="off")
    assert assert_gradients(CUBE, verbose=np.True_, samples=1, warmup="off").passed


# -- options before a command's name, repeated options, a folder named as a command --------

def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


def test_options_before_a_command_s_name_are_a_usage_error_showing_the_line_in_order():
    """A command's options follow its name, as in any click program: `-q
    sanity m.py` checked a model named 'sanity', then m.py."""
    result = run("-q", "sanity", CUBE, "--classes", "3")
    assert result.exit_code == 2 and result.stdout == ""
    assert f"options go after the command's name: 'gradcheck sanity -q {CUBE} --classes 3'" in result.stderr


@pytest.mark.parametrize("asking", [["--help"], ["-h"], ["--version"], ["-h", "--version"]])
@pytest.mark.parametrize("command", ["sweep", "sanity"])
def test_help_or_the_version_before_a_command_s_name_answer_for_that_command(asking, command, tmp_path,
                                                                              monkeypatch):
    """Help and the version answer anywhere on a line: `gradcheck --help
    sweep` is sweep's help (not a usage error about the order), and, as
    any answer, reads no configuration."""
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck]\nbogus = 1\n")
    monkeypatch.chdir(tmp_path)
    result = run(*asking, command)
    expected = run(command, *asking)
    assert result.exit_code == expected.exit_code == 0, result.stderr
    assert result.stdout == expected.stdout and result.stdout


def test_an_option_s_value_is_skipped_to_find_the_first_word():
    result = run("--samples", "3", "sanit")
    assert result.exit_code == 2 and "no command or model 'sanit'. Did you mean 'sanity'?" in result.stderr
    result = run("--format", "json", "sweep", CUBE)
    assert result.exit_code == 2 and "options go after the command's name: 'gradcheck sweep --format json" in \
        result.stderr
    assert json.loads(result.stdout)["error"].startswith("usage: options go after")


def test_a_value_that_is_a_command_s_name_is_a_value(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("--junit-xml", "sweep", CUBE, "--samples", "1", "--warmup", "off", "-q")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "sweep").read_text().startswith("<?xml")


def test_a_repeated_config_or_format_is_its_last_as_click_takes_it(tmp_path):
    first, last = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text("[tool.gradcheck]\nsamples = 1\n")
    last.write_text("[tool.gradcheck]\nwarmup = 'off'\n")
    result = run("--config", first, "--config", last, CUBE, "-q")
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stdout.split())  # (the line is wrapped at the report's width)
    assert f"config: {last} sets warmup" in said and str(first) not in said
    # (an error before any check is written as the format the line asks for: the last one)
    result = run("--format", "text", "--format", "json", "swep")
    assert result.exit_code == 2 and json.loads(result.stdout)["error"].startswith("usage: no command or model")


@pytest.mark.parametrize("command, says", [
    ("check", "'check' is the command, not the path ./check: 'gradcheck ./check' (or 'gradcheck check check') "
              "checks that path"),
    ("sweep", "'sweep' is the command, not the path ./sweep: 'gradcheck sweep ./sweep' runs sweep on it, "
              "'gradcheck ./sweep' checks it"),
])
def test_a_folder_named_as_a_command_is_said_when_the_command_finds_no_model(tmp_path, monkeypatch, command, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / command).mkdir()
    shutil.copy(CUBE, tmp_path / command / "cube.py")
    result = run(command)
    assert result.exit_code == 2 and says in result.stderr
    assert run(f"./{command}", "--samples", "1", "--warmup", "off", "-q").exit_code == 0
    # (no such folder, no such hint)
    os.rename(tmp_path / command, tmp_path / "elsewhere")
    assert "is the command, not the path" not in run(command).stderr
