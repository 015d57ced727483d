"""Grading: one decision per value on its evidence, a block's grade, the verdict.

Every numeric value comes with a budget, ``uncertainty`` = both sides'
round-off + truncation (numeric.py, noise.py), and, where the budget did
not decide, a Taylor test (taylor.py) whose uncertainty replaces it.
docs/verdicts.md says the decision in words; :func:`judge` reads the same:

  fail        wrong by the Taylor test, or more than CONFIRM_FACTOR budgets
              wide with truncation estimated, and a relative error above
              ``good_below``; outside the one-sided derivatives of a kink the
              loss values show; the loss broke at every step; a non-finite
              numeric value
  pass        within a budget that verifies it to ``good_below`` of the
              block's scale (a gradient zero by design: "zero within
              round-off"), or a relative error at most ``good_below``
  ok          within a budget that verifies it to ``warn_above``; or a
              valid subgradient at a kink the loss values show
  unverified  within a budget too wide to verify it (float32 inside, a
              large offset, a loss varying faster than any step): says why,
              never fails; a disagreement near a kink or a domain's edge
              where no Taylor test could run; values below --tiny-below
  zero        both exactly 0 and nothing else in the check measurable
  kink        several kinks meet at the point (degenerate), or every step
              crossed one and nothing could be measured: inconclusive
  warn        beyond a budget that could not be confirmed, where no Taylor
              test ran (--h auto's ladder): the notes' bands

"Small" is judged against the block's scale (its largest value clearly
above its budget), or the whole check's for a block with none: a fixed
absolute floor would call a whole loss of scale 1e-12 "tiny".

A block takes the grade of its worst measurable dimension, or is
``unverified`` where a value could not be verified and the rest pass; a
block with no measurable dimension is ``unverified``, ``kink``, or -- all
zeros -- ``warn``. The verdict is ``fail`` if any block failed, ``warn``
if any warned, is unverified or kink (or the model drew a warning), else
``pass``.
"""

from __future__ import annotations

import math
import os

from . import taylor
from .numeric import Estimate
from ..report import FAIL, KINK, OK, PASS, UNVERIFIED, WARN, ZERO, BlockResult, DimResult
from ..settings import CONFIRM_FACTOR, KINK_GAP_TOLERANCE, Thresholds

# Facts a value's or block's message states, read again by the pipeline's
# advice (said once per model, as a function of what the run did).
ROUNDING_LIMITS = "the loss's own rounding limits any finite difference here"
ALL_ZERO = "every checked value is exactly zero (analytic and numeric)"

# Which dimension is "worst" in a block: failures first, then what was
# measured, then what could not be.
_SEVERITY = {FAIL: 6, WARN: 5, OK: 4, PASS: 3, UNVERIFIED: 2, KINK: 1, ZERO: 0}
_MEASURED = (FAIL, WARN, OK, PASS)


def relative_error(analytic: float, numeric: float) -> float:
    """|a - n| / max(|a|, |n|), and 0 when both are 0.

    The max keeps the denominator away from zero, which ReLU makes common.
    """
    scale = max(abs(analytic), abs(numeric))
    return 0.0 if scale == 0 else abs(analytic - numeric) / scale


def grade_error(rel_error: float, magnitude: float, *, kinked: bool, thresholds: Thresholds) -> str:
    """The notes' band of one relative error, where no budget decides."""
    if magnitude == 0:
        return ZERO
    if rel_error > thresholds.fail_above:
        return FAIL
    if rel_error > thresholds.warn_above:
        return WARN
    if rel_error > thresholds.good_below:
        return OK if kinked else WARN
    return PASS


def measurable(estimate: Estimate) -> float:
    """The magnitude of a value clearly above its budget (else 0): what a
    block's scale is made of."""
    if estimate.error is not None or estimate.unresolved or not math.isfinite(estimate.numeric):
        return 0.0
    magnitude = max(abs(estimate.analytic), abs(estimate.numeric))
    return magnitude if abs(estimate.numeric) > estimate.uncertainty else 0.0


def judge(estimate: Estimate, thresholds: Thresholds, scale: float = 0.0) -> tuple[str, str | None]:
    """The grade of one estimate and why; ``scale`` is the block's.

    One decision on the evidence (docs/verdicts.md says it in words):

    1. No value: the loss broke at x +- h at every step down to the edge's
       own scale: unverified (nothing shows it wrong); or its difference
       overflowed: fail.
    2. A kink the loss values show at x (the Taylor test's one-sided
       derivatives differ): the analytic value must lie between them.
    3. Otherwise the disagreement |a - n| against its error budget (both
       sides' rounding and truncation; the Taylor test's uncertainty where
       it ran): beyond CONFIRM_FACTOR budgets with the truncation measured,
       fail; within the budget (within CONFIRM_FACTOR of it where the
       Taylor test found it consistent or could not tell), the value is
       verified to what the budget allows against the block's scale: pass,
       ok, or unverified.

    A kink flag alone never decides: a value estimated at a kink-free step
    is judged by its budget, and only a jump in the loss's own slope makes
    a subgradient. The notes' bands grade only what no budget was measured
    for (--h auto's retries, beyond a budget without a Taylor test).
    """
    a, n = estimate.analytic, estimate.numeric
    if estimate.error is not None:
        # No step the loss could be differenced at: nothing shows the value
        # wrong (a barrier's x at its wall, a loss raising off its start).
        return UNVERIFIED, estimate.error
    if not math.isfinite(n):
        # Finite losses whose difference overflows (a loss near 1e308): no
        # comparison with nan or inf may pass.
        return FAIL, (f"the numeric value is {n}: the loss's values are too large to difference in float64; "
                      "scale the loss down")
    test = estimate.taylor
    if test is not None and test.outcome in (taylor.SUBGRADIENT, taylor.NOT_SUBGRADIENT):
        return _at_kink(estimate, test)
    if estimate.unresolved:
        # At a kink no step avoids and no Taylor test ran: the centered value is no derivative.
        return _grade_subgradient(a, estimate, thresholds)
    magnitude = max(abs(a), abs(n))
    if magnitude == 0:
        if scale > 0:
            # The loss did not move at all: zero is verified, to round-off of
            # the check's scale (a parameter unused by design).
            return PASS, "zero: the loss does not change along it"
        return ZERO, None
    if magnitude < thresholds.tiny_below:
        return UNVERIFIED, f"both values are below --tiny-below {thresholds.tiny_below:g}: not graded"
    gap, budget = abs(a - n), estimate.uncertainty
    rel = gap / magnitude
    if test is not None and test.outcome == taylor.WRONG:
        return (PASS, None) if rel <= thresholds.good_below else (FAIL, f"confirmed: {_evidence(estimate)}")
    # The Taylor test calls a value wrong only beyond CONFIRM_FACTOR of its
    # uncertainties; short of that it is judged as within its budget.
    allowed = budget if test is None else CONFIRM_FACTOR * budget
    if gap <= allowed:
        return _within(estimate, gap, budget, magnitude, scale, thresholds)
    if confirmed(estimate):
        # Far beyond the budget with truncation estimated: the disagreement is real.
        if rel <= thresholds.good_below:
            return PASS, None
        return FAIL, f"confirmed: {_evidence(estimate)}"
    if estimate.kinked:
        # The Taylor test could not run (the loss broke at its points): a
        # kink or a domain's edge nearby explains nothing and decides nothing.
        return UNVERIFIED, (f"|a - n| = {gap:.1e} is beyond the error budget ±{budget:.1e}, with a kink or the "
                            "edge of the loss's domain nearby where no Taylor test could run: not verified")
    grade = grade_error(rel, magnitude, kinked=False, thresholds=thresholds)
    if grade in (FAIL, WARN):
        return grade, (f"|a - n| = {gap:.1e} is beyond the error budget ±{budget:.1e} but not "
                       f"{CONFIRM_FACTOR:g}x beyond it: graded by the notes' bands")
    return grade, None


def _within(estimate: Estimate, gap: float, budget: float, magnitude: float, scale: float,
            thresholds: Thresholds) -> tuple[str, str | None]:
    """A value its budget explains: never a failure or a warning about the
    gradient, and a pass only if the budget is small against the block."""
    rel = gap / magnitude
    reference = max(magnitude, scale)
    verified = (gap + budget) / reference
    zero = " (zero within round-off)" if abs(estimate.analytic) <= budget and abs(estimate.numeric) <= budget else ""
    said = f"within the error budget ±{budget:.1e}{zero}"
    if estimate.taylor is not None:
        said = f"{estimate.taylor.words()}, ±{budget:.1e}{zero}"
    if rel <= thresholds.good_below or verified <= thresholds.good_below:
        return PASS, (said if rel > thresholds.good_below else None)
    if verified <= thresholds.warn_above:
        return OK, f"{said}: verified to {verified:.0e} of the block's scale {reference:.1e}"
    rounding = estimate.roundoff + estimate.analytic_roundoff
    parts = f"round-off {rounding:.1e}" + (f", truncation {estimate.truncation:.1e}" if estimate.truncation else "")
    # (What may cause the rounding, and what to do, is said once per model: pipeline._precision.)
    why = (ROUNDING_LIMITS if rounding >= (estimate.truncation or 0.0) else
           f"the loss curves too fast along it for the steps tried (down to h = {estimate.h:.0e})")
    return UNVERIFIED, (f"error budget ±{budget:.1e} ({parts}) is {budget / reference:.0e} of the block's scale: "
                        f"too uncertain to verify; {why}")


def _at_kink(estimate: Estimate, test: taylor.Taylor) -> tuple[str, str]:
    """At a kink the loss values show: any value between the one-sided
    derivatives is a valid (sub)gradient there; one outside them is wrong."""
    low, high = test.bracket(estimate.analytic)
    crossing = estimate.crossing
    if crossing is not None and estimate.meeting > 1:
        # Several kinks meet at the point (a ReLU layer whose units all sit
        # at 0): along one coordinate the one-sided slopes of a sum of
        # kinks need not bracket the chain rule's subgradient, so nothing
        # is decided here.
        where = f"{os.path.basename(crossing.filename)}:{crossing.lineno} ({crossing.op})"
        return KINK, (f"degenerate point: {estimate.meeting} kinks meet here, at {where}; a subgradient cannot be "
                      "judged where several kinks meet")
    where = f"the one-sided derivatives [{low:.6g}, {high:.6g}] (± {test.uncertainty:.1e}) of a kink at this point"
    if test.outcome == taylor.SUBGRADIENT:
        return OK, f"subgradient: the analytic value lies between {where}"
    return FAIL, f"the analytic value is outside {where}: not a subgradient"


def confirmed(estimate: Estimate) -> bool:
    """A disagreement more than CONFIRM_FACTOR budgets wide, with truncation
    estimated (a second stencil, whose points were tested for kinks, or the
    complex step): real, not an artefact of the step."""
    gap = abs(estimate.analytic - estimate.numeric)
    return estimate.truncation is not None and not estimate.kinked and gap > CONFIRM_FACTOR * estimate.uncertainty


def worth_tracking(estimate: Estimate, thresholds: Thresholds) -> bool:
    """Whether an estimate made without winner tracking is to be made again
    with it: the numerical kink test saw a kink (crossed, near, or at every
    step), or the value disagrees beyond its error budget and beyond the
    notes' good band. A crossing tracking would see explains such a value,
    and the report then names the line and the elements that flipped.

    Not re-made: a value within its budget (round-off and truncation explain
    it; it can neither fail nor warn), a pass, a loss that raised or broke
    at x +- h (reported by what it raised), and a confirmed disagreement too
    large for a kink the numerical test misses to explain (a jump in slope
    below KINK_GAP_TOLERANCE of it moves a value by half that at most)."""
    if estimate.error is not None:
        return False
    if estimate.taylor is not None:
        # Judged on the loss values; tracking would only name the line of a
        # kink the values show.
        return estimate.taylor.outcome in (taylor.SUBGRADIENT, taylor.NOT_SUBGRADIENT)
    if estimate.kinked or estimate.unresolved:
        return True
    a, n = estimate.analytic, estimate.numeric
    if not math.isfinite(n):
        return False
    rel = relative_error(a, n)
    if abs(a - n) <= estimate.uncertainty or rel <= thresholds.good_below:
        return False
    return not (confirmed(estimate) and rel > KINK_GAP_TOLERANCE)


def _evidence(estimate: Estimate) -> str:
    """What makes a disagreement confirmed, in one line (the JSON report's
    ``evidence`` has the stencils' values)."""
    a, n, budget = estimate.analytic, estimate.numeric, estimate.uncertainty
    test = estimate.taylor
    how = ((f"Taylor order {test.order:.1f}" if test.order is not None else "Taylor test") if test is not None else
           "two stencils" if estimate.first is not None else
           "complex step" if estimate.truncation == 0 else f"h = {estimate.h:.0e}")
    return (f"analytic {a:.6g}, numeric {n:.6g} ± {budget:.1e} ({how}): "
            f"{abs(a - n) / max(budget, 1e-300):.0e}x the budget")


def grade_estimate(
    estimate: Estimate,
    *,
    index: tuple[int, ...] | None,
    direction: int | None,
    thresholds: Thresholds,
    scale: float = 0.0,
    drilled: bool = False,
) -> DimResult:
    """A DimResult for one probe's estimate; ``scale`` is its block's."""
    a, n = estimate.analytic, estimate.numeric
    grade, message = judge(estimate, thresholds, scale)
    measured = estimate.error is None and not estimate.unresolved and math.isfinite(n)
    # Relative error means nothing for two values within their budget of zero.
    zero = abs(a) <= estimate.uncertainty and abs(n) <= estimate.uncertainty and grade != FAIL
    rel = relative_error(a, n) if measured and not zero else None
    evidence = None
    if grade == FAIL and measured and estimate.truncation is not None:
        evidence = {"first": list(estimate.first) if estimate.first else None, "h": estimate.h,
                    "numeric": n, "budget": estimate.uncertainty}
    if drilled:
        message = "found by drilling down a failing direction" + (f"; {message}" if message else "")
    return DimResult(index=index, direction=direction, analytic=a, numeric=n, rel_error=rel, grade=grade,
                     h=estimate.h, kink=estimate.crossing, kink_untracked=estimate.untracked_kink,
                     kink_harmless=estimate.harmless, message=message, roundoff=estimate.roundoff,
                     truncation=estimate.truncation, bracket=estimate.bracket, drilled=drilled, evidence=evidence,
                     analytic_roundoff=estimate.analytic_roundoff,
                     taylor=estimate.taylor.to_dict() if estimate.taylor is not None else None)


def _grade_subgradient(analytic: float, estimate: Estimate, thresholds: Thresholds) -> tuple[str, str]:
    """Grade at a kink no step avoids: any value between the one-sided
    derivatives is a valid (sub)gradient there; one outside them is wrong."""
    if estimate.bracket is None:
        return KINK, f"every step down to {estimate.h:.0e} crossed a kink; the numeric value cannot be trusted"
    low, high = estimate.bracket
    crossing = estimate.crossing
    if crossing is not None and estimate.meeting > 1:
        # Several kinks meet at the point (a ReLU layer whose units all sit
        # at 0): along one coordinate the one-sided slopes of a sum of
        # kinks need not bracket the chain rule's subgradient, so nothing
        # is decided here.
        where = f"{os.path.basename(crossing.filename)}:{crossing.lineno} ({crossing.op})"
        return KINK, (f"degenerate point: {estimate.meeting} kinks meet here, at {where}, at every step down to {estimate.h:.0e}; a subgradient cannot be judged "
                      "where several kinks meet")
    slack = thresholds.good_below * max(abs(low), abs(high), abs(analytic))
    where = f"the one-sided derivatives [{low:.6g}, {high:.6g}] at a kink no step avoids"
    if low - slack <= analytic <= high + slack:
        return OK, f"subgradient: the analytic value lies between {where}"
    return FAIL, f"the analytic value is outside {where}: not a subgradient"


def grade_block(
    name: str,
    shape: tuple[int, ...],
    size: int,
    dims: tuple[DimResult, ...],
    directions: tuple[DimResult, ...],
    thresholds: Thresholds,
) -> BlockResult:
    """Summarise a block's dimensions into its grade, worst dimension and warnings."""
    everything = dims + directions
    # Measured: graded by relative error, or a subgradient found wrong.
    # A subgradient found valid passes, but says nothing about accuracy.
    valid_subgradients = [d for d in everything if d.bracket is not None and d.grade == OK]
    measured = [d for d in everything if d.grade in _MEASURED and not (d.bracket is not None and d.grade == OK)]
    errors = [d.rel_error for d in measured if d.rel_error is not None]
    max_rel = max(errors) if errors else None
    warnings: list[str] = []
    # Where a coordinate fails (sampled, or drilled down from a direction),
    # it is the worst: it says where the bug is, "direction 0" does not.
    worst = max(measured, key=lambda d: (_SEVERITY[d.grade], d.grade == FAIL and d.index is not None,
                                         d.rel_error or 0.0), default=None)
    unverified = [d for d in everything if d.grade == UNVERIFIED]
    if worst is not None and worst.grade in (PASS, OK) and unverified:
        # What could not be verified is not verified by its neighbours: a
        # sign-flipped decay rate beside three parameters that pass.
        grade, worst = UNVERIFIED, unverified[0]
        warnings.append(f"{name}: {len(unverified)} of {len(everything)} checked values could not be verified "
                        "(reasons above); the rest pass")
    elif worst is not None:
        grade = worst.grade
    elif valid_subgradients:
        grade, worst = OK, valid_subgradients[0]
    elif not everything:
        grade = WARN
        warnings.append(f"{name}: nothing was checked")
    elif any(d.grade == UNVERIFIED for d in everything):
        grade = UNVERIFIED
        worst = next(d for d in everything if d.grade == UNVERIFIED)
        # (What to do is advice of the run's, said once per model: pipeline._precision.)
        warnings.append(f"{name}: no checked value could be verified: each is within an error budget too large "
                        "to tell (reasons above)")
    elif any(d.grade == KINK for d in everything):
        grade = KINK
        worst = next(d for d in everything if d.grade == KINK)
        warnings.append(f"{name}: every checked dimension sits on a kink; nothing could be verified")
    else:
        grade = WARN
        worst = everything[0]
        warnings.append(
            f"{name}: {ALL_ZERO}, so nothing was verified"  # (what to do: pipeline._advice, after every point)
        )
    crossings = sum(1 for d in everything if d.crossed_kink)
    return BlockResult(name, tuple(shape), size, len(dims), grade, max_rel, worst, crossings, dims, directions,
                       tuple(warnings))


def verdict(blocks: tuple[BlockResult, ...], warnings: tuple[str, ...]) -> str:
    """pass, warn or fail for the whole check."""
    grades = {b.grade for b in blocks}
    if FAIL in grades:
        return FAIL
    if grades & {WARN, UNVERIFIED, KINK} or warnings:
        return WARN
    return PASS


def worst(*verdicts: str) -> str:
    """The worst of several checks' verdicts (fail > warn > pass)."""
    rank = {PASS: 0, WARN: 1, FAIL: 2}
    return max(verdicts, key=rank.__getitem__, default=PASS)
