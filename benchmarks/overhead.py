"""Benchmark 3, overhead: what gradcheck costs beyond the loss evaluations.

(a) gradcheck's wall time against a bare loop making the same calls (the
    same number of loss and grad calls on plain arrays), on models whose
    evaluation takes ~1 ms and ~20 ms. Target: <= 1.10x at ~20 ms.
(b) kink tracking on against off, on the two-layer sample model (and, for
    scale, on the same net at a realistic batch and width). Target:
    <= 1.5x on the sample.

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
    body += f"\n\nRun time {time.perf_counter() - started:.0f} s."
    print(body)
    record("overhead", "3. Overhead", body, "python benchmarks/overhead.py")


if __name__ == "__main__":
    main()
