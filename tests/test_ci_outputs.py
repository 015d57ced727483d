"""Many models per run, JUnit XML, GitHub annotations, progress."""

import json
import xml.etree.ElementTree as ET

from click.testing import CliRunner

from gradcheck_cli import check
from gradcheck_cli.cli import main
from gradcheck_cli.render import github

from .conftest import SAMPLES


def run(*args, env=None):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck", env=env)


PASSING, FAILING, BROKEN = SAMPLES / "softmax.py", SAMPLES / "buggy_missing_bias.py", SAMPLES / "buggy_softmax_overflow.py"


# -- many models ---------------------------------------------------------------------

def test_one_report_per_model_then_a_summary():
    result = run(PASSING, FAILING, env={"COLUMNS": "200"})
    assert result.exit_code == 1
    # The passing model's start point and generic point; the failing model's
    # start point (where it fails, no second point is needed).
    assert result.stdout.count("block   shape") == 3
    summary = result.stdout[result.stdout.index("summary"):]
    assert "softmax.py" in summary and "buggy_missing_bias.py" in summary and "fail: b" in summary


def test_a_directory_means_its_model_files():
    """A model file is one model; a checks file, one per layer it declares;
    a file in scipy.optimize's conventions, one per derivative; a model
    with an hvp, two (its gradient, then FILE:hvp)."""
    from gradcheck_cli.derivatives import hvp, scipy_conventions
    from gradcheck_cli.layers import declared

    result = run(SAMPLES, "--format", "json")
    data = json.loads(result.stdout)
    files = list(SAMPLES.glob("*.py"))
    layers = {p.name: declared(str(p)) for p in files}
    derivatives = {p.name: scipy_conventions.declared(str(p)) for p in files}
    products = {p.name: hvp.declared(str(p)) for p in files}
    assert layers["layers_check.py"] and not layers["svm.py"]
    assert len(derivatives["newton_logistic.py"]) == 3 and products["logistic_hvp.py"]
    assert len(data["models"]) == sum(len(layers[name]) or len(derivatives[name]) or 1 + products[name]
                                      for name in layers)


def test_the_exit_code_is_the_worst():
    assert run(PASSING, PASSING).exit_code == 0
    assert run(PASSING, FAILING).exit_code == 1
    assert run(FAILING, BROKEN, PASSING).exit_code == 2


def test_an_unusable_model_does_not_stop_the_others():
    result = run(BROKEN, PASSING, "--format", "json")
    data = json.loads(result.stdout)
    assert [m["verdict"] for m in data["models"]] == ["error", "pass"]
    assert "max before exp" in data["models"][0]["error"]
    assert data["verdict"] == "error"


def test_one_model_has_the_shape_of_several():
    """Schema 2 (docs/json.md): one model's report is models[0], as in a run of several."""
    one = json.loads(run(PASSING, "--format", "json").stdout)
    several = json.loads(run(PASSING, FAILING, "--format", "json").stdout)
    assert set(one) == set(several) and "blocks" not in one
    assert [m["model"] for m in one["models"]] == [str(PASSING)] and "blocks" in one["models"][0]


def test_an_empty_directory_is_a_usage_error(tmp_path):
    result = run(tmp_path)
    assert result.exit_code == 2 and "no model files" in result.stderr


# -- JUnit XML --------------------------------------------------------------------

def test_junit_xml_has_a_testcase_per_block_and_failures_with_values(tmp_path):
    target = tmp_path / "out.xml"
    result = run(PASSING, FAILING, "--junit-xml", target)
    assert result.exit_code == 1
    root = ET.parse(target).getroot()
    assert root.tag == "testsuites"
    # Two blocks at each of three checks: the passing model's start and
    # generic points, the failing model's start point.
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("6", "1", "0")
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    failing = suites[str(FAILING)]
    cases = {c.get("name"): c for c in failing.findall("testcase")}
    assert set(cases) == {"W", "b"}
    assert cases["W"].find("failure") is None
    failure = cases["b"].find("failure")
    assert "relative error 1.0e+00 at [0]" in failure.get("message")
    assert "analytic 0.0, numeric -0.0646" in failure.text
    assert cases["b"].get("file").endswith("buggy_missing_bias.py")
    props = {p.get("name"): p.get("value") for p in failing.find("properties")}
    assert props["verdict"] == "fail" and props["method"] == "central"


SLEEP = 0.1  # seconds each call of the loss below sleeps while block "slow" alone is moved

SLOW_BLOCK = f"""
import time
import numpy as np
SLOW, FAST = np.linspace(0.5, 1.0, 3), np.linspace(-1.0, 1.0, 4)
params = {{"slow": SLOW.copy(), "fast": FAST.copy()}}
def loss(p):
    if np.array_equal(p["fast"], FAST) and not np.array_equal(p["slow"], SLOW):
        time.sleep({SLEEP})  # (the slow block's probes; the noise moves every block at once)
    return float(np.sum(p["slow"] ** 2) + np.sum(np.sin(p["fast"])))
def grad(p):
    return {{"slow": 2 * p["slow"], "fast": np.cos(p["fast"])}}
"""


def test_junit_testcase_times_are_the_time_each_block_took(tmp_path, model_file):
    """A block whose probes take time has that time in its testcase (a
    probe calls the loss at least twice), and the testcases' times fit in
    their suite's, which is the run's."""
    target = tmp_path / "out.xml"
    result = run(model_file(SLOW_BLOCK), "--warmup", "off", "--samples", "1", "--directions", "1",
                 "--junit-xml", target)
    assert result.exit_code == 0, result.output
    root = ET.parse(target).getroot()
    (suite,) = root.findall("testsuite")
    times = {case.get("name"): float(case.get("time")) for case in suite.findall("testcase")}
    assert times["slow"] >= 2 * SLEEP * 2  # two probes (a coordinate, a direction), two calls each
    assert times["fast"] < times["slow"]
    suite_time = float(suite.get("time"))
    assert sum(times.values()) <= suite_time + 0.001 * len(times)  # (each rounded to the millisecond)
    assert float(root.get("time")) == suite_time  # one model: its time is the run's


def test_junit_xml_reports_an_unusable_model_as_an_error(tmp_path):
    target = tmp_path / "out.xml"
    run(BROKEN, "--junit-xml", target)
    root = ET.parse(target).getroot()
    (case,) = root.iter("testcase")
    assert case.get("name") == "load" and "max before exp" in case.find("error").text
    assert root.get("errors") == "1"


def test_junit_xml_warnings_are_failures_only_under_strict(tmp_path, model_file):
    path = model_file("""
        import numpy as np
        params = {"w": np.array([1.0, 2.0])}
        def loss(p): return np.float32(np.sum(p["w"] ** 2))  # a warning: float32
        def grad(p): return {"w": 2 * p["w"]}
    """)
    relaxed, strict = tmp_path / "relaxed.xml", tmp_path / "strict.xml"
    run(path, "--junit-xml", relaxed)
    run(path, "--junit-xml", strict, "--strict")
    assert ET.parse(relaxed).getroot().get("failures") == "0"
    assert "warn" in next(ET.parse(relaxed).getroot().iter("system-out")).text
    # The model's warning (float32), said once for the model: at the start
    # point, not again at the generic point (issue 25).
    assert ET.parse(strict).getroot().get("failures") == "1"


def test_junit_xml_leaves_stdout_alone(tmp_path):
    result = run(PASSING, "--format", "json", "--junit-xml", tmp_path / "x.xml")
    json.loads(result.stdout)


# -- GitHub annotations ------------------------------------------------------------

def test_github_format_annotates_the_failing_block_at_the_gradient():
    result = run(FAILING, "--format", "github")
    lines = result.stdout.splitlines()
    (error,) = [line for line in lines if line.startswith("::error ")]
    grad_line = next(i for i, t in enumerate(FAILING.read_text().splitlines(), 1) if t.startswith("def grad"))
    assert f"file=sample_models/buggy_missing_bias.py,line={grad_line}" in error or \
        f"buggy_missing_bias.py,line={grad_line}" in error
    assert "title=gradcheck%3A gradient of b fails::" in error
    assert "analytic 0, numeric -0.0646619" in error
    assert lines[-1].startswith("FAIL ")


def test_github_format_is_automatic_on_github_actions():
    result = run(FAILING, env={"GITHUB_ACTIONS": "true"})
    assert "::error " in result.stdout
    plain = run(FAILING, "--format", "text", env={"GITHUB_ACTIONS": "true"})
    assert "::error" not in plain.stdout


def test_github_format_for_an_unusable_model(model_file):
    result = run(BROKEN, "--format", "github")
    assert result.exit_code == 2
    assert result.stdout.startswith("::error file=")
    assert "cannot be checked::loss is inf at the starting point" in result.stdout
    # a message with the user's traceback spans lines: one annotation all the same
    raising = model_file("import numpy as np\nparams = {'w': np.ones(2)}\n"
                         "def loss(p):\n    raise ValueError('broken')\ndef grad(p): return {'w': p['w']}\n")
    lines = run(raising, "--format", "github").stdout.splitlines()
    assert len(lines) == 1 and "%0A" in lines[0] and "ValueError: broken" in lines[0]


def test_annotation_escaping():
    line = github.annotation("error", "a: b, c", "50% bad\nsecond line", "m.py", 3)
    assert line == "::error file=m.py,line=3,title=a%3A b%2C c::50%25 bad%0Asecond line"


# -- progress -------------------------------------------------------------------

def test_check_reports_progress_per_probe():
    calls = []
    report = check(str(SAMPLES / "two_layer_net.py"), progress=lambda done, total: calls.append((done, total)),
                   warmup="off")
    total = sum(b.checked + len(b.directions) for b in report.blocks)
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == list(range(1, total + 1))


def test_no_progress_bar_when_stderr_is_not_a_terminal():
    result = run(SAMPLES / "two_layer_net.py", "--format", "json")
    assert result.stderr == ""


def test_progress_bar_on_a_terminal_after_the_delay(monkeypatch, capsys):
    import time

    from gradcheck_cli import cli, settings
    from gradcheck_cli.pipeline import Progress

    monkeypatch.setattr(settings, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    with cli._progress("model.py", heartbeat=False) as update:
        assert update is not None
        for done in range(1, 4):
            update(Progress("probes", "start point", f"probes {done}/3", done, 3))
        time.sleep(0.2)
    assert "model.py" in capsys.readouterr().err


def test_no_progress_bar_for_json(monkeypatch, capsys):
    # (--format json: a heartbeat line every settings.HEARTBEAT_EVERY seconds instead, tests/test_progress.py)
    from gradcheck_cli import cli, settings
    from gradcheck_cli.pipeline import Progress

    monkeypatch.setattr(settings, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    with cli._progress("model.py", heartbeat=True) as update:
        update(Progress("probes", "start point", "probes 1/3", 1, 3))
    assert capsys.readouterr().err == ""


def test_a_model_named_twice_is_checked_once():
    result = run(SAMPLES, SAMPLES / "cube.py", "--format", "json")
    models = [m["model"] for m in json.loads(result.stdout)["models"]]
    assert len(models) == len(set(models))
    assert sum(m.endswith("cube.py") for m in models) == 1


def test_the_summary_counts_failures_at_every_point_checked():
    # Right at its tiny start point, wrong at the generic point: the row says fail, and where.
    result = run(PASSING, SAMPLES / "buggy_svm_no_mask.py", env={"COLUMNS": "200"})
    assert result.exit_code == 1
    row = next(line for line in result.stdout[result.stdout.index("summary"):].splitlines()
               if "buggy_svm_no_mask.py" in line)
    assert "fail" in row and "(generic point)" in row and "pass" not in row.split("fail", 1)[1]


def test_an_error_in_the_summary_is_cut_at_a_word():
    message = json.loads(run(BROKEN, "--format", "json").stdout)["models"][0]["error"].splitlines()[0]
    result = run(PASSING, BROKEN, env={"COLUMNS": "300"})
    row = next(line for line in result.stdout[result.stdout.index("summary"):].splitlines()
               if "buggy_softmax_overflow.py" in line)
    said = row.split("error", 1)[1].strip().split("  ")[0]  # (the cell, before the next column's)
    assert len(message) > 80 and message.startswith(said) and message[len(said)] in " ,;:."


def test_an_unusable_model_among_several_is_named_where_its_error_is():
    result = run(PASSING, BROKEN)
    assert f"{BROKEN}: loss is inf" in result.stderr
    assert str(BROKEN) in result.stdout.split("summary")[0]  # (its heading, where its report would be)


def test_an_error_on_a_terminal_wraps_between_words(monkeypatch):
    import os

    from gradcheck_cli import cli

    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    monkeypatch.setattr("shutil.get_terminal_size", lambda *a, **k: os.terminal_size((40, 20)))
    text = "gradcheck: error: " + " ".join(["wordy"] * 30)
    lines = cli._fitted(text).splitlines()
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines)
    assert " ".join(line.strip() for line in lines) == text


def test_a_report_hint_reaches_github_and_junit(tmp_path):
    """"Right at the start point, wrong at the generic point" is said where
    CI shows the failure, not only under the text report's tables."""
    model = SAMPLES / "buggy_svm_no_mask.py"
    github = run(model, "--format", "github").stdout
    assert any(line.startswith("::notice") and "wrong at the generic point" in line for line in github.splitlines())
    run(model, "--junit-xml", tmp_path / "j.xml")
    assert "hint: right at the start point, wrong at the generic point" in (tmp_path / "j.xml").read_text()


def test_the_summary_ends_with_the_counts():
    result = run(PASSING, FAILING, BROKEN)
    assert result.stdout.rstrip().splitlines()[-1] == "3 models: 1 pass, 1 fail, 1 error"


def test_quiet_prints_verdict_lines_and_the_counts():
    result = run(PASSING, FAILING, "-q")
    assert result.exit_code == 1
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith(" ")]
    assert [line.split()[0] for line in lines] == ["PASS", "FAIL", "2"]
    assert lines[-1] == "2 models: 1 pass, 1 fail" and "summary" not in result.stdout


def test_exitfirst_stops_after_the_first_failing_model():
    result = run(FAILING, PASSING, "-x", "--format", "json")
    assert result.exit_code == 1
    assert [m["model"] for m in json.loads(result.stdout)["models"]] == [str(FAILING)]
    assert f"stopped after {FAILING} (-x); not checked: {PASSING}" in result.stderr
    assert run(PASSING, FAILING, "-x").exit_code == 1  # (nothing left to skip after the last)


def test_junit_classnames_are_dotted_paths_viewers_can_split(tmp_path):
    """A viewer splits a classname on dots: `sample_models/svm.py` would be
    a class `py` in a package `sample_models/svm`."""
    from gradcheck_cli.render.junit import classname

    assert classname("sample_models/svm.py") == "sample_models.svm"
    assert classname("sample_models/svm.py (generic point)") == "sample_models.svm (generic point)"
    assert classname("a/model.v2.py:net") == "a.model_v2.net"
    assert classname("mypkg.models:net") == "mypkg.models.net"
    run(PASSING, "--junit-xml", tmp_path / "j.xml")
    cases = ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
    assert {case.get("classname").split(" (")[0] for case in cases} == {"sample_models.softmax"}


def test_quiet_gives_an_unusable_model_no_heading():
    result = run(PASSING, BROKEN, "-q")
    assert "─" not in result.stdout and f"{BROKEN}: loss is inf" in result.stderr
