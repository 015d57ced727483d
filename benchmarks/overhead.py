"""Benchmark 3, overhead: what gradcheck costs beyond the loss evaluations.

(a) gradcheck's wall time against a bare loop making the same calls (the
    same number of loss and grad calls on plain arrays), on models whose
    evaluation takes ~1 ms and ~20 ms. Target: <= 1.10x at ~20 ms.
(b) kink tracking on against off, on the two-layer sample model (and, for
    scale, on the same net at a realistic batch and width). Target:
    <= 1.5x on the sample.
(c) the shapes users write: a naive-loop SVM, 3M parameters in one block,
    200 blocks of 100; gradcheck against a bare loop making the same
    calls, tracking on and off.

Times are the best of several repetitions, and each ratio compares two
runs made back to back, so a busy shared machine moves both alike.

    python benchmarks/overhead.py
"""

from __future__ import annotations

import time

import numpy as np
from _common import SAMPLES, record, table

from gradcheck_cli import check

REPEATS = 5


def best_of(fn, repeats=REPEATS) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def timed_model(n: int):
    """A smooth model whose loss and grad each cost one n x n x n matmul or so."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, n)) / np.sqrt(n)
    params = {"W": rng.standard_normal((n, n)) / np.sqrt(n), "b": np.zeros(n)}

    def loss(p):
        return 0.5 * float(np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2))

    def grad(p):
        a = np.tanh(X @ p["W"] + p["b"])
        d = a * (1 - a**2)
        return {"W": X.T @ d, "b": d.sum(axis=0)}

    return loss, grad, params


def calibrate(target_seconds: float) -> int:
    """The size n whose loss evaluation takes about target_seconds here."""
    n = 64
    while True:
        loss, _, params = timed_model(n)
        seconds = best_of(lambda: loss(params), repeats=5)
        if seconds >= target_seconds or n > 4096:
            return n
        n = int(n * min(2.0, max(1.1, (target_seconds / seconds) ** (1 / 3))))


def bare_loop_ratio(target_seconds: float) -> list[str]:
    n = calibrate(target_seconds)
    loss, grad, params = timed_model(n)
    report = check(loss=loss, grad=grad, params=params)
    grad_calls = 2  # the start point, twice
    loss_calls = report.evaluations - grad_calls

    def bare():
        for _ in range(loss_calls):
            loss(params)
        for _ in range(grad_calls):
            grad(params)

    tool = best_of(lambda: check(loss=loss, grad=grad, params=params))
    reference = best_of(bare)
    per_eval = reference / report.evaluations
    ratio = tool / reference
    return [f"{per_eval * 1e3:.1f} ms", f"n = {n}", str(report.evaluations), f"{tool:.3f} s", f"{reference:.3f} s",
            f"{ratio:.3f}x"]


def two_layer(n: int, d: int, h: int, c: int):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((n, d)), rng.integers(0, c, size=n)
    params = {"W1": 0.5 * rng.standard_normal((d, h)) / np.sqrt(d), "b1": 0.1 * rng.standard_normal(h),
              "W2": 0.5 * rng.standard_normal((h, c)) / np.sqrt(h), "b2": 0.1 * rng.standard_normal(c)}

    def loss_and_grad(p):
        z = X @ p["W1"] + p["b1"]
        hidden = np.maximum(0, z)
        scores = hidden @ p["W2"] + p["b2"]
        scores = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(n), y]))
        d = probs.copy()
        d[np.arange(n), y] -= 1
        d /= n
        dz = (d @ p["W2"].T) * (z > 0)
        return loss, {"W1": X.T @ dz, "b1": dz.sum(axis=0), "W2": hidden.T @ d, "b2": d.sum(axis=0)}

    return loss_and_grad, params


def tracking_ratio(label: str, run) -> list[str]:
    on = best_of(lambda: run(True))
    off = best_of(lambda: run(False))
    evaluations = run(True).evaluations
    return [label, str(evaluations), f"{on / evaluations * 1e6:.0f} us", f"{off / evaluations * 1e6:.0f} us",
            f"{(on - off) / evaluations * 1e6:.0f} us", f"{on / off:.2f}x"]


# -- (c) the shapes users write (issue 12's table) ----------------------------------

def naive_svm():
    """CS231n's svm_loss_naive: Python loops over examples and classes."""
    rng = np.random.default_rng(2)
    n, d, c = 60, 50, 10
    X, y = rng.standard_normal((n, d)), rng.integers(0, c, n)

    def loss_and_grad(p):
        W = p["W"]
        dW = np.zeros(W.shape)
        total = 0.0
        for i in range(n):
            scores = X[i].dot(W)
            correct = scores[y[i]]
            for j in range(c):
                if j == y[i]:
                    continue
                margin = scores[j] - correct + 1
                if margin > 0:
                    total += margin
                    dW[:, j] += X[i]
                    dW[:, y[i]] -= X[i]
        return total / n + 0.1 * np.sum(W * W), {"W": dW / n + 0.2 * W}

    return loss_and_grad, {"W": 0.01 * rng.standard_normal((d, c))}


def millions(n: int = 3_000_000):
    """One block of n parameters, a loss of a few passes over it."""
    rng = np.random.default_rng(3)
    c = rng.uniform(0.5, 2.0, n)

    def loss_and_grad(p):
        w = p["W"]
        return 0.5 * float(np.sum(c * w * w)), {"W": c * w}

    return loss_and_grad, {"W": rng.standard_normal(n)}


def many_blocks(blocks: int = 200, size: int = 100):
    """200 blocks of 100 parameters: per-block costs show."""
    rng = np.random.default_rng(4)
    names = [f"w{k}" for k in range(blocks)]

    def loss_and_grad(p):
        return 0.5 * float(sum(np.sum(p[k] ** 2) for k in names)), {k: p[k].copy() for k in names}

    return loss_and_grad, {k: rng.standard_normal(size) for k in names}


def bare_calls(loss_and_grad, params, calls: int) -> None:
    """The bare loop: the same calls, each result dropped as the next comes
    (keeping them all would page in gigabytes at 3M parameters and flatter
    the tool)."""
    for _ in range(calls):
        loss_and_grad(params)


def shape_ratio(label: str, loss_and_grad, params) -> list[str]:
    """Tool time / a bare loop making the same number of calls, tracking on and off."""
    cells = [label]
    for on in (True, False):
        report = check(loss_and_grad=loss_and_grad, params=params, track_kinks=on)
        tool = best_of(lambda: check(loss_and_grad=loss_and_grad, params=params, track_kinks=on), repeats=3)
        reference = best_of(lambda: bare_calls(loss_and_grad, params, report.evaluations), repeats=3)
        cells += [str(report.evaluations), f"{tool:.2f} s", f"{tool / reference:.2f}x"]
    return cells


def main() -> None:
    started = time.perf_counter()
    bare_rows = [["~1 ms", *bare_loop_ratio(1e-3)], ["~20 ms", *bare_loop_ratio(20e-3)]]
    sample = str(SAMPLES / "two_layer_net.py")
    big_fn, big_params = two_layer(64, 256, 256, 10)
    tracking_rows = [
        tracking_ratio("two_layer_net.py sample (6x5 batch, 7 hidden)",
                       lambda on: check(sample, samples=None, track_kinks=on)),
        tracking_ratio("same net, 64x256 batch, 256 hidden",
                       lambda on: check(loss_and_grad=big_fn, params=big_params, track_kinks=on)),
    ]
    bare_ratio = float(bare_rows[1][-1].rstrip("x"))
    sample_ratio = float(tracking_rows[0][-1].rstrip("x"))
    body = "(a) gradcheck against a bare loop making the same calls (default settings, tracking on):\n\n"
    body += table(["target eval", "measured eval", "size", "evaluations", "gradcheck", "bare loop", "ratio"],
                  bare_rows)
    body += f"\n\nTarget <= 1.10x at ~20 ms: {'met' if bare_ratio <= 1.10 else '**missed**'} ({bare_ratio:.3f}x).\n\n"
    body += "(b) kink tracking on against off (every coordinate checked):\n\n"
    body += table(["model", "evaluations", "per eval, on", "per eval, off", "tracking cost", "ratio"], tracking_rows)
    body += (f"\n\nTarget <= 1.5x on the sample: {'met' if sample_ratio <= 1.5 else '**missed**'} "
             f"({sample_ratio:.2f}x).")
    if sample_ratio > 1.5:
        body += (
            " Why: tracking runs Python code (`__array_ufunc__`) for every numpy operation on a "
            "parameter-derived array, about 2.4 us against 0.5 us for the operation itself on small arrays. "
            "A bare `__array_ufunc__` subclass that only unwraps and rewraps already costs 2.0 us, so this is "
            "the floor of the ndarray-subclass design, not waste in it. The sample's arrays are 6x7, so its "
            "~35 operations per evaluation cost more to dispatch than to compute. The cost per evaluation is "
            "fixed (column 'tracking cost'), so at a realistic size the ratio falls toward 1 (second row). "
            "`--no-track-kinks` removes it; the numerical kink test still runs."
        )
    shape_rows = [shape_ratio("naive-loop SVM (svm_loss_naive)", *naive_svm()),
                  shape_ratio("3M parameters, one block", *millions()),
                  shape_ratio("200 blocks of 100", *many_blocks())]
    body += ("\n\n(c) the shapes users write, against a bare loop making the same calls (issue 12's targets "
             "with tracking on: naive SVM, 3M parameters, 200 blocks <= 1.3x):\n\n")
    body += table(["model", "evals (on)", "gradcheck", "ratio, tracking on", "evals (off)", "gradcheck",
                   "ratio, tracking off"], shape_rows)
    body += f"\n\nRun time {time.perf_counter() - started:.0f} s."
    print(body)
    record("overhead", "3. Overhead", body, "python benchmarks/overhead.py")


if __name__ == "__main__":
    main()
