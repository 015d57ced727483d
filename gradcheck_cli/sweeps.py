"""``sweep(...) -> SweepReport``: relative error against step size.

For the worst dimensions of each block (found by an ordinary check), the
numeric derivative is taken at h = 1e-1, 1e-2, ..., 1e-12 with no kink
retries. Its relative error against the analytic value traces the V the
course notes describe: truncation error falling as h^2 (or h^4) from the
left, round-off rising as 1/h on the right. The recommended step is the
one ``--h auto`` would pick from the numeric values alone (truncation
estimated from the next smaller step, plus round-off): it does not trust
the analytic gradient, which may be the thing that is wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
import os
from typing import Callable, Iterable

import numpy as np

from .errors import ModelError, listed
from .evaluate import Evaluator
from .verdict.grading import relative_error
from .verdict.numeric import ORDERS, best_step, complex_step, kink_free, ladder
from .verdict.probes import Probe
from .layers import Layer
from .model import Assignments, Model, ParamsSource
from .options import python_names
from .values import SWEEP, parsed
from .pipeline import check, resolve
from .process_state import borrows_process
from .report import PASS, _number
from .sampling import plan
from .settings import DEFAULT_METHOD, DEFAULT_SAMPLES, DEFAULT_SEED

SWEEP_STEPS = tuple(10.0**-k for k in range(1, 13))


@dataclass(frozen=True)
class SweepPoint:
    """The numeric derivative at one step."""

    h: float
    """The relative step."""
    numeric: float
    """The numeric derivative at that step."""
    rel_error: float
    """Its relative error against the analytic value."""
    kink: bool
    """The evaluations at this step crossed a kink."""

    def to_dict(self) -> dict:
        return {"h": self.h, "numeric": _number(self.numeric), "rel_error": _number(self.rel_error),
                "kink": self.kink}


@dataclass(frozen=True)
class SweepCurve:
    """One dimension's relative error across all steps."""

    block: str
    """The block swept."""
    index: tuple[int, ...] | None
    """A coordinate, or None for a direction."""
    direction: int | None
    """Which of the block's random directions, or None for a coordinate."""
    analytic: float
    """The model's gradient there."""
    points: tuple[SweepPoint, ...]
    """One per step, from the largest (1e-1) to the smallest (1e-12)."""
    recommended_h: float | None
    """The step ``--h auto`` would pick from the numeric values alone; None if no two consecutive
    steps were kink-free."""
    broken: str | None = None
    """Where the loss broke (nan, or raised) at some steps: the first's message."""

    @property
    def label(self) -> str:
        """How the report names it: ``W[2, 0]`` or ``W direction 1``."""
        if self.index is not None:
            return f"{self.block}[{', '.join(map(str, self.index))}]"
        return f"{self.block} direction {self.direction}"

    def to_dict(self) -> dict:
        return {
            "block": self.block,
            "index": list(self.index) if self.index is not None else None,
            "direction": self.direction,
            "analytic": _number(self.analytic),
            "recommended_h": self.recommended_h,
            "points": [p.to_dict() for p in self.points],
            "broken": self.broken,
        }


@dataclass(frozen=True)
class SweepReport:
    """All curves of a sweep, and what it cost."""

    model: str
    """The model as it was given."""
    method: str
    """The finite-difference method swept."""
    evaluations: int
    """Calls of the user's functions."""
    seconds: float
    """Wall time of the sweep."""
    loss_noise: float
    """Measured rounding noise of the loss (standard deviation)."""
    curves: tuple[SweepCurve, ...]
    """One per swept dimension."""

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "method": self.method,
            "evaluations": self.evaluations,
            "seconds": round(self.seconds, 6),
            "loss_noise": _number(self.loss_noise),
            "steps": list(SWEEP_STEPS),
            "curves": [c.to_dict() for c in self.curves],
        }


@python_names
@parsed(SWEEP)
@borrows_process
def sweep(
    model: str | Model | Layer | None = None,
    *,
    loss: Callable | None = None,
    grad: Callable | None = None,
    loss_and_grad: Callable | None = None,
    params: ParamsSource = None,
    data: str | os.PathLike[str] | None = None,
    set: Assignments = None,
    seed: int = DEFAULT_SEED,
    samples: int | str | None = DEFAULT_SAMPLES,
    method: str = DEFAULT_METHOD,
    track_kinks: bool = True,
    dims: int = 1,
    block: str | Iterable[str] = (),
) -> SweepReport:
    """Sweep the step size over the ``dims`` worst dimensions of each block
    (of the named ``block`` or blocks only, if any are named: ``--block``).

    ``model``, ``loss``, ``grad``, ``loss_and_grad``, ``params``, ``data``,
    ``set``, ``seed``, ``samples``, ``method`` and ``track_kinks`` are as for
    :func:`~gradcheck_cli.check` (the command line's options of the same
    names). ``params_file``, ``data_file``, ``overrides`` and ``blocks`` are
    the deprecated names of ``params``, ``data``, ``set`` and ``block``.
    Returns a :class:`SweepReport`: a curve of relative error against the
    step per swept dimension, with the recommended step.
    """
    blocks = tuple(block)  # (parsed: the names)
    count = samples  # (parsed: a whole number, or None for every coordinate)
    started = time.perf_counter()
    loaded = resolve(model, loss=loss, grad=grad, loss_and_grad=loss_and_grad, params=params, seed=seed, set=set,
                     data=data)
    unknown = [name for name in blocks if name not in loaded.params]
    if unknown:
        raise ModelError(f"{loaded.name} has no block(s) {listed(unknown)} "
                         f"(it has {listed(loaded.params)})")
    # The sweep is of the start point: its screening check does not move
    # off it or split off the regularization (--set does that for a sweep).
    screening = check(loaded, samples=count, seed=seed, method=method, track_kinks=track_kinks, max_evals=0,
                      warmup="off", reg="none")
    directions = {b.name: b.directions for b in plan(loaded.params, samples=count, directions=2, seed=seed)}
    curves = []
    with Evaluator(loaded, seed=seed, track_kinks=track_kinks) as evaluator:
        base = evaluator.base_point()
        sigma = screening.loss_noise  # measured by the screening check already
        for result in screening.blocks:
            if blocks and result.name not in blocks:
                continue
            candidates = [d for d in result.dims + result.directions if d.rel_error is not None]
            # Worst first; among passing dimensions "worst" is decided by
            # round-off (another CPU picks another), so they keep the order
            # they were checked in (a stable sort).
            candidates.sort(key=lambda d: 0.0 if d.grade == PASS else d.rel_error, reverse=True)
            for dim in candidates[:dims]:
                if dim.index is not None:
                    flat = int(np.ravel_multi_index(dim.index, result.shape)) if result.shape else 0
                    probe = Probe(result.name, index=flat)
                else:
                    probe = Probe(result.name, direction=directions[result.name][dim.direction], number=dim.direction)
                curves.append(_curve(evaluator, probe, base, method, sigma, dim.index, dim.direction))
    return SweepReport(
        model=loaded.name,
        method=method,
        evaluations=screening.evaluations + evaluator.evaluations,
        seconds=time.perf_counter() - started,
        loss_noise=sigma,
        curves=tuple(curves),
    )


def _curve(evaluator, probe, base, method, sigma, index, direction) -> SweepCurve:
    if method == "complex-step":
        estimates = [complex_step(evaluator, probe, base, h) for h in SWEEP_STEPS]
        analytic = estimates[0].analytic
        points = tuple(SweepPoint(h, e.numeric, relative_error(analytic, e.numeric), False)
                       for h, e in zip(SWEEP_STEPS, estimates))
        return SweepCurve(probe.block, index, direction, analytic, points, SWEEP_STEPS[0])
    broken: dict[float, str] = {}
    levels = ladder(evaluator, probe, base, method, SWEEP_STEPS, sigma, [0], broken=broken)
    # Steps are judged among neighbours tenfold apart: only the run of
    # steps below the last one where the loss broke is one.
    run = [lv for lv in levels if lv.step < min(broken, default=float("inf"))]
    free = dict(zip((lv.step for lv in run), kink_free(run)))
    points = tuple(
        SweepPoint(lv.step, lv.numeric, relative_error(lv.analytic, lv.numeric),
                   not free.get(lv.step, lv.crossing is None))
        for lv in levels
    ) + tuple(SweepPoint(h, float("nan"), float("nan"), False) for h in broken)
    points = tuple(sorted(points, key=lambda p: -p.h))
    best = best_step(run, ORDERS[method]) if run else None
    analytic = levels[0].analytic if levels else float("nan")
    note = None
    if broken:
        note = broken[max(broken)] + ("" if len(broken) == 1 else f" (and at {len(broken) - 1} other step(s))")
    return SweepCurve(probe.block, index, direction, analytic, points, best[0].step if best else None, note)
