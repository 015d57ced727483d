"""The text report is laid out, never cut, at any width from 60 columns up.

Rendered as a person sees it: through rich's console at 60/80/100/200
columns, through a real terminal (tmux), and piped (the width rule). What
is asserted is structure (no line wider than the console, no ellipsis, no
trailing blank, every cell a reader judges by whole), never round-off digits.
"""

from __future__ import annotations

import dataclasses
import io
import os
import re
import shutil
import subprocess
import time
import uuid

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console

from gradcheck_cli import check
from gradcheck_cli.render import text
from gradcheck_cli.report import Diagnosis, ModelFailure

from .conftest import ROOT, SAMPLES

WIDTHS = (60, 80, 100, 200)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
GRADECHECK = str(ROOT / ".venv" / "bin" / "gradcheck") if (ROOT / ".venv" / "bin" / "gradcheck").exists() \
    else shutil.which("gradcheck") or "gradcheck"

# Six blocks with names as long as a real model's (a word2vec with subword
# hashing), one of them wrong by a factor: its reasons go under the table.
WORD2VEC = '''
import numpy as np

_rng = np.random.default_rng(0)
NAMES = ["embeddings.input_vectors_for_center_words", "embeddings.output_vectors", "context_projection.weight",
         "context_projection.bias", "negative_sampling.bias", "subword_hash.embeddings"]
params = {name: _rng.standard_normal((4, 3) if i % 2 == 0 else (5,)) for i, name in enumerate(NAMES)}


def loss(p):
    return sum((i + 1) * np.sum(np.log(np.cosh(p[name]))) for i, name in enumerate(NAMES))


def grad(p):
    out = {name: (i + 1) * np.tanh(p[name]) for i, name in enumerate(NAMES)}
    out["subword_hash.embeddings"] = out["subword_hash.embeddings"] * 2  # wrong by a factor
    return out
'''


def _float32_report():
    """A report heavy with warnings and notes."""
    return check(loss=lambda p: np.float32(np.sum(p["w"] ** 2)), grad=lambda p: {"w": 2 * p["w"]},
                 params={"w": np.array([1, 2], dtype=np.float32)})


def _with_diagnosis(report):
    """A failing report whose failing blocks carry a (long) diagnosis."""
    blocks = tuple(dataclasses.replace(b, diagnosis=Diagnosis(
        "ratio", f"analytic ≈ 0.5 × numeric in every value of {b.name} (spread 1e-9 over 4 values): a factor "
                 "of 2 dropped, e.g. the derivative of x² taken as x", {"ratio": 0.5}))
                   if b.grade == "fail" else b for b in report.blocks)
    return dataclasses.replace(report, blocks=blocks)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("width")
    (folder / "word2vec_like.py").write_text(WORD2VEC)
    return {
        "two_layer_net": check(str(SAMPLES / "two_layer_net.py")),
        "missing_bias": _with_diagnosis(check(str(SAMPLES / "buggy_missing_bias.py"))),
        "svm_at_kink": check(str(SAMPLES / "svm_at_kink.py")),
        "word2vec_like": check(str(folder / "word2vec_like.py")),
        "float32": _float32_report(),
    }


def render(renderable, width: int, *, color: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=color, color_system="standard" if color else None,
                      highlight=False, markup=False, emoji=False)
    console.print(renderable)
    return ANSI.sub("", out.getvalue())


def assert_laid_out(output: str, width: int, *, trailing: bool = True) -> None:
    """No line wider than ``width``, none cut with an ellipsis, none ending in a blank."""
    for line in output.splitlines():
        assert cell_len(line) <= width, f"{cell_len(line)} > {width}: {line!r}"
        assert "…" not in line, line
        if trailing:
            assert line == line.rstrip(), f"trailing blank: {line!r}"


def assert_cells_whole(output: str, report, *, same_process: bool = True) -> None:
    """Each check's block rows (or records): the block's name starts a
    line, and its checked count, max rel err, worst-at and grade are whole
    on it or the lines just after it (a narrow layout's second line).
    Output from another process (the console script in a terminal) may
    differ from ``report`` in round-off: there the error and the worst
    dimension are matched by form, not value."""
    lines = output.splitlines()
    for name in {b.name for b in report.blocks}:
        rows = [i for i, line in enumerate(lines) if line.startswith(name + " ")]
        blocks = [b for c in report.checks() for b in c.blocks if b.name == name]
        assert len(rows) >= len(blocks), (name, output)
        for row, block in zip(rows, blocks):
            near = "\n".join(lines[row:row + 4])
            assert text._checked(block) in near, (name, near)
            assert re.search(rf"\b{block.grade}\b", near), (name, near)
            if same_process:
                assert text._error(block.max_rel_error) in near, (name, near)
                if block.worst is not None:
                    assert block.worst.label in near, (name, near)
            else:
                assert re.search(r"\d\.\de[+-]\d\d|  -  ", near), (name, near)  # (-: nothing measurable)
                if block.worst is not None:
                    assert re.search(r"\[[\d, ]+\]|direction \d+", near), (name, near)


def assert_values_shown(output: str, report) -> None:
    """The worst values are somewhere, whole (in the table, or under it)."""
    for check_ in report.checks():
        for block in check_.blocks:
            if block.worst is not None:
                analytic, numeric = text._pair(block.worst.analytic, block.worst.numeric)
                # (or in the reason line of a confirmed failure, which gives both)
                assert (analytic in output and numeric in output) or (
                    text._said_below(block) and f"{block.name}{block.worst.label}: fail: confirmed" in
                    " ".join(output.split())), (block.name, output)


def test_two_values_are_written_to_compare_digit_by_digit():
    """Stacked or side by side, a block's analytic and numeric values share
    their decimals (or exponent): the digits line up where they agree."""
    assert text._pair(0.005173131584, 0.00517313159) == ("0.005173131584", "0.005173131590")
    assert text._pair(-1.2e-7, 3.4e-8) == ("-1.200000000e-07", "0.340000000e-07")
    assert text._pair(0.0, -5.551115123125783e-12) == ("0", "-5.551115123e-12")


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["two_layer_net", "missing_bias", "svm_at_kink", "word2vec_like", "float32"])
def test_the_report_is_laid_out_not_cut(reports, name, width):
    report = reports[name]
    for color in (False, True):
        output = render(text.build(report), width, color=color)
        assert_laid_out(output, width)
        assert_cells_whole(output, report)
        assert_values_shown(output, report)
    verbose = render(text.build(report, verbose=True), width)
    assert_laid_out(verbose, width)
    for block in report.blocks:
        for dim in block.dims + block.directions:
            assert dim.label in verbose and text._pair(dim.analytic, dim.numeric)[1] in verbose


@pytest.mark.parametrize("width", WIDTHS)
def test_long_lines_wrap_at_words_with_a_hanging_indent(reports, width):
    report = reports["float32"]
    output = render(text.build(report), width)
    joined = " ".join(output.split())
    for line in report.all_warnings + report.notes:
        assert " ".join(line.split()) in joined  # every word, in order
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("  warning: ") and i + 1 < len(lines) and lines[i + 1].startswith("    "):
            assert not lines[i + 1].startswith("     ")  # continued four in, under the text
            break
    else:
        if width < 200:
            pytest.fail(f"no warning wrapped at {width}:\n{output}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_diagnosis_is_a_hint_under_the_table(reports, width):
    report = reports["missing_bias"]
    output = render(text.build(report), width)
    failing = [b for b in report.blocks if b.diagnosis is not None]
    assert failing
    flat = " ".join(output.split())
    for block in failing:
        assert f"hint: {block.name}: " in output
        assert " ".join(block.diagnosis.text.split()) in flat


def test_the_diagnosis_reaches_github_and_junit(reports):
    from gradcheck_cli.render import github, junit

    report = reports["missing_bias"]
    block = next(b for b in report.blocks if b.diagnosis is not None)
    annotations = "\n".join(github.lines(report))
    assert "hint: analytic ≈ 0.5 × numeric" in annotations.replace("%0A", "\n")
    tree = junit.build([report])
    failure = next(case.find("failure") for case in tree.iter("testcase") if case.get("name") == block.name)
    assert "hint: analytic ≈ 0.5" in failure.get("message") and "hint: analytic ≈ 0.5" in failure.text


def test_what_shows_every_value_is_the_callers_switch(reports):
    from gradcheck_cli import assertions

    report = reports["missing_bias"]
    assert "(-v shows every value)" in render(text.build(report), 80)
    message = assertions.render(report)
    assert "(verbose=True shows every value)" in message and "-v shows" not in message


@pytest.mark.parametrize("width", WIDTHS)
def test_the_summary_of_several_models(reports, width):
    results = list(reports.values()) + [ModelFailure("sample_models/buggy_softmax_overflow.py", (
        "loss is inf at the starting point, so no derivative can be measured. If the model has a softmax, "
        "shift the scores by their max before exp."))]
    output = render(text.summary(results), width)
    assert_laid_out(output, width)
    for result in results:
        assert result.model in output
    assert "loss is inf at the starting point" in " ".join(output.split())


@pytest.mark.parametrize("width", WIDTHS)
def test_a_rule_never_cuts_the_models_name(width):
    name = "models/" + "a_rather_long_directory_name/" * 3 + "model.py:layer"
    output = render(text.rule(name), width)
    assert_laid_out(output, width)
    assert name in output.replace("\n", "") and "─" in output


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_plots_fit(width):
    from gradcheck_cli import sweep
    from gradcheck_cli.render import sweep as sweep_render

    report = sweep(str(SAMPLES / "sigmoid_tanh.py"))
    output = render(sweep_render.build(report), width)
    assert_laid_out(output, width)
    plot = [line for line in output.splitlines() if "┤" in line or "└" in line]
    assert plot and all(cell_len(line) <= 80 for line in plot)
    assert "1e-1" in output and "h" in output


@pytest.mark.parametrize("width", WIDTHS)
def test_sanity_fits(width):
    from gradcheck_cli.sanity import sanity
    from gradcheck_cli.render import sanity as sanity_render

    report = sanity(str(SAMPLES / "two_layer_sanity.py"), classes=5, reg="REG")
    output = render(sanity_render.build(report), width)
    assert_laid_out(output, width)
    for item in report.checks:
        assert item.name in output and " ".join(item.summary.split()) in " ".join(output.split())


# -- piped: the width rule ----------------------------------------------------------------------------------


def _run(args, env_changes, *, stderr=subprocess.PIPE):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "NO_COLOR", "TERM")}
    env.update(env_changes)
    result = subprocess.run([GRADECHECK, *args], stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=ROOT,
                            timeout=300)
    return result.stdout.decode()


def _shown_width(output: str) -> int:
    """Which width two_layer_net's report was laid out for (its layouts differ at each)."""
    header = next(line for line in output.splitlines() if line.startswith("block"))
    if "shape" in header:
        return 200
    if "analytic" in header:
        return 100
    if "numeric" in header:
        return 80
    return 60


@pytest.mark.parametrize("env, width", [
    ({}, 80),
    ({"COLUMNS": "100"}, 100),
    ({"COLUMNS": "200"}, 200),
    ({"COLUMNS": "60"}, 60),
    ({"COLUMNS": "wide"}, 80),
    ({"TERM": "dumb"}, 80),
    ({"TERM": "dumb", "COLUMNS": "100"}, 100),
    ({"FORCE_COLOR": "1"}, 80),
    ({"FORCE_COLOR": "1", "COLUMNS": "100"}, 100),
])
def test_piped_output_takes_columns_else_80(env, width):
    output = _run(["check", "sample_models/two_layer_net.py"], env)
    if env.get("FORCE_COLOR"):
        assert "\x1b[" in output
    plain = ANSI.sub("", output)
    assert_laid_out(plain, width)
    assert _shown_width(plain) == width
    if width <= 100:  # (the wrapped lines fill the width they were given; at 200 none wraps)
        assert max(cell_len(line) for line in plain.splitlines()) > width - 25


def test_piped_output_takes_the_width_of_a_terminal_on_stderr():
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    try:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 100, 0, 0))
        output = _run(["check", "sample_models/two_layer_net.py"], {"COLUMNS": "200"}, stderr=follower)
    finally:
        os.close(follower)
        os.close(leader)
    assert_laid_out(output, 100)
    assert _shown_width(output) == 100


def test_make_console_width_rule(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    assert text.make_console(io.StringIO()).width == 80
    monkeypatch.setenv("COLUMNS", "132")
    assert text.make_console(io.StringIO()).width == 132


def test_piped_sweep_fits_80_columns():
    output = _run(["sweep", "sample_models/sigmoid_tanh.py"], {})
    assert_laid_out(output, 80)
    assert "┤" in output


# -- through a real terminal ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def terminal():
    """Run a command in a tmux pane of a given width and read the pane."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed: the report is not checked through a real terminal")
    socket = f"gradcheck-width-{uuid.uuid4().hex[:8]}"
    tmux = ["tmux", "-L", socket, "-f", os.devnull]
    names = []

    def run(args: list[str], width: int, env: dict[str, str] | None = None) -> tuple[str, str]:
        name = f"w{width}-{len(names)}"
        names.append(name)
        done = f"__DONE_{uuid.uuid4().hex[:6]}__"
        exports = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        command = (f"cd {ROOT} && env -u COLUMNS -u LINES {exports} {GRADECHECK} {' '.join(args)}; "
                   f"echo {done}; sleep 600")
        subprocess.run([*tmux, "new-session", "-d", "-s", name, "-x", str(width), "-y", "50", command], check=True)
        subprocess.run([*tmux, "set-option", "-t", name, "history-limit", "5000"], check=False)
        deadline = time.monotonic() + 300
        while True:
            pane = subprocess.run([*tmux, "capture-pane", "-p", "-S", "-", "-t", name], capture_output=True,
                                  text=True).stdout
            if done in pane or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        joined = subprocess.run([*tmux, "capture-pane", "-p", "-J", "-S", "-", "-t", name], capture_output=True,
                                text=True).stdout
        assert done in pane, pane
        # (the pane as a person sees it; and with lines the terminal wrapped joined back)
        return pane.split(done)[0], joined.split(done)[0]

    yield run
    subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_through_a_real_terminal(terminal, reports, tmp_path, width):
    for args, report in ((["check", "sample_models/buggy_missing_bias.py"], None),
                         (["check", "sample_models/svm_at_kink.py"], reports["svm_at_kink"]),
                         (["check", "sample_models/two_layer_net.py"], reports["two_layer_net"])):
        pane, joined = terminal(args, width)
        lines = [line for line in pane.splitlines() if not line.startswith("cd ")]
        # A line the program wrote wider than the pane is wrapped by the
        # terminal: joined back with -J it is longer than the pane (and -J
        # keeps the blanks a line ends in).
        assert_laid_out(joined, width)
        assert_laid_out("\n".join(lines), width, trailing=False)
        assert any(line.startswith(("PASS", "FAIL")) for line in lines), pane
        if report is not None:
            assert_cells_whole("\n".join(lines), report, same_process=False)
    pane, joined = terminal(["sweep", "sample_models/sigmoid_tanh.py"], width)
    assert_laid_out(joined, width)
    assert all(cell_len(line) <= 80 for line in pane.splitlines() if "┤" in line or "└" in line)


def test_inside_pytest_the_fixtures_own_switch_is_named(pytester):
    import shutil as _shutil

    _shutil.copy(SAMPLES / "buggy_missing_bias.py", pytester.path / "buggy_missing_bias.py")
    pytester.makepyfile(test_bias="""
        def test_bias(gradcheck):
            gradcheck("buggy_missing_bias.py")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "(verbose=True shows every value)" in output and "(-v shows every value)" not in output
