"""Progress: the library's events (phase, count, evaluations), the command
line's live line on a terminal and its heartbeat without one."""

import json
import re
import time

import pytest
from click.testing import CliRunner

from gradcheck_cli import Progress, check, settings
from gradcheck_cli.cli import main
from gradcheck_cli.pipeline import PHASES

from .conftest import SAMPLES
from .test_parallel import SPARSE_BUG


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


# A loss that takes its time: ~20 ms a call, ~40 calls with the options below.
SLOW = """
import time
import numpy as np
params = {"W1": np.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": np.array([0.5, -0.25])}
def loss(p):
    time.sleep(0.02)
    return float(np.sum(np.sin(p["W1"])) + np.sum(p["b"] ** 2))
def grad(p):
    return {"W1": np.cos(p["W1"]), "b": 2 * p["b"]}
"""
QUICK = ("--samples", "2", "--directions", "1", "--warmup", "off", "--reg", "none")


def test_the_library_reports_its_phases_in_order():
    events: list[Progress] = []
    report = check(str(SAMPLES / "two_layer_net.py"), progress=events.append)
    assert report.generic is not None  # (every check moves to a generic point)
    assert all(isinstance(e, Progress) and e.phase in PHASES for e in events)
    seen = [(e.point, e.phase) for i, e in enumerate(events) if i == 0 or (e.point, e.phase) !=
            (events[i - 1].point, events[i - 1].phase)]
    assert seen[:4] == [(None, "loading"), ("start point", "base point"), ("start point", "noise"),
                        ("start point", "probes")]
    jitter = seen.index((None, "jitter"))
    assert seen[jitter + 1:jitter + 5] == [(None, "burn-in"), ("generic point", "base point"),
                                           ("generic point", "noise"), ("generic point", "probes")]
    assert len(seen) == len(set(seen))  # each phase once, none coming back
    blocks = {b.name for b in report.blocks}
    for point in ("start point", "generic point"):
        probes = [e for e in events if e.point == point and e.phase == "probes"]
        total = probes[0].total
        assert probes[0].done == 0 and total > 0
        assert [e.done for e in probes] == list(range(total + 1))  # every probe, counted from 0
        assert all(e.total == total and e.block in blocks and f"block {e.block}" in e.detail
                   for e in probes[1:])
        assert str(probes[5]) == f"{point}: probes 5/{total} (block {probes[5].block})"
    steps = [e.done for e in events if e.phase == "burn-in"]
    assert steps == list(range(1, len(steps) + 1)) and steps
    assert all(e.detail == f"burn-in step {e.done}" and e.total is None
               for e in events if e.phase == "burn-in")
    counts = [e.evaluations for e in events]
    assert counts == sorted(counts) and 0 < counts[-1] <= report.evaluations


def phases(events: list[Progress]) -> list[tuple[str | None, str]]:
    """(point, phase) as the events go through them, each once."""
    seen = []
    for e in events:
        if not seen or seen[-1] != (e.point, e.phase):
            seen.append((e.point, e.phase))
    return seen


def test_the_complex_step_s_cross_check_comes_before_the_probes():
    events: list[Progress] = []
    check(str(SAMPLES / "cube.py"), progress=events.append, method="complex-step", warmup="off")
    assert phases(events) == [(None, "loading"), ("start point", "base point"), ("start point", "noise"),
                              ("start point", "cross-check"), ("start point", "probes")]


def test_ties_and_drill_down_are_phases_of_their_own(model_file):
    events: list[Progress] = []
    check(str(SAMPLES / "svm_at_kink.py"), progress=events.append, warmup="off", reg="none")
    assert phases(events)[-2:] == [("start point", "probes"), ("start point", "tie directions")]
    # A direction fails where every sampled coordinate passes: bisected down to the wrong element.
    sparse = model_file(SPARSE_BUG)
    events = []
    assert check(sparse, progress=events.append, warmup="off").verdict == "fail"
    drilled = [e for e in events if e.phase == "drill-down"]
    assert drilled and [e.done for e in drilled] == list(range(1, len(drilled) + 1))
    assert drilled[0].detail == "drill-down: 1 probe (block E)" and drilled[0].total is None


def test_burn_in_steps_have_a_total_under_warmup_n():
    events: list[Progress] = []
    check(str(SAMPLES / "two_layer_net.py"), progress=events.append, warmup=3, reg="none")
    assert [(e.done, e.total, e.detail) for e in events if e.phase == "burn-in"] == \
        [(t, 3, f"burn-in step {t}/3") for t in (1, 2, 3)]


def test_the_data_loss_alone_is_a_point_of_its_own(model_file):
    # An L2 term that dominates the gradient: the data loss alone is checked too.
    path = model_file("""
        import numpy as np
        reg = 10.0
        X = np.linspace(-1, 1, 12).reshape(4, 3)
        params = {"W": np.linspace(0.5, 1.5, 3)}
        def loss(p): return float(np.sum(np.tanh(X @ p["W"])) + reg * np.sum(p["W"] ** 2))
        def grad(p):
            t = np.tanh(X @ p["W"])
            return {"W": X.T @ (1 - t ** 2) + 2 * reg * p["W"]}
    """)
    events: list[Progress] = []
    report = check(path, progress=events.append, samples=2, directions=1, warmup="off")
    assert report.regularization is not None and report.regularization.data_only is not None
    points = [e.point for e in events]
    assert points.index("data loss alone") > points.index("start point")
    regularization = next(i for i, e in enumerate(events) if e.phase == "regularization")
    assert points.index("data loss alone") > regularization > points.index("start point")


def test_a_two_argument_callback_still_counts_probes():
    calls = []
    report = check(str(SAMPLES / "softmax.py"), progress=lambda done, total: calls.append((done, total)),
                   warmup="off")
    total = sum(b.checked + len(b.directions) for b in report.blocks)
    assert [d for d, _ in calls] == list(range(1, total + 1)) and {t for _, t in calls} == {total}


@pytest.mark.workers
def test_probes_from_worker_processes_are_counted_and_named(model_file):
    events: list[Progress] = []
    report = check(model_file(SLOW.replace("0.02", "0.001")), progress=events.append, jobs=2, samples=3,
                   warmup="off", reg="none")
    probes = [e for e in events if e.phase == "probes"]
    total = probes[0].total
    assert [e.done for e in probes] == list(range(total + 1))
    assert {e.block for e in probes[1:]} == {b.name for b in report.blocks}


# -- the command line ---------------------------------------------------------

def heartbeats(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("gradcheck: ")]


def test_a_slow_check_without_a_terminal_says_what_it_is_doing(model_file, monkeypatch):
    monkeypatch.setattr(settings, "HEARTBEAT_EVERY", 0.1)
    path = model_file(SLOW, "slow.py")
    result = run(path, *QUICK)
    assert result.exit_code == 0, result.output
    lines = heartbeats(result.stderr)
    assert len(lines) >= 2 and len(lines) == len(result.stderr.splitlines())  # nothing but whole lines
    pattern = re.compile(r"gradcheck: .*slow\.py: (.+) · (\d+) s elapsed( · ~\d+ s left in this phase)?$")
    assert all(pattern.match(line) for line in lines), lines
    said = " ".join(lines)
    assert "start point: " in said
    assert re.search(r"probes \d+/\d+ \(block (W1|b)\)", said) or "the loss and gradient" in said
    assert "PASS" in result.stdout and "gradcheck:" not in result.stdout


def test_a_fast_check_writes_nothing_to_stderr():
    assert settings.HEARTBEAT_EVERY >= 5
    for output in ("text", "json"):
        result = run(SAMPLES / "softmax.py", "--format", output)
        assert result.exit_code == 0 and result.stderr == ""


def test_json_stays_json_while_heartbeats_go_to_stderr(model_file, monkeypatch):
    monkeypatch.setattr(settings, "HEARTBEAT_EVERY", 0.1)
    path = model_file(SLOW, "slow.py")
    result = run(path, *QUICK, "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["verdict"] == "pass"
    lines = heartbeats(result.stderr)
    assert lines and len(lines) == len(result.stderr.splitlines())
    assert any("start point: " in line for line in lines)


def test_each_model_s_heartbeat_names_it(model_file, monkeypatch):
    monkeypatch.setattr(settings, "HEARTBEAT_EVERY", 0.1)
    first, second = model_file(SLOW, "first.py"), model_file(SLOW, "second.py")
    result = run(first, second, *QUICK)
    assert result.exit_code == 0
    lines = heartbeats(result.stderr)
    named = [("first.py" in line, "second.py" in line) for line in lines]
    assert (True, False) in named and (False, True) in named
    # The first model's lines all come before the second's: each stops before its report.
    assert named == sorted(named, key=lambda pair: pair[1])
    # One clock, from the command's start.
    elapsed = [int(re.search(r"(\d+) s elapsed", line).group(1)) for line in lines]
    assert elapsed == sorted(elapsed)


def test_on_a_terminal_a_live_line_names_the_phase(monkeypatch, capsys):
    from gradcheck_cli import cli

    monkeypatch.setattr(settings, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(settings, "ETA_AFTER_SECONDS", 0.0)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    with cli._progress("model.py", heartbeat=False, started=time.monotonic() - 42) as update:
        update(Progress("loading", None, "loading the model"))
        update(Progress("probes", "start point", "probes 0/40", 0, 40))
        time.sleep(0.1)
        for done in range(1, 13):
            update(Progress("probes", "start point", f"probes {done}/40 (block W1)", done, 40, block="W1"))
        time.sleep(0.4)  # (rich redraws from its own thread)
    err = capsys.readouterr().err
    assert "model.py: start point: probes 12/40 (block W1)" in err
    assert re.search(r"4\d s elapsed · ~\d+ s left", err)


def test_a_narrow_terminal_keeps_the_count_and_the_time_left(monkeypatch, capsys):
    """At 40 columns the model, the point and the block give way; the count,
    the time and the time left stay whole (no bar takes their room)."""
    from gradcheck_cli import cli

    monkeypatch.setattr(settings, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(settings, "ETA_AFTER_SECONDS", 0.0)
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    with cli._progress("a/rather/long/path/to/model.py", heartbeat=False, started=time.monotonic() - 7) as update:
        update(Progress("probes", "start point", "probes 0/40", 0, 40))
        time.sleep(0.1)
        for done in range(1, 13):
            update(Progress("probes", "start point", f"probes {done}/40 (block W1)", done, 40, block="W1"))
        time.sleep(0.4)
    err = capsys.readouterr().err
    assert re.search(r"probes 12/40 · \d+ s( elapsed)? · ~\d+ s left", err), err
    assert "…" not in err


def test_a_terminal_line_waits_for_the_delay(monkeypatch, capsys):
    from gradcheck_cli import cli

    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert settings.PROGRESS_AFTER >= 0.5
    with cli._progress("model.py", heartbeat=False) as update:
        update(Progress("probes", "start point", "probes 1/4 (block W)", 1, 4, block="W"))
    assert capsys.readouterr().err == ""


def test_heartbeat_lines_are_written_whole(monkeypatch, capsys):
    from gradcheck_cli import cli

    monkeypatch.setattr(settings, "HEARTBEAT_EVERY", 0.05)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)  # --format json: a heartbeat all the same
    with cli._progress("a\nb.py", heartbeat=True) as update:
        update(Progress("burn-in", None, "burn-in step 30", 30))
        time.sleep(0.3)
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith("gradcheck: a\\nb.py: burn-in step 30 · ") for line in lines)
