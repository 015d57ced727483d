"""Numerical derivatives: stencils, steps, uncertainty, kink-aware retries.

A *probe* is one thing to differentiate along: a coordinate of a block, or
a unit direction inside a block. :func:`estimate` returns the numeric
derivative along it, with an uncertainty, by one of three methods:

- ``central``: (f(x+h) - f(x-h)) / 2h, error O(h^2);
- ``five-point``: (f(x-2h) - 8f(x-h) + 8f(x+h) - f(x+2h)) / 12h, O(h^4);
- ``complex-step``: Im f(x + ih) / h, exact to machine precision for code
  that carries complex numbers through (no subtraction, so no round-off).

Steps are relative, h * max(1, |x|). For coordinates the stencil's weights
are solved for the offsets actually realised in floating point
(x + h - x is rarely h); for directions the analytic side uses the realised
displacement instead. Either way rounding of x + h cannot pose as a
gradient error.

Kinks. If the evaluations crossed a kink -- seen by winner tracking, or by
the numerical test below -- the probe is retried with the step divided by
10 until no kink is crossed, down to a floor. If none avoids it, the left
and right one-sided derivatives bracket the valid subgradients, and the
analytic value is judged against that bracket.

Numerical kink test, for what tracking cannot see: the one-sided slopes
(f(x+h) - f(x))/h and (f(x) - f(x-h))/h differ by f''(x) h on a smooth
function, but by up to the jump in slope across a kink. A gap larger than
KINK_GAP_TOLERANCE of the slope is suspicious at the first step; at a
smaller step it is taken as curvature only if it shrank with the step.

Error budget. The loss's own rounding noise sigma is measured once per
check (:func:`loss_noise`); a stencil with weights w carries noise
sigma*||w||, and three of those are the estimate's round-off. Where the
disagreement with the analytic value is larger than that, or that is too
large to verify the value, a second stencil (:func:`_refine`) estimates
truncation the Richardson way and tests its wider points for kinks.
``--h auto`` estimates truncation from the next larger step and picks the
step where round-off + truncation is smallest.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace
from math import comb
from typing import Callable

import numpy as np

from .errors import ModelError, UserCodeError
from .evaluate import BasePoint, Evaluator, index_label
from .kinks import Crossing, compare_traces
from . import taylor
from .sampling import Direction, random_signs
from .settings import (
    AUTO_STEPS,
    CONFIRM_FACTOR,
    CURVATURE_MATCH,
    DEFAULT_STEPS,
    EPS,
    EPS16,
    EPS32,
    GAP_NOISE_SIGMAS,
    KINK_GAP_SHRINK,
    KINK_GAP_TOLERANCE,
    KINK_RETRY_FACTOR,
    KINK_RETRY_FLOOR,
    NOISE_PROBE_STEP,
    STEP_SCALE_FLOOR,
    UNCERTAINTY_SIGMAS,
    Thresholds,
)

# No float64 value is rounded more finely than this (the subnormal numbers'
# spacing): a loss of 1e-320 has a handful of significant digits, not 16.
SUBNORMAL_SPACING = float(np.finfo(np.float64).smallest_subnormal)
# Offsets of each real-valued stencil, in steps.
STENCILS = {"central": (1, -1), "five-point": (2, 1, -1, -2)}
# Their truncation error is O(h^order).
ORDERS = {"central": 2, "five-point": 4}


@dataclass(frozen=True)
class Probe:
    """A coordinate (flat ``index``) or a unit ``direction`` of one block
    (an array, or a sampling.Direction drawn by :meth:`resolved`)."""

    block: str
    index: int | None = None
    direction: np.ndarray | Direction | None = None
    number: int | None = None  # which direction, for the report

    def resolved(self) -> "Probe":
        """The probe with its direction drawn, for the time it is estimated."""
        if isinstance(self.direction, Direction):
            return replace(self, direction=self.direction.vector())
        return self


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
    roundoff: float = 0.0  # how far the loss's rounding may move `numeric` (three sigma)
    # How far truncation may move `numeric`: estimated from a second stencil
    # (Richardson) where round-off did not explain a disagreement; 0 for the
    # complex step; None where it was not estimated (the value agreed within
    # round-off) or could not be (a kink nearby).
    truncation: float | None = None
    bracket: tuple[float, float] | None = None  # one-sided derivatives at an unresolved kink
    first: tuple[float, float] | None = None  # (step, numeric) of the first stencil, when refined
    near_kink: bool = False  # the second stencil's wider points crossed a kink
    meeting: int = 0  # at an unresolved kink: tracked elements flipped by the finest step's two points
    # How far the analytic value may be from the exact derivative by its own
    # rounding (three sigma): a float32 backward, a long Python-float sum.
    analytic_roundoff: float = 0.0
    # The Taylor test, where the budget alone did not decide (beyond it, at
    # a kink, or too wide to verify): then ``numeric`` and the budget are its.
    taylor: taylor.Taylor | None = None

    @property
    def uncertainty(self) -> float:
        """How far ``numeric`` may be from the analytic value for a right
        gradient: the error budget, both sides' rounding and truncation."""
        return self.roundoff + self.analytic_roundoff + (self.truncation or 0.0)

    @property
    def crossed_kink(self) -> bool:
        """A kink that changes the slope was crossed at the first step."""
        return (self.crossing is not None and not self.harmless) or self.untracked_kink

    @property
    def kinked(self) -> bool:
        """Graded by the bands for objectives with kinks: a kink was crossed
        or lies near, so no truncation estimate could be made."""
        return self.crossed_kink or self.near_kink


def weights(offsets) -> tuple[float, ...]:
    """Weights w with sum(w_j f(x + offsets_j)) = f'(x) + O(h^n), n = len(offsets).

    Exact for polynomials of degree < n, so realised, slightly asymmetric
    offsets keep the stencil's accuracy. For offsets (h, -h) they are
    (1, -1)/2h; for (2h, h, -h, -2h) the classic (-1, 8, -8, 1)/12h.

    Closed forms in plain IEEE arithmetic, no linear solve: the weights are
    the derivatives at 0 of the Lagrange basis polynomials, so they come out
    the same to the last bit on every machine, whatever BLAS/LAPACK kernel
    numpy uses.
    """
    points = [float(o) for o in offsets]
    if len(points) == 2:
        a, b = points
        return (1.0 / (a - b), -1.0 / (a - b))
    result = []
    for j, xj in enumerate(points):
        others = [xm for m, xm in enumerate(points) if m != j]
        denominator = 1.0
        for xm in others:
            denominator *= xj - xm
        # L_j'(0) = sum over k of prod_{m != j, k} (0 - x_m), over prod_{m != j} (x_j - x_m)
        numerator = 0.0
        for k in range(len(others)):
            term = 1.0
            for m, xm in enumerate(others):
                if m != k:
                    term *= -xm
            numerator += term
        result.append(numerator / denominator)
    return tuple(result)


def combine(w: tuple[float, ...], values) -> float:
    """sum(w_j f_j), in a fixed order of plain float operations (a BLAS dot
    may sum in another order, or fuse, depending on the CPU)."""
    total = 0.0
    for wj, fj in zip(w, values):
        total += wj * fj
    return total


def _scale(evaluator: Evaluator, probe: Probe) -> float:
    """What a relative step is relative to: the coordinate's magnitude, or
    the block's root mean square along a direction."""
    if probe.index is not None:
        return max(STEP_SCALE_FLOOR, abs(float(evaluator.model.params[probe.block].reshape(-1)[probe.index])))
    return max(STEP_SCALE_FLOOR, evaluator.block_rms(probe.block))


@dataclass(frozen=True)
class _Level:
    """One step size tried along a probe."""

    step: float  # relative step
    analytic: float
    numeric: float
    forward: float  # (f(x+h) - f(x)) / h
    backward: float  # (f(x) - f(x-h)) / h
    gap_noise: float  # round-off level of forward - backward
    uncertainty: float  # round-off uncertainty of `numeric`
    crossing: Crossing | None  # tracked kink crossed at this step
    wide_gap: float | None = None  # the gap between the one-sided slopes over 2h (five-point)
    values: dict | None = None  # offset -> loss, for reuse by a second stencil
    moved: dict | None = None  # offset -> g . (point - x) along a direction, likewise
    lopsided: bool = False  # the two sides' curvatures differ as only a kink makes them (five-point)
    meeting: int = 0  # tracked elements flipped by x - h and x + h together

    @property
    def gap(self) -> float:
        return abs(self.forward - self.backward)

    @property
    def kinky(self) -> bool:
        """Whether this step alone suggests a kink between x - 2h and x + 2h.

        A gap between the one-sided slopes is curvature (f''h) or a kink.
        With the five-point stencil's second pair of points the question is
        settled here: curvature makes the gap over 2h twice the gap over h,
        a kink does not. Otherwise a large gap is a reason to look again.
        """
        slope = max(abs(self.forward), abs(self.backward))
        large = self.gap > KINK_GAP_TOLERANCE * slope + self.gap_noise
        if self.wide_gap is None:
            return large
        large = large or self.wide_gap > KINK_GAP_TOLERANCE * slope + self.gap_noise
        curvature = abs(self.wide_gap - 2 * self.gap) <= CURVATURE_MATCH * 2 * self.gap + self.gap_noise
        # A kink at 2/3 h passes the curvature test exactly; not this one.
        return (large and not curvature) or self.lopsided


class _Stop(Exception):
    """User code broke at a perturbed point; carries the Estimate saying so,
    and in one line what broke (for a sweep, which fails nothing)."""

    def __init__(self, estimate: Estimate, what: str):
        self.estimate, self.what = estimate, what


class _Broke(Exception):
    """The loss raised, or was not finite, at a point of a stencil:
    ``what`` broke, in one line; ``message`` says it for a check's report."""

    def __init__(self, what: str, message: str | None = None):
        self.what = what
        self.message = message if message is not None else f"{what}; this element counts as failed"


@dataclass(frozen=True)
class _Points:
    """The loss along a probe at x + o*absolute for each offset o (in steps)."""

    offsets: tuple[int, ...]
    displacement: dict  # offset -> realised displacement of the coordinate, or nominal along a direction
    values: dict  # offset -> loss
    crossing: Crossing | None  # first tracked winner flip among the points
    meeting: int = 0  # elements flipped between x - h and x + h, both sides together
    # Along a direction: offset -> g . (point - x), the analytic change to
    # each point over its realised displacement (one pass over the block per
    # point, shared by every stencil on it).
    moved: dict | None = None

    def stencil(self, offsets, probe: Probe, analytic: float) -> tuple[float, float, tuple[float, ...]]:
        """(numeric, analytic, weights) of the stencil on ``offsets``. For a
        direction the analytic side uses the realised displacement, so
        rounding in x + o*h*v cannot show up as a gradient error."""
        w = weights([self.displacement[o] for o in offsets])
        if probe.index is None:
            analytic = combine(w, [self.moved[o] for o in offsets])
        return combine(w, [self.values[o] for o in offsets]), analytic, w

    def noise(self, sigma: float, base: BasePoint) -> float:
        """The rounding noise of one loss value here: never below an ulp (nor
        the spacing of subnormal numbers, where a loss of 1e-320 lives)."""
        return max(sigma, EPS * max(abs(base.loss), *map(abs, self.values.values())), SUBNORMAL_SPACING)


def _evaluate(evaluator: Evaluator, probe: Probe, base: BasePoint, offsets, absolute: float, step: float,
              spent: list[int], known: _Level | None = None) -> _Points:
    """The loss at each offset (a ``known`` level's points are reused, not
    re-evaluated or re-measured)."""
    x = evaluator.model.params[probe.block]
    if probe.index is not None:
        x0 = float(x.reshape(-1)[probe.index])
        points = {o: x0 + o * absolute for o in offsets}
        displacement = {o: p - x0 for o, p in points.items()}
    else:
        displacement = {o: o * absolute for o in offsets}
    g = base.gradient[probe.block]
    values, crossing, meeting = {}, None, 0
    moved = None if probe.index is not None else {}
    for o in offsets:
        if known is not None and o in known.values:
            values[o] = known.values[o]
            if moved is not None:
                moved[o] = known.moved[o]
            continue
        spent[0] += 1
        try:
            if probe.index is not None:
                result = evaluator.loss(probe.block, probe.index, points[o])
            else:
                # The analytic change over the realised displacement: one
                # pass over the block per point, shared by every stencil on it.
                result, moved[o] = evaluator.loss_along(probe.block, probe.direction, displacement[o], g)
        except UserCodeError as exc:
            said = str(exc)
            raise _Broke(said.partition("\n")[0], said) from None
        if not np.isfinite(result.value):
            where = (f"{index_label(probe.block, x.shape, probe.index)}" if probe.index is not None
                     else f"{probe.block} moved along direction {probe.number}")
            raise _Broke(f"the loss is {result.value} with {where} changed by a relative step of {step:.0e}")
        values[o] = result.value
        if base.trace is not None and result.trace is not None:
            flip = compare_traces(base.trace, result.trace)
            crossing = crossing or flip
            if flip is not None and abs(o) == 1:
                meeting += flip.flipped
    return _Points(tuple(offsets), displacement, values, crossing, meeting, moved)


def _level(evaluator: Evaluator, probe: Probe, base: BasePoint, method: str, step: float, sigma: float,
           spent: list[int], first_crossing: Crossing | None) -> _Level:
    """Evaluate the stencil of ``method`` at relative ``step`` along ``probe``."""
    x = evaluator.model.params[probe.block]
    g = base.gradient[probe.block]
    offsets = STENCILS[method]
    absolute = step * _scale(evaluator, probe)
    analytic = float(g.reshape(-1)[probe.index]) if probe.index is not None else float("nan")
    try:
        at = _evaluate(evaluator, probe, base, offsets, absolute, step, spent)
    except _Broke as broke:
        if probe.index is None:
            analytic = float(np.sum(g * probe.direction.reshape(x.shape)))
        raise _Stop(Estimate(analytic, float("nan"), step, spent[0], first_crossing, error=broke.message),
                    broke.what) from None
    numeric, analytic, w = at.stencil(offsets, probe, analytic)
    f = at.values
    distance = {o: abs(d) for o, d in at.displacement.items()}
    # Everything below is plain float arithmetic: the same on every machine,
    # and a loss near the float64 limit overflows to inf silently (the grade
    # says so: a non-finite numeric value fails).
    noise = at.noise(sigma, base)
    wide_gap = None
    lopsided = False
    forward = (f[1] - base.loss) / distance[1]
    backward = (base.loss - f[-1]) / distance[-1]
    if 2 in f:
        wide_gap = abs((f[2] - base.loss) / distance[2] - (base.loss - f[-2]) / distance[-2])
        asymmetry, spread = _asymmetry(base.loss, f, at.displacement, noise, 1, 2)
        # Five points fit any data with a quartic: only a scale tells a kink
        # from f''' here, the same one as for the gap.
        lopsided = asymmetry > KINK_GAP_TOLERANCE * max(abs(forward), abs(backward)) + spread
    return _Level(
        lopsided=lopsided,
        meeting=at.meeting,
        wide_gap=wide_gap,
        step=step,
        analytic=analytic,
        numeric=numeric,
        forward=forward,
        backward=backward,
        gap_noise=GAP_NOISE_SIGMAS * noise / min(distance[1], distance[-1]),
        uncertainty=UNCERTAINTY_SIGMAS * noise * math.hypot(*w),
        crossing=at.crossing,
        values=f,
        moved=at.moved,
    )


def _refine(evaluator: Evaluator, probe: Probe, base: BasePoint, found: Estimate, level: _Level, sigma: float,
            spent: list[int], verify_to: float) -> tuple[Estimate, "_Points | None"]:
    """A second stencil, where round-off does not explain the first one's
    disagreement (or is too large to verify the value): five-point
    differences at a step H and at 2H, from f at x +- H, 2H, 4H. Their
    difference is 15 times the truncation error of the one at H
    (Richardson), so the estimate at H comes with a truncation error of its
    own, and a disagreement beyond roundoff + truncation is confirmed.

    H is the first step; wider where the first stencil's round-off is the
    limit (a loss with a large offset, float32 inside); within the
    kink-free range (H = h/4) where the first step had to be retried
    across a kink. If the wider points cross a kink, nothing is claimed:
    the estimate is returned as it was, marked ``near_kink``.

    Richardson's factor 15 holds only where the error already falls as H^4,
    which a C1 loss (Huber, ELU at 0: a jump in curvature) never does: there
    the error is O(H). The central differences at H, 2H and 4H tell: their
    successive changes shrink fourfold per halving for a smooth loss, twofold
    for a C1 one. Where the fourfold shrink is not seen, the truncation
    estimate takes the change itself (exact at order 1). Also returns the
    points, which the Taylor test reuses.
    """
    g = base.gradient[probe.block]
    step = found.h
    magnitude = max(abs(found.analytic), abs(found.numeric))
    if found.crossed_kink:
        step = found.h / 4
    else:
        # Five-point round-off falls as 1/H: widen (in decades, up to a cap)
        # until round-off would verify the value to a tenth of ``verify_to``
        # and, for a disagreement round-off does not explain, lie far enough
        # below it to confirm it (a 1e-4 error of one element in 1e6 is in
        # a direction's round-off otherwise).
        target = REFINE_TARGET * verify_to * magnitude
        gap = abs(found.analytic - found.numeric)
        if gap > max(found.roundoff, target):
            # Only a disagreement that matters: widening trades truncation
            # for round-off, and a 1e-11 one passes by the bands anyway.
            target = min(target, gap / (REFINE_MARGIN * CONFIRM_FACTOR))
        if found.roundoff > target:
            wanted = found.roundoff / max(target, 1e-300)
            # (a loss near 1e300 can want more than any float: the cap holds)
            widened = step * 10 ** math.ceil(math.log10(wanted)) if math.isfinite(wanted) and wanted < 1e300 else math.inf
            step = max(step, min(widened, REFINE_MAX_STEP))
    absolute = step * _scale(evaluator, probe)
    known = level if step == level.step else None
    try:
        at = _evaluate(evaluator, probe, base, (4, 2, 1, -1, -2, -4), absolute, step, spent, known)
    except _Broke:
        # The loss breaks further out (a domain edge, much like a kink): the
        # first estimate stands, unrefined, judged by the Taylor test.
        return replace(found, evaluations=spent[0], near_kink=True), None
    noise = at.noise(sigma, base)
    slope = max(abs(found.analytic), abs(found.numeric))
    if (at.crossing is not None and not found.harmless) or _kinked_out_to(at, base.loss, noise, slope):
        # What the first stencil could not see of a kink is bounded by the
        # gap between its one-sided slopes (seen, or hidden in their noise).
        return (replace(found, evaluations=spent[0], near_kink=True, truncation=(level.gap + level.gap_noise) / 2),
                at if step == found.h else None)
    analytic = float(g.reshape(-1)[probe.index]) if probe.index is not None else float("nan")
    numeric, analytic, w = at.stencil((2, 1, -1, -2), probe, analytic)
    wide, wide_analytic, _ = at.stencil((4, 2, -2, -4), probe, analytic)
    # Differences of (numeric - analytic): for a direction each stencil has
    # its own realised analytic value; for a wrong gradient the bug cancels.
    change = abs((wide - wide_analytic) - (numeric - analytic))
    gain = 15.0 if _fourth_order(at, probe, analytic, noise) else 1.0
    truncation = TRUNCATION_SAFETY * change / gain
    return replace(found, analytic=analytic, numeric=numeric, h=step, evaluations=spent[0],
                   roundoff=UNCERTAINTY_SIGMAS * noise * math.hypot(*w), truncation=truncation,
                   first=(found.h, found.numeric)), at


def _fourth_order(at: "_Points", probe: Probe, analytic: float, noise: float) -> bool:
    """Whether the central differences at H, 2H, 4H converge as a smooth
    loss's do: each change at least SMOOTH_SHRINK times smaller than the
    next wider one, same sign (or both within rounding: nothing to tell)."""
    central = {}
    for k in (1, 2, 4):
        value, realised, w = at.stencil((k, -k), probe, analytic)
        central[k] = (value - realised, UNCERTAINTY_SIGMAS * noise * math.hypot(*w))
    fine = central[2][0] - central[1][0]
    coarse = central[4][0] - central[2][0]
    if abs(coarse) <= central[2][1] + central[4][1]:
        return True  # the differences are rounding: truncation is below it either way
    return fine * coarse > 0 and abs(coarse) >= SMOOTH_SHRINK * abs(fine)


def _asymmetry(f0: float, values: dict, displacement: dict, noise: float, a: int, b: int) -> tuple[float, float]:
    """How much the curvature on the two sides of x differs, in slope units,
    and the noise level of that difference.

    The second divided differences on (0, a, b) and on (0, -a, -b) are both
    f'' for a smooth f, differing by 2 f''' (a + b) / 3; a kink on one side
    changes that side's by its jump in slope over the step, whatever its
    distance (the symmetric gap test misses a kink at 2/3 h). Times a, to
    compare with slopes.
    """
    difference, weights_ = 0.0, []
    for side in (1, -1):
        da, db = displacement[side * a], displacement[side * b]
        # 2 f[0, a, b] = 2 ((f_b - f_a)/(b - a) - (f_a - f_0)/a) / b, as weights on f_b, f_a, f_0.
        wb = 2 / (db * (db - da))
        wa = -2 / (db * (db - da)) - 2 / (da * db)
        w0 = 2 / (da * db)
        difference += side * (wb * values[side * b] + wa * values[side * a] + w0 * f0)
        weights_ += [wb, wa]
    scale = abs(displacement[a])
    # f0's weights cancel between the sides; the other four add their noise.
    return abs(difference) * scale, GAP_NOISE_SIGMAS * noise * math.hypot(*weights_) * scale


def _kinked_out_to(at: _Points, f0: float, noise: float, slope: float) -> bool:
    """Whether the second stencil's points (+-H, 2H, 4H) show a kink.

    Curvature makes the one-sided slopes' gap double with the step; a kink
    near x leaves it the same. A kink further out makes the two sides'
    curvatures differ (_asymmetry) in a way that does not scale as f'''
    does (4x from the pair (H, 2H) to (2H, 4H)): with seven points there
    is room to tell, where five fit any data with a quartic.
    """
    d, f = at.displacement, at.values
    gaps = {k: abs((f[k] - f0) / d[k] - (f0 - f[-k]) / -d[-k]) for k in (1, 2, 4)}
    spread = GAP_NOISE_SIGMAS * noise / abs(d[1])
    tolerance = KINK_GAP_TOLERANCE * slope
    for a, b in ((1, 2), (2, 4)):
        large = gaps[b] > tolerance + spread
        if large and abs(gaps[b] - 2 * gaps[a]) > SECOND_STENCIL_CURVATURE_MATCH * 2 * gaps[a] + spread:
            return True
    (near, near_spread), (far, far_spread) = (_asymmetry(f0, f, d, noise, 1, 2), _asymmetry(f0, f, d, noise, 2, 4))
    if max(near - near_spread, far - far_spread) <= tolerance:
        return False
    return abs(far - 4 * near) > 4 * CURVATURE_MATCH * near + far_spread + 4 * near_spread


def _needs_refining(found: Estimate, verify_to: float) -> bool:
    """Whether a smooth estimate's disagreement is unexplained by round-off,
    or its round-off too large to verify a disagreement that matters."""
    if found.error is not None or found.unresolved or found.near_kink or found.truncation is not None:
        return False
    gap = abs(found.analytic - found.numeric)
    if gap > found.roundoff + found.analytic_roundoff:
        return True
    # Explained by round-off, but is that round-off small enough to verify
    # the value? Not a question where the values agree closely anyway.
    magnitude = max(abs(found.analytic), abs(found.numeric))
    return gap > verify_to * magnitude and found.roundoff > verify_to * magnitude


def _curvature_between(coarse: _Level, fine: _Level) -> bool:
    """Whether the gap shrank with the step as f''(x) h does: by the retry factor."""
    expected = coarse.gap / KINK_RETRY_FACTOR
    return abs(fine.gap - expected) <= CURVATURE_MATCH * expected + fine.gap_noise


def _result(level: _Level, levels: list[_Level], evaluations: int, **flags) -> Estimate:
    first = levels[0]
    flags.setdefault("untracked_kink", first.crossing is None and first.kinky)
    return Estimate(level.analytic, level.numeric, level.step, evaluations, first.crossing,
                    roundoff=level.uncertainty, **flags)


def _decide(levels: list[_Level], evaluations: int) -> Estimate | None:
    """The estimate the levels so far support, or None to try a smaller step."""
    level = levels[-1]
    first = levels[0]
    previous = levels[-2] if len(levels) > 1 else None
    suspicious = level.kinky and (previous is None or level.gap > KINK_GAP_SHRINK * previous.gap)
    if level.crossing is None and not suspicious:
        if (len(levels) == 2 and first.crossing is None and first.kinky and first.wide_gap is None
                and _curvature_between(first, level)):
            # The first step's large gap was curvature (a tiny slope near a
            # minimum), not a kink: its estimate has less round-off than this
            # one. (Five-point already told curvature from kinks within its
            # step, using the gap over 2h: a suspicion there is a kink.)
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


def _subgradient_bracket(levels: list[_Level]) -> tuple[float, float]:
    """The interval between the one-sided derivatives, widened by their error.

    At each step the one-sided slopes are off by curvature (estimated by how
    much they change to the next step) and by round-off; the step where the
    two together are smallest gives the tightest honest bracket.
    """
    best = None
    for coarse, fine in zip(levels, levels[1:]):
        slack = abs(fine.forward - coarse.forward) + abs(fine.backward - coarse.backward) + 2 * fine.gap_noise
        if best is None or slack < best[0]:
            best = (slack, fine)
    if best is None:
        only = levels[-1]
        best = (only.gap_noise, only)
    slack, level = best
    return (min(level.forward, level.backward) - slack, max(level.forward, level.backward) + slack)


def _by_retries(evaluator, probe, base, method, h, sigma, verify_to, refine=False,
                analytic_roundoff: float = 0.0) -> Estimate:
    """The default strategy: the given step, smaller ones only across kinks;
    a second stencil where round-off does not explain a disagreement; the
    Taylor test where the budget does not decide."""
    spent = [0]
    levels: list[_Level] = []
    step = h
    points = None
    broke: _Stop | None = None
    while True:
        first_crossing = levels[0].crossing if levels else None
        try:
            levels.append(_level(evaluator, probe, base, method, step, sigma, spent, first_crossing))
        except _Stop as stop:
            # The loss breaks at x +- h (a parameter near its domain's edge:
            # a variance of 2e-6 stepped by 1e-5): a smaller step, as across a
            # kink; the element fails only if every step down to the floor breaks.
            broke = broke or stop
            step /= KINK_RETRY_FACTOR
            if levels or step < KINK_RETRY_FLOOR * (1 - 1e-9):
                raise _Stop(replace(broke.estimate, evaluations=spent[0]), broke.what) from None
            continue
        decided = _decide(levels, spent[0])
        if decided is not None:
            decided = replace(decided, analytic_roundoff=analytic_roundoff)
            if (refine and decided.error is None and not decided.unresolved) or _needs_refining(decided, verify_to):
                level = next(lv for lv in levels if lv.step == decided.h)
                decided, points = _refine(evaluator, probe, base, decided, level, sigma, spent, verify_to)
            break
        step /= KINK_RETRY_FACTOR
        if step < KINK_RETRY_FLOOR * (1 - 1e-9) or len(levels) >= _MAX_ATTEMPTS:
            decided = _result(levels[-1], levels, spent[0], unresolved=True, bracket=_subgradient_bracket(levels),
                              meeting=levels[-1].meeting, analytic_roundoff=analytic_roundoff)
            break
    if not _undecided(decided, verify_to):
        return decided
    # Where to start: the second stencil's step (its points are reused); at
    # a kink no step avoided, the first step (a kink at x leaves each side
    # smooth); after a kink was crossed, inside the kink-free range.
    start = decided.h if points is not None else h if decided.unresolved else \
        decided.h / 4 if decided.crossed_kink else decided.h
    return _arbitrate(evaluator, probe, base, decided, sigma, spent, verify_to, start, points)


def _rounding_limited(found: Estimate, verify_to: float) -> bool:
    """Whether the loss's rounding is what keeps a value from being
    verified (or found wrong): most of a budget too wide to verify it."""
    if found.error is not None or not math.isfinite(found.numeric) or found.roundoff < found.uncertainty / 2:
        return False
    if found.taylor is not None and found.taylor.outcome in (taylor.WRONG, taylor.NOT_SUBGRADIENT):
        return False
    return found.uncertainty > verify_to * max(abs(found.analytic), abs(found.numeric))


def block_noise(evaluator: Evaluator, block: str, base: BasePoint, seed: int, spent: list[int]) -> float | None:
    """The loss's rounding noise along a seeded random direction of
    ``block`` alone, read from tables as :func:`_walk` reads them (None
    where one broke, or crossed a tracked kink at the start). The terms of
    other blocks stand still, as they do under this block's probes; the
    whole block moves, so an intermediate it feeds (a float32 sum of its
    squares) moves as far as under the check's own table, and rounds as
    coarsely -- along one coordinate it might not cross its quantum at all."""
    x = evaluator.model.params[block]
    v = random_signs(np.random.default_rng([seed, 11, zlib.crc32(block.encode("utf-8", "surrogatepass"))]), 1,
                     x.size)[0]
    delta = NOISE_PROBE_STEP * _scale(evaluator, Probe(block))
    change = float(np.sum(base.gradient[block].reshape(-1) * v))
    broke = []

    def table(factor: float) -> list[float] | None:
        values = []
        for j in (-3, -2, -1, 0, 1, 2, 3):
            if j == 0:
                values.append(base.loss)
                continue
            spent[0] += 1
            try:
                result, _ = evaluator.loss_along(block, v, j * delta * factor)
            except UserCodeError:
                values = None
                break
            if not np.isfinite(result.value) or (
                    base.trace is not None and result.trace is not None and compare_traces(base.trace, result.trace)):
                values = None
                break
            values.append(result.value)
        broke.append(values is None)
        return values

    sigma, _ = _walk(table, base.loss, 3 * abs(change) * delta)
    return None if broke[-1] else sigma


def crosses_kink(evaluator: Evaluator, probe: Probe, base: BasePoint, step: float, spent: list[int]) -> bool:
    """Whether a tracked kink operation decides differently at x +- 4 steps
    along ``probe`` than at x (two tracked evaluations): whether a Taylor
    test there measured slopes beyond a kink rather than at x."""
    x = evaluator.model.params[probe.block]
    absolute = step * _scale(evaluator, probe)
    for o in (4, -4):
        spent[0] += 1
        try:
            if probe.index is not None:
                result = evaluator.loss(probe.block, probe.index, float(x.reshape(-1)[probe.index]) + o * absolute)
            else:
                result, _ = evaluator.loss_along(probe.block, probe.direction, o * absolute)
        except UserCodeError:
            return True
        if result.trace is not None and compare_traces(base.trace, result.trace) is not None:
            return True
    return False


def _agrees_with_first(found: Estimate, test: taylor.Taylor) -> bool:
    """Whether the first stencil's disagreement (at the user's step, before
    any second stencil, whose points the Taylor test shares) measured the
    same error as the Taylor test, to within TAYLOR_AGREEMENT of it: two
    different stencils seeing one bug, not one stencil's coincidence (an
    oscillation like x^2 sin(1/x) can look linear on three steps)."""
    h, numeric = found.first or (found.h, found.numeric)
    return abs((numeric - found.analytic) - test.difference) <= TAYLOR_AGREEMENT * abs(test.difference) + test.uncertainty


def _undecided(found: Estimate, verify_to: float) -> bool:
    """Whether the budget alone leaves a value undecided, so the Taylor test
    is to judge it: beyond its budget; at a kink no step avoided; or within
    a budget too wide to verify it, which is mostly truncation (a smaller
    step can narrow it: a coordinate near 5e6 stepped by 50)."""
    if found.error is not None or not math.isfinite(found.numeric):
        return False
    if found.unresolved:
        return True
    gap, budget = abs(found.analytic - found.numeric), found.uncertainty
    if gap > budget:
        return True
    magnitude = max(abs(found.analytic), abs(found.numeric))
    return found.truncation is not None and found.truncation > found.roundoff and budget > verify_to * magnitude


def _arbitrate(evaluator: Evaluator, probe: Probe, base: BasePoint, found: Estimate, sigma: float,
               spent: list[int], verify_to: float, start: float, known: "_Points | None") -> Estimate:
    """The Taylor test (taylor.py) along ``probe``, from relative step
    ``start`` down, tenfold a time, until it decides: the step is set by the
    loss's own behaviour along the probe, not by |x|.

    A value found consistent is settled once its uncertainty verifies it
    (or rounding, which a smaller step only makes worse, is most of it); a
    wrong one at once when far beyond its uncertainty, else when a smaller
    step finds the same one-sided limits; a jump in slope (a kink at x)
    likewise -- a coarse step over a fast-varying loss looks like one, and
    unlike a kink its limits move with the step. The estimate returned
    carries the deciding test and takes its numeric value and budget."""
    a = found.analytic
    magnitude = max(abs(a), abs(found.numeric))
    target = REFINE_TARGET * verify_to * magnitude
    chosen, previous, decided, history = None, None, False, []
    step = start
    for _ in range(TAYLOR_ATTEMPTS):
        if step < KINK_RETRY_FLOOR * (1 - 1e-9):
            break
        absolute = step * _scale(evaluator, probe)
        try:
            at = known if known is not None and step == found.h else \
                _evaluate(evaluator, probe, base, (4, 2, 1, -1, -2, -4), absolute, step, spent)
        except _Broke:
            # The loss breaks at x +- 4H (a domain's edge): nearer, as across a kink.
            known, step = None, step / KINK_RETRY_FACTOR
            continue
        known = None
        noise = at.noise(sigma, base)
        if probe.index is None:
            change = at.moved
        else:
            change = {o: a * d for o, d in at.displacement.items()}
        test = taylor.decide(
            taylor.side(1, base.loss, at.displacement, at.values, change, noise, found.analytic_roundoff),
            taylor.side(-1, base.loss, at.displacement, at.values, change, noise, found.analytic_roundoff),
            a, step)
        history.append(test)
        if chosen is None or test.uncertainty < chosen.uncertainty:
            chosen = test
        if test.outcome == taylor.CONSISTENT and (test.uncertainty <= target or test.noise_limited):
            chosen, decided = test, True
            break
        again = previous is not None and test.outcome in _SEEN_TWICE and taylor.agree(previous, test)
        if (test.clear and _agrees_with_first(found, test)) or again:
            # Seen again at a tenfold smaller step, it is no artefact of the
            # step; the narrower uncertainty of the two is the evidence --
            # unless a coarser step found the value consistent within an
            # interval that excludes it: then the loss itself changes with
            # the scale (a float32 stage stands still below its quantum).
            chosen = min([test, previous] if again else [test], key=lambda t: t.uncertainty)
            if any(taylor.excludes(earlier, chosen) for earlier in history):
                chosen = replace(chosen, outcome=taylor.INCONCLUSIVE)
            decided = True
            break
        if test.noise_limited and test.outcome in (taylor.CONSISTENT, taylor.INCONCLUSIVE):
            break  # smaller steps would only add rounding
        previous = test
        step /= KINK_RETRY_FACTOR
    if chosen is None:
        return replace(found, evaluations=spent[0])
    if not decided and chosen.outcome in _SEEN_TWICE:
        # A wrong value or a jump seen at one step only, never confirmed.
        chosen = replace(chosen, outcome=taylor.INCONCLUSIVE)
    if chosen.outcome in (taylor.SUBGRADIENT, taylor.NOT_SUBGRADIENT):
        low, high = chosen.bracket(a)
        return replace(found, evaluations=spent[0], taylor=chosen, bracket=(low, high), numeric=(low + high) / 2,
                       h=chosen.step, roundoff=chosen.uncertainty, truncation=0.0, analytic_roundoff=0.0,
                       first=found.first or (found.h, found.numeric))
    rounding = max(chosen.plus.rounding, chosen.minus.rounding)
    return replace(found, evaluations=spent[0], taylor=chosen, numeric=a + chosen.difference, h=chosen.step,
                   roundoff=min(rounding, chosen.uncertainty), analytic_roundoff=0.0,
                   truncation=max(chosen.uncertainty - rounding, 0.0), first=found.first or (found.h, found.numeric))


def kink_free(levels: list[_Level]) -> list[bool]:
    """For steps decreasing tenfold: which crossed no kink. A large gap
    between the one-sided slopes that shrinks tenfold at the next step is
    curvature, as in the retry strategy; one that does not is a kink."""
    free = []
    for k, level in enumerate(levels):
        if level.crossing is not None:
            free.append(False)
        elif not level.kinky:
            free.append(True)
        elif level.wide_gap is None and k + 1 < len(levels) and levels[k + 1].crossing is None:
            free.append(_curvature_between(level, levels[k + 1]))
        else:
            free.append(False)
    return free


def best_step(levels: list[_Level], order: int) -> tuple[_Level, float, float] | None:
    """The level (of steps decreasing tenfold) with the smallest estimated
    error, with its round-off and truncation errors.

    Truncation at a step is estimated Richardson's way from the next larger
    step, whose error is 10^order times larger and whose round-off is ten
    times smaller: e(10h) - e(h) = (10^order - 1) e(h). (From the next
    smaller step instead, the estimate would carry that step's ten times
    larger round-off: --h auto once chose 1e-4 over a 40x better 1e-5 so.)
    The coarsest clean level has only a smaller
    neighbour: that bound is used there. Levels that crossed a kink are not
    candidates; None if no two consecutive levels are kink-free."""
    clean = kink_free(levels)
    gain = 10.0 ** order - 1
    best = None
    for k, level in enumerate(levels):
        if not clean[k]:
            continue
        error = level.numeric - level.analytic
        if k > 0 and clean[k - 1]:
            coarser = levels[k - 1]
            truncation = abs((coarser.numeric - coarser.analytic) - error) / gain
        elif k + 1 < len(levels) and clean[k + 1]:
            finer = levels[k + 1]
            truncation = abs(error - (finer.numeric - finer.analytic)) * (gain + 1) / gain
        else:
            continue
        truncation *= TRUNCATION_SAFETY
        # Chosen on the expected error (one standard deviation of round-off);
        # reported with the conservative three.
        expected = truncation + level.uncertainty / UNCERTAINTY_SIGMAS
        if best is None or expected < best[0]:
            best = (expected, level, level.uncertainty, truncation)
    return None if best is None else best[1:]


def ladder(evaluator: Evaluator, probe: Probe, base: BasePoint, method: str, steps, sigma: float,
           spent: list[int], *, broken: dict[float, str] | None = None) -> list[_Level]:
    """The stencil of ``method`` evaluated at each of ``steps``.

    Where the loss breaks (raises, or is not finite) at a step, the ladder
    stops there -- or, given a ``broken`` dict, records the step's message in
    it and goes on with the next: a sweep from 1e-1 down may leave the
    loss's domain at its widest steps only."""
    levels: list[_Level] = []
    for step in steps:
        try:
            levels.append(_level(evaluator, probe, base, method, step, sigma, spent,
                                 levels[0].crossing if levels else None))
        except _Stop as stop:
            if broken is None:
                raise
            broken[step] = stop.what
    return levels


def _auto(evaluator, probe, base, method, sigma, verify_to) -> Estimate:
    """--h auto: the step with the smallest estimated truncation + round-off
    error (see best_step); if fewer than two consecutive steps are
    kink-free, the default retry strategy decides."""
    spent = [0]
    levels = ladder(evaluator, probe, base, method, AUTO_STEPS[method], sigma, spent)
    best = best_step(levels, ORDERS[method])
    if best is None:
        fallback = _by_retries(evaluator, probe, base, method, AUTO_STEPS[method][len(levels) // 2], sigma,
                               verify_to)
        return replace(fallback, evaluations=fallback.evaluations + spent[0])
    level, roundoff, truncation = best
    # A large gap at the widest step that shrank as curvature does is no kink.
    untracked = levels[0].crossing is None and not kink_free(levels)[0]
    return Estimate(level.analytic, level.numeric, level.step, spent[0], levels[0].crossing,
                    untracked_kink=untracked, roundoff=roundoff, truncation=truncation)


def complex_step(evaluator: Evaluator, probe: Probe, base: BasePoint, h: float,
                 analytic_roundoff: float = 0.0) -> Estimate:
    """Im f(x + i h) / h along ``probe``."""
    x = evaluator.model.params[probe.block]
    g = base.gradient[probe.block]
    step = h * _scale(evaluator, probe)
    if probe.index is not None:
        analytic = float(g.reshape(-1)[probe.index])
    else:
        analytic = float(np.sum(g * probe.direction.reshape(x.shape)))
    try:
        value = evaluator.loss_complex(probe.block, probe.index, step, probe.direction)
    except UserCodeError as exc:
        return Estimate(analytic, float("nan"), h, 1, error=str(exc))
    if not np.isfinite(value.imag):
        return Estimate(analytic, float("nan"), h, 1, error=f"the loss is {value} with an imaginary step")
    numeric = value.imag / step
    # No subtraction: the only error is the rounding of the imaginary part.
    # The analytic value's own rounding is then all the rest of the budget.
    return Estimate(analytic, numeric, h, 1, roundoff=UNCERTAINTY_SIGMAS * EPS * abs(numeric) * 4, truncation=0.0,
                    analytic_roundoff=analytic_roundoff)


def estimate(evaluator: Evaluator, probe: Probe, base: BasePoint, *, method: str = "central",
             h: float | str = 1e-5, sigma: float = 0.0, verify_to: float = Thresholds().warn_above,
             refine: bool = False, analytic_roundoff: float = 0.0, seed: int = 0) -> Estimate:
    """The numeric derivative along ``probe`` by ``method`` at relative step ``h``
    (or ``"auto"``), with its error budget given loss noise ``sigma``.

    A value whose disagreement with the analytic one is not explained by
    round-off, or whose round-off is too large to verify it to relative
    ``verify_to``, gets a second stencil: a truncation estimate, and a
    wider step where round-off is the limit. ``refine`` asks for the
    second stencil whatever the first shows (a step given as a number).
    ``analytic_roundoff``: the analytic value's own rounding (three sigma),
    part of the budget; ``seed``: the check's, for a block's own noise
    table where the check's noise leaves a value undecided."""
    if method == "complex-step":
        return complex_step(evaluator, probe, base, DEFAULT_STEPS[method] if h == "auto" else h, analytic_roundoff)
    try:
        if h == "auto":
            found = _auto(evaluator, probe, base, method, sigma, verify_to)
            found = replace(found, analytic_roundoff=found.analytic_roundoff or analytic_roundoff)
            if not _undecided(found, verify_to):
                return found
            # The ladder's steps are shares of |x|: all of them may be too
            # coarse for the loss (a coordinate near 5e6).
            spent = [found.evaluations]
            return _arbitrate(evaluator, probe, base, found, sigma, spent, verify_to,
                              found.h / 4 if found.crossed_kink else found.h, None)
        found = _by_retries(evaluator, probe, base, method, h, sigma, verify_to, refine, analytic_roundoff)
        if not _rounding_limited(found, verify_to):
            return found
        # The check's noise is every block's at once; this block's own may
        # be far less (a block beside one whose terms cancel).
        spent = [0]
        own = block_noise(evaluator, probe.block, base, seed, spent)
        if own is None or own >= NOISE_REMEASURE * sigma:
            return replace(found, evaluations=found.evaluations + spent[0])
        again = _by_retries(evaluator, probe, base, method, h, own, verify_to, refine, analytic_roundoff)
        return replace(again, evaluations=again.evaluations + found.evaluations + spent[0])
    except _Stop as stop:
        return stop.estimate


@dataclass(frozen=True)
class Noise:
    """The rounding noise of the loss, and of the analytic gradient, near the parameters."""

    sigma: float  # standard deviation of one loss value's rounding error
    float32: bool = False  # every value seen was a float32 number: the loss computes in float32
    scale: float = 0.0  # the largest |loss| seen: what the noise is relative to (0 where the loss is)
    # Per block, per element: the standard deviation of the analytic
    # gradient's rounding error (the backward's float type, its summation).
    analytic: dict = field(default_factory=dict)


def analytic_roundoff(sigma: np.ndarray | None, probe: Probe) -> float:
    """How far the analytic value along ``probe`` may be from the exact
    derivative by its own rounding (three sigma), given its block's
    per-element ``sigma``: an element's own, or along a unit direction
    sqrt(sum v_i^2 sigma_i^2)."""
    if sigma is None or not sigma.size:
        return 0.0
    if probe.index is not None:
        return UNCERTAINTY_SIGMAS * float(sigma.reshape(-1)[probe.index])
    v = probe.direction.reshape(-1)
    return UNCERTAINTY_SIGMAS * float(np.sqrt(np.sum(v * v * sigma.reshape(-1) ** 2)))


def loss_noise(evaluator: Evaluator, base: BasePoint, seed: int) -> Noise:
    """The loss's and the analytic gradient's rounding noise near the
    parameters (see :func:`_measure_noise`).

    Measured untracked; measured again with winner tracking only where the
    loss has kink operations and the first measurement shows more than
    rounding explains, in the loss or in a block's gradient (a kink the
    table crossed may pose as noise: a hinge that flips moves a bias's
    gradient by 1/N): as for probes, tracking runs only where it can
    change the outcome.
    """
    with evaluator.tracking(False):
        found = _measure_noise(evaluator, base, seed, traced=False)
    if not (evaluator.track_kinks and base.trace):
        return found
    loud = found.sigma > NOISE_CONFIRM_ULPS * max(EPS * found.scale, EPS32 * found.scale * found.float32) or any(
        float(np.max(found.analytic[name], initial=0.0)) > NOISE_CONFIRM_ULPS * _ulp_of_block(g)
        for name, g in base.gradient.items())
    return _measure_noise(evaluator, base, seed, traced=True) if loud else found


def _ulp_of_block(g: np.ndarray) -> float:
    """float64's rounding of a block's typical value (its root mean square)."""
    with np.errstate(over="ignore"):
        return EPS * (float(np.sqrt(np.mean(np.square(g)))) if g.size else 0.0)


def _noise_floor(loss: float, values: list[float]) -> float:
    """An ulp of the loss; of float32 or float16, relative to the largest
    |loss| seen, where every value is such a number (the loss computes in
    that type, or rounds to it at the end)."""
    narrow = _narrow_type(values)
    scale = max([abs(loss), *map(abs, values)])
    return max(EPS * abs(loss), (EPS16 if narrow == "float16" else EPS32 if narrow else 0.0) * scale,
               SUBNORMAL_SPACING)


def _narrow_type(values: list[float]) -> str | None:
    """float16 or float32 where all 7 values of a table are numbers of that
    type (a float64 number is one by chance once in 2**29 for float32)."""
    if len(values) != 7:
        return None
    with np.errstate(over="ignore"):  # a loss beyond a type's range is no number of it
        for name in ("float16", "float32"):
            kind = np.dtype(name).type
            if all(float(kind(f)) == f for f in values):
                return name
    return None


def _measure_noise(evaluator: Evaluator, base: BasePoint, seed: int, traced: bool) -> Noise:
    """The loss's and the analytic gradient's rounding noise near the parameters.

    Evaluates f and its gradient at x + j*delta*v, j = -3..3, along a random
    direction v that moves *every* block (each element by NOISE_PROBE_STEP
    of its block's scale, over the square root of the parameter count).
    Rounding noise is not one number: the loss's terms that a block feeds
    round anew when that block moves, and a block whose terms cancel (an
    expanded square of large numbers) carries far more of it than its
    neighbours. Moving every block re-rounds every term, so the noise
    measured is at least any one block's: an honest budget for all of
    them (a probe whose budget it leaves undecided measures its own:
    :func:`probe_noise`). How a table is read, and when another is taken,
    is :func:`_walk`'s.

    The same table gives the gradient's own rounding, element by element:
    the 4th differences of each element (a float32 backward, a sum of
    thousands of Python floats), never less than the block's median (three
    differences make a rough estimate; the median also keeps the elements
    whose ReLU flips inside the table from passing for noise). It is read
    from the table the loss's noise was: a narrower one would not move a
    float32 backward's inputs by an ulp of float32.
    """
    rng = np.random.default_rng([seed, 7])
    params = evaluator.model.params
    total = sum(block.size for block in params.values())
    unit = 1.0 / math.sqrt(max(total, 1))
    direction = {name: NOISE_PROBE_STEP * _scale(evaluator, Probe(name)) * unit *
                 rng.choice([-1.0, 1.0], size=block.shape) for name, block in params.items()}
    # How much the loss should move across the table, by its gradient.
    moves = 3 * abs(sum(float(np.sum(base.gradient[name] * direction[name])) for name in params))
    gradients_at: dict[float, list] = {}
    first: list[float] = []

    def table(factor: float):
        values, gradients = _noise_table(evaluator, base, direction, factor, traced)
        gradients_at[factor] = gradients
        if not first:
            first.extend(values or [base.loss])
        return values

    sigma, factor = _walk(table, base.loss, moves)
    scale = max([abs(base.loss), *map(abs, first)])
    gradients = gradients_at.get(factor) or next((g for g in gradients_at.values() if g), [])
    return Noise(sigma, _narrow_type(first) == "float32", scale, _gradient_noise(base, gradients))


def _walk(table: Callable[[float], list[float] | None], loss: float, moves: float) -> tuple[float, float]:
    """The loss's rounding noise from difference tables, and the width
    factor of the table it was read from. ``table(factor)``: the 7 values
    of a table ``factor`` times the first's width (None where it broke or
    crossed a tracked kink); ``moves``: how much the gradient says the loss
    moves across the first table.

    A table's noise is the size of its 4th to 6th differences (each
    normalised by its noise gain, C(2k, k)); never less than an ulp of the
    loss, of float32 or float16 where every value is such a number.

    - A table that stands still (every value the same) while the gradient
      says the loss moves far more than rounding: a loss quantised coarser
      than the table (float16 inside). Widened a hundredfold, up to
      NOISE_WIDENINGS times, until it moves; its steps are then the noise.
    - A loud table (over NOISE_CONFIRM_ULPS) whose differences fall with
      their order saw the function, not rounding: a smooth loss varying
      fast on the table's scale (a UTM coordinate near 5e6, stepped by
      metres). Narrowed a hundredfold, and read again. So is one whose
      narrower table's differences fall: at widths beyond the function's
      own scale its differences look level, like noise.
    - A loud table whose differences are level across orders is noise, or
      a kink, or the staircase of a narrower float type: a table a hundred
      times narrower tells. Rounding does not shrink with it (ratio ~1:
      noise); a kink's share shrinks in proportion (ratio ~100) and has a
      kink's shape (:func:`_kink_shaped`): the floor is the noise; a
      staircase thins out, then vanishes below its quantum (the wide
      table's level is the noise at the steps that will be taken).
    """
    factor = 1.0
    values = table(factor)
    for _ in range(NOISE_WIDENINGS):
        if values is None or len(set(values)) > 1 or moves * factor <= NOISE_CONFIRM_ULPS * EPS * abs(loss):
            break
        factor *= NOISE_NARROWING
        values = table(factor)
    if values is None:
        return EPS * abs(loss), factor
    floor = _noise_floor(loss, values)
    if len(set(values)) == 1:
        # Still standing at the widest table: quantised coarser than that.
        return max(floor, moves * factor / 2), factor
    orders = _difference_sizes(values)
    for _ in range(NOISE_TABLES - 1):
        spread = max(orders)
        if spread <= NOISE_CONFIRM_ULPS * floor:
            return max(floor, spread), factor
        narrow_values = table(factor / NOISE_NARROWING)
        if narrow_values is None:
            return floor, factor
        narrow_orders = _difference_sizes(narrow_values)
        if _smooth(orders) or (_smooth(narrow_orders) and max(narrow_orders) > NOISE_CONFIRM_ULPS * floor):
            # The wide table saw the function (its differences fall with
            # their order; or, coarser than the function's own scale, they
            # did not, but the narrow table's do): read on from the narrow one.
            factor, orders, values = factor / NOISE_NARROWING, narrow_orders, narrow_values
            continue
        narrow = max(narrow_orders)
        if narrow == 0:
            return max(floor, spread), factor  # a staircase: it stood still below its quantum
        ratio = spread / narrow
        if KINK_SCALING[0] <= ratio <= KINK_SCALING[1] and (_kink_shaped(values) or _kink_shaped(narrow_values)):
            return floor, factor / NOISE_NARROWING  # shrank in proportion to the width: a kink, not noise
        return max(floor, spread, narrow), factor
    return max(floor, max(orders)), factor


def _kink_shaped(values: list[float]) -> bool:
    """Whether a table's second differences (less their median, the
    curvature) are one spike, or two adjacent of one sign: one jump in
    slope between two points. A float type's staircase steps up and back
    (spikes of both signs), noise everywhere."""
    second = np.diff(np.array(values), 2)
    second = second - np.median(second)
    size = float(np.max(np.abs(second)))
    if not size > 0:
        return False
    big = np.flatnonzero(np.abs(second) > KINK_SHAPE_SHARE * size)
    return len(big) == 1 or (len(big) == 2 and big[1] - big[0] == 1 and second[big[0]] * second[big[1]] > 0)


def _smooth(orders: tuple[float, float, float]) -> bool:
    """Whether a table's differences fall with their order, as a smooth
    function's do at a width below its own scale (noise's stay level)."""
    return orders[0] > SMOOTH_ORDERS * orders[1]


def _difference_sizes(values: list[float]) -> tuple[float, float, float]:
    """The root mean square of a table's 4th, 5th and 6th differences, each
    over its noise gain C(2k, k): equal for noise, falling with the order
    for a smooth function."""
    table = np.array(values)
    with np.errstate(all="ignore"):  # losses near the float64 limit: inf noise, said in the report
        return tuple(float(np.sqrt(np.mean(np.diff(table, n=k) ** 2) / comb(2 * k, k))) for k in (4, 5, 6))


def _noise_table(evaluator: Evaluator, base: BasePoint, direction: dict, delta: float,
                 traced: bool) -> tuple[list[float] | None, list[dict]]:
    """The loss at x + j*delta*direction, j = -3..3 (None where it broke, or
    tracked winners flipped), and the gradients there ([] where one broke)."""
    values, gradients = [], []
    for j in (-3, -2, -1, 0, 1, 2, 3):
        if j == 0:
            values.append(base.loss)
            gradients.append(base.gradient)
            continue
        point = {name: x + (j * delta) * direction[name] for name, x in evaluator.model.params.items()}
        try:
            value, gradient = evaluator.at(point, traced=traced)
        except ModelError as exc:
            if type(exc) not in (ModelError, UserCodeError):
                raise  # the model changed its params, or is not deterministic: not a broken point
            # The loss or gradient broke nearby (raised, or a non-finite
            # gradient): no table here.
            return None, []
        if not np.isfinite(value):
            return None, []
        if traced and base.trace is not None and evaluator.last_trace is not None and \
                compare_traces(base.trace, evaluator.last_trace) is not None:
            return None, []
        values.append(value)
        gradients.append(gradient)
    return values, (gradients if all(gradients) else [])


def _float32_valued(values: np.ndarray) -> bool:
    """Whether every value fits float32's 24-bit significand while some
    need more than 12 bits: computed in float32, not simple fractions (an
    SVM's bias gradient, counts over N, fits float32 by being simple)."""
    if not values.size:
        return False
    with np.errstate(all="ignore"):
        significand, _ = np.frexp(values)
        fits = significand * 2.0 ** 24
        simple = significand * 2.0 ** 12
        return bool(np.all(fits == np.round(fits))) and bool(np.any(simple != np.round(simple)))


def _gradient_noise(base: BasePoint, gradients: list[dict]) -> dict:
    """Per block, per element, the standard deviation of the analytic
    value's rounding: from the 4th differences of each element over the
    table (their noise gain is C(8, 4) = 70), ELEMENT_NOISE_FACTOR times
    an element's own (three differences make a rough estimate), never less
    than GRADIENT_NOISE_MEDIAN_FACTOR times the block's median, nor than an
    ulp of the element (or of the block's median element, where larger) --
    of float32 where every value is a float32 number (a backward computed
    in float32 and handed back as float64)."""
    noise = {}
    for name, g in base.gradient.items():
        # An element's own ulp, or the block's typical one where larger: a
        # 4e-3 element beside a 600 one rounds as a 4e-3 number does.
        typical = float(np.median(np.abs(g))) if g.size else 0.0
        sigma = (EPS32 if _float32_valued(g) else EPS) * np.maximum(np.abs(g), typical)
        if gradients:
            table = np.stack([np.asarray(gj[name], dtype=np.float64).reshape(-1) for gj in gradients])
            with np.errstate(all="ignore"):
                fourth = np.diff(table, n=4, axis=0)
                own = np.sqrt(np.mean(fourth ** 2, axis=0) / comb(8, 4))
            if own.size and np.all(np.isfinite(own)):
                measured = np.maximum(ELEMENT_NOISE_FACTOR * own, GRADIENT_NOISE_MEDIAN_FACTOR * float(np.median(own)))
                sigma = np.maximum(sigma, measured.reshape(g.shape))
        noise[name] = sigma
    return noise


# Noise above this many ulps of the loss is confirmed before it is believed;
# a wide/narrow ratio in this range (around the 100 of exact proportion)
# means the "noise" was a kink.
NOISE_CONFIRM_ULPS = 100.0
KINK_SCALING = (20.0, 500.0)
# ... and a narrow table this many times quieter than the wide one (and
# not in proportion, as a kink's share shrinks) shows that the wide one
# measured the function varying fast, not rounding, which does not shrink.
NOISE_SHRINK = 3.0
# Each table is this many times narrower than the one before, and there
# are at most so many: from 1e-6 of a block's scale to 1e-12 (5e-6 m at a
# UTM coordinate of 5e6), still thousands of ulps, so float64 rounds anew.
NOISE_NARROWING = 100.0
NOISE_TABLES = 4
# A table that stands still is widened a hundredfold at most this many
# times: to 1e-2 of a block's scale, past float16's quantum (1e-3).
NOISE_WIDENINGS = 2
# A table's 4th differences over this many times its 5th (each over its
# noise gain) fall with their order: the function, not rounding.
SMOOTH_ORDERS = 2.5
# In a kink's table the second differences beside the jump are rounding:
# below this share of the jump's.
KINK_SHAPE_SHARE = 0.1
# A probe whose budget is rounding too wide to verify it measures the noise
# along its block alone, and is judged again with it where it is below this
# share of the check's (every block's at once).
NOISE_REMEASURE = 0.5
# An element's analytic noise is this many times its own estimate (the RMS
# of three 4th differences: below a third of sigma one time in 30), and at
# least the block's median estimate (~0.9 sigma) times the other factor.
ELEMENT_NOISE_FACTOR = 2.0
GRADIENT_NOISE_MEDIAN_FACTOR = 1.5

# A second stencil widens its step until its round-off is this fraction of
# what a value must be verified to (the "warn" band: beyond it a value is
# unverified; within it, "ok"), so that its disagreement can be judged ...
REFINE_TARGET = 0.1
# A disagreement round-off does not explain is confirmed on a budget this
# many times below the confirmation threshold: the second stencil's step
# widens until its round-off is that small ...
REFINE_MARGIN = 3.0
# ... up to this step: enough to verify a float32 loss to ~1e-5, and the
# Richardson estimate says when truncation there is too large.
REFINE_MAX_STEP = 1e-2
# On the second stencil's wider points, the gap between one-sided slopes
# must double with the step to within this fraction: curvature does, to
# O(H^2); a kink near x leaves it the same (a ratio of 1, not 2).
SECOND_STENCIL_CURVATURE_MATCH = 0.25
# Richardson's estimate of truncation assumes the error already scales as
# H^4 between H and 2H; this factor covers being a little short of that.
TRUNCATION_SAFETY = 3.0

# A bound on retries whatever h the user chose (1e-5 down to the floor is 5 steps).
_MAX_ATTEMPTS = 12
# The central differences at H, 2H, 4H of a smooth loss change fourfold
# less per halving (their error is O(H^2)); a C1 loss's only twofold. Three
# is between: beyond it the five-point estimate is taken to be O(H^4).
SMOOTH_SHRINK = 3.0
# The Taylor test tries at most this many steps, each tenfold smaller: from
# a coordinate near 5e6 (a step of 50) down to 5e-4, past where a loss of
# metre-scale differences stops curving across the stencil.
TAYLOR_ATTEMPTS = 6
# A wrong value not clearly so (taylor.Taylor.clear, and within this share
# of what the first stencil saw), and a jump in slope, count when a tenfold
# smaller step finds the same one-sided limits.
TAYLOR_AGREEMENT = 0.1
_SEEN_TWICE = (taylor.WRONG, taylor.SUBGRADIENT, taylor.NOT_SUBGRADIENT)
