"""``taylor(...) -> TaylorReport``: the Taylor test of each block, shown.

Along a seeded unit direction v of each block (the check's own direction
0: sampling.Direction), the remainder

    r(eps) = f(x + eps v) - f(x) - eps <g, v>

is measured at the check's Taylor-test points (eps = h, 2h, 4h times the
block's step scale, each side, for h in TAYLOR_STEPS) and read by
verdict/taylor.py at each h, as the check reads it: the fitted order of
|r| against eps and the one-sided limits with their uncertainty. A right
derivative's remainders fall as eps^2 down to the loss's round-off, a
wrong one's as eps; a kink at x makes both sides fall as eps, the
derivative then being right when it lies between them.

The order a block is summed up by is read at the finest steps above the
noise (:func:`fitted_order`): eps -> 0 is what decides a derivative, a
coarse step's order mixes in the curvature of a wrong value (slope 1 only
below where eps |a - g.v| outgrows eps^2 f''/2), and an order seen at one
step only may be a kink that step alone crosses.

The verdict word is the check's own, at the point the plot is of, so the
two never disagree: ``taylor`` runs the check (without its drill-down,
which only locates, or its regularization split), and where the check
moves on to a generic point (a degenerate start point: an SVM whose every
hinge is active, where a gradient without its mask is exactly right) the
Taylor test is shown there too, along the check's own generic direction,
each point's blocks graded as the check graded them there. A block's grade
in a word: wrong (fail); kinked (a valid subgradient where the loss values
show a jump in slope, or kinks every step crossed); right (pass, ok);
inconclusive (unverified, warned, all zero).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from .errors import ModelError, listed
from .evaluate import Evaluator
from .layers import Layer
from .model import Assignments, Model, ParamsSource, frozen_copies
from .options import python_names
from .pipeline import check, resolve
from .process_state import borrows_process
from .report import FAIL, KINK, OK, PASS, BlockResult, _number
from .sampling import GENERIC_STREAM, Direction
from .settings import DEFAULT_METHOD, DEFAULT_SAMPLES, DEFAULT_SEED, TAYLOR_STEPS
from .values import TAYLOR, parsed
from .verdict.numeric import crosses_kink, taylor_test
from .verdict.probes import Probe, step_scale

RIGHT, WRONG, KINKED, INCONCLUSIVE = "right", "wrong", "kinked", "inconclusive"


@dataclass(frozen=True)
class TaylorPoint:
    """The remainder at one distance along the direction, both sides."""

    eps: float
    """The distance |eps| along the unit direction v (absolute: h, 2h or 4h times the step scale)."""
    plus: float
    """r(+eps) = f(x + eps v) - f(x) - eps <g, v>."""
    minus: float
    """r(-eps), likewise at x - eps v."""

    def to_dict(self) -> dict:
        return {"eps": self.eps, "remainder": _number(self.plus), "remainder_minus": _number(self.minus)}


@dataclass(frozen=True)
class TaylorReading:
    """verdict/taylor.py's reading of the points at one relative step h."""

    h: float
    """The relative step: the points are at h, 2h and 4h times the step scale."""
    outcome: str | None
    """consistent, wrong, subgradient, not a subgradient or inconclusive; None where the loss broke."""
    order: float | None
    """The fitted order (the lower side's); None where the remainders are at the noise."""
    difference: float | None
    """The analytic directional derivative's error as measured (or its distance from a kink's bracket)."""
    uncertainty: float | None
    """Of ``difference``, assuming no order."""
    kink: bool = False
    """A tracked kink operation (max, abs, a mask) decides differently at x +- 4h than at x: the points
    reach past a kink, and their order is the kink's as much as the derivative's."""
    broken: str | None = None
    """Where the loss broke (nan, or raised) at one of the points: what broke."""

    def to_dict(self) -> dict:
        return {"h": self.h, "outcome": self.outcome, "order": _number(self.order),
                "difference": _number(self.difference), "uncertainty": _number(self.uncertainty),
                "kink": self.kink, "broken": self.broken}


@dataclass(frozen=True)
class TaylorBlock:
    """One block's Taylor test at one point, and the check's verdict on the block there."""

    block: str
    """The block's name."""
    point: str
    """Where: the start point, or the generic point the check moved on to."""
    scale: float
    """What the relative steps are relative to (probes.step_scale): eps = h * scale."""
    analytic: float
    """<g, v>: the analytic directional derivative along v."""
    points: tuple[TaylorPoint, ...]
    """Every distance measured, smallest eps first."""
    readings: tuple[TaylorReading, ...]
    """One per relative step of TAYLOR_STEPS, largest first."""
    order: float | None
    """The fitted order (fitted_order: read at the finest two neighbouring readings above the noise; 2 for a
    right derivative, 1 for a wrong one or at a kink); None where no two neighbouring readings are above it."""
    verdict: str
    """right, wrong, kinked or inconclusive: the check's grade of the block, in a word."""
    grade: str
    """The check's grade of the block (pass, ok, warn, fail, unverified, kink, zero)."""
    message: str | None
    """Why, from the check (its worst value's message)."""

    def to_dict(self) -> dict:
        return {"block": self.block, "point": self.point, "scale": self.scale, "analytic": _number(self.analytic),
                "order": _number(self.order), "verdict": self.verdict, "grade": self.grade,
                "message": self.message, "points": [p.to_dict() for p in self.points],
                "readings": [r.to_dict() for r in self.readings]}


@dataclass(frozen=True)
class TaylorReport:
    """The Taylor test of a model's blocks, at each point the check judged it at."""

    model: str
    """The model as it was given."""
    derivative: str
    """What its grad is (the check's Report.derivative): gradient, Jacobian, Hessian, Hessian-vector product."""
    seed: int
    """Seeds the directions (with each block's name)."""
    evaluations: int
    """Calls of the user's functions (the screening check's and the Taylor test's)."""
    seconds: float
    """Wall time."""
    loss: float
    """f(x) at the start point."""
    loss_noise: float
    """Measured rounding noise of the loss (standard deviation): the remainders' floor."""
    blocks: tuple[TaylorBlock, ...]
    """One per block tested at each point: the start point's, then the generic point's (if the check moved)."""

    @property
    def verdict(self) -> str:
        """The check's rule on its blocks' grades: fail where one failed, warn where one is not verified
        (unverified, warn, kink, zero), else pass (a valid subgradient at a kink passes)."""
        grades = {b.grade for b in self.blocks}
        return "fail" if FAIL in grades else "pass" if grades <= {PASS, OK} else "warn"

    @property
    def points(self) -> tuple[str, ...]:
        """Where the blocks were tested, in order: the start point, and the generic point if the check moved."""
        return tuple(dict.fromkeys(b.point for b in self.blocks))

    def to_dict(self) -> dict:
        return {"model": self.model, "derivative": self.derivative, "verdict": self.verdict, "seed": self.seed,
                "evaluations": self.evaluations, "seconds": round(self.seconds, 6), "loss": _number(self.loss),
                "loss_noise": _number(self.loss_noise), "steps": list(TAYLOR_STEPS),
                "blocks": [b.to_dict() for b in self.blocks]}


@python_names
@parsed(TAYLOR)
@borrows_process
def taylor(
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
    block: str | Iterable[str] = (),
) -> TaylorReport:
    """The Taylor test of each block (of the named ``block`` or blocks only,
    if any are named: ``--block``) at the model's start point, and at the
    generic point where the check moves on to one: the remainder
    f(x + eps v) - f(x) - eps <g, v> along a seeded unit direction v, over
    eps from 4e-1 to 1e-9 of the block's step scale, its fitted order, and
    the check's verdict on the block there in a word.

    ``model``, ``loss``, ``grad``, ``loss_and_grad``, ``params``, ``data``,
    ``set``, ``seed``, ``samples``, ``method`` and ``track_kinks`` are as for
    :func:`~gradcheck_cli.check` (the check whose verdicts are given, run
    without its drill-down or regularization split).
    Returns a :class:`TaylorReport`.
    """
    blocks = tuple(block)  # (parsed: the names)
    started = time.perf_counter()
    loaded = resolve(model, loss=loss, grad=grad, loss_and_grad=loss_and_grad, params=params, seed=seed, set=set,
                     data=data)
    unknown = [name for name in blocks if name not in loaded.params]
    if unknown:
        raise ModelError(f"{loaded.name} has no block(s) {listed(unknown)} (it has {listed(loaded.params)})")
    with tempfile.TemporaryDirectory(prefix="gradcheck-taylor-") as scratch:
        # The check's own --save-params: exactly the point its last phase ran at.
        ran_at = os.path.join(scratch, "params.npz")
        screening = check(loaded, samples=samples, seed=seed, method=method, track_kinks=track_kinks, max_evals=0,
                          reg="none", save_params=ran_at)
        moved = None
        if screening.generic is not None:
            with np.load(ran_at, allow_pickle=False) as saved:  # (under exactly the blocks' names: save_arrays)
                moved = frozen_copies({name: saved[name] for name in loaded.params})
    points = [("start point", loaded, screening, None)]
    if moved is not None:
        points.append(("generic point", dataclasses.replace(loaded, params=moved), screening.generic,
                       GENERIC_STREAM))
    results, evaluations, loss_at_start = [], screening.evaluations, float("nan")
    for point, at, judged, stream in points:
        with Evaluator(at, seed=seed, track_kinks=track_kinks) as evaluator:
            base = evaluator.base_point()
            if point == "start point":
                loss_at_start = base.loss
            for result in judged.blocks:
                if (blocks and result.name not in blocks) or result.size == 0:
                    continue
                results.append(_block(evaluator, base, result, point, seed, stream, judged.loss_noise))
        evaluations += evaluator.evaluations
    return TaylorReport(model=loaded.name, derivative=screening.derivative, seed=seed, evaluations=evaluations,
                        seconds=time.perf_counter() - started, loss=loss_at_start, loss_noise=screening.loss_noise,
                        blocks=tuple(results))


def _block(evaluator: Evaluator, base, result: BlockResult, point: str, seed: int, stream: int | None,
           sigma: float) -> TaylorBlock:
    """The Taylor test of one block along the check's direction 0 there
    (``stream``: the generic point's directions', None for the start
    point's), read at every step."""
    direction = Direction(seed, result.name, 0, result.size) if stream is None else \
        Direction(seed, result.name, 0, result.size, stream)
    probe = Probe(result.name, direction=direction, number=0).resolved()
    scale = step_scale(evaluator, probe)
    readings, points = [], {}
    for h in TAYLOR_STEPS:
        try:
            test = taylor_test(evaluator, probe, base, h=h, sigma=sigma)
        except ModelError as broke:
            readings.append(TaylorReading(h, None, None, None, None, broken=str(broke).partition("\n")[0]))
            continue
        readings.append(TaylorReading(h, test.outcome, test.order, test.difference, test.uncertainty,
                                      kink=crosses_kink(evaluator, probe, base, h, [0])))
        for d_plus, r_plus, r_minus in zip(test.plus.steps, test.plus.remainders, test.minus.remainders):
            points[abs(d_plus)] = TaylorPoint(abs(d_plus), r_plus, r_minus)
    analytic = float((base.gradient[result.name].reshape(-1) @ probe.direction))
    finest = fitted_order(readings)
    return TaylorBlock(block=result.name, point=point, scale=scale, analytic=analytic,
                       points=tuple(points[eps] for eps in sorted(points)), readings=tuple(readings), order=finest,
                       verdict=verdict_word(result), grade=result.grade,
                       message=result.worst.message if result.worst is not None else None)


def fitted_order(readings: list[TaylorReading]) -> float | None:
    """The order a block's remainders show as eps -> 0: the coarser's of the
    two finest neighbouring steps (tenfold apart) that both show the
    derivative at x, those whose points reach past no tracked kink -- or
    all of them where even the finest step's do (a kink at x itself, whose
    order 1 is then the point).

    Finest, because eps -> 0 decides a derivative (at coarse steps a wrong
    value's remainder can be the curvature's, eps^2 f''/2 outgrowing
    eps |error|). Past no kink, because a hinge crossed at 1e-4 of the
    scale gave a right ReLU layer 2.5 or 3.6 there, while every finer
    remainder was round-off. Two steps, because an order seen at one step
    alone may be a kink tracking does not see (.tolist(), a loss opaque to
    it). The coarser of the two, because the finer's remainders can sit
    just above the noise, which bends their fit (1.8 for a right Hessian),
    while the coarser's stand 10 to 100 times higher. None: no two such
    neighbours (a loss linear along v near x, its remainders round-off up
    to the first kink)."""
    at_x = next((r.kink for r in reversed(readings) if r.outcome is not None), False)
    shown = [r.order is not None and (at_x or not r.kink) for r in readings]
    for k in range(len(readings) - 1, 0, -1):
        if shown[k] and shown[k - 1]:
            return readings[k - 1].order
    return None


def verdict_word(result: BlockResult) -> str:
    """The check's grade of a block in a word: wrong (fail); kinked (a
    valid subgradient where the loss values show a jump in slope, or kinks
    every step crossed: the check's kink grade); right (pass, ok);
    inconclusive (unverified, warn, zero)."""
    if result.grade == FAIL:
        return WRONG
    if result.grade == KINK:
        return KINKED
    if result.grade in (PASS, OK):
        at_kink = any(d.bracket is not None for d in (*result.dims, *result.directions))
        return KINKED if at_kink else RIGHT
    return INCONCLUSIVE
