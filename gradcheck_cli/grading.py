"""Grading: relative error, the notes' bands, and how grades add up.

Dimension grades:
  fail  relative error above ``fail_above`` (or the loss broke at x +/- h)
  warn  above ``warn_above``; or above ``good_below`` for a smooth objective
  ok    between ``good_below`` and ``warn_above`` for an objective with kinks
  pass  at most ``good_below``
  tiny  both values below ``tiny_below`` in magnitude: relative error means
        nothing there (scale the loss up)
  zero  both exactly 0: passes, but verifies nothing
  ok    also: a value within the numeric value's round-off uncertainty
        ("round-off limited"), and, at a kink no step avoids, a value
        between the one-sided derivatives ("subgradient")
  kink  every step crossed a kink and no one-sided derivatives could be
        formed: inconclusive, not failed

A block takes the grade of its worst measurable dimension; a block with no
measurable dimension is ``tiny``, ``kink``, or -- all zeros -- ``warn``.
The verdict is ``fail`` if any block failed, ``warn`` if any warned (or the
model drew a warning), else ``pass``.
"""

from __future__ import annotations

import math

from .numeric import Estimate
from .report import FAIL, KINK, OK, PASS, TINY, WARN, ZERO, BlockResult, DimResult
from .settings import Thresholds

# Which dimension is "worst" in a block: failures first, then what was
# measured, then what could not be.
_SEVERITY = {FAIL: 6, WARN: 5, OK: 4, PASS: 3, TINY: 2, KINK: 1, ZERO: 0}
_MEASURED = (FAIL, WARN, OK, PASS)


def relative_error(analytic: float, numeric: float) -> float:
    """|a - n| / max(|a|, |n|), and 0 when both are 0.

    The max keeps the denominator away from zero, which ReLU makes common.
    """
    scale = max(abs(analytic), abs(numeric))
    return 0.0 if scale == 0 else abs(analytic - numeric) / scale


def grade_error(rel_error: float, magnitude: float, *, kinked: bool, thresholds: Thresholds) -> str:
    """The band of one measured relative error."""
    if magnitude == 0:
        return ZERO
    if magnitude < thresholds.tiny_below:
        return TINY
    if rel_error > thresholds.fail_above:
        return FAIL
    if rel_error > thresholds.warn_above:
        return WARN
    if rel_error > thresholds.good_below:
        return OK if kinked else WARN
    return PASS


def grade_estimate(
    estimate: Estimate,
    *,
    index: tuple[int, ...] | None,
    direction: int | None,
    kinked: bool,
    thresholds: Thresholds,
    drilled: bool = False,
) -> DimResult:
    """A DimResult for one probe's estimate."""
    a, n = estimate.analytic, estimate.numeric
    common = dict(index=index, direction=direction, analytic=a, numeric=n, h=estimate.h,
                  kink=estimate.crossing, kink_untracked=estimate.untracked_kink, kink_harmless=estimate.harmless,
                  uncertainty=estimate.uncertainty, bracket=estimate.bracket, drilled=drilled)
    if estimate.error is not None:
        return DimResult(rel_error=None, grade=FAIL, message=estimate.error, **common)
    if not math.isfinite(n):
        # Finite losses whose difference overflows (a loss near 1e308): no
        # comparison with nan or inf may pass.
        return DimResult(rel_error=None, grade=FAIL, message=(
            f"the numeric value is {n}: the loss's values are too large to difference in float64; "
            "scale the loss down"), **common)
    rel = relative_error(a, n)
    if estimate.unresolved:
        # At a kink no step avoids, the centered value is no derivative:
        # a relative error against it would mean nothing.
        return DimResult(rel_error=None, **_grade_subgradient(a, estimate, thresholds), **common)
    scale = max(abs(a), abs(n))
    grade = grade_error(rel, scale, kinked=kinked, thresholds=thresholds)
    message = None
    if grade in (FAIL, WARN) and abs(a - n) <= estimate.uncertainty:
        # The disagreement is within what the loss's own rounding allows.
        if estimate.uncertainty <= thresholds.fail_above * scale:
            grade = OK
            message = (f"round-off limited: |a - n| = {abs(a - n):.1e} is within the numeric value's "
                       f"uncertainty ±{estimate.uncertainty:.1e}")
        else:
            grade = WARN
            message = (f"round-off limited: the numeric value is too uncertain (±{estimate.uncertainty:.1e}) to "
                       "verify this element; scale the loss up or check in float64")
    elif grade == TINY:
        message = (f"both values are below {thresholds.tiny_below:g}: relative error is meaningless here; "
                   "scale the loss by a constant so gradients are near 1")
    elif estimate.harmless:
        message = ("winners flip here without changing the slope (as a softmax's max shift does at tied "
                   f"scores); graded at step {estimate.h:.0e}")
    elif estimate.crossed_kink:
        message = f"crossed a kink at the first step; graded at the kink-free step {estimate.h:.0e}"
    if drilled:
        message = "found by drilling down a failing direction" + (f"; {message}" if message else "")
    return DimResult(rel_error=rel, grade=grade, message=message, **common)


def _grade_subgradient(analytic: float, estimate: Estimate, thresholds: Thresholds) -> dict:
    """Grade at a kink no step avoids: any value between the one-sided
    derivatives is a valid (sub)gradient there; one outside them is wrong."""
    if estimate.bracket is None:
        return dict(grade=KINK, message=f"every step down to {estimate.h:.0e} crossed a kink; "
                                        "the numeric value cannot be trusted")
    low, high = estimate.bracket
    slack = thresholds.good_below * max(abs(low), abs(high), abs(analytic))
    where = f"the one-sided derivatives [{low:.6g}, {high:.6g}] at a kink no step avoids"
    if low - slack <= analytic <= high + slack:
        return dict(grade=OK, message=f"subgradient: the analytic value lies between {where}")
    return dict(grade=FAIL, message=f"the analytic value is outside {where}: not a subgradient")


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
    worst = max(measured, key=lambda d: (_SEVERITY[d.grade], d.rel_error or 0.0), default=None)
    if worst is not None:
        grade = worst.grade
    elif valid_subgradients:
        grade, worst = OK, valid_subgradients[0]
    elif not everything:
        grade = WARN
        warnings.append(f"{name}: nothing was checked")
    elif any(d.grade == TINY for d in everything):
        grade = TINY
        worst = next(d for d in everything if d.grade == TINY)
        warnings.append(
            f"{name}: every checked value is below {thresholds.tiny_below:g} in magnitude, so relative error "
            "means nothing; scale the loss by a constant so that gradients are near 1.0"
        )
    elif any(d.grade == KINK for d in everything):
        grade = KINK
        worst = next(d for d in everything if d.grade == KINK)
        warnings.append(f"{name}: every checked dimension sits on a kink; nothing could be verified")
    else:
        grade = WARN
        worst = everything[0]
        warnings.append(
            f"{name}: every checked value is exactly zero (analytic and numeric), so nothing was verified; "
            "check at a point where this block matters (other --params, more --samples)"
        )
    crossings = sum(1 for d in everything if d.crossed_kink)
    return BlockResult(name, tuple(shape), size, len(dims), grade, max_rel, worst, crossings, dims, directions,
                       tuple(warnings))


def verdict(blocks: tuple[BlockResult, ...], warnings: tuple[str, ...]) -> str:
    """pass, warn or fail for the whole check."""
    grades = {b.grade for b in blocks}
    if FAIL in grades:
        return FAIL
    if grades & {WARN, TINY, KINK} or warnings:
        return WARN
    return PASS
