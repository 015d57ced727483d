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
    error: str | None = None  # user code raised, or the loss was not finite

    @property
    def crossed_kink(self) -> bool:
        return self.crossing is not None or self.untracked_kink


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


def estimate(evaluator: Evaluator, probe: Probe, base: BasePoint, h: float) -> Estimate:
    """Centered difference along ``probe``, retried at smaller steps across kinks."""
    x = evaluator.model.params[probe.block]
    g = base.gradient[probe.block]
    evaluations = 0
    first_crossing: Crossing | None = None
    untracked = False
    previous_gap: float | None = None
    untracked_candidate = False
    step = h
    for attempt in range(_MAX_ATTEMPTS):
        points = _points(probe, x, g, step)
        try:
            plus = evaluator.loss(probe.block, probe.index, points.plus)
            evaluations += 1
            minus = evaluator.loss(probe.block, probe.index, points.minus)
            evaluations += 1
        except UserCodeError as exc:
            return Estimate(points.analytic, float("nan"), step, evaluations + 1, first_crossing, untracked, error=str(exc))
        for value, side in ((plus.value, "+"), (minus.value, "-")):
            if not np.isfinite(value):
                return Estimate(
                    points.analytic, float("nan"), step, evaluations, first_crossing, untracked,
                    error=f"the loss is {value} at x {side} h (relative step {step:.0e})",
                )
        numeric = (plus.value - minus.value) / (points.step_plus + points.step_minus)

        crossing = None
        if base.trace is not None:
            crossing = compare_traces(base.trace, plus.trace) or compare_traces(base.trace, minus.trace)
        gap, slope, noise = one_sided_gap(base.loss, plus.value, minus.value, points.step_plus, points.step_minus)
        suspicious = gap > KINK_GAP_TOLERANCE * slope + noise and (
            previous_gap is None or gap > KINK_GAP_SHRINK * previous_gap
        )
        if attempt == 0:
            first_crossing = crossing
            # A large gap at the first step is only a reason to look again.
            untracked_candidate = crossing is None and suspicious
        elif attempt == 1 and untracked_candidate and crossing is None:
            if not suspicious and _shrank_like_curvature(gap, previous_gap, noise):
                # The first step's gap was curvature, not a kink: its estimate
                # is the better one (less round-off than this smaller step's).
                return Estimate(first.analytic, first.numeric, first.h, evaluations, None, False)
            # The gap either survived the smaller step (a kink within h/10)
            # or vanished (a kink between h/10 and h): a kink either way.
            untracked = True
        if crossing is None and not suspicious:
            return Estimate(points.analytic, numeric, step, evaluations, first_crossing, untracked)
        if attempt == 0:
            first = Estimate(points.analytic, numeric, step, 2, first_crossing, False)
        next_step = step / KINK_RETRY_FACTOR
        if next_step < KINK_RETRY_FLOOR * (1 - 1e-9) or attempt == _MAX_ATTEMPTS - 1:
            break
        previous_gap = gap
        step = next_step
    return Estimate(points.analytic, numeric, step, evaluations, first_crossing, untracked, unresolved=True)


def _shrank_like_curvature(gap: float, previous_gap: float, noise: float) -> bool:
    """Whether a gap shrank with the step as f''(x) h does (by the retry factor)."""
    expected = previous_gap / KINK_RETRY_FACTOR
    return abs(gap - expected) <= CURVATURE_MATCH * expected + noise


# A bound on retries whatever h the user chose (1e-5 down to the floor is 5 steps).
_MAX_ATTEMPTS = 12
