"""Benchmark 9, BLAS limits: --jobs 2 with gradcheck's own process held to
the workers' share of the cores (threadpoolctl) against without, and both
against --jobs 1, on verdicts, reports and wall time.

Without the limit (the behaviour before it), a --jobs 2 check's workers sum
on their share of the cores (the thread variables, set for their start)
while gradcheck's own process, whose BLAS loaded before the check, sums its
start point and noise tables on every core. "Without" is that behaviour in
the same code: the parent's ``executors.blas_limited`` replaced by a no-op
(the workers still get the same count from the variables).

Models (model files, as workers import them):
- BLAS sums: a dot product of 200000 elements, which OpenBLAS splits
  between threads, so its last bits depend on their count;
- cancelling sum: such a dot product cancelling from terms of 1e3 down to
  a loss of 1e-3, so that its 7th digit depends on the thread count (a
  worker checks its loss at the start point against gradcheck's process's
  to 4 ulps: a model that depends on the process is refused);
- vectorised: a 300x300 product and a tanh (a few ms a loss), 40
  coordinates and 2 directions per block;
- short check: the two_layer_net sample at default settings.

"same as --jobs 1": the JSON report, timings left out, identical to --jobs
1's. Times: the check's own (`Report.seconds`, worker start-up included),
best of three runs interleaved, a fresh interpreter each. BLAS as
installed (the thread variables unset).

    python benchmarks/blas_limits.py
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

from _common import ROOT, SAMPLES, record, table

# The models are the tests' own (tests/test_job_isolation.py: a long BLAS
# sum; tests/test_parallel.py: one cancelling to 1e-3), so that what is
# measured here is what the tests hold.
from tests.test_job_isolation import _THREAD_VARIABLES as THREAD_VARIABLES, BLAS_SUMS  # noqa: E402
from tests.test_parallel import CANCELLING_SUM  # noqa: E402

REPEATS = 5

VECTORISED = '''
"""A smooth model with one n x n x n product per loss."""
import numpy as np

N = 300
_rng = np.random.default_rng(0)
X = _rng.standard_normal((N, N)) / np.sqrt(N)
params = {"W": _rng.standard_normal((N, N)) / np.sqrt(N), "b": np.zeros(N)}


def loss(p):
    return 0.5 * float(np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2))


def grad(p):
    a = np.tanh(X @ p["W"] + p["b"])
    d = a * (1 - a ** 2)
    return {"W": X.T @ d, "b": d.sum(axis=0)}
'''


def _without_seconds(document):
    if isinstance(document, dict):
        return {k: _without_seconds(v) for k, v in document.items() if k != "seconds"}
    if isinstance(document, list):
        return [_without_seconds(v) for v in document]
    return document


def child(path: str, jobs: str, samples: str, limits: str) -> None:
    """One check in this fresh interpreter; prints its report as JSON."""
    sys.path.insert(0, str(ROOT))
    from gradcheck_cli import GradcheckError, check, executors

    if limits == "without":
        executors.blas_limited = lambda threads: contextlib.nullcontext()
    started = time.perf_counter()
    try:
        report = check(path, jobs=int(jobs), samples=None if samples == "default" else int(samples))
    except GradcheckError as exc:
        print(json.dumps({"seconds": time.perf_counter() - started,
                          "report": {"verdict": f"error ({type(exc).__name__})", "evaluations": None}}))
        return
    print(json.dumps({"seconds": report.seconds, "report": _without_seconds(report.to_dict())}))


def run(path: str, jobs: int, samples, limits: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    command = [sys.executable, __file__, "--child", path, str(jobs), str(samples), limits]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    started = time.perf_counter()
    runs = {"--jobs 1": (1, "with"), "--jobs 2 without": (2, "without"), "--jobs 2 with": (2, "with")}
    rows, changed, ratios = [], [], []
    with tempfile.TemporaryDirectory() as directory:
        models = []
        for label, source, samples in (("BLAS sums", BLAS_SUMS, "default"), ("cancelling sum", CANCELLING_SUM, "default"),
                                       ("vectorised", VECTORISED, 40)):
            path = os.path.join(directory, f"bench_{label.replace(' ', '_')}.py")
            with open(path, "w") as handle:
                handle.write(textwrap.dedent(source))
            models.append((label, path, samples))
        models.append(("short check (two_layer_net sample)", str(SAMPLES / "two_layer_net.py"), "default"))
        for label, path, samples in models:
            done: dict[str, list[dict]] = {name: [] for name in runs}
            for _ in range(REPEATS):  # interleaved: a busy spell of the machine hits every way alike
                for name, (jobs, limits) in runs.items():
                    done[name].append(run(path, jobs, samples, limits))
            first = {name: results[0]["report"] for name, results in done.items()}
            # (every repeat of a way must give its first report: the comparison is of ways, not of runs)
            steady = all(r["report"] == first[name] for name, results in done.items() for r in results)
            best = {name: min(r["seconds"] for r in results) for name, results in done.items()}
            without, with_ = first["--jobs 2 without"]["verdict"], first["--jobs 2 with"]["verdict"]
            if without != with_:
                changed.append(f"{label} (without: {without}; with: {with_}; --jobs 1: {first['--jobs 1']['verdict']})")
            if without == with_:
                ratios.append((label, best["--jobs 2 with"] / best["--jobs 2 without"]))
            rows.append([label, str(first["--jobs 1"]["evaluations"]),
                         " / ".join(first[name]["verdict"] for name in runs),
                         "yes" if first["--jobs 2 without"] == first["--jobs 1"] else "no",
                         "yes" if first["--jobs 2 with"] == first["--jobs 1"] else "no",
                         "yes" if steady else "no",
                         *(f"{best[name]:.2f} s" for name in runs)])
    body = (f"{os.cpu_count()} cores; the thread variables unset (BLAS as installed); the workers' share: "
            f"{max(1, (os.cpu_count() or 1) // 2)} thread(s). Verdicts in the order --jobs 1 / --jobs 2 without "
            "the limit / --jobs 2 with it; \"same as --jobs 1\": the report, timings aside, identical; "
            f"\"repeatable\": each way gave one report in all {REPEATS} runs; times best of {REPEATS}.\n\n")
    body += table(["model", "evaluations", "verdicts", "same as --jobs 1: without", "with", "repeatable",
                   "--jobs 1", "--jobs 2 without", "--jobs 2 with"], rows)
    body += ("\n\nVerdicts the limit changes: " + ("; ".join(changed) if changed else "none") + ". "
             "Time with the limit over without, --jobs 2, where both checked: "
             + ", ".join(f"{label} {ratio:.2f}x" for label, ratio in ratios) + " (the sequential part in "
             "gradcheck's own process, its start point and noise tables, runs on the workers' share of the cores). "
             "Neither way gives --jobs 1's report where the thread count changes the BLAS's sums: --jobs 1 sums "
             "on every core; for identical reports set the count (docs/big-models.md).")
    body += f"\n\nRun time {time.perf_counter() - started:.0f} s."
    print(body)
    record("blas_limits", "9. BLAS limits under --jobs", body, "python benchmarks/blas_limits.py")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()
