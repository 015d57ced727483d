"""Bad input gets a clear answer: every row of the matrix in one table.

Each row is a small model file, the command line, the exit code, and the
words the message must contain. Where the user's code raised, stderr shows
their frames; gradcheck's own never appear.
"""

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import main

from .conftest import ROOT

GOOD = """
import numpy as np
params = {"W": np.arange(6.0).reshape(2, 3) / 10, "b": np.array([0.5, -0.5, 1.0])}
def loss(p): return float(np.sum(np.sin(p["W"])) + np.sum(p["b"] ** 2))
def grad(p): return {"W": np.cos(p["W"]), "b": 2 * p["b"]}
"""


def variant(**replace):
    """GOOD with some of its lines replaced (by their leading words)."""
    lines = GOOD.strip().splitlines()
    for start, new in replace.items():
        lines = [new if line.startswith(start.replace("_", " ")) else line for line in lines]
    return "\n".join(lines) + "\n"


ROWS = [
    # -- the file itself
    ("syntax error", "import numpy as np\n\ndef loss(p)\n    return 0\n", [], 2, ["syntax error in", "model.py:3"]),
    ("import error", "import no_such_module_xyz\n", [], 2,
     ["importing", "'no_such_module_xyz' is not installed", "model.py\", line 1"]),
    ("sys.exit on import", "import sys\nsys.exit(3)\n", [], 2, ["called sys.exit(3) while being imported"]),
    # -- the contract
    ("no loss", variant(def_loss="x = 1"), [], 2, ["defines grad but no loss"]),
    ("no grad", variant(def_grad="x = 1"), [], 2, ["defines loss but no grad"]),
    ("loss not callable", variant(def_loss="loss = 3.0"), [], 2, ["loss must be a function, but it is a float"]),
    ("no params", variant(params="x = 1"), [], 2, ["has no parameters", "init_params(seed)"]),
    ("init_params raises", GOOD.replace('params = {', 'def init_params(seed):\n    return {}["W"]\nunused = {'),
     [], 2, ["init_params raised KeyError", "return {}[\"W\"]"]),
    ("params not a dict or array", variant(params="params = 'weights'"), [], 2,
     ["must be a dict of arrays or one array, not a str"]),
    ("empty params", variant(params="params = {}"), [], 2, ["empty dict"]),
    ("non-numeric dtype", variant(params="params = {'W': np.array(['a', 'b']), 'b': np.zeros(3)}"), [], 2,
     ["parameter block 'W'", "string dtype"]),
    # -- what loss and grad return
    ("loss returns None", variant(def_loss="def loss(p): pass"), [], 2, ["loss returned None", "`return` missing"]),
    ("loss returns a string", variant(def_loss="def loss(p): return 'big'"), [], 2, ["loss returned a str"]),
    ("loss returns an array", variant(def_loss="def loss(p): return np.sin(p['W'])"), [], 2,
     ["array of shape (2, 3)", "must be a scalar"]),
    ("grad returns None", variant(def_grad="def grad(p): pass"), [], 2, ["grad returned None"]),
    ("grad returns a list", variant(def_grad="def grad(p): return [np.cos(p['W']), 2 * p['b']]"), [], 2,
     ["grad returned a list", "same keys as params ('W', 'b')"]),
    ("grad misses a key", variant(def_grad="def grad(p): return {'W': np.cos(p['W'])}"), [], 2,
     ["no gradient for block(s) 'b'"]),
    ("grad has an extra key", variant(def_grad="def grad(p): return {'W': np.cos(p['W']), 'b': 2 * p['b'], 'c': 1}"),
     [], 2, ["block(s) 'c' that params does not have"]),
    ("grad has a wrong shape", variant(def_grad="def grad(p): return {'W': np.cos(p['W']).T, 'b': 2 * p['b']}"), [], 2,
     ["grad['W'] has shape (3, 2), but params['W'] has shape (2, 3)"]),
    ("grad is not finite",
     variant(def_grad="def grad(p): return {'W': np.cos(p['W']) / (p['W'] - 0.5), 'b': 2 * p['b']}"), [], 2,
     ["grad['W'] has a non-finite value inf at index [1, 2]"]),
    ("loss nan at the start", variant(def_loss="def loss(p): return float(np.log(-np.sum(p['b'] ** 2)))"), [], 2,
     ["loss is nan at the starting point", "shift the scores by their max before exp"]),
    # -- misbehaviour
    ("infinite recursion", variant(def_loss="def loss(p): return loss(p)"), [], 2,
     ["loss raised RecursionError", "Previous line repeated"]),
    ("modifies params in place", variant(def_loss="def loss(p): p['W'] += 1; return float(np.sum(p['W']))"), [],
     2, ["loss modified params['W'] in place", "copy an array before changing it"]),
    ("nondeterministic",
     variant(def_loss="import random as r\nrng = np.random.default_rng()\ndef loss(p): return float(np.sum(p['W'])) + rng.random()"),
     [], 2, ["loss is nondeterministic", "difference", "Generator made outside the function"]),
]


@pytest.mark.parametrize("name, source, args, code, words", ROWS, ids=[r[0] for r in ROWS])
def test_matrix(model_file, name, source, args, code, words):
    path = model_file(source)
    result = CliRunner().invoke(main, [path, *args], prog_name="gradcheck")
    assert result.exit_code == code, result.output
    message = result.stderr
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "gradcheck_cli" not in message, "the tool's own frames leaked"
    assert message.startswith("gradcheck: error: ")
    assert len(message.splitlines()) < 40, "one short paragraph (and the user's frames), not a wall"


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


@pytest.mark.parametrize("target, words", [
    ("missing.py", "model file not found"),
    ("notes.txt", "is not a Python file"),
])
def test_files_that_are_not_models(tmp_path, target, words):
    (tmp_path / "notes.txt").write_text("hello")
    result = run(tmp_path / target)
    assert result.exit_code == 2 and words in result.stderr


def test_a_directory_without_models(tmp_path):
    result = run(tmp_path)
    assert result.exit_code == 2 and "directory with no model files" in result.stderr


def test_integer_params_are_refused_by_name(model_file):
    path = model_file(variant(params="params = {'W': np.arange(6).reshape(2, 3), 'b': np.array([1, -1, 2])}"))
    result = run(path, "--format", "json")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "parameter block 'W'" in result.stderr and "integer array" in result.stderr


@pytest.mark.parametrize("blocks, words", [
    ({"W": np.zeros((2, 3))}, "missing block(s) 'b'"),
    ({"W": np.zeros((2, 3)), "b": np.zeros(3), "V": np.zeros(1)}, "has block(s) 'V'"),
])
def test_params_file_must_match_the_model(model_file, tmp_path, blocks, words):
    npz = tmp_path / "p.npz"
    np.savez(npz, **blocks)
    result = run(model_file(GOOD), "--params", npz)
    assert result.exit_code == 2 and words in result.stderr


def test_nan_only_at_a_perturbed_point_leaves_that_element_unverified_and_carries_on(model_file):
    # W[0, 1] = 0.1 sits on the wall: the loss is nan on one side at every
    # step. Nothing measures its derivative, so nothing shows it wrong: the
    # element is not verified (said why), never failed, and the rest is checked.
    path = model_file(variant(def_loss="def loss(p): return float(np.sum(np.sin(p['W'])) + np.sum(p['b'] ** 2)) "
                                       "if p['W'][0, 1] <= 0.1 else float('nan')"))
    result = run(path, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["models"][0]
    W = next(b for b in report["blocks"] if b["name"] == "W")
    broken = [d for d in W["dims"] if d["grade"] == "unverified"]
    assert [d["index"] for d in broken] == [[0, 1]] and broken[0]["numeric"] is None
    assert "the loss is nan with W[0, 1] changed" in broken[0]["message"]
    assert "at every smaller step" in broken[0]["message"] and "not verified" in broken[0]["message"]
    assert not any(d["grade"] == "fail" for b in report["blocks"] for d in b["dims"])
    assert sum(d["grade"] == "pass" for d in W["dims"]) == 5
    assert next(b for b in report["blocks"] if b["name"] == "b")["grade"] == "pass"


def test_an_exception_at_a_perturbed_point_names_it_and_carries_on(model_file):
    path = model_file(variant(def_loss="def loss(p):\n    if p['b'][2] > 1.0:\n        raise ValueError('out of range')\n"
                                       "    return float(np.sum(np.sin(p['W'])) + np.sum(p['b'] ** 2))"))
    result = run(path, "-v")
    # b[2] = 1.0 is on the wall: no step measures it (not verified, not failed).
    assert result.exit_code == 0, result.output
    assert "loss raised ValueError: out of range at b[2] = 1.00001" in result.stdout
    assert "1 unverified" in result.stdout
    assert "raise ValueError('out of range')" in result.stdout  # the user's frame


def test_output_stays_valid_json_and_junit_when_the_model_prints(model_file, tmp_path):
    path = model_file(GOOD.replace("def loss(p): return", "def loss(p):\n    print('<testcase>', p)\n    return"))
    xml = tmp_path / "out.xml"
    result = run(path, "--format", "json", "--junit-xml", xml)
    assert json.loads(result.stdout)["verdict"] == "pass"
    assert ET.parse(xml).getroot().get("tests") == "4"  # two blocks, at the start and generic points
    assert "<testcase>" in result.stderr


HANGS = """
import numpy as np
params = {"w": np.ones(3), "v": np.ones(2)}
def loss(p):
    # Hangs once v is probed (steps of 1e-5), not in the noise table (which
    # moves every block, by ~1e-6)
    if abs(p["v"][0] - 1.0) > 5e-6:
        while True:
            pass
    return float(np.sum(p["w"] ** 2) + np.sum(p["v"] ** 2))
def grad(p): return {"w": 2 * p["w"], "v": 2 * p["v"]}
"""


def test_a_loss_that_never_returns_is_stopped_by_timeout(model_file):
    started = time.monotonic()
    result = run(model_file(HANGS), "--timeout", "1", "--format", "json")
    assert time.monotonic() - started < 30
    assert result.exit_code == 2
    assert "timed out after" in result.stderr and "reached 1 of 2 blocks" in result.stderr
    partial = json.loads(result.stdout)["models"][0]
    assert partial["stopped"].startswith("timed out") and [b["name"] for b in partial["blocks"]] == ["w"]
    assert any("not checked: v" in w for w in partial["warnings"])


def test_timeout_covers_the_whole_run(model_file, tmp_path):
    hangs = model_file(HANGS, name="hangs.py")
    good = model_file(GOOD, name="good.py")
    result = run(hangs, good, "--timeout", "1", "--format", "json")
    assert result.exit_code == 2
    models = json.loads(result.stdout)["models"]
    assert models[1]["verdict"] == "error" and "--timeout of 1 s ran out" in models[1]["error"]


def test_ctrl_c_prints_the_partial_report_and_exits_130(model_file):
    process = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", model_file(HANGS)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130
    headline = out[out.index("PARTIAL"):]  # (one headline, no WARN; it may wrap)
    assert "interrupted after" in headline and "not checked: v" in out
    assert not any(line.startswith(("WARN  ", "PASS  ", "FAIL  ")) for line in out.splitlines())
    assert "interrupted" in err and "Traceback" not in err


@pytest.mark.workers
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_output_below_python_does_not_corrupt_json(model_file, jobs):
    """os.write(1, ...) stands for C extensions: it bypasses sys.stdout. In a
    worker process (--jobs 2) even a plain print does."""
    path = model_file(GOOD.replace("def loss(p): return",
                                   "import os\ndef loss(p):\n    os.write(1, b'C-level output\\n')\n    print('print')\n    return"))
    result = subprocess.run([sys.executable, "-m", "gradcheck_cli", path, "--format", "json", "--jobs", jobs],
                            capture_output=True, text=True, cwd=ROOT)
    assert json.loads(result.stdout)["verdict"] == "pass"
    assert "C-level output" in result.stderr and "print" in result.stderr


# -- nonsense options: a usage error naming the option, never gradcheck's traceback

OPTION_ROWS = [
    ("timeout nan", ["--timeout", "nan"], 2, ["'--timeout'", "positive number of seconds"]),
    ("timeout zero", ["--timeout", "0"], 2, ["'--timeout'"]),
    ("lr nan", ["--lr", "nan", "--warmup", "3"], 2, ["'--lr'", "not a finite number"]),
    ("fail-above inf", ["--fail-above", "inf"], 2, ["'--fail-above'", "not a finite number"]),
    ("h below epsilon", ["--h", "1e-17"], 2, ["step h = 1e-17 is too small", "machine epsilon"]),
    ("h huge", ["--h", "1e300"], 2, ["step h = 1e+300 is too large"]),
    ("h one", ["--h", "1", "--method", "five-point"], 2, ["too large"]),
    ("negative seed", ["--seed", "-1"], 2, ["'--seed'", "0<=x<=4294967295"]),
    ("seed past 2**32", ["--seed", str(2**32)], 2, ["'--seed'"]),
    ("int constant set to 1e400", ["--set", "N=1e400"], 2, ["--set N=1e400", "N = 3, a int", "not a whole number"]),
    ("junit into a missing directory", ["--junit-xml", "/nonexistent-dir/x.xml"], 2,
     ["--junit-xml /nonexistent-dir/x.xml", "does not exist"]),
    ("junit onto a directory", ["--junit-xml", "."], 2, ["'--junit-xml'", "is a directory"]),
    ("save-params into a missing directory", ["--save-params", "/nonexistent-dir/p.npz"], 2,
     ["--save-params", "does not exist"]),
]


@pytest.mark.parametrize("name, args, code, words", OPTION_ROWS, ids=[r[0] for r in OPTION_ROWS])
def test_option_values_no_check_can_use(model_file, name, args, code, words):
    path = model_file(GOOD + "N = 3\n")
    result = CliRunner().invoke(main, [path, *args], prog_name="gradcheck")
    assert result.exit_code == code, result.output
    for word in words:
        assert word in result.stderr, f"{word!r} not in {result.stderr!r}"
    assert "Traceback" not in result.stderr and "gradcheck_cli" not in result.stderr


@pytest.mark.parametrize("timeout", ["inf", "1e300"])
def test_a_timeout_beyond_any_clock_is_no_limit(model_file, timeout):
    result = run(model_file(GOOD), "--timeout", timeout)
    assert result.exit_code == 0, result.output


def test_an_output_file_that_cannot_be_written_is_an_error_after_the_report(model_file):
    # /proc/version passes every test short of writing (a regular file,
    # writable to root): the write itself fails, and says so.
    if not __import__("os").path.exists("/proc/version"):
        pytest.skip("no /proc")
    result = run(model_file(GOOD), "--junit-xml", "/proc/version")
    assert result.exit_code == 2
    assert "--junit-xml /proc/version" in result.stderr and "Traceback" not in result.stderr


CONFIG_ROWS = [
    ("junit-xml = 5", b"[tool.gradcheck]\njunit-xml = 5\n", ["'junit-xml'", "5 must be a string"]),
    ("samples = true", b"[tool.gradcheck]\nsamples = true\n", ["'samples'", "True is neither a whole number"]),
    ("samples = 0", b"[tool.gradcheck]\nsamples = 0\n", ["'samples'", "at least 1"]),
    ("verbose = 7", b"[tool.gradcheck]\nverbose = 7\n", ["'verbose'", "must be true or false"]),
    ("params = [a list]", b'[tool.gradcheck]\nparams = ["a.npz"]\n', ["'params'", "must be a string"]),
    ("set = a number", b'[tool.gradcheck]\nset = 5\n', ["'set'", "must be a list, or one string, or a table"]),
    ("timeout = nan", b"[tool.gradcheck]\ntimeout = nan\n", ["'timeout'"]),
    ("not UTF-8", b'[tool.gradcheck]\nmethod = "\xff"\n', ["is not UTF-8 text", "0xff"]),
]


@pytest.mark.parametrize("name, text, words", CONFIG_ROWS, ids=[r[0] for r in CONFIG_ROWS])
def test_config_values_of_the_wrong_type(model_file, tmp_path, name, text, words):
    (tmp_path / "pyproject.toml").write_bytes(text)
    result = run(model_file(GOOD), "--config", tmp_path / "pyproject.toml")
    assert result.exit_code == 2, result.output
    for word in words:
        assert word in result.stderr, f"{word!r} not in {result.stderr!r}"
    assert "Traceback" not in result.stderr


def test_config_from_dev_null_is_an_empty_config(model_file):
    result = run(model_file(GOOD), "--config", "/dev/null")
    assert result.exit_code == 0, result.output


def test_a_sweep_whose_widest_steps_leave_the_loss_domain_plots_the_rest(model_file):
    path = model_file("""
        import numpy as np
        params = {"W": np.array([0.5, 0.6])}
        def loss(p):
            with np.errstate(all="ignore"):
                return float(np.sum(np.log(p["W"] - 0.46)))
        def grad(p): return {"W": 1 / (p["W"] - 0.46)}
    """)
    result = run("sweep", path, "--block", "W", "--format", "json")
    assert result.exit_code == 0, result.output
    curve = json.loads(result.stdout)["models"][0]["curves"][0]
    assert "the loss is nan with W[0] changed by a relative step of 1e-01" in curve["broken"]
    by_h = {p["h"]: p for p in curve["points"]}
    assert by_h[0.1]["numeric"] is None and by_h[1e-5]["rel_error"] < 1e-6
    assert curve["recommended_h"] is not None and curve["recommended_h"] < 0.1


MARKUP = """
import numpy as np
params = {"[/]": np.arange(3.0), "[bold red]x :smile:": np.ones(2)}
def loss(p): return float(np.sum(p["[/]"] ** 2) + np.sum(p["[bold red]x :smile:"] ** 3))
def grad(p): return {"[/]": 2 * p["[/]"], "[bold red]x :smile:": 3 * p["[bold red]x :smile:"] ** 2}
"""


def test_user_strings_are_printed_as_text_not_markup(tmp_path):
    folder = tmp_path / "br[" / "b]"
    folder.mkdir(parents=True)
    (folder / "m.py").write_text(MARKUP)
    (tmp_path / "good.py").write_text(GOOD)
    result = run(folder / "m.py", tmp_path / "good.py")
    assert result.exit_code == 0, result.output
    assert "[/]" in result.stdout and "[bold red]x :smile:" in result.stdout and "br[/b]/m.py" in result.stdout


CONTROL = """
import numpy as np
params = {"b\\x01\\x1b[31m": np.ones(2), "ok": np.ones(2)}
def loss(p): return float(np.sum(p["b\\x01\\x1b[31m"] ** 3) + np.sum(p["ok"] ** 2))
def grad(p): return {"b\\x01\\x1b[31m": 6 * p["b\\x01\\x1b[31m"] ** 2, "ok": 2 * p["ok"]}
"""


def test_control_characters_in_a_block_name_reach_junit_and_github_as_escapes(model_file, tmp_path):
    xml = tmp_path / "out.xml"
    result = run(model_file(CONTROL), "--format", "github", "--junit-xml", xml)
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "b\\x01\\x1b[31m" in result.stdout
    names = [case.get("name") for case in ET.parse(xml).getroot().iter("testcase")]
    assert "b\\x01\\x1b[31m" in names


def test_a_block_name_that_is_not_text_is_named(model_file):
    result = run(model_file(GOOD.replace('"b"', '"b\\udc80"')))
    assert result.exit_code == 2
    assert "parameter block 'b\\udc80'" in result.stderr and "not valid text" in result.stderr


def test_an_unnamed_array_in_a_params_file_is_a_one_array_model(model_file, tmp_path):
    path = model_file("""
        import numpy as np
        def loss(x): return float(np.sum(x ** 3))
        def grad(x): return 3 * x ** 2
    """)
    npz = tmp_path / "cube.npz"
    np.savez(npz, np.arange(4.0))
    result = run(path, "--params", npz)
    assert result.exit_code == 0, result.output
    assert "one unnamed array ('arr_0')" in result.stdout


def test_a_model_that_changes_directory_moves_no_path(tmp_path, monkeypatch):
    (tmp_path / "chdir.py").write_text("import os\nos.chdir('/')\n" + GOOD)
    (tmp_path / "good.py").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    result = run("chdir.py", "good.py", "--junit-xml", "out.xml")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.xml").exists()


def test_a_model_that_poisons_sys_modules_still_gets_its_report(model_file):
    path = model_file("import sys\nsys.modules['json'] = None\nsys.modules['rich'] = 42\nsys.path.clear()\n" + GOOD)
    result = subprocess.run([sys.executable, "-m", "gradcheck_cli", path, "--format", "json"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "pass"
    text = subprocess.run([sys.executable, "-m", "gradcheck_cli", path], capture_output=True, text=True, cwd=ROOT)
    assert text.returncode == 0 and "PASS" in text.stdout, text.stderr


# -- stdout under --format json is one document, whatever the model writes

def gradcheck_process(*args, timeout=120):
    """The console script as a user runs it (guarded, in its own process)."""
    return subprocess.run([sys.executable, "-m", "gradcheck_cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


WRITERS = {
    "os.write at import": "import os\nos.write(1, b'raw bytes on descriptor 1\\n')\n",
    "os.system at import": "import os\nos.system('echo from a shell')\n",
    "os.write in init_params": "import os\ndef init_params(seed):\n    os.write(1, b'{not json\\n')\n"
                               "    return {'W': np.arange(6.0).reshape(2, 3) / 10, 'b': np.array([0.5, -0.5, 1.0])}\n",
    "a daemon thread that prints": "import threading, time\ndef chatter():\n    while True:\n"
                                   "        print('chatter', flush=True)\n        time.sleep(0.001)\n"
                                   "threading.Thread(target=chatter, daemon=True).start()\n",
    "os.fork at import": "import os\nos.fork()\n",
    "an atexit write": "import atexit, os\natexit.register(lambda: os.write(1, b'atexit output\\n'))\n",
}


@pytest.mark.workers
@pytest.mark.parametrize("command", [[], ["sweep"], ["sanity", "--expect-loss", "3"]], ids=["check", "sweep", "sanity"])
@pytest.mark.parametrize("writer", WRITERS, ids=list(WRITERS))
def test_json_stays_one_document_whatever_the_model_writes(model_file, command, writer):
    path = model_file("import numpy as np\n" + WRITERS[writer] + GOOD)
    result = gradcheck_process(*command, path, "--format", "json")
    document = json.loads(result.stdout)  # one document, nothing around it
    assert isinstance(document, dict) and result.returncode in (0, 1), result.stderr


def test_a_model_that_cannot_be_checked_gives_an_error_document(model_file):
    result = run(model_file(variant(def_grad="def grad(p): pass")), "--format", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert document["verdict"] == "error" and "grad returned None" in document["models"][0]["error"]
    assert "grad returned None" in result.stderr


@pytest.mark.workers
@pytest.mark.parametrize("command", [[], ["sweep"]], ids=["check", "sweep"])
def test_a_model_that_ends_the_process_still_leaves_a_document(model_file, command):
    result = gradcheck_process(*command, model_file(variant(def_loss="def loss(p): __import__('os')._exit(0)")),
                               "--format", "json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["verdict"] == "error" and "os._exit" in document["error"] and document["models"] == []


# -- hangs and processes left behind

def our_processes(pid_root: int) -> list[int]:
    """Processes whose command line mentions this test's model (ours: the guard, the check, its workers)."""
    import os

    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != pid_root:
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    line = f.read()
                with open(f"/proc/{entry}/environ", "rb") as f:
                    environ = f.read()
            except OSError:
                continue
            if b"GRADCHECK_ORPHAN_TEST" in environ:
                found.append(int(entry))
    return found


SLOW = """
import time
import numpy as np
params = {"W": np.arange(200.0) / 100}
def loss(p):
    time.sleep(0.01)
    return float(np.sum(p["W"] ** 2))
def grad(p): return {"W": 2 * p["W"]}
"""


@pytest.mark.workers
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("killed", ["gradcheck", "the check"])
def test_no_process_of_ours_outlives_a_sigkill_under_jobs(model_file, killed):
    import os

    env = {**os.environ, "GRADCHECK_ORPHAN_TEST": "1"}
    process = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", model_file(SLOW), "--jobs", "2",
                                "--samples", "all"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(our_processes(0)) < 4 and time.monotonic() < deadline:  # the guard, the check, 2 workers
        time.sleep(0.1)
    assert len(our_processes(0)) >= 4, "the workers never started"
    if killed == "gradcheck":
        victim = process.pid
    else:
        victim = next(p for p in our_processes(process.pid)
                      if open(f"/proc/{p}/stat").read().split(")")[1].split()[1] == str(process.pid))
    os.kill(victim, signal.SIGKILL)
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while our_processes(0) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert our_processes(0) == [], "processes left behind"


@pytest.mark.workers
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_model_with_a_non_daemon_thread_still_exits(model_file, jobs):
    path = model_file("import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()\n" + GOOD)
    result = gradcheck_process(path, "--jobs", jobs, timeout=60)
    assert result.returncode == 0 and "PASS" in result.stdout


SWALLOWS = HANGS.replace("""        while True:
            pass""", """        while True:
            try:
                __import__("time").sleep(0.05)
            except:
                pass""")
IGNORES_ALARM = HANGS.replace("""        while True:
            pass""", """        import signal, time
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        signal.setitimer(signal.ITIMER_REAL, 0)
        time.sleep(600)""")


@pytest.mark.workers
@pytest.mark.parametrize("source", [SWALLOWS, IGNORES_ALARM], ids=["bare except", "SIGALRM ignored"])
def test_timeout_ends_a_run_whose_model_will_not_stop(model_file, source):
    started = time.monotonic()
    result = gradcheck_process(model_file(source), "--timeout", "1", "--format", "json", timeout=60)
    assert time.monotonic() - started < 30
    assert result.returncode == 2
    assert "did not stop when told to" in result.stderr
    partial = json.loads(result.stdout)["models"][0]
    assert partial["stopped"].startswith("timed out") and [b["name"] for b in partial["blocks"]] == ["w"]


SLOW_IMPORT = "import time\ntime.sleep(30)\n" + GOOD
SLOW_INIT = GOOD.replace('params = {', 'def init_params(seed):\n    __import__("time").sleep(30)\n'
                         '    return {"W": np.arange(6.0).reshape(2, 3) / 10, "b": np.array([0.5, -0.5, 1.0])}\n'
                         'unused = {')


@pytest.mark.parametrize("source", [SLOW_IMPORT, SLOW_INIT], ids=["import", "init_params"])
def test_timeout_while_the_model_loads(model_file, source):
    result = run(model_file(source), "--timeout", "0.5", "--format", "json")
    assert result.exit_code == 2
    assert "timed out after" in result.stderr and "while loading the model" in result.stderr
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout)["verdict"] == "error"


def test_keyboard_interrupt_raised_at_import_exits_130(model_file):
    result = gradcheck_process(model_file("raise KeyboardInterrupt\n"))
    assert result.returncode == 130
    assert "interrupted" in result.stderr and "Aborted" not in result.stderr and "Traceback" not in result.stderr


# -- messages that name the right culprit

@pytest.mark.workers
def test_an_import_that_fails_only_in_workers_is_named(model_file):
    path = model_file("import sys\nif 'gradcheck_cli.cli' not in sys.modules:\n"
                      "    raise ImportError('no module named torch here')\n" + GOOD)
    result = gradcheck_process(path, "--jobs", "2")
    assert result.returncode == 2
    assert "in a worker process" in result.stderr and "no module named torch here" in result.stderr
    assert "stdin" not in result.stderr and "gradcheck_cli/" not in result.stderr


@pytest.mark.workers
def test_a_worker_that_ends_its_process_is_named(model_file):
    path = model_file(variant(def_loss="def loss(p):\n    import os, sys\n"
                                       "    if 'gradcheck_cli.cli' not in sys.modules: os._exit(3)\n"
                                       "    return float(np.sum(np.sin(p['W'])) + np.sum(p['b'] ** 2))"))
    result = gradcheck_process(path, "--jobs", "2")
    assert result.returncode == 2
    assert "a worker process of --jobs 2 ended (exit status 3)" in result.stderr
    assert "stdin" not in result.stderr


def test_a_tuple_of_same_shaped_arrays_is_a_block_each(model_file):
    path = model_file("""
        import numpy as np
        params = (np.arange(3.0), np.ones(3))
        def loss(p): return float(np.sum(p[0] ** 2) + np.sum(p[1] ** 3))
        def grad(p): return (2 * p[0], 3 * p[1] ** 2 * 2)
    """)
    result = run(path, "--format", "json")
    assert result.exit_code == 1  # the second block's gradient is doubled, and only that one fails
    grades = {b["name"]: b["grade"] for b in json.loads(result.stdout)["models"][0]["blocks"]}
    assert grades == {"params[0]": "pass", "params[1]": "fail"}


def test_sanity_refuses_an_expected_loss_of_nan(model_file):
    result = run("sanity", model_file(GOOD), "--expect-loss", "nan")
    assert result.exit_code == 2 and "'--expect-loss'" in result.stderr and "not a finite number" in result.stderr


@pytest.mark.parametrize("shadow", ["json.py", "rich.py"])
def test_a_local_module_shadowing_a_library_gradcheck_uses(tmp_path, shadow):
    (tmp_path / shadow).write_text("raise RuntimeError('the local file was imported')\n")
    (tmp_path / "m.py").write_text(GOOD)
    for fmt in ("json", "text"):
        result = subprocess.run([sys.executable, "-m", "gradcheck_cli", "m.py", "--format", fmt],
                                capture_output=True, text=True, cwd=tmp_path, env={**__import__("os").environ,
                                                                                  "PYTHONPATH": str(ROOT)})
        assert result.returncode == 0, result.stderr
        assert "the local file was imported" not in result.stderr


@pytest.mark.workers
def test_a_model_that_changes_directory_still_runs_in_workers(tmp_path, monkeypatch):
    (tmp_path / "chdir.py").write_text("import os\nos.chdir('/')\n" + GOOD)
    monkeypatch.chdir(tmp_path)
    result = run("chdir.py", "--jobs", "2")
    assert result.exit_code == 0, result.output


# -- a model that breaks what gradcheck relies on

@pytest.mark.workers
def test_a_lowered_recursion_limit_is_given_back(model_file):
    path = model_file("import sys\nsys.setrecursionlimit(60)\n" + GOOD)
    for jobs in ("1", "2"):  # (in a process of its own: pytest's stack alone is deeper than 60)
        result = gradcheck_process(path, "--jobs", jobs, "--format", "json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["verdict"] == "pass"


def test_replacing_np_random_seed_does_not_stop_the_reseeding(model_file):
    # (In a process of its own: the replacement is numpy's, for the whole process.)
    result = gradcheck_process(model_file("import numpy as np\nnp.random.seed = None\n" + GOOD))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("raise_line, words", [
    ("class E(Exception):\n    def __str__(self): raise RuntimeError('str broke')\ndef loss(p):\n    raise E()",
     ["loss raised E: <its str() raised RuntimeError>"]),
    ("def loss(p):\n    raise ValueError('x' * 10**6)", ["loss raised ValueError: xxx", "more characters)"]),
], ids=["__str__ raises", "a megabyte of message"])
def test_exceptions_that_are_hard_to_print(model_file, raise_line, words):
    result = run(model_file(variant(def_loss=raise_line)))
    assert result.exit_code == 2
    for word in words:
        assert word in result.stderr
    assert len(result.stderr) < 20_000 and "gradcheck_cli" not in result.stderr


def test_a_failure_inside_gradcheck_is_an_error_with_a_document(model_file):
    path = model_file("import builtins\nbuiltins.float = lambda *a: 'x'\n" + GOOD)
    result = gradcheck_process(path, "--format", "json")
    assert result.returncode == 2
    assert "gradcheck failed inside its own code" in result.stderr and "builtins" in result.stderr
    assert json.loads(result.stdout)["verdict"] == "error"


def test_sweep_interrupted_still_gives_a_document(model_file):
    path = model_file(variant(def_loss="def loss(p):\n    if p['W'][0, 1] != 0.1: raise KeyboardInterrupt\n"
                                       "    return float(np.sum(np.sin(p['W'])) + np.sum(p['b'] ** 2))"))
    result = gradcheck_process("sweep", path, "--format", "json")
    assert result.returncode == 130
    assert json.loads(result.stdout)["verdict"] == "error"


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("option", [None, "--params", "--data"])
def test_a_fifo_is_refused_not_read(model_file, tmp_path, option):
    import os

    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    args = [fifo] if option is None else [model_file(GOOD), option, fifo]
    result = gradcheck_process(*args, timeout=60)  # reading a FIFO would block for ever
    assert result.returncode == 2 and "not a regular file" in result.stderr


def test_a_data_array_that_would_replace_a_function(model_file, tmp_path):
    npz = tmp_path / "d.npz"
    np.savez(npz, loss=np.ones(3))
    result = run(model_file(GOOD), "--data", npz)
    assert result.exit_code == 2 and "has an array 'loss', which would replace" in result.stderr


@pytest.mark.workers
def test_jobs_far_beyond_the_cores_is_capped_with_a_note(model_file):
    result = run(model_file(GOOD), "--jobs", "10000", "--format", "json", "--timeout", "120")
    assert result.exit_code == 0, result.output
    assert any("--jobs 10000:" in n and "per core" in n for n in json.loads(result.stdout)["models"][0]["notes"])


def test_sanity_names_a_reg_constant_that_does_not_exist(model_file):
    result = run("sanity", model_file(GOOD), "--classes", "3", "--reg", "NOPE")
    assert result.exit_code == 2 and "--reg NOPE" in result.stderr and "no module-level constant" in result.stderr


@pytest.mark.parametrize("args", [["--h", "1e-17"], ["--seed", "-1"], ["--no-such-option"]])
def test_a_usage_error_under_json_still_gives_a_document(model_file, args):
    result = gradcheck_process(model_file(GOOD), "--format", "json", *args)
    assert result.returncode == 2 and "Usage:" in result.stderr
    document = json.loads(result.stdout)
    assert document["verdict"] == "error" and document["error"].startswith("usage: ")


def test_a_hundred_thousand_stray_gradient_keys_are_said_in_one_line(model_file):
    result = run(model_file(variant(
        def_grad="def grad(p): return {'W': np.cos(p['W']), 'b': 2 * p['b'], **{f'k{i}': 1 for i in range(100000)}}")))
    assert result.exit_code == 2
    assert "'k0', 'k1'" in result.stderr and "and 99988 more" in result.stderr and len(result.stderr) < 2000


@pytest.mark.workers
def test_a_fork_at_import_checks_the_rest_once(model_file, tmp_path):
    forks = model_file("import os\nos.fork()\n" + variant(def_grad="def grad(p): return {'W': 2 * np.cos(p['W']), "
                                                                   "'b': 2 * p['b']}"), name="forks.py")
    broken = model_file(variant(def_grad="def grad(p): pass"), name="broken.py")
    result = gradcheck_process(forks, broken)
    assert result.returncode == 2
    assert result.stdout.count("FAIL  ") == 1 and "summary" in result.stdout
    # The forked copy ended as it came back from the import: it neither checked
    # broken.py again nor tripped over the report's descriptor, closed in it.
    assert result.stderr.count("grad returned None") == 1 and "Traceback" not in result.stderr


@pytest.mark.workers
@pytest.mark.parametrize("closed, code", [(1, 0), (2, 0), (1, 2)], ids=["stdout", "stderr", "stdout, unusable model"])
def test_a_closed_standard_descriptor_keeps_the_exit_code(model_file, closed, code):
    import os

    source = GOOD if code == 0 else variant(def_grad="def grad(p): pass")
    result = subprocess.run([sys.executable, "-m", "gradcheck_cli", model_file(source)], cwd=ROOT, timeout=120,
                            capture_output=True, text=True, preexec_fn=lambda: os.close(closed))
    assert result.returncode == code, result.stderr + result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.workers
def test_a_reader_that_stops_early_does_not_change_the_exit_code(model_file):
    # `gradcheck m.py -v | head -1`: the pipe closes while the report is written.
    path = model_file("import numpy as np\nparams = {'W': np.linspace(0.1, 1, 1000)}\n"
                      "def loss(p): return float(np.sum(np.sin(p['W'])))\ndef grad(p): return {'W': np.cos(p['W'])}\n")
    process = subprocess.Popen([sys.executable, "-m", "gradcheck_cli", path, "-v", "--samples", "all", "--warmup",
                                "off"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().split()[0] in (b"block", b"analytic")  # (the table's header)
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0 and b"Traceback" not in err
