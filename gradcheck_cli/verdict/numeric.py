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
10 until no kink is crossed, down to a floor; so is one where the loss
broke (a parameter near its domain's edge). A value estimated at a
kink-free step is judged by its budget like any other.

Walls. Where the loss breaks at a step, or the one-sided gap grows as the
step shrinks (a pole or a jump crossed, finite beyond it: a kink's gap
stays), the wall may be nearer than the floor: the broken step is skipped
and the ladder goes on down to the edge's own scale (probes.edge_floor:
64 ulps of what the probe moves). A value no step measured is unverified,
saying what broke: nothing shows it wrong.

Numerical kink test, for what tracking cannot see: the one-sided slopes
(f(x+h) - f(x))/h and (f(x) - f(x-h))/h differ by f''(x) h on a smooth
function, but by up to the jump in slope across a kink. A gap larger than
KINK_GAP_TOLERANCE of the slope is suspicious at the first step; at a
smaller step it is taken as curvature only if it shrank with the step.

Error budget. The loss's rounding noise sigma (noise.py) gives a stencil
with weights w a round-off of three sigma*||w||; the analytic value's own
rounding is added. Where the disagreement with the analytic value is
larger than that, or that is too large to verify the value, a second
stencil (:func:`_refine`) estimates truncation -- the Richardson way only
where the convergence order allows it -- and tests its wider points for
kinks. Where the budget still does not decide (beyond it, at a kink no
step avoids, or too wide to verify), the Taylor test (taylor.py) decides,
stepping down tenfold from the value's step (:func:`_arbitrate`). ``--h
auto`` estimates truncation from the next larger step and picks the step
where round-off + truncation is smallest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..errors import ModelError, UserCodeError
from ..evaluate import BasePoint, Evaluator, index_label
from ..kinks import Crossing, compare_traces
from ..settings import (
    AUTO_STEPS,
    CONFIRM_FACTOR,
    CURVATURE_MATCH,
    DEFAULT_STEPS,
    EDGE_RETRY_ATTEMPTS,
    EPS,
    GAP_NOISE_SIGMAS,
    KINK_GAP_SHRINK,
    KINK_GAP_TOLERANCE,
    KINK_RETRY_FACTOR,
    KINK_RETRY_FLOOR,
    UNCERTAINTY_SIGMAS,
    Thresholds,
)
from . import taylor
from .noise import SUBNORMAL_SPACING, block_noise, rms
from .probes import Probe, edge_floor, step_scale

# Offsets of each real-valued stencil, in steps.
STENCILS = {"central": (1, -1), "five-point": (2, 1, -1, -2)}
# Their truncation error is O(h^order).
ORDERS = {"central": 2, "five-point": 4}


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
    may sum in another order, or fuse, depending on the CPU).

    Summed as sum(w_j (f_j - f_0)): the same where sum(w) = 0, which
    realised offsets' weights meet only to rounding (-3e-14 at h = 1e-2).
    Without f_0 taken out, that rounding times the loss's own size is a
    derivative of its own: a constant loss 1.0 read as slope -2.8e-14."""
    values = list(values)
    if not values:
        return 0.0
    reference = values[0]
    total = 0.0
    for wj, fj in zip(w, values):
        total += wj * (fj - reference)
    return total


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
        self.message = message if message is not None else what


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
    absolute = step * step_scale(evaluator, probe)
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
    absolute = step * step_scale(evaluator, probe)
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


def _gradient_scale(base: BasePoint, block: str) -> float:
    """What grading will hold a block's values to, at the least: its
    typical analytic value (root mean square; grading uses the largest of
    the values it checked), or the whole gradient's for a block that is all
    zeros (W1 = 0)."""
    own = rms(base.gradient[block])
    return own if own > 0 else max(rms(g) for g in base.gradient.values())


def _needs_refining(found: Estimate, verify_to: float, block_scale: Callable[[], float]) -> bool:
    """Whether a smooth estimate's disagreement is unexplained by round-off,
    or its round-off too large to verify it against the scale grading will
    hold it to (its block's largest checked value, where larger): as
    grading reads it, (gap + round-off) over that scale."""
    if found.error is not None or found.unresolved or found.near_kink or found.truncation is not None:
        return False
    gap = abs(found.analytic - found.numeric)
    if gap > found.roundoff + found.analytic_roundoff:
        return True
    # Explained by round-off, but is that round-off small enough to verify
    # the value? If not, a wider step can make it so (a loss with a large
    # offset), whether or not the values happen to agree closely.
    magnitude = max(abs(found.analytic), abs(found.numeric))
    budget = gap + found.roundoff + found.analytic_roundoff
    return budget > verify_to * magnitude and budget > verify_to * block_scale()


def _curvature_between(coarse: _Level, fine: _Level) -> bool:
    """Whether the gap shrank with the step as f''(x) h does: by the retry factor."""
    expected = coarse.gap / KINK_RETRY_FACTOR
    return abs(fine.gap - expected) <= CURVATURE_MATCH * expected + fine.gap_noise


def _singular(coarse: _Level, fine: _Level) -> bool:
    """Whether the one-sided slopes' gap grew as the step shrank. A kink at
    x leaves it the jump in slope, one kink nearer than the step less
    (the share of the step beyond it), curvature a tenth; a jump in the
    loss between the points makes it grow as 1/h, a pole as 1/h^2, and two
    kinks on either side nearer than the step (a clip 1e-10 wide) as 1/h.
    Whatever was crossed is then no kink at x, and smaller steps get past it."""
    return fine.gap - fine.gap_noise > SINGULAR_GROWTH * coarse.gap


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
                analytic_roundoff: float = 0.0, reference: float | None = None) -> Estimate:
    """The default strategy: the given step, smaller ones only across kinks;
    a second stencil where round-off does not explain a disagreement; the
    Taylor test where the budget does not decide."""
    spent = [0]
    levels: list[_Level] = []
    step = h
    points = None
    broke: _Stop | None = None
    floor, attempts = KINK_RETRY_FLOOR, 0
    while True:
        first_crossing = levels[0].crossing if levels else None
        attempts += 1
        try:
            levels.append(_level(evaluator, probe, base, method, step, sigma, spent, first_crossing))
        except _Stop as stop:
            # The loss breaks at x +- h: a parameter near its domain's edge (a
            # variance of 2e-6 stepped by 1e-5, a barrier's x at 1e-10), or a
            # pole the wider steps jumped over, finite beyond it (a barrier's
            # jac). The step is skipped and a smaller one tried, as across a
            # kink, down to the edge's own scale; the levels before it that
            # crossed the wall are judged as crossings of a kink are.
            broke = broke or stop
            floor = edge_floor(evaluator, probe)
            step /= KINK_RETRY_FACTOR
            if step >= floor * (1 - 1e-9) and attempts < EDGE_RETRY_ATTEMPTS:
                continue
            if not levels:
                raise _Stop(replace(broke.estimate, evaluations=spent[0],
                                    error=_unmeasurable(broke.estimate.error, step * KINK_RETRY_FACTOR)),
                            broke.what) from None
            decided = _result(levels[-1], levels, spent[0], unresolved=True, bracket=_subgradient_bracket(levels),
                              meeting=levels[-1].meeting, analytic_roundoff=analytic_roundoff)
            break
        decided = _decide(levels, spent[0])
        if decided is not None:
            decided = replace(decided, analytic_roundoff=analytic_roundoff)
            if (refine and decided.error is None and not decided.unresolved) or \
                    _needs_refining(decided, verify_to,
                                    lambda: reference if reference else _gradient_scale(base, probe.block)):
                level = next(lv for lv in levels if lv.step == decided.h)
                decided, points = _refine(evaluator, probe, base, decided, level, sigma, spent, verify_to)
            break
        if len(levels) > 1 and _singular(levels[-2], levels[-1]):
            # A pole or a jump the steps cross, finite beyond it (1/x), or
            # kinks nearer than the floor on both sides: as near x as a wall
            # the loss breaks at, so down to the edge's scale.
            floor = edge_floor(evaluator, probe)
        step /= KINK_RETRY_FACTOR
        if step < floor * (1 - 1e-9) or len(levels) >= _MAX_ATTEMPTS or attempts >= EDGE_RETRY_ATTEMPTS:
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


def _unmeasurable(message: str, smallest: float) -> str:
    """What a value no step could measure says: what broke (its first line,
    then the rest of a traceback), and that every step down to
    ``smallest`` broke too. A derivative the loss cannot be differenced
    for is not shown wrong: it is not verified."""
    first, _, rest = message.partition("\n")
    said = f"{first}, and at every smaller step down to {smallest:.0e}: it cannot be measured here; not verified"
    return said + (f"\n{rest}" if rest else "")


def _rounding_limited(found: Estimate, verify_to: float, reference: float) -> bool:
    """Whether the loss's rounding is what keeps a value from being
    verified (or found wrong): most of a budget too wide to verify it
    against its block's ``reference`` (as grading will)."""
    if found.error is not None or not math.isfinite(found.numeric) or found.roundoff < found.uncertainty / 2:
        return False
    if found.taylor is not None and found.taylor.outcome in (taylor.WRONG, taylor.NOT_SUBGRADIENT):
        return False
    return found.uncertainty > verify_to * max(abs(found.analytic), abs(found.numeric), reference)


def crosses_kink(evaluator: Evaluator, probe: Probe, base: BasePoint, step: float, spent: list[int]) -> bool:
    """Whether a tracked kink operation decides differently at x +- 4 steps
    along ``probe`` than at x (two tracked evaluations): whether a Taylor
    test there measured slopes beyond a kink rather than at x."""
    try:
        at = _evaluate(evaluator, probe, base, (4, -4), step * step_scale(evaluator, probe), step, spent)
    except _Broke:
        return True
    return at.crossing is not None


def taylor_test(evaluator: Evaluator, probe: Probe, base: BasePoint, *, h: float, sigma: float,
                analytic_roundoff: float = 0.0) -> taylor.Taylor:
    """The Taylor test along ``probe`` at relative step ``h`` alone (six
    evaluations, at x +- h, 2h, 4h), as the check reads it at one step.
    Raises ModelError where the loss breaks at one of the points."""
    g = base.gradient[probe.block]
    x = evaluator.model.params[probe.block]
    analytic = float(g.reshape(-1)[probe.index]) if probe.index is not None else float(
        np.sum(g * probe.direction.reshape(x.shape)))
    try:
        return _taylor_at(evaluator, probe, base, analytic, h, sigma, analytic_roundoff, [0], None)
    except _Broke as broke:
        # What broke, in one line: a test at one step grades nothing (a
        # check's "not verified" is the check's to say).
        raise ModelError(broke.what) from None


def _taylor_at(evaluator: Evaluator, probe: Probe, base: BasePoint, analytic: float, step: float, sigma: float,
               analytic_roundoff: float, spent: list[int], known: "_Points | None") -> taylor.Taylor:
    """The Taylor test at one relative step (on ``known`` points where given)."""
    at = known or _evaluate(evaluator, probe, base, (4, 2, 1, -1, -2, -4), step * step_scale(evaluator, probe),
                            step, spent)
    noise = at.noise(sigma, base)
    change = at.moved if probe.index is None else {o: analytic * d for o, d in at.displacement.items()}
    return taylor.decide(taylor.side(1, base.loss, at.displacement, at.values, change, noise, analytic_roundoff),
                         taylor.side(-1, base.loss, at.displacement, at.values, change, noise, analytic_roundoff),
                         analytic, step)


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
    chosen, previous, decided, history = None, None, False, []
    best, stalled = math.inf, 0
    step = start
    # Down to where x + 4H would round to few distinct floats; noise ends
    # it first for any loss of ordinary scale (noise_limited, below).
    magnitude_x = abs(float(evaluator.model.params[probe.block].reshape(-1)[probe.index])) \
        if probe.index is not None else evaluator.block_rms(probe.block)
    for _ in range(TAYLOR_ATTEMPTS):
        if step * step_scale(evaluator, probe) <= TAYLOR_MIN_ULPS * EPS * magnitude_x or step <= 0:
            break
        try:
            test = _taylor_at(evaluator, probe, base, a, step, sigma, found.analytic_roundoff, spent,
                              known if known is not None and step == found.h else None)
        except _Broke:
            # The loss breaks at x +- 4H (a domain's edge): nearer, as across a kink.
            known, step = None, step / KINK_RETRY_FACTOR
            continue
        known = None
        history.append(test)
        if chosen is None or test.uncertainty < chosen.uncertainty:
            chosen = test
        # Verified to a tenth of the warn band of the value as this test
        # measures it (not as a coarse first stencil did: 5e22 for a decay
        # rate stepped far past its scale).
        target = REFINE_TARGET * verify_to * max(abs(a), abs(a + test.difference))
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
        # Stepping down pays while it narrows the uncertainty; where two
        # steps in a row have not halved the best so far (kinks at every
        # distance, a loss that changes character with the scale), no
        # smaller step will decide either.
        stalled = 0 if test is chosen and (len(history) == 1 or test.uncertainty < TAYLOR_PROGRESS * best) else stalled + 1
        best = min(best, test.uncertainty)
        if stalled >= 2:
            break
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
    # Where the loss breaks at a step (a domain's wall), the default strategy
    # finds the steps that fit: best_step reads consecutive tenfold steps.
    broken: dict[float, str] = {}
    levels = ladder(evaluator, probe, base, method, AUTO_STEPS[method], sigma, spent, broken=broken)
    best = None if broken else best_step(levels, ORDERS[method])
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
    step = h * step_scale(evaluator, probe)
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
             refine: bool = False, analytic_roundoff: float = 0.0, seed: int = 0,
             reference: float | None = None) -> Estimate:
    """The numeric derivative along ``probe`` by ``method`` at relative step ``h``
    (or ``"auto"``), with its error budget given loss noise ``sigma``.

    A value whose disagreement with the analytic one is not explained by
    round-off, or whose round-off is too large to verify it to relative
    ``verify_to``, gets a second stencil: a truncation estimate, and a
    wider step where round-off is the limit. ``refine`` asks for the
    second stencil whatever the first shows (a step given as a number).
    ``analytic_roundoff``: the analytic value's own rounding (three sigma),
    part of the budget; ``seed``: the check's, for a block's own noise
    table where the check's noise leaves a value undecided; ``reference``:
    what grading will verify the value against, its block's largest checked
    value (its typical one where not given)."""
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
        found = _by_retries(evaluator, probe, base, method, h, sigma, verify_to, refine, analytic_roundoff, reference)
        if not _rounding_limited(found, verify_to, reference or 0.0):
            return found
        # The check's noise is every block's at once; this block's own may
        # be far less (a block beside one whose terms cancel).
        spent = [0]
        own = block_noise(evaluator, probe.block, base, seed, spent)
        if own is None or own >= NOISE_REMEASURE * sigma:
            return replace(found, evaluations=found.evaluations + spent[0])
        again = _by_retries(evaluator, probe, base, method, h, own, verify_to, refine, analytic_roundoff, reference)
        return replace(again, evaluations=again.evaluations + found.evaluations + spent[0])
    except _Stop as stop:
        return stop.estimate


# A probe whose budget is rounding too wide to verify it measures the noise
# along its block alone, and is judged again with it where it is below this
# share of the check's (every block's at once).
NOISE_REMEASURE = 0.5

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

# A gap between one-sided slopes that grows more than this much when the
# step shrinks tenfold is no kink's at x (it stays, or shrinks) nor
# curvature's (a tenth): a jump's grows tenfold, a pole's a hundredfold,
# two close kinks' tenfold (_singular).
SINGULAR_GROWTH = 3.0

# A bound on retries whatever h the user chose (1e-5 down to the floor is 5 steps).
_MAX_ATTEMPTS = 12
# The central differences at H, 2H, 4H of a smooth loss change fourfold
# less per halving (their error is O(H^2)); a C1 loss's only twofold. Three
# is between: beyond it the five-point estimate is taken to be O(H^4).
SMOOTH_SHRINK = 3.0
# The Taylor test tries at most this many steps, each tenfold smaller, while
# truncation rather than rounding limits it: from a coordinate near 5e6 (a
# step of 50) to 5e-4, or from an absolute 1e-5 to the 1e-11 a decay rate
# of 2e-8 times a record of 3e7 s needs; and never below this many ulps of
# x, where x +- 4H would round to few distinct values.
TAYLOR_ATTEMPTS = 12
TAYLOR_MIN_ULPS = 64
# ... and only while each step narrows the best uncertainty so far at least
# this much (two steps that do not end it).
TAYLOR_PROGRESS = 0.5
# A wrong value not clearly so (taylor.Taylor.clear, and within this share
# of what the first stencil saw), and a jump in slope, count when a tenfold
# smaller step finds the same one-sided limits.
TAYLOR_AGREEMENT = 0.1
_SEEN_TWICE = (taylor.WRONG, taylor.SUBGRADIENT, taylor.NOT_SUBGRADIENT)
