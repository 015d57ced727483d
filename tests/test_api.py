"""The Python API: imports, rendering in rich and notebooks, completion, --help."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from rich.console import Console

import gradcheck_cli
from gradcheck_cli import Report, check

from .conftest import ROOT, SAMPLES


def test_public_names_are_importable():
    for name in gradcheck_cli.__all__:
        assert getattr(gradcheck_cli, name) is not None


def test_check_accepts_a_path_or_functions():
    by_path = check(str(SAMPLES / "cube.py"))
    by_functions = check(loss=lambda t: float(np.sum(t**3)), grad=lambda t: 3 * t**2, params=np.array([1.0, 2.0]))
    assert isinstance(by_path, Report) and by_path.verdict == "pass"
    assert by_functions.verdict == "pass"


def test_report_renders_itself_in_a_rich_console():
    out = io.StringIO()
    Console(file=out, width=120).print(check(str(SAMPLES / "cube.py")))
    assert "PASS" in out.getvalue() and "params" in out.getvalue()


def test_report_renders_itself_as_html_in_a_notebook():
    html = check(str(SAMPLES / "buggy_missing_bias.py"))._repr_html_()
    assert html.lstrip().startswith("<!DOCTYPE html>") and "FAIL" in html and "color" in html


def test_help_does_not_import_numpy():
    code = "import sys; from gradcheck_cli.cli import main; assert 'numpy' not in sys.modules, 'numpy imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_shell_completion_works():
    env = {**os.environ, "_GRADCHECK_COMPLETE": "bash_source"}
    script = subprocess.run([sys.executable, "-m", "gradcheck_cli"], env=env, capture_output=True, text=True,
                            cwd=ROOT).stdout
    assert "_gradcheck_completion" in script or "complete" in script
    env = {**os.environ, "_GRADCHECK_COMPLETE": "bash_complete", "COMP_WORDS": "gradcheck --meth",
           "COMP_CWORD": "1"}
    words = subprocess.run([sys.executable, "-m", "gradcheck_cli"], env=env, capture_output=True, text=True,
                           cwd=ROOT).stdout
    assert "--method" in words


def test_check_takes_the_command_line_s_names_for_samples_and_bands():
    """samples="all" (the fixture and the command line's word) and the
    grading bands as plain keywords, each over a Thresholds' band."""
    from gradcheck_cli import Thresholds

    report = check(str(SAMPLES / "cube.py"), samples="all", fail_above=0.5, warn_above=1e-3)
    assert report.settings.samples is None
    assert (report.settings.thresholds.fail_above, report.settings.thresholds.warn_above) == (0.5, 1e-3)
    mixed = check(str(SAMPLES / "cube.py"), thresholds=Thresholds(fail_above=0.2), good_below=1e-9)
    assert (mixed.settings.thresholds.fail_above, mixed.settings.thresholds.good_below) == (0.2, 1e-9)
    with pytest.raises(ValueError, match=r"samples= \(--samples\): 'some' is neither a whole number nor 'all'"):
        check(str(SAMPLES / "cube.py"), samples="some")
    with pytest.raises(ValueError, match="good_below <= warn_above <= fail_above"):
        check(str(SAMPLES / "cube.py"), warn_above=0.5)


def test_a_checks_file_given_to_check_names_its_layers():
    """check() checks one model; a file of layer(...) checks holds several,
    and the error says how to name one (the command line checks them all)."""
    from gradcheck_cli import ModelError

    target = str(SAMPLES / "layers_check.py")
    with pytest.raises(ModelError, match="is a checks file: it assigns the layers affine, relu") as caught:
        check(target)
    assert f"'{target}:affine'" in str(caught.value)
    assert check(f"{target}:affine").verdict == "pass"
