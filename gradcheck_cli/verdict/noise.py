"""The rounding noise a finite difference must allow for: the loss's,
measured along every block at once (and along one block alone where that
leaves a value undecided), and the analytic gradient's own, element by
element, from the same tables. ``_walk`` says how a table is read."""

from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass, field
from math import comb
from typing import Callable

import numpy as np

from ..errors import ModelError, UserCodeError
from ..evaluate import BasePoint, Evaluator
from ..kinks import compare_traces
from ..sampling import random_directions
from ..settings import EPS, EPS16, EPS32, NOISE_PROBE_STEP, UNCERTAINTY_SIGMAS
from .probes import Probe, step_scale

# No float64 value is rounded more finely than this (the subnormal numbers'
# spacing): a loss of 1e-320 has a handful of significant digits, not 16.
SUBNORMAL_SPACING = float(np.finfo(np.float64).smallest_subnormal)


@dataclass(frozen=True)
class Noise:
    """The rounding noise of the loss, and of the analytic gradient, near the parameters."""

    sigma: float  # standard deviation of one loss value's rounding error
    float32: bool = False  # every value seen was a float32 number: the loss computes in float32
    scale: float = 0.0  # the largest |loss| seen: what the noise is relative to (0 where the loss is)
    # Per block, per element: the standard deviation of the analytic
    # gradient's rounding error (the backward's float type, its summation).
    analytic: dict = field(default_factory=dict)
    # The loss stood still across the widest table, every block moved,
    # though the gradient says it moves there far beyond rounding: it may
    # not read the params it is handed at all (the pipeline finds out).
    still: bool = False
    # How far rounding the points themselves moves the loss: the largest
    # ||x * g|| at the table's two ends (each coordinate of x + j delta v is rounded
    # to its own ulp). Beside |loss| it is what float64 rounding is
    # relative to: at a zero minimum away from x = 0 (sum (x - 1)^2 at
    # x = 1) the loss is ~0 but its points' rounding is not.
    inputs: float = 0.0

    @property
    def rounding_scale(self) -> float:
        """What float64 rounding of this loss is relative to: its largest
        value seen, or its points' rounding where that is larger."""
        return max(self.scale, self.inputs)


def constant(noise: Noise, loss: float) -> Noise:
    """The noise of a loss that stood still at every width because it is
    constant there, not quantised coarser than the widest table: an ulp of
    it (a reduction's loss whose derivative is 0, as a piecewise-linear
    model's H v is, while the checked derivative says it moves)."""
    return dataclasses.replace(noise, sigma=max(EPS * abs(loss), SUBNORMAL_SPACING), still=False)


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
    largest = float(np.max(sigma))
    if not largest > 0 or not math.isfinite(largest):
        return UNCERTAINTY_SIGMAS * largest if largest > 0 else 0.0
    # Scaled by the largest, so that a loss near 1e300 does not overflow the squares.
    return UNCERTAINTY_SIGMAS * largest * float(np.sqrt(np.sum((v * sigma.reshape(-1) / largest) ** 2)))


def loss_noise(evaluator: Evaluator, base: BasePoint, seed: int, probed: dict | None = None) -> Noise:
    """The loss's and the analytic gradient's rounding noise near the
    parameters (see :func:`_measure_noise`). ``probed``: per block, the flat
    indices the check samples, which get their own analytic noise in a
    block too large for every element to (ANALYTIC_NOISE_ELEMENTS).

    Measured untracked; measured again with winner tracking only where the
    loss has kink operations and the first measurement shows more than
    rounding explains, in the loss or in a block's gradient (a kink the
    table crossed may pose as noise: a hinge that flips moves a bias's
    gradient by 1/N): as for probes, tracking runs only where it can
    change the outcome.
    """
    subset = _noise_elements(base, seed, probed or {})
    with evaluator.tracking(False):
        found = _measure_noise(evaluator, base, seed, traced=False, subset=subset)
    if not (evaluator.track_kinks and base.trace):
        return found
    loud = found.sigma > NOISE_CONFIRM_ULPS * max(EPS * found.rounding_scale, EPS32 * found.scale * found.float32) or any(
        float(np.max(found.analytic[name], initial=0.0)) > NOISE_CONFIRM_ULPS * _ulp_of_block(g)
        for name, g in base.gradient.items())
    return _measure_noise(evaluator, base, seed, traced=True, subset=subset) if loud else found


def _noise_elements(base: BasePoint, seed: int, probed: dict) -> dict:
    """Per block, the flat indices whose own analytic noise is measured: all
    of a block up to ANALYTIC_NOISE_ELEMENTS, else that many drawn at random
    (for the block's median) and every probed one. The rest take the
    median's estimate: a table's gradients are never held whole."""
    subset = {}
    for name, g in base.gradient.items():
        if g.size <= ANALYTIC_NOISE_ELEMENTS:
            subset[name] = None
            continue
        drawn = np.random.default_rng([seed, 13]).choice(g.size, ANALYTIC_NOISE_ELEMENTS, replace=False)
        subset[name] = np.union1d(drawn, np.asarray(probed.get(name, ()), dtype=np.int64))
    return subset


def rms(values: np.ndarray) -> float:
    """The root mean square of an array, scaled by its largest magnitude so
    that a gradient near 1e300 does not overflow the squares."""
    if not values.size:
        return 0.0
    largest = float(np.max(np.abs(values)))
    return largest * float(np.sqrt(np.mean(np.square(values / largest)))) if 0 < largest < math.inf else largest


def _ulp_of_block(g: np.ndarray) -> float:
    """float64's rounding of a block's typical value (its root mean square)."""
    return EPS * rms(g)


def _noise_floor(loss: float, values: list[float]) -> float:
    """An ulp of the loss; of float32 or float16, relative to the largest
    |loss| seen, where every value is such a number (the loss computes in
    that type, or rounds to it at the end)."""
    narrow = _narrow_type(values)
    scale = max([abs(loss), *map(abs, values)])
    return max(EPS * abs(loss), (EPS16 if narrow == "float16" else EPS32 if narrow else 0.0) * scale,
               SUBNORMAL_SPACING)


def _narrow_type(values: list[float]) -> str | None:
    """float16 or float32 where all 7 values of a table are numbers computed
    in that type (:func:`_typed`; a float64 number is one by chance once in
    2**29 for float32)."""
    if len(values) != 7:
        return None
    for name in ("float16", "float32"):
        if _typed(np.array(values), name):
            return name
    return None


def _typed(values: np.ndarray, name: str) -> bool:
    """Whether every value is a number of the float type ``name`` and some
    need more than three quarters of its significand: computed in that
    type, not simple. A constant 1.0, or counts over 8, are float16 numbers
    by being simple (exactly, with a bit or three), and so is a float64
    loss whose terms cancel almost exactly (Rastrigin's 40 - 40 cos near 0:
    multiples of ulp(40), a few bits each); they show nothing of how they
    were computed. A loss computed in float32 fills float32's 24 bits: that
    seven of its values all leave the last 6 unused is a 2**-42 chance."""
    if not values.size:
        return False
    bits = np.finfo(name).nmant + 1
    with np.errstate(all="ignore"):  # a value beyond a type's range is no number of it
        fits = np.all(values.astype(name).astype(np.float64) == values)
        significand, _ = np.frexp(values)
        simple = significand * 2.0 ** (3 * bits // 4)
        return bool(fits) and bool(np.any(simple != np.round(simple)))


def _measure_noise(evaluator: Evaluator, base: BasePoint, seed: int, traced: bool, subset: dict) -> Noise:
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
    direction = {name: _inside(NOISE_PROBE_STEP * step_scale(evaluator, Probe(name)) * unit *
                               _signs(rng, block.size).reshape(block.shape), block) for name, block in params.items()}
    # How much the loss should move across the table, by its gradient.
    moves = 3 * abs(sum(float(np.sum(base.gradient[name] * direction[name])) for name in params))
    analytic_at: dict[float, dict] = {}  # per table: the gradient's per-element noise (float32)
    inputs_at: dict[float, float] = {}  # per table: its points' rounding (Noise.inputs)
    first: list[float] = []
    tables: dict[float, list[float] | None] = {}

    def table(factor: float):
        values, fourth, inputs_at[factor] = _noise_table(evaluator, base, direction, factor, traced, subset)
        tables[factor] = values
        if fourth is not None:
            analytic_at[factor] = _gradient_noise(base, fourth, subset)
        if not first:
            first.extend(values or [base.loss])
        return values

    sigma, factor = _walk(table, base.loss, moves)
    scale = max([abs(base.loss), *map(abs, first)])
    analytic = analytic_at.get(factor) or next(iter(analytic_at.values()), None) or \
        _gradient_noise(base, None, subset)
    widest = max(tables)
    still = tables[widest] is not None and len(set(tables[widest])) == 1 and \
        moves * widest > NOISE_CONFIRM_ULPS * EPS * abs(base.loss)
    return Noise(sigma, _narrow_type(first) == "float32", scale, analytic, still, inputs_at.get(factor, 0.0))


def _inside(move: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A table's move of each element per point, capped so that across the
    table (3 points each way) no element moves by more than
    NOISE_EDGE_SHARE of itself. A move of an absolute share of the block's
    scale assumed every element sits farther than that from its domain's
    wall: a barrier's x at 1e-10 crossed it, and a pole's values beyond
    (1/x: finite, of the other sign) were read as noise of 70 % of the
    loss, which left every value of the check unverified. Elements at 0
    say nothing of where a wall is, and move as they did."""
    cap = NOISE_EDGE_SHARE / 3 * np.abs(x)
    return np.where((x != 0) & (np.abs(move) > cap), np.copysign(cap, move), move)


def _signs(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` random signs, +-1.0: a bit of the generator's each."""
    bits = np.unpackbits(np.frombuffer(rng.bytes((size + 7) // 8), dtype=np.uint8), count=size)
    return bits.astype(np.float64) * 2.0 - 1.0


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
    for tables in range(NOISE_TABLES - 1, 0, -1):
        spread = max(orders)
        if spread <= NOISE_CONFIRM_ULPS * floor:
            return max(floor, spread), factor
        narrow_values = table(factor / NOISE_NARROWING)
        if narrow_values is None:
            return floor, factor
        narrow_orders = _difference_sizes(narrow_values)
        implausible = max(narrow_orders) > NOISE_IMPLAUSIBLE * max(map(abs, narrow_values)) and tables > 1
        if _smooth(orders) or (_smooth(narrow_orders) and max(narrow_orders) > NOISE_CONFIRM_ULPS * floor) or \
                implausible:
            # The wide table saw the function (its differences fall with
            # their order; or, coarser than the function's own scale, they
            # did not, but the narrow table's do), or a "noise" no rounding
            # makes (a pole between the points, as 1/(1 - x) at 1 - 1e-10,
            # nearer than the table's step): read on from the narrow one.
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
                 traced: bool, subset: dict) -> tuple[list[float] | None, dict | None, float]:
    """The loss at x + j*delta*direction, j = -3..3 (None where it broke, or
    tracked winners flipped), per block the mean over the table's three
    4th differences of each gradient element (of ``subset``'s, where it has
    some), squared (None where a point broke), and the points' own rounding
    (Noise.inputs). Accumulated as each point's gradient arrives: no table
    of seven gradients is held."""
    values: list[float] = []
    inputs = 0.0
    # The 4th difference k (k = 0, 1, 2) takes table point i with weight C4[i - k].
    differences = {name: np.zeros((3, g.size if subset.get(name) is None else len(subset[name])))
                   for name, g in base.gradient.items()}
    for i, j in enumerate((-3, -2, -1, 0, 1, 2, 3)):
        if j == 0:
            value, gradient = base.loss, base.gradient
            point = evaluator.model.params
        else:
            point = {name: x + (j * delta) * direction[name] for name, x in evaluator.model.params.items()}
            try:
                value, gradient = evaluator.at(point, traced=traced)
            except ModelError as exc:
                if type(exc) not in (ModelError, UserCodeError):
                    raise  # the model changed its params, or is not deterministic: not a broken point
                # The loss or gradient broke nearby (raised, or a non-finite
                # gradient): no table here.
                return None, None, 0.0
            if not np.isfinite(value):
                return None, None, 0.0
            if traced and base.trace is not None and evaluator.last_trace is not None and \
                    compare_traces(base.trace, evaluator.last_trace) is not None:
                return None, None, 0.0
        if gradient and abs(j) == 3:  # (the table's ends: where |g| is largest near a minimum; 2 of 7 passes)
            inputs = max(inputs, _rounded_inputs(point, gradient))
        del point
        values.append(value)
        if gradient:
            for name, acc in differences.items():
                g = np.asarray(gradient[name], dtype=np.float64).reshape(-1)
                if subset.get(name) is not None:
                    g = g[subset[name]]
                for k in range(3):
                    if 0 <= i - k <= 4:
                        acc[k] += _FOURTH[i - k] * g
        else:
            differences = None
    if differences is None:
        return values, None, inputs
    with np.errstate(all="ignore"):
        return values, {name: np.mean(acc * acc, axis=0) for name, acc in differences.items()}, inputs


def _rounded_inputs(point: dict, gradient: dict) -> float:
    """||x * g|| over every block: the loss's move when each coordinate of
    ``point`` moves by its own relative rounding (0 where it is not finite)."""
    squares = 0.0
    with np.errstate(all="ignore"):
        for name, g in gradient.items():
            if name in point:
                product = np.asarray(point[name], dtype=np.float64).reshape(-1) * \
                    np.asarray(g, dtype=np.float64).reshape(-1)
                squares += float(np.dot(product, product))  # (one temporary, not two)
    return math.sqrt(squares) if math.isfinite(squares) else 0.0


# The 4th difference's weights.
_FOURTH = (1.0, -4.0, 6.0, -4.0, 1.0)


def _gradient_noise(base: BasePoint, fourth: dict | None, subset: dict) -> dict:
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
        sigma = (EPS32 if _typed(g, "float32") else EPS) * np.maximum(np.abs(g), typical)
        if fourth is not None:
            with np.errstate(all="ignore"):
                own = np.sqrt(fourth[name] / comb(8, 4))
            if own.size and np.all(np.isfinite(own)):
                median = GRADIENT_NOISE_MEDIAN_FACTOR * float(np.median(own))
                measured = np.maximum(ELEMENT_NOISE_FACTOR * own, median)
                if subset.get(name) is None:
                    sigma = np.maximum(sigma, measured.reshape(g.shape))
                else:  # the elements not measured take the block's median
                    sigma = np.maximum(sigma, median)
                    flat = sigma.reshape(-1)
                    flat[subset[name]] = np.maximum(flat[subset[name]], measured)
        # float32 where it holds the values: an estimate of noise needs no
        # more, and a 1e7 block's is then 40 MB.
        fits = not sigma.size or float(np.max(sigma)) < float(np.finfo(np.float32).max)
        noise[name] = sigma.astype(np.float32) if fits else sigma
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
# No element moves across a noise table by more than this share of itself
# (_inside): a parameter near its domain's wall at 0 stays inside, and the
# function there (1/x, log x) changes by about this share across the table,
# which the walk narrows where its differences show it. Ordinary elements
# are untouched: the table moves each by 1e-6 of its block's scale over the
# square root of the parameter count, so only elements below 3e-3 of that
# scale (3e-5 in a model of 1e4 parameters) are held back.
NOISE_EDGE_SHARE = 1e-3
NOISE_TABLES = 4
# Level differences beyond this share of the table's largest value are no
# float type's rounding of it (float16's is 1e-3): terms cancelling far
# above the loss, or a pole between the points (finite beyond it, of the
# other sign) that a narrower table leaves behind or breaks at; it is read
# on to the next narrower table while there is one, as a smooth function's.
NOISE_IMPLAUSIBLE = 1e-2
# A table that stands still is widened a hundredfold at most this many
# times: to 1e-2 of a block's scale, past float16's quantum (1e-3).
NOISE_WIDENINGS = 2
# A table's 4th differences over this many times its 5th (each over its
# noise gain) fall with their order: the function, not rounding.
SMOOTH_ORDERS = 2.5
# In a kink's table the second differences beside the jump are rounding:
# below this share of the jump's.
KINK_SHAPE_SHARE = 0.1

def block_noise(evaluator: Evaluator, block: str, base: BasePoint, seed: int, spent: list[int]) -> float | None:
    """The loss's rounding noise along a seeded random direction of
    ``block`` alone, read from tables as :func:`_walk` reads them (None
    where one broke, or crossed a tracked kink at the start). The terms of
    other blocks stand still, as they do under this block's probes; the
    whole block moves, so an intermediate it feeds (a float32 sum of its
    squares) moves as far as under the check's own table, and rounds as
    coarsely -- along one coordinate it might not cross its quantum at all."""
    x = evaluator.model.params[block]
    v = random_directions(np.random.default_rng([seed, 11, zlib.crc32(block.encode("utf-8", "surrogatepass"))]), 1,
                     x.size)[0]
    delta = NOISE_PROBE_STEP * step_scale(evaluator, Probe(block))
    v = _inside(delta * v, x.reshape(-1)) / delta
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
# An element's analytic noise is this many times its own estimate (the RMS
# of three 4th differences: below a third of sigma one time in 30), and at
# least the block's median estimate (~0.9 sigma) times the other factor.
ELEMENT_NOISE_FACTOR = 2.0
# Blocks up to this many elements get every element's analytic noise; a
# larger one gets that many drawn at random, and its probed ones.
ANALYTIC_NOISE_ELEMENTS = 100_000
GRADIENT_NOISE_MEDIAN_FACTOR = 1.5

