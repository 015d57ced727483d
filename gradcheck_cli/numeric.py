"""Numerical derivatives: steps, the centered difference, kink-aware retries.

A *probe* is one thing to differentiate along: a coordinate of a block, or
a random unit direction inside a block. For each, :func:`estimate` takes
the centered difference (f(x+h) - f(x-h)) / (h+ + h-), where h+ and h- are
the steps actually realised in floating point (x + h - x is rarely h).

The step is relative, h * max(1, |x|). If the two evaluations crossed a
kink -- seen by winner tracking, or by the numerical test below -- the
probe is retried with the step divided by 10 until no kink is crossed, down
to a floor; if none avoids it the estimate is marked unresolved.

Numerical kink test, for what tracking cannot see: the one-sided slopes
(f(x+h) - f(x))/h and (f(x) - f(x-h))/h differ by f''(x) h on a smooth
function, but by up to the jump in slope across a kink. A gap larger than
KINK_GAP_TOLERANCE of the slope is suspicious at the first step; at a
smaller step it is taken as curvature only if it shrank with the step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import UserCodeError
from .evaluate import BasePoint, Evaluator
from .kinks import Crossing, compare_traces
from .settings import (
    EPS,
    KINK_GAP_SHRINK,
    KINK_GAP_TOLERANCE,
    KINK_RETRY_FACTOR,
    KINK_RETRY_FLOOR,
    CURVATURE_MATCH,
    ROUNDOFF_ULPS,
    STEP_SCALE_FLOOR,
)


@dataclass(frozen=True)
class Probe:
    """A coordinate (flat ``index``) or a unit ``direction`` of one block."""

    block: str
    index: int | None = None
    direction: np.ndarray | None = None
    number: int | None = None  # which direction, for the report


@dataclass(frozen=True)
class Estimate:
    """The numeric derivative along a probe, next to the analytic one."""

    analytic: float
    numeric: float
    h: float  # the relative step that produced `numeric`
    evaluations: int
    crossing: Crossing | None = None  # kink crossed at the first step, as tracked
    untracked_kink: bool = False  # the numerical test saw a kink tracking did not
    unresolved: bool = False  # every step down to the floor crossed a kink
    harmless: bool = False  # winners flipped, but the slope did not change across them
    error: str | None = None  # user code raised, or the loss was not finite

    @property
    def crossed_kink(self) -> bool:
        """A kink that changes the slope was crossed at the first step."""
        return (self.crossing is not None and not self.harmless) or self.untracked_kink


@dataclass(frozen=True)
class _Points:
    plus: float | np.ndarray
    minus: float | np.ndarray
    step_plus: float
    step_minus: float
    analytic: float


def _points(probe: Probe, x: np.ndarray, g: np.ndarray, h: float) -> _Points:
    if probe.index is not None:
        x0 = float(x.reshape(-1)[probe.index])
        step = h * max(STEP_SCALE_FLOOR, abs(x0))
        plus, minus = x0 + step, x0 - step
        return _Points(plus, minus, plus - x0, x0 - minus, float(g.reshape(-1)[probe.index]))
    v = probe.direction.reshape(x.shape)
    scale = float(np.sqrt(np.mean(np.square(x))))
    step = h * max(STEP_SCALE_FLOOR, scale)
    plus, minus = x + step * v, x - step * v
    # The analytic side uses the realised displacement too, so rounding in
    # x +/- step*v cannot show up as a gradient error.
    analytic = float(np.sum(g * (plus - minus))) / (2 * step)
    return _Points(plus, minus, step, step, analytic)


def one_sided_gap(f0: float, f_plus: float, f_minus: float, step_plus: float, step_minus: float) -> tuple[float, float, float]:
    """(gap between one-sided slopes, larger slope magnitude, round-off level of the gap)."""
    forward = (f_plus - f0) / step_plus
    backward = (f0 - f_minus) / step_minus
    noise = ROUNDOFF_ULPS * EPS * max(abs(f0), abs(f_plus), abs(f_minus)) / min(step_plus, step_minus)
    return abs(forward - backward), max(abs(forward), abs(backward)), noise


@dataclass(frozen=True)
class _Level:
    """One step size tried along a probe."""

    step: float
    analytic: float
    numeric: float
    gap: float  # |forward slope - backward slope|
    slope: float  # the larger one-sided slope magnitude
    noise: float  # round-off level of the gap
    crossing: Crossing | None  # tracked kink crossed at this step

    @property
    def gap_is_large(self) -> bool:
        return self.gap > KINK_GAP_TOLERANCE * self.slope + self.noise


def _curvature_between(coarse: _Level, fine: _Level) -> bool:
    """Whether the gap shrank with the step as f''(x) h does: by the retry factor."""
    expected = coarse.gap / KINK_RETRY_FACTOR
    return abs(fine.gap - expected) <= CURVATURE_MATCH * expected + fine.noise


def _result(level: _Level, levels: list[_Level], evaluations: int, **flags) -> Estimate:
    first = levels[0]
    flags.setdefault("untracked_kink", first.crossing is None and first.gap_is_large)
    return Estimate(level.analytic, level.numeric, level.step, evaluations, first.crossing, **flags)


def _decide(levels: list[_Level], evaluations: int) -> Estimate | None:
    """The estimate the levels so far support, or None to try a smaller step."""
    level = levels[-1]
    first = levels[0]
    previous = levels[-2] if len(levels) > 1 else None
    suspicious = level.gap_is_large and (previous is None or level.gap > KINK_GAP_SHRINK * previous.gap)
    if level.crossing is None and not suspicious:
        if len(levels) == 2 and first.crossing is None and first.gap_is_large and _curvature_between(first, level):
            # The first step's large gap was curvature (a tiny slope near a
            # minimum), not a kink: its estimate has less round-off than this one.
            return _result(first, levels, evaluations, untracked_kink=False)
        # Otherwise a large first gap that vanished or persisted was a kink.
        return _result(level, levels, evaluations)
    if len(levels) >= 3 and all(lv.crossing is not None for lv in levels[-3:]):
        a, b, c = levels[-3:]
        if _curvature_between(a, b) and _curvature_between(b, c):
            # Winners flip at every step, yet the slopes on both sides agree
            # but for curvature: the loss does not depend on which side won
            # (a softmax's max shift at tied scores). A real kink crossed at
            # three steps leaves a gap that hardly shrinks. Keep the largest
            # of the three steps: least round-off.
            return _result(a, levels, evaluations, harmless=True)
    return None


def estimate(evaluator: Evaluator, probe: Probe, base: BasePoint, h: float) -> Estimate:
    """Centered difference along ``probe``, retried at smaller steps across kinks."""
    x = evaluator.model.params[probe.block]
    g = base.gradient[probe.block]
    evaluations = 0
    levels: list[_Level] = []
    step = h
    for _ in range(_MAX_ATTEMPTS):
        points = _points(probe, x, g, step)
        first_crossing = levels[0].crossing if levels else None
        try:
            plus = evaluator.loss(probe.block, probe.index, points.plus)
            evaluations += 1
            minus = evaluator.loss(probe.block, probe.index, points.minus)
            evaluations += 1
        except UserCodeError as exc:
            return Estimate(points.analytic, float("nan"), step, evaluations + 1, first_crossing, error=str(exc))
        for value, side in ((plus.value, "+"), (minus.value, "-")):
            if not np.isfinite(value):
                return Estimate(points.analytic, float("nan"), step, evaluations, first_crossing,
                                error=f"the loss is {value} at x {side} h (relative step {step:.0e})")
        crossing = None
        if base.trace is not None:
            crossing = compare_traces(base.trace, plus.trace) or compare_traces(base.trace, minus.trace)
        gap, slope, noise = one_sided_gap(base.loss, plus.value, minus.value, points.step_plus, points.step_minus)
        numeric = (plus.value - minus.value) / (points.step_plus + points.step_minus)
        levels.append(_Level(step, points.analytic, numeric, gap, slope, noise, crossing))
        decided = _decide(levels, evaluations)
        if decided is not None:
            return decided
        step /= KINK_RETRY_FACTOR
        if step < KINK_RETRY_FLOOR * (1 - 1e-9):
            break
    return _result(levels[-1], levels, evaluations, unresolved=True)


# A bound on retries whatever h the user chose (1e-5 down to the floor is 5 steps).
_MAX_ATTEMPTS = 12
