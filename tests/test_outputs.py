"""What every output promises when something goes wrong: the configuration
comes from the project and says so; files are written whole, where asked,
under any name; a write that fails comes after the report, as one line."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from gradcheck_cli.outputs import save_arrays, write_atomically

GOOD = '''
import numpy as np
params = {"W": np.arange(6.0).reshape(2, 3) / 10, "b": np.array([0.5, -0.5, 1.0])}
def loss(p): return float(np.sum(np.sin(p["W"])) + np.sum(p["b"] ** 2))
def grad(p): return {"W": np.cos(p["W"]), "b": 2 * p["b"]}
'''
WRONG = GOOD.replace('"b": 2 * p["b"]', '"b": 3 * p["b"]')


def gradcheck(*args, cwd, stdout=subprocess.PIPE, timeout=120):
    """The console script as a user runs it (a process of its own)."""
    return subprocess.run([sys.executable, "-m", "gradcheck_cli", *map(str, args)], cwd=cwd, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def assert_one_line_error(stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("gradcheck: error:")]
    assert len(errors) == 1, stderr
    for word in words:
        assert word in errors[0], errors[0]


# -- configuration: from the project, named, its loosening said ------------------------

@pytest.fixture
def nested(tmp_path):
    """A config in a directory above a student's repository."""
    (tmp_path / "pyproject.toml").write_text('[tool.gradcheck]\nformat = "json"\nfail-above = 0.5\n')
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "m.py").write_text(GOOD)
    return repo


@pytest.mark.parametrize("marker", [".git", ".hg"])
def test_a_config_above_the_repository_root_is_not_read(nested, marker):
    (nested / marker).mkdir()
    result = gradcheck("m.py", cwd=nested)
    assert result.returncode == 0
    assert "config:" not in result.stdout
    with pytest.raises(ValueError):  # text, not the JSON the outer config asked for
        json.loads(result.stdout)


def test_a_pyproject_without_the_table_is_the_root_too(nested):
    (nested / "pyproject.toml").write_text("[project]\nname = 'student'\n")
    result = gradcheck("m.py", cwd=nested / ".")
    assert "config:" not in result.stdout and "PASS  m.py" in result.stdout  # (text, not the outer JSON)


def test_a_git_file_marks_a_root_as_a_git_directory_does(nested):
    (nested / ".git").write_text("gitdir: ../elsewhere\n")  # (a worktree or a submodule)
    assert "config:" not in gradcheck("m.py", cwd=nested).stdout


def test_a_config_used_is_named_in_the_text_and_json_reports(nested):
    # No marker anywhere below: the directory of the pyproject.toml is the root.
    result = gradcheck("m.py", "--format", "text", cwd=nested)
    said = " ".join(result.stdout.split())  # (a long path wraps)
    assert f"config: {nested.parent / 'pyproject.toml'} sets fail-above " in said
    assert "fail-above = 0.5 is looser than the default 0.01" in said
    document = json.loads(gradcheck("m.py", cwd=nested).stdout)
    assert document["config"]["file"] == str(nested.parent / "pyproject.toml")
    assert document["config"]["looser"][0]["key"] == "fail-above"
    assert document["config"]["looser"][0]["value"] == 0.5
    assert document["config"]["keys"] == ["format", "fail-above"]


def test_no_config_no_config_line(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "m.py").write_text(GOOD)
    assert json.loads(gradcheck("m.py", "--format", "json", cwd=tmp_path).stdout)["config"] is None


def test_a_threshold_set_on_the_command_line_is_not_the_configs(nested):
    result = gradcheck("m.py", "--format", "text", "--fail-above", "0.5", cwd=nested)
    assert "looser" not in result.stdout


def test_a_stricter_threshold_is_named_but_not_called_looser(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck]\nfail-above = 1e-3\n")
    (tmp_path / "m.py").write_text(GOOD)
    result = gradcheck("m.py", cwd=tmp_path)
    assert "config: pyproject.toml sets fail-above" in result.stdout and "looser" not in result.stdout


# -- --save-params: any block name round-trips -----------------------------------------

NAMES = ["file", "allow_pickle", "a/b", "x.npy", "", "fix_imports", "args"]


def test_any_block_name_round_trips_through_an_npz(tmp_path):
    arrays = {name: np.arange(i + 1.0) for i, name in enumerate(NAMES)}
    with open(tmp_path / "s.npz", "wb") as stream:
        save_arrays(stream, arrays)
    with np.load(tmp_path / "s.npz", allow_pickle=False) as back:
        assert sorted(back.files) == sorted(NAMES)
        for name in NAMES:
            np.testing.assert_array_equal(back[name], arrays[name])


def test_save_params_then_params_checks_the_same_point(tmp_path):
    (tmp_path / "m.py").write_text(
        "import numpy as np\n"
        f"params = {{name: np.linspace(0.1, 0.9, 3) + i for i, name in enumerate({NAMES[:4]!r})}}\n"
        "def loss(p): return float(sum(np.sum(np.sin(v)) for v in p.values()))\n"
        "def grad(p): return {k: np.cos(v) for k, v in p.items()}\n")
    saved = gradcheck("m.py", "--save-params", "s.npz", "--format", "json", cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    again = gradcheck("m.py", "--params", "s.npz", "--warmup", "off", "--format", "json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert sorted(b["name"] for b in json.loads(again.stdout)["models"][0]["blocks"]) == sorted(NAMES[:4])


# -- a write that fails: after the report, one line, exit 2 ----------------------------

full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a device that is always full)")


@full
@pytest.mark.parametrize("option", ["--save-params", "--junit-xml"])
def test_an_output_file_that_cannot_be_written_comes_after_the_report(tmp_path, option):
    (tmp_path / "m.py").write_text(GOOD)
    result = gradcheck("m.py", option, "/dev/full", "--format", "json", cwd=tmp_path)
    assert result.returncode == 2
    assert json.loads(result.stdout)["verdict"] == "pass"  # the report stands
    assert_one_line_error(result.stderr, option, "/dev/full", "No space left")


@full
@pytest.mark.parametrize("command", [["m.py"], ["m.py", "-v"], ["m.py", "--format", "json"],
                                     ["m.py", "--format", "github"], ["sweep", "m.py"], ["sanity", "m.py"]])
def test_a_stdout_that_refuses_the_report_is_an_error_not_a_traceback(tmp_path, command):
    (tmp_path / "m.py").write_text(GOOD)
    with open("/dev/full", "w") as stdout:
        result = gradcheck(*command, cwd=tmp_path, stdout=stdout)
    assert result.returncode == 2
    assert_one_line_error(result.stderr, "cannot write the report to stdout", "No space left")


@full
def test_an_error_document_stdout_refuses_is_said_too(tmp_path):
    with open("/dev/full", "w") as stdout:
        result = gradcheck("missing.py", "--format", "json", cwd=tmp_path, stdout=stdout)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == ["gradcheck: error: model file not found: missing.py",
                                          "gradcheck: error: cannot write the report to stdout: No space left on device"]


def test_a_reader_that_stops_early_is_not_an_error(tmp_path):
    (tmp_path / "m.py").write_text(WRONG)
    run = subprocess.run(f"{sys.executable} -m gradcheck_cli m.py -v | head -c 10", shell=True, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert "Traceback" not in run.stderr and "error" not in run.stderr


# -- written whole, where asked ---------------------------------------------------------

def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.xml"
    target.write_text("<the previous, good report/>")

    def half_then_fail(stream):
        stream.write(b"<testsuites><testsu")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomically(str(target), half_then_fail)
    assert target.read_text() == "<the previous, good report/>"
    assert os.listdir(tmp_path) == ["report.xml"]


def test_a_link_at_the_destination_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not gradcheck's")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "m.py").write_text(GOOD)
    for name in ("out.xml", "params.npz"):
        (repo / name).symlink_to(outside)
    result = gradcheck("m.py", "--junit-xml", "out.xml", "--save-params", "params.npz", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert outside.read_text() == "not gradcheck's"
    assert not (repo / "out.xml").is_symlink() and ET.parse(repo / "out.xml").getroot().tag == "testsuites"
    assert not (repo / "params.npz").is_symlink()


def test_a_new_file_gets_the_permissions_open_would_give_it(tmp_path):
    mask = os.umask(0o022)
    try:
        write_atomically(str(tmp_path / "new.xml"), lambda stream: stream.write(b"x"))
        assert os.stat(tmp_path / "new.xml").st_mode & 0o777 == 0o644  # (mkstemp's own is 0600)
        (tmp_path / "kept.xml").write_text("old")
        os.chmod(tmp_path / "kept.xml", 0o640)
        write_atomically(str(tmp_path / "kept.xml"), lambda stream: stream.write(b"new"))
        assert os.stat(tmp_path / "kept.xml").st_mode & 0o777 == 0o640
    finally:
        os.umask(mask)


# -- JUnit after --timeout: every block, the unchecked ones as errors ------------------

HANGS_IN_V = '''
import numpy as np, time
params = {"w": np.ones(3), "v": np.ones(2), "u": np.ones(2)}
def loss(p):
    if p["v"][0] != 1.0:
        time.sleep(600)
    return float(np.sum(p["w"] ** 2) + np.sum(p["v"] ** 2) + np.sum(p["u"] ** 2))
def grad(p): return {"w": 2 * p["w"], "v": 2 * p["v"], "u": 2 * p["u"]}
'''


def test_junit_after_a_timeout_lists_every_block(tmp_path):
    (tmp_path / "m.py").write_text(HANGS_IN_V)
    result = gradcheck("m.py", "--timeout", "3", "--junit-xml", "out.xml", cwd=tmp_path)
    assert result.returncode == 2
    root = ET.parse(tmp_path / "out.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert {"w", "v", "u"} <= set(cases)
    for name in ("v", "u"):
        error = cases[name].find("error")
        assert error is not None and "not checked: timed out" in error.get("message")
    assert int(root.get("errors")) >= 2


# -- the adversarial pass's cases --------------------------------------------------------

def test_a_stream_is_written_through_and_a_file_link_replaced(tmp_path):
    from gradcheck_cli.outputs import in_place

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "to-fifo").symlink_to(fifo)
    (tmp_path / "to-null").symlink_to("/dev/null")
    (tmp_path / "file").write_text("x")
    (tmp_path / "to-file").symlink_to(tmp_path / "file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert in_place("/dev/null") and in_place(str(fifo)) and in_place(str(tmp_path / "to-fifo"))
    assert in_place(str(tmp_path / "to-null"))  # (a link into /dev, as /dev/stdout is, is never replaced)
    assert not in_place(str(tmp_path / "to-file")) and not in_place(str(tmp_path / "dangling"))
    assert not in_place(str(tmp_path / "new.xml"))


def test_a_pipe_named_by_the_shell_gets_the_junit_file(tmp_path):
    (tmp_path / "m.py").write_text(GOOD)
    run = subprocess.run(f"{sys.executable} -m gradcheck_cli m.py --junit-xml >(cat > got.xml) >/dev/null; "
                         "echo rc=$?; sleep 1", shell=True, executable="/bin/bash", cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert "rc=0" in run.stdout, run.stderr
    assert ET.parse(tmp_path / "got.xml").getroot().tag == "testsuites"


@pytest.mark.parametrize("options, culprit", [
    (["--junit-xml", "x", "--save-params", "x"], "--junit-xml and --save-params name the same file"),
    (["--save-params", "m.py"], "is the model file m.py"),
    (["--junit-xml", "m.py"], "is the model file m.py"),
])
def test_an_output_over_another_output_or_an_input_is_refused(tmp_path, options, culprit):
    (tmp_path / "m.py").write_text(GOOD)
    result = gradcheck("m.py", *options, cwd=tmp_path)
    assert result.returncode == 2 and culprit in result.stderr
    assert (tmp_path / "m.py").read_text() == GOOD


def test_a_block_name_an_npz_cannot_hold_is_an_error_after_the_report(tmp_path):
    (tmp_path / "m.py").write_text("import numpy as np\nparams = {'a\\x00b': np.ones(2)}\n"
                                   "def loss(p): return float(np.sum(p['a\\x00b'] ** 2))\n"
                                   "def grad(p): return {'a\\x00b': 2 * p['a\\x00b']}\n")
    result = gradcheck("m.py", "--save-params", "s.npz", "--format", "json", cwd=tmp_path)
    assert result.returncode == 2 and json.loads(result.stdout)["verdict"] == "pass"
    assert_one_line_error(result.stderr, "--save-params", "NUL")
    assert not (tmp_path / "s.npz").exists()


def test_a_file_name_cannot_start_a_workflow_command_on_stderr(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x\n::error title=INJECTED::pwned.py").write_text(HANGS_IN_V)
    result = gradcheck("models", "--timeout", "1", "--format", "github", cwd=tmp_path)
    assert result.returncode == 2
    for line in (result.stdout + result.stderr).splitlines():
        assert not line.lstrip().startswith("::error title=INJECTED"), line


def test_junit_after_ctrl_c_lists_the_models_never_reached(tmp_path):
    import signal
    import time

    (tmp_path / "slow.py").write_text(GOOD.replace("def loss(p): return", "def loss(p):\n"
                                                   "    __import__('time').sleep(0.2)\n    return"))
    (tmp_path / "later.py").write_text(GOOD)
    process = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", "slow.py", "later.py", "--junit-xml",
                                "out.xml", "--format", "json"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    assert [m["model"] for m in json.loads(out)["models"]] == ["slow.py", "later.py"]
    suites = {suite.get("name") for suite in ET.parse(tmp_path / "out.xml").getroot().iter("testsuite")}
    assert "later.py" in suites


def test_the_fixture_reads_the_config_of_the_tests_project_not_above_it(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck]\nfail-above = 1e300\nwarn-above = 1e300\n"
                                             "good-below = 1e300\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "m.py").write_text(WRONG)
    (repo / "test_m.py").write_text("def test_grad(gradcheck):\n    gradcheck('m.py')\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_m.py"], cwd=repo,
                         capture_output=True, text=True, timeout=300)
    assert "1 failed" in run.stdout, run.stdout[-2000:]


def test_a_plot_title_is_text_not_maths(tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "cost_$\\sqrt{$.py").write_text(GOOD)
    result = gradcheck("sweep", "cost_$\\sqrt{$.py", "--plot", "p.png", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_a_stopped_run_is_headed_partial_in_the_github_format_too(tmp_path):
    (tmp_path / "m.py").write_text(HANGS_IN_V)
    result = gradcheck("m.py", "--timeout", "2", "--format", "github", cwd=tmp_path)
    assert result.returncode == 2
    headlines = [line for line in result.stdout.splitlines() if not line.startswith("::")]
    assert len(headlines) == 1 and headlines[0].startswith("PARTIAL  m.py") and "timed out" in headlines[0]


def test_the_fixture_says_when_the_config_loosens_its_thresholds(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck]\nfail-above = 0.5\n")
    (tmp_path / "m.py").write_text(GOOD)
    (tmp_path / "test_m.py").write_text("def test_grad(gradcheck):\n    gradcheck('m.py')\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_m.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert "1 passed" in run.stdout, run.stdout[-2000:]
    assert "fail-above = 0.5" in run.stdout and "looser than the default 0.01" in run.stdout
