"""`gradcheck sweep`: the V of truncation and round-off error, and its outputs."""

import io
import json

import pytest
from click.testing import CliRunner
from rich.console import Console

from gradcheck_cli.cli import main
from gradcheck_cli.render import sweep as sweep_render
from gradcheck_cli.sweeps import SWEEP_STEPS, sweep

from .conftest import SAMPLES


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


@pytest.fixture(scope="module")
def smooth():
    return sweep(str(SAMPLES / "sigmoid_tanh.py"))


def test_one_curve_per_block_for_the_worst_dimension(smooth):
    assert [c.block for c in smooth.curves] == ["W1", "b1", "W2", "b2"]
    for curve in smooth.curves:
        assert [p.h for p in curve.points] == list(SWEEP_STEPS)


def test_the_error_curve_is_v_shaped(smooth):
    for curve in smooth.curves:
        errors = [p.rel_error for p in curve.points]
        bottom = min(range(len(errors)), key=errors.__getitem__)
        assert 0 < bottom < len(errors) - 1, curve.label
        # truncation: error falls from the largest step; round-off: it rises again at the smallest
        assert errors[0] > 100 * errors[bottom] and errors[-1] > 100 * errors[bottom], curve.label


def test_the_recommended_step_sits_near_the_bottom_of_the_v(smooth):
    # Which step is best at the flat bottom of the V, and by how much, is
    # decided by round-off (a lucky step can land at 1e-12), so the assertion
    # is about error, not about which step: the chosen one is within a decade
    # of the best or 100x below the notes' "good" band, and is no step from an
    # arm of the V.
    for curve in smooth.curves:
        best = min(curve.points, key=lambda p: p.rel_error)
        chosen = next(p for p in curve.points if p.h == curve.recommended_h)
        assert chosen.rel_error <= max(10 * best.rel_error, 1e-9), curve.label
        assert curve.points[0].h > chosen.h > curve.points[-1].h


def test_kink_crossings_are_marked():
    report = sweep(str(SAMPLES / "svm_at_kink.py"), dims=3)
    on_kink = [c for c in report.curves if all(p.kink for p in c.points)]
    assert not on_kink or all(c.recommended_h is None for c in on_kink)
    assert any(not p.kink for c in report.curves for p in c.points)


def test_dims_chooses_how_many_per_block():
    report = sweep(str(SAMPLES / "softmax.py"), dims=2)
    assert [c.block for c in report.curves] == ["W", "W", "b", "b"]


def test_text_plot_marks_points_and_the_recommended_step(smooth):
    out = io.StringIO()
    sweep_render.render(smooth, Console(file=out, width=100))
    text = out.getvalue()
    assert "recommended h = " in text and "▲" in text and "●" in text
    assert "1e-1 " in text and "1e-12" in text
    assert f"{smooth.evaluations} evaluations" in text


def test_cli_json():
    result = run("sweep", SAMPLES / "cube.py", "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["verdict"] is None and document["error"] is None  # (a sweep judges nothing)
    data = document["models"][0]
    assert data["steps"] == list(SWEEP_STEPS)
    (curve,) = data["curves"]
    assert len(curve["points"]) == 12 and {"h", "numeric", "rel_error", "kink"} <= set(curve["points"][0])


def test_cli_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "sweep.png"
    result = run("sweep", SAMPLES / "cube.py", "--plot", target)
    assert result.exit_code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_without_matplotlib_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    result = run("sweep", SAMPLES / "cube.py", "--plot", tmp_path / "x.png")
    assert result.exit_code == 2
    assert "pip install 'gradcheck-cli[plot]'" in result.stderr


def test_sweep_of_an_unusable_model_exits_2():
    result = run("sweep", SAMPLES / "buggy_softmax_overflow.py")
    assert result.exit_code == 2 and "max" in result.stderr


def test_complex_step_sweep_is_flat_at_machine_precision():
    report = sweep(str(SAMPLES / "softmax.py"), method="complex-step")
    for curve in report.curves:
        # Im f(x+ih)/h has truncation error O(h^2) too: flat from 1e-7 down
        assert all(p.rel_error < 1e-13 for p in curve.points if p.h <= 1e-7)


def test_block_chooses_blocks_and_names_unknown_ones():
    report = sweep(str(SAMPLES / "softmax.py"), block=("b",))
    assert [c.block for c in report.curves] == ["b"]
    result = run("sweep", SAMPLES / "softmax.py", "--block", "nope")
    assert result.exit_code == 2 and "no block(s) 'nope'" in result.stderr
