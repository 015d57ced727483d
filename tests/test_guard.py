"""A crash is never a pass: whatever user code does to the process, the
console script exits with one of gradcheck's codes, and 0 only after a
report said pass."""

import subprocess
import sys

import pytest

from .conftest import ROOT, SAMPLES

TEMPLATE = """
import os, signal, threading, time
import numpy as np
{top}
params = {{"W": np.ones((2, 3))}}
def loss(p):
    if p["W"][1, 2] != 1.0 and p["W"][0, 0] == 1.0:  # only the probe of W[1, 2]
        {action}
    return float(np.sum(p["W"] ** 2))
def grad(p): return {{"W": 2 * p["W"]}}
"""


def gradcheck(path, *args):
    return subprocess.run([sys.executable, "-m", "gradcheck_cli", path, "--samples", "all", "--directions", "0",
                           *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


@pytest.mark.parametrize("action,says", [
    ("os._exit(0)", "exit status 0"),
    ("os._exit(3)", "exit status 3"),
    ("os.kill(os.getpid(), signal.SIGKILL)", "SIGKILL"),
    ("__import__('ctypes').string_at(0)", "SIGSEGV"),
])
@pytest.mark.parametrize("output_format", ["text", "json"])
def test_user_code_ending_the_process_exits_2_and_says_where(model_file, action, says, output_format):
    result = gradcheck(model_file(TEMPLATE.format(top="", action=action)), "--format", output_format)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "loss at W[1, 2]" in result.stderr  # what was running
    assert "PASS" not in result.stdout and '"pass"' not in result.stdout


def test_ending_the_process_at_import_names_the_import(model_file):
    path = model_file(TEMPLATE.format(top="os._exit(0)", action="pass"))
    result = gradcheck(path)
    assert result.returncode == 2
    assert f"the import of {path}" in result.stderr


def test_a_models_thread_cannot_keep_the_process_after_the_report(model_file):
    top = "threading.Thread(target=time.sleep, args=(600,)).start()"
    result = gradcheck(model_file(TEMPLATE.format(top=top, action="pass")))
    assert result.returncode == 0 and "PASS" in result.stdout


@pytest.mark.parametrize("sample,code", [("two_layer_net", 0), ("buggy_missing_bias", 1)])
def test_ordinary_verdicts_pass_through_the_guard(sample, code):
    assert gradcheck(str(SAMPLES / f"{sample}.py")).returncode == code


def _raises():
    raise ZeroDivisionError("a bug of gradcheck's own")


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="the guard forks")
@pytest.mark.parametrize("command,code,says", [
    (lambda: None, 0, ""),
    (lambda: sys.exit(1), 1, ""),
    (lambda: sys.exit(130), 130, ""),
    (_raises, 2, "ZeroDivisionError: a bug of gradcheck's own"),  # shown, not swallowed by the exit
    (lambda: __import__("os")._exit(0), 2, "exit status 0"),
])
def test_the_guard_reports_the_childs_own_code_or_why_it_has_none(capfd, command, code, says):
    from gradcheck_cli.guard import guarded

    assert guarded(command) == code
    assert says in capfd.readouterr().err
