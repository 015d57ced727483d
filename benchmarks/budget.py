"""Benchmark 5, the error budget: is the uncertainty gradcheck reports honest?

On a suite of smooth functions with closed-form gradients of very different
magnitudes -- large |x|, large loss offsets, tiny and huge loss scales,
float32 arithmetic inside, pixel-scale inputs, a batchnorm of two
examples -- every coordinate and four random directions per block are checked, and the true error
of each numeric value, |numeric - exact derivative|, is compared with the
budget (round-off + truncation) reported for it.

Then the harder classes, the correct models of tests/evidence_models.py
(seed 0, every coordinate): C1 losses (Huber and smooth-L1 at the
curvature jump, ELU fed zero padding), cancellation confined to one block,
float32 backwards, gradients summed over thousands of Python floats,
least-squares solutions, large |x| (UTM coordinates, a frequency times a
long record). Their analytic values are not exact, so the true error is
both sides': |numeric - t| + |analytic - t|, t the derivative of the
model's 50-digit reference loss (mpmath).

Targets: the true error is within the budget for >= 99 % of values
(coverage), and the budget is at most ~100x the true error at the median
(a budget that covers everything by being huge verifies nothing). Where
the true error is below the loss's own rounding (the numeric value is
exact to an ulp), the ratio uses one ulp of the value instead.

    python benchmarks/budget.py
"""

from __future__ import annotations

import numpy as np
from _common import record, table

from gradcheck_cli import check

EPS = float(np.finfo(float).eps)


def _suite():
    """(name, loss, grad, params) for each smooth function; grads are exact."""
    rng = np.random.default_rng(2026)
    cases = []

    def add(name, loss, grad, params):
        cases.append((name, loss, grad, params))

    x = rng.uniform(-2, 2, 30)
    add("sin(x) exp(x/2)", lambda p: float(np.sum(np.sin(p["w"]) * np.exp(0.5 * p["w"]))),
        lambda p: {"w": np.exp(0.5 * p["w"]) * (np.cos(p["w"]) + 0.5 * np.sin(p["w"]))}, {"w": x})

    big = rng.uniform(200, 3000, 30) * rng.choice([-1, 1], 30)
    add("sqrt(1+x^2), |x| ~ 1e3", lambda p: float(np.sum(np.sqrt(1 + p["w"] ** 2))),
        lambda p: {"w": p["w"] / np.sqrt(1 + p["w"] ** 2)}, {"w": big})

    c = rng.uniform(0.5, 2, 30)
    small = 1e-2 * rng.standard_normal(30)
    add("offset 1e6 + sum c w^2/2", lambda p: 1e6 + 0.5 * float(np.sum(c * p["w"] ** 2)),
        lambda p: {"w": c * p["w"]}, {"w": small})
    add("1e-12 * sum c w^2/2", lambda p: 1e-12 * 0.5 * float(np.sum(c * p["w"] ** 2)),
        lambda p: {"w": 1e-12 * c * p["w"]}, {"w": x})
    add("1e8 * sum c w^2/2", lambda p: 1e8 * 0.5 * float(np.sum(c * p["w"] ** 2)),
        lambda p: {"w": 1e8 * c * p["w"]}, {"w": x})

    a, t = rng.standard_normal((12, 6)), rng.standard_normal(12)
    add("least squares in float32",
        lambda p: float(0.5 * np.sum((a.astype(np.float32) @ p["w"].astype(np.float32) - t.astype(np.float32)) ** 2)),
        lambda p: {"w": a.T @ (a @ p["w"] - t)}, {"w": rng.standard_normal(6)})

    pixels = rng.uniform(0, 255, (10, 30))
    pixels -= pixels.mean(axis=0)
    labels = rng.integers(0, 4, 10)

    def softmax_parts(W):
        s = pixels @ W
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def softmax_grad(p):
        probs = softmax_parts(p["W"])
        probs[np.arange(10), labels] -= 1
        return {"W": pixels.T @ probs / 10 + 2e-3 * p["W"]}

    add("softmax on pixels (|x| ~ 128)",
        lambda p: float(-np.mean(np.log(softmax_parts(p["W"])[np.arange(10), labels])) + 1e-3 * np.sum(p["W"] ** 2)),
        softmax_grad, {"W": 1e-3 * rng.standard_normal((30, 4))})

    xs, ys = rng.standard_normal((8, 5)), rng.standard_normal((8, 2))

    def mlp_grad(p):
        h = np.tanh(xs @ p["W1"])
        r = h @ p["W2"] - ys
        dh = (r @ p["W2"].T) * (1 - h * h)
        return {"W1": xs.T @ dh, "W2": h.T @ r}

    add("tanh MLP, squared error",
        lambda p: float(0.5 * np.sum((np.tanh(xs @ p["W1"]) @ p["W2"] - ys) ** 2)), mlp_grad,
        {"W1": rng.standard_normal((5, 6)), "W2": rng.standard_normal((6, 2))})

    rosen = rng.uniform(-1.5, 1.5, 20)

    def rosen_grad(p):
        w = p["w"]
        g = np.zeros_like(w)
        g[:-1] = -400 * w[:-1] * (w[1:] - w[:-1] ** 2) - 2 * (1 - w[:-1])
        g[1:] += 200 * (w[1:] - w[:-1] ** 2)
        return {"w": g}

    add("Rosenbrock", lambda p: float(np.sum(100 * (p["w"][1:] - p["w"][:-1] ** 2) ** 2 + (1 - p["w"][:-1]) ** 2)),
        rosen_grad, {"w": rosen})

    x2, dout = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))

    def bn(p):
        z = x2 * p["scale"]
        return (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5), z

    def bn_grad(p):
        xhat, z = bn(p)
        dxhat = dout * p["gamma"]
        dz = (2 * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / (2 * np.sqrt(z.var(0) + 1e-5))
        return {"gamma": (dout * xhat).sum(0), "scale": dz * x2}

    add("batchnorm, N = 2", lambda p: float(np.sum(dout * p["gamma"] * bn(p)[0])), bn_grad,
        {"gamma": rng.standard_normal(3), "scale": 1 + 0.1 * rng.standard_normal((2, 3))})
    return cases


METHODS = [("central", None), ("five-point", None), ("central", "auto")]
# The corpus's sections whose classes this benchmark grows by.
HARD_SECTIONS = ("noise", "analytic", "c1", "scale")


def _hard_suite():
    """(name, loss, grad, params, exact gradient) for each correct corpus model of HARD_SECTIONS."""
    from tests.evidence_models import CASES, reference_gradient

    for case in CASES:
        if case.correct and case.section in HARD_SECTIONS:
            loss, grad, params = case.make(0)
            yield f"{case.section}: {case.name}", loss, grad, params, reference_gradient(loss, params)


def _tally(values, label: str, name: str, totals: dict, misses: list) -> str:
    """Count (block, DimResult, exact derivative) values covered by their
    budgets into ``totals[label]``; the table's cell."""
    covered, count, ratios = 0, 0, []
    for block, d, exact in values:
        if not np.isfinite(d.numeric):
            continue
        ok, ratio = _covered(d, exact, label, name, block, misses)
        count += 1
        covered += ok
        ratios.append(ratio)
    totals[label][0] += covered
    totals[label][1] += count
    totals[label][2] += ratios
    return f"{covered}/{count}, x{np.median(ratios):.0f}"


def _covered(d, exact: float, label: str, name: str, block: str, misses: list) -> tuple[bool, float]:
    """Whether the budget covers the true error of both sides, and budget / true error."""
    true = abs(d.numeric - exact) + abs(d.analytic - exact)
    if true > d.uncertainty:
        misses.append(f"- {label}, {name}, {block} {d.label}: true error {true:.1e} > budget {d.uncertainty:.1e} "
                      f"(round-off {d.roundoff + d.analytic_roundoff:.1e}, truncation "
                      f"{d.truncation if d.truncation is not None else 'not estimated'}), h = {d.h:g}")
    floor = EPS * max(abs(d.analytic), abs(d.numeric), 1e-300)
    return true <= d.uncertainty, d.uncertainty / max(true, floor)


def main() -> None:
    rows, misses = [], []
    totals = {label: [0, 0, []] for label in ("central", "five-point", "central --h auto")}
    for name, loss, grad, params in _suite():
        cells = [name]
        for method, h in METHODS:
            label = method + (" --h auto" if h else "")
            # Every coordinate; then random directions (which --samples all leaves out).
            report = check(loss=loss, grad=grad, params=params, method=method, h=h, samples=None)
            along = check(loss=loss, grad=grad, params=params, method=method, h=h, samples=1, directions=4)
            # the analytic value is the exact derivative
            values = [(b.name, d, d.analytic) for b in report.blocks for d in b.dims]
            values += [(b.name, d, d.analytic) for b in along.blocks for d in b.directions]
            cells.append(_tally(values, label, name, totals, misses))
        rows.append(cells)
    for name, loss, grad, params, exact in _hard_suite():
        cells = [name]
        for method, h in METHODS:
            label = method + (" --h auto" if h else "")
            report = check(loss=loss, grad=grad, params=params, method=method, h=h, samples=None)
            values = [(b.name, d, float(exact[b.name][d.index])) for b in report.blocks for d in b.dims]
            cells.append(_tally(values, label, name, totals, misses))
        rows.append(cells)
    summary = [["all", *[f"{100 * c / n:.1f} % covered, median x{np.median(r):.0f}" for c, n, r in totals.values()]]]
    text = table(["function", *totals], rows + summary)
    coverage = min(c / n for c, n, _ in totals.values())
    median = max(float(np.median(r)) for *_, r in totals.values())
    verdict = (f"Coverage {100 * coverage:.1f} % at worst (target >= 99 %: {'met' if coverage >= 0.99 else 'MISSED'}); "
               f"median budget / true error x{median:.0f} at worst (target <= ~100: "
               f"{'met' if median <= 100 else 'MISSED'}).")
    body = ("Each cell: values whose true error is within the reported budget / values checked, and the "
            "median of budget / true error.\n\n" + text + "\n\n" + verdict)
    if misses:
        body += "\n\nValues outside their budget:\n" + "\n".join(misses[:20])
    print(body)
    record("budget", "5. Error budget", body, "python benchmarks/budget.py")


if __name__ == "__main__":
    main()
