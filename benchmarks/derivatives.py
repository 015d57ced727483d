"""Benchmark 10, derivatives (issue 27): every verdict on the corpus of
classic test functions and fits in scipy.optimize's conventions
(tests/derivative_corpus: Rosenbrock, Beale, Booth, Himmelblau, Rastrigin,
Styblinski-Tang, Powell, Wood, Brown, Freudenstein-Roth, log barrier,
entropy, logistic and softmax regression, exponential, Gaussian and
weighted fits, Huber, L1, n = 1 problems; each at several start points,
correct and with realistic bugs) and on its minimal findings, against
mpmath's truth (tests/derivative_corpus/truth.py): a derivative off by
more than 1e-2 must fail, one within 1e-7 must pass (or warn at a kink).

Prints the counts (truth -> verdict), every wrong verdict, and the time
per file (check_derivatives, every derivative the file defines), and
records them in RESULTS.md. --quick leaves out the families whose mpmath
truth takes minutes (n = 50, m = 400).

    python benchmarks/derivatives.py [--quick]
"""

from __future__ import annotations

import collections
import runpy
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

from _common import ROOT, record, table

sys.path.insert(0, str(ROOT))

from gradcheck_cli import check_derivatives  # noqa: E402
from tests.derivative_corpus import models, truth  # noqa: E402

SLOW = {"rosen50", "wlsq"}
MINIMAL = ROOT / "tests" / "derivative_corpus" / "minimal"


def right(expected: str, verdict: str | None, kinked: bool) -> bool:
    if expected == "gray":
        return True
    if expected == "right":
        return verdict == "pass" or (kinked and verdict == "warn")
    return verdict == "fail"


def main() -> None:
    quick = "--quick" in sys.argv
    sources = {name: text for name, text in models.sources().items()
               if not (quick and name.split("__")[0] in SLOW)}
    sources.update({f"{p.stem}__minimal__": p.read_text() for p in sorted(MINIMAL.glob("*.py"))})
    counts: collections.Counter = collections.Counter()
    wrong, seconds = [], []
    with tempfile.TemporaryDirectory() as folder:
        for name, text in sources.items():
            family, point, _ = name.split("__")
            path = Path(folder) / f"{name.rstrip('_')}.py"
            path.write_text(text)
            module = types.SimpleNamespace(**runpy.run_path(str(path)))
            expected = {d: truth.expected(err) for d, (err, _) in truth.truth(module, family, point).items()}
            started = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                verdicts = {d: r.verdict for d, r in check_derivatives(path).items()}
            seconds.append((time.perf_counter() - started, name))
            for derivative, want in expected.items():
                got = verdicts.get(derivative)
                counts[(want, got)] += 1
                if not right(want, got, (family, point) in truth.KINKED):
                    wrong.append([path.stem, derivative, want, str(got)])
    total = sum(counts.values())
    rows = [[want, got, str(n)] for (want, got), n in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))]
    seconds.sort(reverse=True)
    median = seconds[len(seconds) // 2][0]
    body = (f"{len(sources)} files, {total} derivatives; {len(wrong)} wrong verdicts "
            f"({sum(1 for w in wrong if w[2] == 'wrong')} wrong derivatives passed or warned, "
            f"{sum(1 for w in wrong if w[2] == 'right')} right ones failed or warned).\n\n"
            + table(["truth", "verdict", "derivatives"], rows) + "\n\nWrong verdicts:\n\n"
            + (table(["model", "derivative", "truth", "verdict"], wrong) if wrong else "none") + "\n\n"
            + f"Time per file (every derivative it defines): median {median:.2f} s, "
            + f"slowest {seconds[0][0]:.2f} s ({seconds[0][1]}).")
    print(body)
    command = "python benchmarks/derivatives.py" + (" --quick" if quick else "")
    record("derivatives", "10. Derivatives: scipy.optimize's conventions against mpmath", body, command)


if __name__ == "__main__":
    main()
