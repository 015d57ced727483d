"""Which truth a Hessian is judged against: the Hessian of ``fun``.

``hess`` and ``hessp`` are the second derivative of the objective, so
their truth is fun's. The differences of ``jac`` measure it precisely
(one difference, not two) but only where jac is fun's gradient: beside a
jac with a sign error, a right ``hess`` read "H[0, 0]: analytic 2,
numeric -2" and failed, never naming jac. So jac is first compared with
fun's own central differences (``compare``), along a few seeded Gaussian
directions at the point and at points a little away along them (a jac
right at x whose derivative is wrong is no truth for H either); where
every comparison agrees within what the difference resolves
(``jac_is_gradient``), the rows are terms of jac, as before, and where one
does not, the rows are terms of fun's slope along e_r (``fun_slope``),
whose gradient is H's row r up to HESS_FUN_STEP^4, and the report says so
(``note``).

A params-dict model's hvp (hvp.py) is judged the same way, fun its loss
and jac its grad over its blocks joined into one vector; its loss's slope
is along v, from one of ``STENCILS`` (``stencil_slope``: central, or one
side of a kink through the point), at the step ``slope_step`` finds with
that slope.

Misjudging a right jac as wrong costs only precision (fun's differences
are a truth too, through one more difference); misjudging a wrong jac as
right fails a right Hessian. So the resolution a comparison is granted is
measured at each point (the difference's truncation, at t against 2t, and
fun's rounding, from the fourth difference of the same five values), not
a tolerance fixed in advance, and jac's own rounding is added as a floor.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..settings import (EPS, HESS_DOMAIN_SHRINK, HESS_DOMAIN_TRIES, HESS_FUN_STEP, HESS_TRUTH_DIRECTIONS,
                        HESS_TRUTH_REACH, HESS_TRUTH_SIGMAS, HESS_TRUTH_STEP, HESS_TRUTH_STREAM, STEP_SCALE_FLOOR)

# (The fourth difference of five values each rounded with deviation s has
# deviation sqrt(1 + 16 + 36 + 16 + 1) s.)
_FOURTH_DIFFERENCE_SPREAD = math.sqrt(70.0)


@dataclass(frozen=True)
class Comparison:
    """jac against fun's central difference along one direction at one point."""
    where: str  # the point, as the report names it ("x0", "x0 + 1e-4 d_1", "the generic point")
    direction: int  # which of the seeded directions (d_0, d_1, ...)
    analytic: float  # jac(p) . d
    numeric: float  # fun's central difference along d at p
    resolution: float  # what that difference cannot tell apart: its truncation and rounding, jac's rounding

    @property
    def agrees(self) -> bool:
        return abs(self.analytic - self.numeric) <= self.resolution


def jac_is_gradient(comparisons: Sequence[Comparison]) -> bool:
    """Whether jac's differences are a truth for the Hessian: jac agrees
    with fun's differences in every comparison made (none made, where fun
    cannot be evaluated around the point: nothing else could be either)."""
    return all(c.agrees for c in comparisons)


def note(comparisons: Sequence[Comparison], what: str, *, gradient: str = "jac", function: str = "fun",
         checked: str = "the check of jac") -> str:
    """The report's words for a ``gradient`` (jac; a params-dict model's
    grad) that is not ``function``'s (fun; its loss), naming the comparison
    that disagrees most; ``what`` is the matrix (H, or the matrix hessp
    applies, or H v), ``checked`` the check that locates the gradient's
    error."""
    worst = max((c for c in comparisons if not c.agrees),
                key=lambda c: abs(c.analytic - c.numeric) / max(c.resolution, np.finfo(float).tiny))
    owner = function.removeprefix("the ")
    return (f"{gradient} fails against {function}'s central differences along a seeded direction d_{worst.direction} "
            f"at {worst.where} ({gradient} . d = {worst.analytic:.6g}, {owner}'s slope {worst.numeric:.6g} "
            f"± {worst.resolution:.2g}): {what} is judged against {function}'s second differences, not "
            f"{gradient}'s ({checked} says where it is wrong)")


def scales(x: np.ndarray) -> np.ndarray:
    """What each element's relative step is relative to (as a coordinate
    probe's: max(1, |x_i|))."""
    return np.maximum(STEP_SCALE_FLOOR, np.abs(np.asarray(x, dtype=np.float64)))


def directions(n: int, x: np.ndarray, seed: int) -> np.ndarray:
    """The seeded Gaussian directions (rows), each element at its own scale."""
    rng = np.random.default_rng([seed, HESS_TRUTH_STREAM])
    return rng.standard_normal((HESS_TRUTH_DIRECTIONS, n)) * scales(x)


def compare(fun: Callable[[np.ndarray], float], jac: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
            where: str, seed: int) -> tuple[Comparison, ...]:
    """jac against fun's central differences along each seeded direction at
    ``x`` and at x +- HESS_TRUTH_REACH d_k (compared there along every
    direction). Steps that leave fun's domain shrink (``within``); where
    fun or jac is still not finite there is no comparison. ``fun`` and
    ``jac`` take a point and hand the user's functions a copy."""
    x = np.asarray(x, dtype=np.float64)
    ds = directions(x.size, x, seed)
    found: list[Comparison] = []
    # (gradcheck's own probes: a step off fun's domain is no evidence, not the user's warning)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        points = [(where, x)]
        for k, d in enumerate(ds):
            reach = within(fun, x, d, HESS_TRUTH_REACH)
            if reach is not None:
                points += [(f"{where} {'+-'[side < 0]} {reach:.2g} d_{k}", x + side * reach * d) for side in (1, -1)]
        for label, point in points:
            found += _at(fun, jac, point, label, ds)
    return tuple(found)


def within(fun: Callable[[np.ndarray], float], x: np.ndarray, direction: np.ndarray, step: float) -> float | None:
    """``step``, divided by HESS_DOMAIN_SHRINK until fun is finite at
    x +- step d and x +- 2 step d (a stencil inside fun's domain); None
    where HESS_DOMAIN_TRIES do not get there."""
    for _ in range(HESS_DOMAIN_TRIES + 1):
        if all(np.isfinite(_value(fun, x + j * step * direction)) for j in (-2, -1, 1, 2)):
            return step
        step /= HESS_DOMAIN_SHRINK
    return None


def _value(fun: Callable[[np.ndarray], float], point: np.ndarray) -> float:
    try:
        return float(fun(point))
    except Exception:  # (off fun's domain; the check itself reports a fun that raises where it is checked)
        return math.nan


def _at(fun, jac, point: np.ndarray, where: str, ds: np.ndarray) -> list[Comparison]:
    f0 = _value(fun, point)
    try:
        gradient = np.asarray(jac(point.copy()), dtype=np.float64)
    except Exception:
        return []
    if not (np.isfinite(f0) and np.all(np.isfinite(gradient))):
        return []
    tables = []
    for d in ds:
        t = within(fun, point, d, HESS_TRUTH_STEP)
        if t is not None:
            tables.append((d, t, np.array([_value(fun, point + j * t * d) if j else f0 for j in (-2, -1, 0, 1, 2)])))
    if not tables:
        return []
    values = np.array([row for _, _, row in tables])
    fourth = values[:, 0] - 4 * values[:, 1] + 6 * values[:, 2] - 4 * values[:, 3] + values[:, 4]
    # fun's rounding at this point, pooled over the directions; never below
    # half an ulp of the values, which any float result carries.
    spread = max(float(np.sqrt(np.mean(fourth ** 2))) / _FOURTH_DIFFERENCE_SPREAD,
                 0.5 * EPS * float(np.max(np.abs(values))))
    found = []
    for k, (d, t, row) in enumerate(tables):
        slope = (row[3] - row[1]) / (2 * t)
        wider = (row[4] - row[0]) / (4 * t)
        rounding = HESS_TRUTH_SIGMAS * spread / (math.sqrt(2.0) * t)
        own = EPS * float(np.sum(np.abs(gradient * d))) * d.size  # (jac's elements' and the product's rounding)
        found.append(Comparison(where, k, float(gradient @ d), slope, rounding + abs(slope - wider) + own))
    return found


# The five-point stencils of a first derivative, as (offset in steps,
# weight x 12 step): central, and one-sided forward (1) and backward (-1)
# for a point on a kink along the direction, whose slope is one side's.
STENCILS = {0: ((-2, 1), (-1, -8), (1, 8), (2, -1)),
            1: ((0, -25), (1, 48), (2, -36), (3, 16), (4, -3)),
            -1: ((0, 25), (-1, -48), (-2, 36), (-3, -16), (-4, 3))}


def fun_slope(fun: Callable[[np.ndarray], float], point: np.ndarray, direction: np.ndarray, step: float) -> float:
    """fun's slope along ``direction`` at ``point`` by the five-point
    stencil (``step``: ``slope_step``'s at the point placed, fixed while the
    check differences around it): its gradient is H . direction up to
    step^4."""
    return stencil_slope(lambda j: fun(point + j * step * direction), step)


def stencil_slope(value_at: Callable[[int], Any], step: float, side: int = 0) -> Any:
    """A slope from the values at offsets j (in steps) of one of STENCILS."""
    return sum(weight * value_at(j) for j, weight in STENCILS[side]) / (12 * step)


def slope_step(fun: Callable[[np.ndarray], float], x: np.ndarray, direction: np.ndarray,
               slope: Callable[[np.ndarray, float], float] | None = None) -> float | None:
    """The step of fun's slope along ``direction`` at the point placed:
    HESS_FUN_STEP relative to the elements' scales along it, shrunk while
    it leaves fun's domain, then while the slope at a tenth of it differs
    beyond that one's rounding (near a wall fun varies at the wall's
    distance). ``slope(point, step)``: the slope the check will use
    (fun_slope's central one unless given: an hvp's takes the side of a
    kink through the point, where the central one is no slope at any
    step). None: no step stays inside the domain."""
    if slope is None:
        def slope(point: np.ndarray, h: float) -> float:
            return fun_slope(fun, point, direction, h)
    x = np.asarray(x, dtype=np.float64)
    weight = float(np.sqrt(np.sum(direction ** 2 * scales(x) ** 2) / np.sum(direction ** 2)))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        step = within(fun, x, direction, HESS_FUN_STEP * weight)
        for _ in range(HESS_DOMAIN_TRIES if step is not None else 0):
            smaller = step / HESS_DOMAIN_SHRINK
            values = [_value(fun, x + j * h * direction) for h in (step, smaller) for j in (-2, -1, 1, 2)]
            if not np.all(np.isfinite(values)):
                break
            rounding = HESS_TRUTH_SIGMAS * EPS * float(np.max(np.abs(values))) / smaller
            if abs(slope(x, step) - slope(x, smaller)) <= rounding:
                break
            step = smaller
    return step


def fun_gradient(fun: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """fun's gradient by central differences (HESS_TRUTH_STEP per element,
    at its scale): the objective's gradient where jac is not fun's, so the
    generic point is reached by descending fun itself."""
    x = np.asarray(x, dtype=np.float64)
    steps = HESS_TRUTH_STEP * scales(x)
    gradient = np.empty(x.size)
    for i in range(x.size):
        unit = np.zeros(x.size)
        unit[i] = steps[i]
        gradient[i] = (float(fun(x + unit)) - float(fun(x - unit))) / (2 * steps[i])
    return gradient
