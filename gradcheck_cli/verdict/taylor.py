"""The Taylor test: the judge where the error budget alone does not decide.

Along a probe v whose analytic directional derivative is a, the remainder

    r(eps) = f(x + eps v) - f(x) - eps a

falls as eps^2 when a is the derivative, for any loss whose gradient is
Lipschitz on that side (C1 losses included: Huber, ELU at 0, where the
central difference's error is O(h) and Richardson's H^4 assumption fails),
and as eps when it is not. It is how dolfin-adjoint and PETSc verify
adjoints. Here it is read two ways from the same loss values:

- the fitted *order* of |r| against eps (the report's "Taylor order 2.0");
- on each side, r(eps)/eps is the one-sided difference minus a, and its
  limit as eps -> 0 (extrapolated linearly from eps and 2eps) is the
  one-sided derivative minus a. How far the limit moves between (eps, 2eps)
  and (2eps, 4eps) bounds its own error for any order >= 1: no order is
  assumed.

One decision follows from the two one-sided limits and their
uncertainties, with no threshold to tune:

  the limits differ beyond both uncertainties   the loss's slope jumps at x,
                                                a kink seen in loss values:
                                                the analytic value must lie
                                                between them (a subgradient)
  otherwise, their mean within its uncertainty  consistent
  more than CONFIRM_FACTOR uncertainties away   wrong
  in between                                    inconclusive

A kink flagged by winner tracking (an argmax that feeds only a logging
dict) or by a coarse step on a fast-varying parameter excuses nothing
here: only a jump in the loss's own slope does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..settings import CONFIRM_FACTOR, KINK_GAP_TOLERANCE, UNCERTAINTY_SIGMAS

CONSISTENT, WRONG, SUBGRADIENT, NOT_SUBGRADIENT, INCONCLUSIVE = (
    "consistent", "wrong", "subgradient", "not a subgradient", "inconclusive")
# The offsets, in steps H, on each side: the second stencil's points, so a
# value that had one is tested at no further cost.
OFFSETS = (4, 2, 1)
# |L(eps) - L(2 eps)| bounds L(eps)'s error for any order >= 1, exactly at
# order 1; this factor leaves room for the noise in the difference itself.
LIMIT_SAFETY = 1.5
# A wrong value this many uncertainties beyond (and beyond the extrapolation's
# own correction) is taken at one step; nearer, only when a tenfold smaller
# step finds the same one-sided limits.
CLEAR_FACTOR = 10.0
# Remainders below this many of their own noise are left out of the order's fit.
ORDER_NOISE_FLOOR = 10.0


@dataclass(frozen=True)
class Side:
    """The Taylor test on one side of x."""

    steps: tuple[float, ...]  # signed displacements, widest first
    remainders: tuple[float, ...]  # f(x + eps v) - f(x) - a eps at each
    order: float | None  # fitted slope of log |r| against log |eps| (None: remainders at noise)
    limit: float  # the one-sided derivative minus the analytic value, extrapolated to eps -> 0
    uncertainty: float  # of ``limit``: how far it moved, plus noise
    rounding: float  # the part of ``uncertainty`` that is rounding (the loss's and the analytic value's)
    correction: float  # how far the extrapolation moved the finest one-sided difference

    def to_dict(self) -> dict:
        return {"steps": list(self.steps), "remainders": list(self.remainders), "order": self.order,
                "limit": self.limit, "uncertainty": self.uncertainty}


@dataclass(frozen=True)
class Taylor:
    """The Taylor test along one probe, both sides, and what it decides."""

    plus: Side
    minus: Side
    outcome: str  # consistent, wrong, subgradient, not a subgradient, inconclusive
    difference: float  # the analytic value's error as measured (smooth), or its distance from the bracket
    uncertainty: float  # of ``difference``
    step: float  # the relative step H the offsets are multiples of
    noise_limited: bool  # the uncertainty is mostly rounding: a smaller step would not help

    @property
    def order(self) -> float | None:
        """The lower of the two sides' fitted orders: 2 for a right
        derivative, 1 for a wrong one (or at a kink)."""
        orders = [o for o in (self.plus.order, self.minus.order) if o is not None]
        return min(orders) if orders else None

    @property
    def decided(self) -> bool:
        return self.outcome != INCONCLUSIVE

    @property
    def clear(self) -> bool:
        """Wrong beyond doubt at this one step: far beyond its uncertainty,
        and larger than what extrapolating the one-sided differences did to
        them (an error of the extrapolation cannot exceed it; many
        curvature jumps along the probe can make both of its estimates err
        alike, which the uncertainty does not see)."""
        return (self.outcome == WRONG and abs(self.difference) > CLEAR_FACTOR * self.uncertainty
                and abs(self.difference) > max(self.plus.correction, self.minus.correction))

    def bracket(self, analytic: float) -> tuple[float, float]:
        """The one-sided derivatives, lower first."""
        return tuple(sorted((analytic + self.plus.limit, analytic + self.minus.limit)))

    def words(self) -> str:
        """The test's reading in one phrase, for a report's reason."""
        order = self.order
        said = f"Taylor order {order:.1f}" if order is not None else "Taylor remainders at the noise level"
        return {
            CONSISTENT: f"{said}: consistent with the analytic value",
            WRONG: f"{said}: the analytic value is wrong",
            SUBGRADIENT: f"{said}: the loss's slope jumps here and the analytic value lies between its one-sided "
                         "derivatives (a valid subgradient)",
            NOT_SUBGRADIENT: f"{said}: the loss's slope jumps here and the analytic value lies outside its "
                             "one-sided derivatives",
            INCONCLUSIVE: f"{said}: inconclusive",
        }[self.outcome]

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "order": self.order, "difference": self.difference,
                "uncertainty": self.uncertainty, "h": self.step, "plus": self.plus.to_dict(),
                "minus": self.minus.to_dict()}


def side(sign: int, f0: float, displacement: dict, values: dict, analytic_change: dict, noise: float,
         analytic_roundoff: float) -> Side:
    """The test on one side: ``displacement``, ``values`` and
    ``analytic_change`` (a . d, or g . (point - x) along a direction) by
    offset; ``noise``: one loss value's rounding (standard deviation);
    ``analytic_roundoff``: the analytic value's own (three sigma)."""
    offsets = [sign * k for k in OFFSETS]
    d = {o: displacement[o] for o in offsets}
    r = {o: values[o] - f0 - analytic_change[o] for o in offsets}
    e = {o: r[o] / d[o] for o in offsets}  # one-sided difference minus the analytic value

    def extrapolated(near: int, far: int) -> tuple[float, float]:
        """The linear extrapolation to 0 of e from two offsets, and its noise."""
        dn, df = d[near], d[far]
        cn, cf = df / (df - dn), -dn / (df - dn)
        # On the loss values: cn/dn on f_near, cf/df on f_far, minus both on f0.
        wn, wf = cn / dn, cf / df
        return cn * e[near] + cf * e[far], noise * math.sqrt(wn * wn + wf * wf + (wn + wf) ** 2)

    fine, fine_noise = extrapolated(offsets[2], offsets[1])
    coarse, _ = extrapolated(offsets[1], offsets[0])
    rounding = UNCERTAINTY_SIGMAS * fine_noise + analytic_roundoff
    return Side(tuple(d[o] for o in offsets), tuple(r[o] for o in offsets),
                _order([abs(d[o]) for o in offsets], [abs(r[o]) for o in offsets], noise, analytic_roundoff),
                fine, LIMIT_SAFETY * abs(fine - coarse) + rounding, rounding, abs(e[offsets[2]] - fine))


def _order(steps: list[float], remainders: list[float], noise: float, analytic_roundoff: float) -> float | None:
    """The least-squares slope of log r against log eps over the remainders
    clearly above their noise (two loss values' rounding, and eps times the
    analytic value's)."""
    points = [(math.log(s), math.log(r)) for s, r in zip(steps, remainders)
              if r > ORDER_NOISE_FLOOR * (math.sqrt(2) * noise + s * analytic_roundoff / UNCERTAINTY_SIGMAS) and s > 0]
    if len(points) < 2:
        return None
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    return None if sxx == 0 else sum((p[0] - mx) * (p[1] - my) for p in points) / sxx


def agree(coarse: Taylor, fine: Taylor) -> bool:
    """Whether two tests at different steps found the same outcome with the
    same one-sided limits, within both their uncertainties: what a kink at
    x, or a wrong value, gives at any step, and an artefact of a coarse step
    does not."""
    return coarse.outcome == fine.outcome and all(
        abs(a.limit - b.limit) <= a.uncertainty + b.uncertainty
        for a, b in ((coarse.plus, fine.plus), (coarse.minus, fine.minus)))


def excludes(coarse: Taylor, fine: Taylor) -> bool:
    """Whether a coarser step found the value consistent within an interval
    that leaves out what a finer step measured: the two scales disagree
    about the loss itself."""
    return coarse.outcome == CONSISTENT and \
        abs(coarse.difference - fine.difference) > coarse.uncertainty + fine.uncertainty


def decide(plus: Side, minus: Side, analytic: float, step: float) -> Taylor:
    """The outcome from the two one-sided limits (see the module's table),
    at relative step ``step``; ``noise_limited`` where rounding is most of
    the uncertainty, which a smaller step would only make larger."""
    noise_part = max(plus.rounding, minus.rounding)
    jump = abs(plus.limit - minus.limit)
    slope = max(abs(analytic), abs(analytic + plus.limit), abs(analytic + minus.limit))
    if jump > CONFIRM_FACTOR * (plus.uncertainty + minus.uncertainty) and jump > KINK_GAP_TOLERANCE * slope:
        # The slope jumps at x, as the loss values themselves show.
        low, high = sorted((plus.limit, minus.limit))
        slack = max(plus.uncertainty, minus.uncertainty)
        outside = max(low - slack, -(high + slack), 0.0)  # how far 0 (the analytic value) is from the bracket
        outcome = NOT_SUBGRADIENT if outside > 0 else SUBGRADIENT
        return Taylor(plus, minus, outcome, outside, slack, step, noise_part >= slack / 2)
    difference = (plus.limit + minus.limit) / 2
    uncertainty = (plus.uncertainty + minus.uncertainty) / 2 + jump / 2
    if abs(difference) <= uncertainty:
        outcome = CONSISTENT
    elif abs(difference) > CONFIRM_FACTOR * uncertainty:
        outcome = WRONG
    else:
        outcome = INCONCLUSIVE
    return Taylor(plus, minus, outcome, difference, uncertainty, step, noise_part >= uncertainty / 2)
