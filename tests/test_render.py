"""The text report, rendered into a StringIO console and read as text."""

import io

from rich.console import Console

from gradcheck_cli import check
from gradcheck_cli.render import json as json_render
from gradcheck_cli.render import text

from .conftest import SAMPLES


def render(report, *, verbose=False, color=False):
    out = io.StringIO()
    console = Console(file=out, width=140, force_terminal=color, color_system="standard" if color else None)
    text.render(report, console, verbose=verbose)
    return out.getvalue()


def test_one_row_per_block_and_a_verdict_line():
    report = check(str(SAMPLES / "two_layer_net.py"))
    out = render(report)
    lines = out.splitlines()
    for name in ("W1", "b1", "W2", "b2"):
        assert any(line.startswith(name + " ") for line in lines)
    assert lines[-1].startswith("PASS ")
    assert f"{report.evaluations} evaluations" in lines[-1]


def test_worst_dimension_shows_raw_values():
    report = check(str(SAMPLES / "buggy_missing_bias.py"))
    out = render(report)
    row = next(line for line in out.splitlines() if line.startswith("b "))
    worst = report.blocks[1].worst
    assert f"{worst.numeric:.10g}" in row and "fail" in row
    assert "FAIL" in out.splitlines()[-1]


def test_verbose_lists_every_dimension_with_its_step_and_grade():
    report = check(str(SAMPLES / "softmax.py"))
    out = render(report, verbose=True)
    for block in report.blocks:
        for dim in block.dims:
            assert dim.label in out
    assert "direction 0" in out and "1e-05" in out


def test_kink_crossings_name_the_line_of_the_model():
    out = render(check(str(SAMPLES / "svm_at_kink.py")))
    assert "kink in W (4 probes, a valid subgradient): svm_at_kink.py:30 (maximum): 1 of 9 elements flipped" in out
    assert "6 kink crossings" in out


def test_warnings_and_notes_are_shown():
    import numpy as np

    report = check(loss=lambda p: np.float32(np.sum(p["w"] ** 2)), grad=lambda p: {"w": 2 * p["w"]},
                   params={"w": np.array([1, 2], dtype=np.float32)})
    out = render(report)
    assert "warning: the loss is computed in float32" in out
    assert "note: block 'w' was float32" in out


def test_no_color_codes_unless_a_terminal():
    report = check(str(SAMPLES / "cube.py"))
    assert "\x1b[" not in render(report)
    assert "\x1b[" in render(report, color=True)


def test_no_color_is_honoured(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    console = Console(file=out, force_terminal=True)
    text.render(check(str(SAMPLES / "cube.py")), console)
    assert "\x1b[3" not in out.getvalue()  # no foreground colours


def test_piped_output_is_80_columns_and_laid_out_for_them(monkeypatch):
    # (tests/test_width.py: every width, a real terminal, the whole rule)
    monkeypatch.delenv("COLUMNS", raising=False)
    console = text.make_console(io.StringIO())
    assert console.width == 80
    text.render(check(str(SAMPLES / "two_layer_net.py")), console)
    assert all(len(line) <= 80 for line in console.file.getvalue().splitlines())


def test_json_render_round_trips():
    import json

    report = check(str(SAMPLES / "cube.py"))
    stream = io.StringIO()
    json_render.render(report, stream)
    document = json.loads(stream.getvalue())
    assert document["models"] == [report.to_dict()] and document["config"] is None
    assert document["schema_version"] == json_render.SCHEMA_VERSION and document["verdict"] == report.verdict
