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
from typing import Callable, Sequence

import numpy as np

from ..settings import (EPS, HESS_FUN_STEP, HESS_TRUTH_DIRECTIONS, HESS_TRUTH_REACH, HESS_TRUTH_SIGMAS,
                        HESS_TRUTH_STEP, HESS_TRUTH_STREAM, STEP_SCALE_FLOOR)

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


def note(comparisons: Sequence[Comparison], what: str) -> str:
    """The report's words for a jac that is not fun's gradient, naming
    the comparison that disagrees most; ``what`` is the matrix (H, or the
    matrix hessp applies)."""
    worst = max((c for c in comparisons if not c.agrees),
                key=lambda c: abs(c.analytic - c.numeric) / max(c.resolution, np.finfo(float).tiny))
    return (f"jac fails against fun's central differences along a seeded direction d_{worst.direction} at "
            f"{worst.where} (jac . d = {worst.analytic:.6g}, fun's slope {worst.numeric:.6g} "
            f"± {worst.resolution:.2g}): {what} is judged against fun's second differences, not jac's "
            "(the check of jac says where it is wrong)")


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
    direction). A point where fun or jac raises or is not finite gives no
    comparison. ``fun`` and ``jac`` take a point and hand the user's
    functions a copy."""
    x = np.asarray(x, dtype=np.float64)
    ds = directions(x.size, x, seed)
    points = [(where, x)] + [(f"{where} {sign} {HESS_TRUTH_REACH:g} d_{k}", x + (1 if sign == "+" else -1)
                              * HESS_TRUTH_REACH * d) for k, d in enumerate(ds) for sign in "+-"]
    found: list[Comparison] = []
    # (gradcheck's own probes: a step off fun's domain is no evidence, not the user's warning)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for label, point in points:
            found += _at(fun, jac, point, label, ds)
    return tuple(found)


def _at(fun, jac, point: np.ndarray, where: str, ds: np.ndarray) -> list[Comparison]:
    t = HESS_TRUTH_STEP
    try:
        gradient = np.asarray(jac(point.copy()), dtype=np.float64)
        f0 = float(fun(point.copy()))
        tables = [[float(fun(point + j * t * d)) for j in (-2, -1)] + [f0]
                  + [float(fun(point + j * t * d)) for j in (1, 2)] for d in ds]
    except Exception:  # (off fun's domain: no evidence here; the check itself reports a fun that raises)
        return []
    values = np.array(tables)
    if not (np.all(np.isfinite(values)) and np.all(np.isfinite(gradient))):
        return []
    fourth = values[:, 0] - 4 * values[:, 1] + 6 * values[:, 2] - 4 * values[:, 3] + values[:, 4]
    # fun's rounding at this point, pooled over the directions; never below
    # half an ulp of the values, which any float result carries.
    spread = max(float(np.sqrt(np.mean(fourth ** 2))) / _FOURTH_DIFFERENCE_SPREAD,
                 0.5 * EPS * float(np.max(np.abs(values))))
    found = []
    for k, (d, row) in enumerate(zip(ds, values)):
        slope = (row[3] - row[1]) / (2 * t)
        wider = (row[4] - row[0]) / (4 * t)
        rounding = HESS_TRUTH_SIGMAS * spread / (math.sqrt(2.0) * t)
        own = EPS * float(np.sum(np.abs(gradient * d))) * d.size  # (jac's elements' and the product's rounding)
        found.append(Comparison(where, k, float(gradient @ d), slope, rounding + abs(slope - wider) + own))
    return found


def fun_slope(fun: Callable[[np.ndarray], float], point: np.ndarray, direction: np.ndarray,
              scale: np.ndarray) -> float:
    """fun's slope along ``direction`` at ``point`` by the five-point
    stencil, its step HESS_FUN_STEP relative to ``scale`` (the elements'
    scales at the point placed, fixed while the check differences around
    it): the gradient of this is H . direction up to HESS_FUN_STEP^4."""
    weight = float(np.sqrt(np.sum(direction ** 2 * scale ** 2) / np.sum(direction ** 2)))
    step = HESS_FUN_STEP * weight
    far, near = (fun(point + j * step * direction) - fun(point - j * step * direction) for j in (2, 1))
    return (8 * near - far) / (12 * step)


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
