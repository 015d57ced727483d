"""Benchmark 6, hostile models: gradcheck's promises under code that fights it.

Each scenario is a model file (and options) that crashes, hangs, forks,
writes to descriptor 1, poisons the interpreter or passes nonsense. Each is
run as a user runs it -- the console script in a process of its own, with
--format json -- and held to the promises every run makes, whatever the
model does:

  exit      the code is one of gradcheck's: 0, 1, 2 or 130;
  json      stdout is exactly one JSON document;
  frames    stderr shows no traceback of gradcheck's own code (but where
            the model replaces builtins: gradcheck says its own code failed,
            and shows the traceback for a report);
  time      the run ends within 60 s (the hanging ones have --timeout 2);
  orphans   no process of the run is left alive afterwards.

The expected verdict is not graded here (tests/test_bad_input.py asserts
the messages); this is the survey: how many scenarios keep every promise.

    python benchmarks/hostile.py
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from _common import ROOT, record, table

GOOD = '''
import numpy as np
params = {"W": np.arange(6.0).reshape(2, 3) / 10, "b": np.array([0.5, -0.5, 1.0])}
def loss(p): return float(np.sum(np.sin(p["W"])) + np.sum(p["b"] ** 2))
def grad(p): return {"W": np.cos(p["W"]), "b": 2 * p["b"]}
'''
HANG_AT_V = '''
import numpy as np, time
params = {"w": np.ones(3), "v": np.ones(2)}
def loss(p):
    if p["v"][0] != 1.0:
        HANG
    return float(np.sum(p["w"] ** 2) + np.sum(p["v"] ** 2))
def grad(p): return {"w": 2 * p["w"], "v": 2 * p["v"]}
'''


def hang(body: str) -> str:
    return HANG_AT_V.replace("HANG", body.replace("\n", "\n        "))


def before(code: str) -> str:
    return code + "\n" + GOOD


def in_loss(code: str) -> str:
    return GOOD.replace("def loss(p): return", "def loss(p):\n    " + code.replace("\n", "\n    ") + "\n    return")


# name -> (model source, extra options)
SCENARIOS: dict[str, tuple[str, list[str]]] = {
    "os.write(1) at import": (before("import os\nos.write(1, b'junk\\n')"), []),
    "os.system at import": (before("import os\nos.system('echo junk')"), []),
    "os.write(1) in init_params": (GOOD.replace("params = {", "import os\ndef init_params(seed):\n    os.write(1, b'x')\n"
                                                "    return {'W': np.ones((2, 3)), 'b': np.ones(3)}\nunused = {"), []),
    "a daemon thread printing": (before("import threading, time\ndef f():\n    while True:\n        print('x', flush=True)"
                                        "\n        time.sleep(0.001)\nthreading.Thread(target=f, daemon=True).start()"), []),
    "os.fork at import": (before("import os\nos.fork()"), []),
    "an atexit write": (before("import atexit, os\natexit.register(lambda: os.write(1, b'x'))"), []),
    "a non-daemon thread": (before("import threading, time\nthreading.Thread(target=time.sleep, args=(600,)).start()"), []),
    "a non-daemon thread, --jobs 2": (before("import threading, time\n"
                                             "threading.Thread(target=time.sleep, args=(600,)).start()"), ["--jobs", "2"]),
    "os._exit in loss": (in_loss("import os\nos._exit(0)"), []),
    "os._exit in loss, --jobs 2": (in_loss("import os\nif p['W'][0, 0] != 0: os._exit(3)"), ["--jobs", "2"]),
    "SIGSEGV in loss": (in_loss("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)"), []),
    "sys.exit at import": (before("import sys\nsys.exit(0)"), []),
    "KeyboardInterrupt at import": (before("raise KeyboardInterrupt"), []),
    "KeyboardInterrupt in loss": (in_loss("if p['W'][0, 1] != 0.1: raise KeyboardInterrupt"), []),
    "a loss that never returns": (hang("while True: pass"), ["--timeout", "2"]),
    "a bare except around a sleep": (hang("while True:\n    try:\n        time.sleep(0.05)\n    except:\n        pass"),
                                     ["--timeout", "2"]),
    "SIGALRM ignored, timer reset": (hang("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                          "signal.setitimer(signal.ITIMER_REAL, 0)\ntime.sleep(600)"), ["--timeout", "2"]),
    "a hang, --jobs 2": (hang("while True: pass"), ["--timeout", "3", "--jobs", "2"]),
    "a slow import, --timeout": (before("import time\ntime.sleep(30)"), ["--timeout", "1"]),
    "sys.path cleared": (before("import sys\nsys.path.clear()"), []),
    "sys.modules poisoned": (before("import sys\nsys.modules['json'] = None\nsys.modules['rich'] = 42"), []),
    "chdir at import": (before("import os\nos.chdir('/')"), ["--jobs", "2"]),
    "recursion limit 60": (before("import sys\nsys.setrecursionlimit(60)"), ["--jobs", "2"]),
    "np.random.seed replaced": (before("import numpy as np\nnp.random.seed = None"), []),
    "warnings as errors": (before("import warnings\nwarnings.simplefilter('error')"), []),
    "np.seterr(all='raise')": (before("import numpy as np\nnp.seterr(all='raise')"), []),
    "stdout closed": (before("import sys\nsys.stdout.close()"), []),
    "descriptor 2 closed": (before("import os\nos.close(2)"), []),
    "builtins.float replaced": (before("import builtins\nbuiltins.float = lambda *a: 'x'"), []),
    "markup block names": (GOOD.replace('"b"', '"[/]"').replace("p[\"b\"]", "p[\"[/]\"]"), []),
    "control characters in a name": (GOOD.replace('"b"', '"b\\x1b[31m\\x00"')
                                     .replace("p[\"b\"]", "p[\"b\\x1b[31m\\x00\"]"), ["--junit-xml", "JUNIT"]),
    "a lone surrogate in a name": (GOOD.replace('"b"', '"b\\udc80"').replace("p[\"b\"]", "p[\"b\\udc80\"]"), []),
    "__str__ that raises": (in_loss("class E(Exception):\n    def __str__(self): raise RuntimeError\nraise E()"), []),
    "a megabyte of message": (in_loss("raise ValueError('x' * 10**6)"), []),
    "nan at the widest sweep step": (GOOD, ["SWEEP"]),
    "--h 1e-17": (GOOD, ["--h", "1e-17"]),
    "--h 1e300": (GOOD, ["--h", "1e300"]),
    "--timeout inf": (GOOD, ["--timeout", "inf"]),
    "--lr nan": (GOOD, ["--lr", "nan", "--warmup", "3"]),
    "--seed -1": (GOOD, ["--seed", "-1"]),
    "--junit-xml to a directory": (GOOD, ["--junit-xml", "/"]),
    "--junit-xml to /proc/version": (GOOD, ["--junit-xml", "/proc/version"]),
    "--jobs 10000": (GOOD, ["--jobs", "10000"]),
}


def our_processes(marker: str) -> list[int]:
    """Live processes carrying this run's marker in their environment."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if marker.encode() in f.read():
                        with open(f"/proc/{entry}/stat") as s:
                            if s.read().split(")")[1].split()[0] != "Z":
                                found.append(int(entry))
            except OSError:
                continue
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def run(name: str, source: str, options: list[str], folder: str) -> list[str]:
    path = os.path.join(folder, f"m{abs(hash(name))}.py")
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
        f.write(source)
    command = ["sweep", path] if options == ["SWEEP"] else [path, *options]
    if options == ["SWEEP"]:
        with open(path, "w") as f:
            f.write("import numpy as np\nparams = {'W': np.array([0.5, 0.6])}\ndef loss(p):\n"
                    "    with np.errstate(all='ignore'):\n        return float(np.sum(np.log(p['W'] - 0.46)))\n"
                    "def grad(p): return {'W': 1 / (p['W'] - 0.46)}\n")
    command = [c if c != "JUNIT" else os.path.join(folder, "out.xml") for c in command]
    marker = f"GRADCHECK_HOSTILE_{os.getpid()}_{abs(hash(name))}"
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-m", "gradcheck_cli", *command, "--format", "json"],
                                capture_output=True, cwd=folder, timeout=60, env={**os.environ, marker: "1"})
        out, err, code = result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace"), \
            result.returncode
    except subprocess.TimeoutExpired:
        _kill(our_processes(marker))
        return ["time"]
    elapsed = time.monotonic() - started
    broken = []
    if code not in (0, 1, 2, 130):
        broken.append(f"exit {code}")
    try:
        json.loads(out)
    except ValueError:
        broken.append("json")
    # (Only where the model breaks gradcheck's own ground, replacing builtins,
    # is a traceback of gradcheck's shown, on purpose, for a bug report.)
    if "Traceback" in err and "gradcheck_cli" in err and name != "builtins.float replaced":
        broken.append("frames")
    deadline = time.monotonic() + 5
    while our_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    if our_processes(marker):
        broken.append("orphans")
        _kill(our_processes(marker))  # (the survey leaves nothing behind either)
    return broken + [f"{code}", f"{elapsed:.1f} s"]


def main() -> None:
    rows, kept = [], 0
    with tempfile.TemporaryDirectory() as folder:
        for name, (source, options) in SCENARIOS.items():
            outcome = run(name, source, options, folder)
            broken = [o for o in outcome if o in ("time", "json", "frames", "orphans") or o.startswith("exit ")]
            kept += not broken
            code, seconds = (outcome[-2], outcome[-1]) if "time" not in outcome else ("-", "> 60 s")
            rows.append([name, code, seconds, ", ".join(broken) or "all kept"])
            print(f"{name:34s} exit {code:4s} {seconds:>7s}  {', '.join(broken) or 'all kept'}", flush=True)
    body = table(["scenario", "exit", "time", "promises broken"], rows)
    body += (f"\n\n{kept} of {len(SCENARIOS)} scenarios keep every promise (exit code, one JSON document, no "
             "traceback of gradcheck's own, within 60 s, no process left).")
    print(f"\n{kept} of {len(SCENARIOS)} keep every promise")
    record("hostile", "6. Hostile models", body, "python benchmarks/hostile.py")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
