"""What kind of bug a failing block's disagreement looks like.

A hint, never the verdict: read from the values the check measured (each
value's analytic and numeric derivative with its uncertainty, the block's
whole analytic gradient, its parameter values) and, to say where the
wrong elements are, one probe through each row, column or element of an
axis. Each kind is a claim about the true gradient that every measured
value must bear out, each within its own uncertainty:

- ``zero``: the analytic gradient is exactly 0 in every element, and the
  loss moves along the block;
- ``ratio`` / ``sign``: analytic = c × numeric in every value, c a
  constant (named where it is 2, ½ or one of the model's dimensions);
- ``transpose``: a square block's analytic gradient is the transpose of
  the numeric one (each coordinate (i, j) measured equals analytic[j, i]);
- ``param``: analytic − numeric = c × the block's own values, an L2
  term's gradient missing or wrong;
- ``confined``: every wrong element is in a few rows, columns or
  elements; a random direction through each of the others agrees.

Where no kind holds, there is no hint: a wrong hint is worse than none.
The kinds are tried in that order and the first that holds is said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from .report import FAIL, BlockResult, Diagnosis
from .settings import (HINT_MAX_CONFINED, HINT_MAX_SLICES, HINT_MIN_VALUES, HINT_SIGNIFICANT, HINT_SLACK,
                       Thresholds)
from .verdict.grading import judge
from .verdict.numeric import Estimate
from .verdict.probes import Probe


@dataclass(frozen=True)
class Value:
    """One measured value of a block: a coordinate or a unit direction."""

    analytic: float
    numeric: float
    uncertainty: float
    wrong: bool
    index: tuple[int, ...] | None  # a coordinate
    direction: np.ndarray | None  # a direction's unit vector, in the block's shape

    def of(self, array: np.ndarray) -> float:
        """What this value measures of ``array`` (the element at the
        coordinate, or the component along the direction): the same linear
        map that takes the true gradient to ``numeric``."""
        if self.index is not None:
            return float(array[self.index])
        return float(np.sum(array * self.direction))

    def label(self) -> str:
        return "[" + ", ".join(map(str, self.index)) + "]" if self.index is not None else "a direction"


def _close(predicted: float, measured: float, uncertainty: float, disagreement: float) -> bool:
    """``predicted`` is ``measured`` within the value's uncertainty, and
    within the hint's slack of what it is to explain: the value's
    disagreement |analytic − numeric|. (Slack relative to the gradient
    itself would let any disagreement below 1e-3 of it fit a pattern: a
    1/(N − 1) for 1/N fitted "× W".)"""
    return abs(predicted - measured) <= uncertainty + HINT_SLACK * disagreement


def _gap(v: "Value") -> float:
    return abs(v.analytic - v.numeric)


def values_of(block: BlockResult, directions: Iterable[np.ndarray | None]) -> list[Value]:
    """The block's values a pattern can be read from: measured, and clear of
    kinks (a one-sided slope carries no pattern of the gradient). ``directions``:
    the unit vector of each of the block's directions, None where it is not
    a plain random one (the direction the ties leave smooth)."""
    vectors = list(directions)
    values = []
    for dim in block.dims + block.directions:
        vector = None
        if dim.index is None:
            vector = vectors[dim.direction] if dim.direction is not None and dim.direction < len(vectors) else None
            if vector is None:
                continue
        if dim.rel_error is None or dim.crossed_kink or dim.bracket is not None:
            continue
        if not (np.isfinite(dim.analytic) and np.isfinite(dim.numeric)):
            continue
        values.append(Value(dim.analytic, dim.numeric, dim.uncertainty, dim.grade == FAIL, dim.index, vector))
    return values


def diagnose(block: BlockResult, values: list[Value], *, params: np.ndarray, gradient: np.ndarray,
             dimensions: dict[int, list[str]], strength: tuple[str, float] | None = None,
             locate: Callable[[], "Confined | None"] | None = None) -> Diagnosis | None:
    """What ``block``'s failure looks like, or None where no kind holds.

    ``params`` and ``gradient``: the block's values and its whole analytic
    gradient at the point; ``dimensions``: the model's sizes by value, with
    their names (``{50: ["N", "X.shape[0]"]}``); ``strength``: a
    regularization constant the model has (name, value), to name an L2
    term's factor; ``locate``: where the wrong elements are, by probes
    (:func:`confine`), called only when no other kind holds."""
    if block.grade != FAIL:
        return None
    for reading in (lambda: _zero(block, values, gradient), lambda: _ratio(block, values, dimensions),
                    lambda: _transposed(block, values, gradient), lambda: _param(block, values, params, strength),
                    lambda: _ratio_beside_param(block, values, params, dimensions, strength)):
        found = reading()
        if found is not None:
            return found
    if locate is not None:
        confined = locate()
        if confined is not None:
            return confined.diagnosis(block)
    return None


def _zero(block: BlockResult, values: list[Value], gradient: np.ndarray) -> Diagnosis | None:
    if np.any(gradient != 0):
        return None
    moving = [v for v in values if v.wrong and abs(v.numeric) > v.uncertainty]
    if not moving:
        return None
    biggest = max(moving, key=lambda v: abs(v.numeric))
    where = f" at {biggest.label()}" if biggest.index is not None else " along a direction"
    return Diagnosis("zero", f"the gradient is exactly 0 in every element, yet the loss moves along "
                             f"it (numeric {biggest.numeric:.3g}{where}): is it never computed, or never stored "
                             "(left at zeros)?",
                     {"largest_numeric": biggest.numeric, "at": list(biggest.index) if biggest.index else None})


def _significant(values: list[Value]) -> list[Value]:
    return [v for v in values if abs(v.numeric) > HINT_SIGNIFICANT * v.uncertainty and v.numeric != 0]


def _ratio(block: BlockResult, values: list[Value], dimensions: dict[int, list[str]]) -> Diagnosis | None:
    carrying = _significant(values)
    if len(carrying) < HINT_MIN_VALUES or not any(v.wrong for v in carrying):
        return None
    ratio = float(np.median([v.analytic / v.numeric for v in carrying]))
    if ratio == 0 or not np.isfinite(ratio) or _near(ratio, 1.0):
        return None
    # Every value, including those too small to carry the ratio, must bear it out.
    if not all(_close(ratio * v.numeric, v.analytic, abs(ratio) * v.uncertainty, _gap(v)) for v in values):
        return None
    n = len(values)
    evidence = {"ratio": ratio, "values": n}
    if _near(ratio, -1.0):
        return Diagnosis("sign", f"analytic ≈ −numeric in all {n} values: the sign is flipped "
                                 "(the gradient of −loss, or a subtraction the wrong way round)?", evidence)
    said, why = _factor(ratio, dimensions, evidence)
    return Diagnosis("ratio", f"analytic ≈ {said} × numeric in all {n} values: {why}", evidence)


def _factor(ratio: float, dimensions: dict[int, list[str]], evidence: dict) -> tuple[str, str]:
    """How to write ``ratio`` and what it suggests (``evidence`` gets the
    dimension it is, if one)."""
    size, named = _named_factor(abs(ratio), dimensions)
    sign = "−" if ratio < 0 else ""
    flipped = "the sign flipped and " if ratio < 0 else ""
    if size is not None and abs(ratio) > 1:
        evidence["dimension"] = {"value": size, "names": named}
        why = f"{flipped}a missing {' or '.join('1/' + c for c in _called(size, named))}?"
        said = f"{sign}{size}"
    elif size is not None:
        evidence["dimension"] = {"value": size, "names": named}
        why = f"{flipped}divided by {' or '.join(_called(size, named))} once too often?"
        said = f"{sign}1/{size}"
    elif _near(abs(ratio), 2.0):
        why = f"{flipped}a factor 2: a ½ dropped from the gradient (½·Σr² differentiates to r), or a term counted twice?"
        said = f"{sign}2"
    elif _near(abs(ratio), 0.5):
        why = f"{flipped}a factor ½: a 2 missing (Σr² differentiates to 2r), or a ½ the loss does not have?"
        said = f"{sign}1/2"
    else:
        why = "a constant factor missing or extra (a scale, a temperature, an average's 1/N)?"
        said = f"{ratio:.4g}"
    return said, why


def _ratio_beside_param(block: BlockResult, values: list[Value], params: np.ndarray,
                        dimensions: dict[int, list[str]], strength: tuple[str, float] | None) -> Diagnosis | None:
    """analytic = α × numeric + β × the block's values in every value, α a
    named factor: one part of the gradient scaled wrong beside a part
    proportional to the block (an L2 term's) that is not, as when dW /= N
    is forgotten before dW += 2·reg·W."""
    used = [v for v in values if v.of(params) != 0]
    if len(used) < HINT_MIN_VALUES + 1 or len(_significant(used)) < HINT_MIN_VALUES:
        return None
    design = np.array([[v.numeric, v.of(params)] for v in used])
    target = np.array([v.analytic for v in used])
    (alpha, beta), *_ = np.linalg.lstsq(design, target, rcond=None)
    alpha, beta = float(alpha), float(beta)
    if not (np.isfinite(alpha) and np.isfinite(beta)) or _near(alpha, 1.0) or alpha == 0 or beta == 0:
        return None
    if not all(_close(alpha * v.numeric + beta * v.of(params), v.analytic, abs(alpha) * v.uncertainty, _gap(v))
               for v in values):
        return None
    if sum(abs(beta * v.of(params)) > HINT_SIGNIFICANT * v.uncertainty for v in used) < 2:
        return None
    evidence = {"ratio": alpha, "factor": beta, "values": len(values)}
    said, why = _factor(alpha, dimensions, evidence)
    # Two free constants fit more than one story (a data gradient affine in
    # the block, as on whitened inputs, fits it too): claimed only where
    # the model's own strength is the second constant, a = α(n − 2λθ) + 2λθ,
    # the data part scaled by α and the L2 term's right.
    if strength is None or strength[1] == 0 or not _near(beta / (strength[1] * (1 - alpha)), 2.0):
        return None
    name = block.name
    tail = f"the L2 term's 2·{strength[0]}·{name} is right ({strength[0]} = {strength[1]:g})"
    return Diagnosis("ratio", f"analytic ≈ {said} × numeric {'+' if beta > 0 else '−'} {abs(beta):.3g} × {name} in "
                              f"all {len(values)} values: the data part of the gradient is {said} × the "
                              f"true one ({why[:-1]}); {tail}", evidence)


def same_ratio(block: BlockResult, values: list[Value], shown: BlockResult,
               dimensions: dict[int, list[str]]) -> Diagnosis | None:
    """For a failing block with too few values to show a ratio of its own
    (a scalar bias): the plain ratio ``shown``, another block of the check,
    was diagnosed with, where every value of this one (its directions too)
    bears it out. Two blocks wrong by one factor is the factor's evidence.
    (Not a ratio beside an L2 term: that is the other block's own story.)"""
    other = shown.diagnosis
    if block.grade != FAIL or other is None or other.kind not in ("ratio", "sign") or "factor" in other.evidence:
        return None
    if len(_significant(values)) >= HINT_MIN_VALUES or not any(v.wrong for v in _significant(values)):
        return None  # (enough values to say it alone: it did not)
    ratio = other.evidence["ratio"]
    if not all(_close(ratio * v.numeric, v.analytic, abs(ratio) * v.uncertainty, _gap(v)) for v in values):
        return None
    n = len(values)
    these = "its value" if n == 1 else f"all {n} of its values"
    evidence = {"ratio": ratio, "values": n, "as_in": shown.name}
    if other.kind == "sign":
        return Diagnosis("sign", f"analytic ≈ −numeric in {these}, as in {shown.name}: the sign is flipped (the "
                                 "gradient of −loss, or a subtraction the wrong way round)?", evidence)
    said, why = _factor(ratio, dimensions, evidence)
    return Diagnosis("ratio", f"analytic ≈ {said} × numeric in {these}, as in {shown.name}: {why}", evidence)


def _near(x: float, y: float) -> bool:
    return abs(x - y) <= 2 * HINT_SLACK * abs(y)


def _named_factor(ratio: float, dimensions: dict[int, list[str]]) -> tuple[int | None, list[str]]:
    """The model's dimension that ``ratio`` (or its inverse) is, if one is."""
    for size in sorted(dimensions):
        if size > 2 and (_near(ratio, size) or _near(ratio, 1.0 / size)):
            return size, dimensions[size]
    return None, []


EXAMPLES = " (examples)"  # marks a data array's first axis in dimensions_of's names


def _called(size: int, names: list[str]) -> list[str]:
    """What a factor ``size`` may be, every candidate said (a ratio of 8 is
    T = 8 or √DK with DK = 64 alike): ``N (N = 50)``; for a size no
    constant names, ``N (N = 50 = X.shape[0])`` where it is the first axis
    of a data array (the examples, by convention; never a parameter's),
    else ``50 (W.shape[1] = 50)``."""
    said = []
    for name in names:
        if name.startswith("√"):
            said.append(f"{name} ({name[1:]} = {size * size})")
        elif "." not in name and "[" not in name:
            said.append(f"{name} ({name} = {size})")
        elif name.endswith(EXAMPLES) and not any(s.startswith("N (") for s in said):
            said.append(f"N (N = {size} = {name.removesuffix(EXAMPLES)})")
        if len(said) == 3:
            break
    if not said:
        return [f"{size} ({names[0].removesuffix(EXAMPLES)} = {size})" if names else str(size)]
    return list(dict.fromkeys(said))


def _transposed(block: BlockResult, values: list[Value], gradient: np.ndarray) -> Diagnosis | None:
    if gradient.ndim != 2 or gradient.shape[0] != gradient.shape[1] or gradient.shape[0] < 2:
        return None
    swapped = gradient.T
    # The transpose must explain the wrong values, not merely agree where the
    # gradient is symmetric.
    explained = [v for v in values if v.wrong and abs(v.of(swapped) - v.of(gradient)) > v.uncertainty + HINT_SLACK * _gap(v)]
    if len(explained) < 2 or len(values) < HINT_MIN_VALUES:
        return None
    if not all(_close(v.of(swapped), v.numeric, v.uncertainty, _gap(v)) for v in values):
        return None
    pair = next((v for v in explained if v.index is not None), None)
    example = ""
    if pair is not None:
        i, j = pair.index
        example = f" (numeric[{i}, {j}] = {pair.numeric:.4g}, analytic[{j}, {i}] = {gradient[j, i]:.4g})"
    return Diagnosis("transpose", f"the gradient is the transpose of the numeric one in all {len(values)} "
                                  f"values{example}: a product in the wrong order (dY.T @ X where X.T @ dY belongs)?",
                     {"values": len(values)})


def _param(block: BlockResult, values: list[Value], params: np.ndarray,
           strength: tuple[str, float] | None) -> Diagnosis | None:
    weighted = [v for v in values if v.of(params) != 0]
    if len(weighted) < HINT_MIN_VALUES:
        return None
    p = np.array([v.of(params) for v in weighted])
    d = np.array([v.analytic - v.numeric for v in weighted])
    factor = float(np.dot(d, p) / np.dot(p, p))
    if factor == 0 or not np.isfinite(factor):
        return None
    # The difference must be the factor's term in every value, and beyond
    # its uncertainty in at least two (else it is a pattern of rounding).
    if not all(_close(v.numeric + factor * v.of(params), v.analytic, v.uncertainty, _gap(v)) for v in values):
        return None
    if sum(abs(factor * v.of(params)) > HINT_SIGNIFICANT * v.uncertainty for v in values if v.wrong) < 2:
        return None
    n = len(values)
    evidence = {"factor": factor, "values": n}
    text = (f"analytic − numeric ≈ {factor:.3g} × {block.name} in all {n} values: an L2 term's gradient "
            f"(2·λ·{block.name}) missing or wrong?")
    if strength is not None and strength[1] != 0:
        name, value = strength
        multiple = factor / value
        evidence["strength"] = {"name": name, "value": value, "multiple": multiple}
        said = {-2.0: f"the gradient of {name}·Σ{block.name}² (2·{name}·{block.name}) missing",
                -1.0: f"{name}·{block.name} where the loss's {name}·Σ{block.name}² needs 2·{name}·{block.name}",
                1.0: f"{name}·{block.name} too much: the loss has ½·{name}·Σ{block.name}² (gradient "
                     f"{name}·{block.name}) or no such term",
                2.0: f"2·{name}·{block.name} added to a gradient whose loss has no {name}·Σ{block.name}² term, or "
                     "added twice"}
        close = next((m for m in said if _near(multiple, m)), None)
        if close is not None:
            text = (f"analytic − numeric ≈ {factor:.3g} × {block.name} = {close:g}·{name} × {block.name} "
                    f"({name} = {value:g}) in all {n} values: {said[close]}?")
    return Diagnosis("param", text, evidence)


@dataclass(frozen=True)
class Confined:
    """The slices (rows, columns, elements) of one axis that hold every wrong element."""

    axis: int
    ndim: int
    wrong: tuple[int, ...]
    slices: int  # how many the axis has, each checked
    also: "Confined | None" = None  # a second axis they are confined along too (a single element)
    evaluations: int = 0
    moving: int = 0  # the right slices along which the loss moves (the others agree trivially)

    def _words(self) -> tuple[str, str]:
        if self.ndim == 1:
            return "element", "elements"
        if self.ndim == 2:
            return ("row", "rows") if self.axis == 0 else ("column", "columns")
        return f"slice along axis {self.axis}", f"slices along axis {self.axis}"

    def where(self) -> str:
        listed = ", ".join(map(str, self.wrong))
        if self.ndim > 2:
            index = ", ".join([":"] * self.axis + [listed if len(self.wrong) == 1 else "i"])
            return f"[{index}, ...]" + ("" if len(self.wrong) == 1 else f" for i in {listed}")
        one, many = self._words()
        return f"{one} {listed}" if len(self.wrong) == 1 else f"{many} {listed}"

    def diagnosis(self, block: BlockResult) -> Diagnosis:
        one, many = self._words()
        right = self.moving
        idle = self.slices - len(self.wrong) - self.moving
        where = self.where() + (f", {self.also.where()}" if self.also is not None else "")
        evidence = {"axis": self.axis, "wrong": list(self.wrong), "slices": self.slices, "moving": self.moving,
                    "evaluations": self.evaluations}
        if self.also is not None:
            evidence["also"] = {"axis": self.also.axis, "wrong": list(self.also.wrong)}
        said = f"every wrong element is in {where}" if self.ndim > 1 or self.also is not None else \
            f"the wrong element{'s' if len(self.wrong) > 1 else ''} {'are' if len(self.wrong) > 1 else 'is'} {where}"
        # ("the other column ... agrees", not "the other 1 column ... agree")
        others = (f"the other {one} the loss depends on agrees (a direction through it" if right == 1 else
                  f"the other {right} {many} the loss depends on agree (a direction through each") + \
            (f"; {idle} more do not move it)" if idle else ")")
        return Diagnosis("confined", f"{said}; {others}: an index, a loop bound or a mask that misses or picks the "
                                     "wrong one?", evidence)


def confine(name: str, shape: tuple[int, ...], values: list[Value], measure: Callable[[Probe], Estimate],
            thresholds: Thresholds, budget: int, seed: int) -> Confined | None:
    """Which rows, columns or elements hold every wrong element, by one
    seeded random (Gaussian) direction through each slice of every axis with at most
    HINT_MAX_SLICES of them; stops an axis at its (HINT_MAX_CONFINED + 1)th
    wrong slice, and everything at ``budget`` evaluations. A slice whose
    probe crossed a kink or could not be measured leaves its axis unknown."""
    rng = np.random.default_rng([seed, 0x6869])
    spent = 0
    found: list[Confined] = []
    for axis, count in enumerate(shape):
        if not 2 <= count <= HINT_MAX_SLICES:
            continue
        # The sampled coordinates already name wrong slices: more than a
        # confinement allows, and the axis is settled without a probe.
        seen = {v.index[axis] for v in values if v.wrong and v.index is not None}
        if len(seen) > HINT_MAX_CONFINED or count - len(seen) < len(seen):
            continue
        wrong: list[int] = []
        moving = 0  # right slices along which the loss moves: only they show the bug is not there
        known = True
        for s in range(count):
            if spent >= budget:
                return None  # (an axis not finished says nothing)
            vector = np.zeros(shape)
            where = (slice(None),) * axis + (s,)
            # Gaussian weights, not random signs: errors of opposite sign in
            # two elements of a slice (a gradient added to the wrong row)
            # cancel along half of all sign patterns, never along these.
            vector[where] = rng.standard_normal(vector[where].shape)
            vector /= np.sqrt(np.sum(vector * vector))
            estimate = measure(Probe(name, direction=vector))
            spent += estimate.evaluations
            if estimate.error is not None or estimate.crossed_kink or estimate.bracket is not None:
                known = False
                break
            if judge(estimate, thresholds)[0] == FAIL:
                wrong.append(s)
                if len(wrong) > HINT_MAX_CONFINED:
                    break
            elif abs(estimate.numeric) > HINT_SIGNIFICANT * estimate.uncertainty:
                moving += 1
        # A slice the loss does not depend on (an embedding row no example
        # uses) agrees trivially: wrong slices that are all the loss reads
        # are the loss's support, not the bug's place.
        if not known or not wrong or len(wrong) > HINT_MAX_CONFINED or moving < len(wrong):
            continue
        # The sampled values must agree: no wrong coordinate outside.
        if any(v.wrong and v.index is not None and v.index[axis] not in wrong for v in values):
            continue
        found.append(Confined(axis, len(shape), tuple(wrong), count, moving=moving))
        if len(shape) != 2:
            break  # (only a matrix's rows and columns together name an element: no second axis to pay for)
    if not found:
        return None
    first = found[0]
    also = found[1] if len(found) > 1 and len(shape) == 2 else None
    return Confined(first.axis, first.ndim, first.wrong, first.slices, also, spent, first.moving)


def dimensions_of(functions, namespace, held: dict[str, np.ndarray], params: dict[str, np.ndarray]
                  ) -> dict[int, list[str]]:
    """The model's sizes by value, with their names: the integer constants
    of its module that its code reads (``N = 50``; not a star-imported
    ``EPOCHS`` nothing reads), the shapes of the data arrays it holds
    (``X.shape[0]``) and of its params (``W.shape[1]``), and the square root
    of each that is a whole number (``√DK``: attention's scale)."""
    read = names_read(functions, namespace)
    sizes: dict[int, list[str]] = {}

    def add(size: int, name: str) -> None:
        if size > 2:
            names = sizes.setdefault(size, [])
            if name not in names and len(names) < 6:
                names.append(name)

    for name, value in sorted(vars(namespace).items()) if namespace is not None else ():
        if name in read and isinstance(value, (int, np.integer)) and not isinstance(value, bool) \
                and 2 < int(value) < 2**31:
            add(int(value), name)
    for arrays, kind in ((held, "data"), (params, "param")):
        for label, array in arrays.items():
            for axis, size in enumerate(getattr(array, "shape", ())):
                # (a data array's first axis is, by convention, the examples: N)
                add(int(size), f"{label}.shape[{axis}]" + (EXAMPLES if kind == "data" and axis == 0 else ""))
    for size, names in list(sizes.items()):
        root = int(round(size ** 0.5))
        if root * root == size:
            for name in names[:2]:
                add(root, f"√{name.removesuffix(EXAMPLES)}")
    return sizes


def names_read(functions, namespace) -> set[str]:
    """The global names the model's functions read, and the functions of its
    module they call, transitively (a helper ``_probs`` reading ``N``)."""
    import dis
    import types

    read: set[str] = set()
    seen: set[int] = set()
    todo = [getattr(f, "__func__", f) for f in functions]
    while todo:
        thing = todo.pop()
        code = getattr(thing, "__code__", None)
        if code is None:
            # (a gradcheck adapter or an object: its user functions are in held_arrays' reach, not here)
            call = getattr(thing, "__call__", None)
            code = getattr(getattr(call, "__func__", None), "__code__", None)
            if code is None:
                continue
        codes = [code]
        while codes:
            c = codes.pop()
            if id(c) in seen:
                continue
            seen.add(id(c))
            # Global loads only: co_names holds attribute names too (X.T is
            # no read of a constant T).
            read.update(i.argval for i in dis.get_instructions(c) if i.opname in ("LOAD_GLOBAL", "LOAD_NAME"))
            codes += [k for k in c.co_consts if isinstance(k, types.CodeType)]
        for name in sorted(read):
            value = getattr(namespace, name, None) if namespace is not None else None
            if isinstance(value, types.FunctionType) and id(value.__code__) not in seen:
                todo.append(value)
    return read
