"""Shared by the benchmark scripts: machine description, tables, RESULTS.md."""

from __future__ import annotations

import datetime
import os
import platform
import re
import sys
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_models"

sys.path.insert(0, str(ROOT))  # run from a checkout without installing


def machine() -> str:
    """One line saying what this ran on."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
        if names:
            cpu = names[0]
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, numpy {np.__version__}, "
            f"{datetime.date.today().isoformat()}")


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (also readable as printed text)."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def record(name: str, title: str, body: str, command: str) -> None:
    """Replace this benchmark's section of RESULTS.md (or add it)."""
    section = (f"<!-- {name}:start -->\n## {title}\n\n`{command}` on {machine()}\n\n{body.strip()}\n"
               f"<!-- {name}:end -->")
    text = RESULTS.read_text() if RESULTS.exists() else (
        "# Benchmark results\n\nEach section is written by the script named in it; rerun it to refresh.\n\n")
    pattern = re.compile(rf"<!-- {name}:start -->.*?<!-- {name}:end -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text)
    print(f"\nwrote the '{name}' section of {RESULTS.relative_to(ROOT)}")


def sci(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


# CS231n's svm_loss_naive as a model file (workers import models from files),
# N examples: the shape issue 12 measures cost on. overhead.py runs it in
# process (naive_svm), parallel.py from a file.
NAIVE_SVM = '''
"""CS231n's svm_loss_naive: Python loops over examples and classes."""
import numpy as np

_rng = np.random.default_rng(2)
N, D, C = {n}, 64, 10
X = _rng.standard_normal((N, D))
y = _rng.integers(0, C, N)
params = {{"W": 0.01 * _rng.standard_normal((D, C))}}


def loss_and_grad(p):
    W = p["W"]
    dW = np.zeros(W.shape)
    loss = 0.0
    for i in range(N):
        scores = X[i].dot(W)
        correct = scores[y[i]]
        for j in range(C):
            if j == y[i]:
                continue
            margin = scores[j] - correct + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    return loss / N + 0.5 * np.sum(W * W), {{"W": dW / N + W}}
'''
