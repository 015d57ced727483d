"""The regularization strength: find it, measure its share of the gradient,
and make the model with it at 0 (the data loss alone).

The notes: if the L2 term dominates, the check mostly tests its (simple)
gradient; check the data loss alone too. ``--reg auto`` (the default) looks
for exactly one numeric constant named like a regularization strength, on
the target object (``model.py:net`` with ``net.reg``) or else in the
model's module. A name proves nothing (an entropic temperature, a layer
width called ``l2``, a constant the loss reads through an import-time copy),
so the constant is taken for a strength only where setting it to 0 changes
the loss by an L2 term and the gradient by that term's gradient
(:func:`prove`, :func:`prove_slope`); otherwise a note says why. That costs
the loss and gradient at strength 0, which also give its share of the
gradient; the data-loss check runs where the share is over half in any
block (four losses more complete the test first). ``--reg NAME`` names the
constant and always runs it, with any doubt in a note.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable

import numpy as np

from .errors import ModelError
from .evaluate import Evaluator
from .model import Model
from .settings import EPS, REG_PREMISE_STEP, REG_PREMISE_TOLERANCE, REG_PREMISE_ULPS

AUTO, NONE = "auto", "none"

# Names a regularization strength goes by (compared lowercase, trailing
# underscores dropped: lambda_ is lambda). Not alpha, decay or penalty: too
# often something else (a learning rate, a schedule).
_STRENGTH = re.compile(r"(l2_?)?(reg|regularization|regularisation|reg_?strength|reg_?lambda|lam|lamb|lambda|lmbda|"
                       r"lmb)|l2|l2_?(penalty|lambda|lam)|weight_?decay|wd")


@dataclasses.dataclass(frozen=True)
class Strength:
    """A regularization constant found in a model."""

    name: str
    value: float
    holder: Any  # the module or object it is an attribute of


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _attributes(holder: Any) -> dict:
    try:
        return vars(holder)
    except TypeError:  # __slots__ and the like
        return {}


def _candidates(holder: Any) -> list[str]:
    return sorted(name for name, value in _attributes(holder).items()
                  if _numeric(value) and _STRENGTH.fullmatch(name.lower().rstrip("_")))


def find(model: Model, reg: str | None) -> tuple[Strength | None, str | None]:
    """The strength ``reg`` asks for (``"auto"``, ``"none"`` or a name), and a
    note when auto found several candidates or none could be used."""
    if reg in (None, NONE):
        return None, None
    if model.derivative != "gradient":
        # A reduction's loss (a Hessian's rows summed, a Jacobian's) is no
        # objective: it has no regularization term whose share to measure.
        return None, (None if reg == AUTO else f"--reg {reg} is not applied to {model.name}: it checks a "
                      f"{model.derivative}, whose loss is a reduction, not an objective with a regularization term")
    holders = [model.target] if model.target is not None else []
    if model.namespace is not None:
        holders.append(model.namespace)
    if reg == AUTO:
        for holder in holders:
            names = _candidates(holder)
            if len(names) > 1:
                return None, (f"several constants look like a regularization strength ({', '.join(names)}): "
                              "--reg NAME says which to check the data loss alone with")
            if names:
                return Strength(names[0], float(getattr(holder, names[0])), holder), None
        return None, None
    for holder in holders:
        if reg in _attributes(holder):
            value = getattr(holder, reg)
            if not _numeric(value):
                raise ModelError(f"--reg {reg}: {model.name} has {reg} = {value!r}, not a number")
            return Strength(reg, float(value), holder), None
    if not holders:
        raise ModelError(f"--reg {reg}: {model.name} has no module or object to find {reg!r} in "
                         "(give a model file or module)")
    numbers = sorted({name for holder in holders for name, value in _attributes(holder).items()
                      if _numeric(value) and not name.startswith("_")})
    known = f" (its numeric constants: {', '.join(numbers) or 'none'})"
    if model.target is not None:
        raise ModelError(f"--reg {reg}: neither {model.name}'s target object nor its module has a constant "
                         f"{reg!r}{known}")
    raise ModelError(f"--reg {reg}: {model.name} has no module-level constant {reg!r}{known}")


class _AtZero:
    """A model function called with the strength at 0, then put back."""

    def __init__(self, fn: Callable, strength: Strength):
        self.fn, self.strength = fn, strength
        self.zero = type(getattr(strength.holder, strength.name))(0)
        self.__name__ = getattr(fn, "__name__", "function")

    def __call__(self, *args, **kwargs):
        holder, name = self.strength.holder, self.strength.name
        value = getattr(holder, name)
        setattr(holder, name, self.zero)
        try:
            return self.fn(*args, **kwargs)
        finally:
            setattr(holder, name, value)


def data_only(model: Model, strength: Strength, params: dict[str, np.ndarray]) -> Model:
    """``model`` at ``params`` with the strength at 0, in this process (the
    holder is the model's own import, never the caller's module)."""
    wrap = (lambda fn: _AtZero(fn, strength) if fn is not None else None)
    return dataclasses.replace(model, name=f"{model.name} ({strength.name}=0)", loss=wrap(model.loss),
                               grad=wrap(model.grad), loss_and_grad=wrap(model.loss_and_grad), params=params)


def share(total: dict[str, np.ndarray], data: dict[str, np.ndarray]) -> tuple[dict[str, float], float]:
    """Per block and overall: |g - g_data| / (|g - g_data| + |g_data|)."""
    shares, reg2, data2 = {}, 0.0, 0.0
    for block in total:
        r = float(np.linalg.norm(total[block] - data[block]))
        d = float(np.linalg.norm(data[block]))
        shares[block] = r / (r + d) if r + d else 0.0
        reg2, data2 = reg2 + r * r, data2 + d * d
    overall = math.sqrt(reg2) / (math.sqrt(reg2) + math.sqrt(data2)) if reg2 + data2 else 0.0
    return shares, overall


@dataclasses.dataclass(frozen=True)
class Premise:
    """Whether a constant acts as a regularization strength: set to 0, it
    changes the loss by an L2 term and the gradient by that term's gradient.

    ``data_gradient`` is the gradient at strength 0 (for the share), where
    it could be had; ``reason`` says why the premise does not hold."""

    proven: bool
    data_gradient: dict = dataclasses.field(default_factory=dict)
    reason: str | None = None
    unchanged: bool = False  # neither loss nor gradient moved: the model does not read it when called
    # Refuted because loss and gradient read it differently, not for what it
    # is: "gradient" (only the loss reads it), "loss" (only the gradient
    # does), "slope" (both do, and the gradient's change is not the loss's
    # change's gradient); None otherwise.
    mismatch: str | None = None


def _rounding(*values: float) -> float:
    """What rounding can make of sums of these magnitudes: REG_PREMISE_ULPS ulps."""
    return REG_PREMISE_ULPS * EPS * sum(abs(v) for v in values)


def prove(model: Model, strength: Strength, params: dict[str, np.ndarray], loss: float,
          gradient: dict[str, np.ndarray], seed: int, spent: list[int]) -> Premise:
    """Test that ``strength`` is an L2 regularization strength at ``params``,
    where the model's ``loss`` and ``gradient`` are known, from the loss and
    gradient at strength 0 (their evaluations added to ``spent[0]``; the
    model's own exceptions propagate). Before acting on it, :func:`prove_slope`
    completes the test.

    With D = L - L_0 and dg = g - g_0 (the changes made by setting it to
    0): both must move (loss and grad both read it when called: not one of
    them a copy made at import, ``HALF_REG = REG / 2``), and D must be an L2
    term, lam * sum_b c_b |w_b|^2 over any blocks with any factors. Such a
    term is homogeneous of degree 2, so theta . dg = 2 D (Euler), to
    rounding; an entropy scaled by a temperature, a layer width or a
    divisor is not, and misses by far."""
    name = strength.name
    with Evaluator(data_only(model, strength, params), seed=seed, track_kinks=False) as evaluator:
        try:
            loss0, gradient0 = evaluator.at(params)
        finally:
            spent[0] += evaluator.evaluations
    if not math.isfinite(loss0):
        return Premise(False, reason=f"with {name} = 0 the loss is {loss0}: the model cannot do without it "
                                     "(a temperature or a divisor, not a penalty's strength?)")
    blocks = list(gradient)
    delta = {b: gradient[b] - gradient0[b] for b in blocks}
    change = loss - loss0  # D
    if change == 0 and not any(np.any(delta[b]) for b in blocks):
        return Premise(False, gradient0, unchanged=True,
                       reason=f"setting {name} = 0 changed neither the loss nor the gradient: the model does not "
                              "read it when called (copied into an object or another constant at import?)")
    loss_rounding = _rounding(loss, loss0)
    size = math.sqrt(sum(float(np.sum(delta[b] ** 2)) for b in blocks))
    size_rounding = _rounding(math.sqrt(sum(float(np.sum(gradient[b] ** 2) + np.sum(gradient0[b] ** 2))
                                            for b in blocks)))
    euler = sum(float(np.sum(delta[b] * params[b])) for b in blocks)  # theta . dg
    euler_rounding = _rounding(sum(float(np.sum((np.abs(gradient[b]) + np.abs(gradient0[b])) * np.abs(params[b])))
                                   for b in blocks))
    loss_moved, gradient_moved = abs(change) > loss_rounding, size > size_rounding

    def refuted(reason: str, mismatch: str | None = None) -> Premise:
        return Premise(False, gradient0, reason=reason, mismatch=mismatch)

    if not loss_moved and abs(euler) <= 2 * loss_rounding + euler_rounding:
        return refuted(f"the term {name} scales is below the loss's rounding here: too small to test, or to matter")
    if not gradient_moved:
        return refuted(f"setting {name} = 0 changed the loss ({change:+.3g}) but not the gradient: grad does not "
                       "read it when called (it reads a copy made at import, such as HALF_REG = REG / 2?)",
                       mismatch="gradient")
    if not loss_moved:
        return refuted(f"setting {name} = 0 changed the gradient but not the loss: the loss does not read it when "
                       "called (it reads a copy made at import, such as HALF_REG = REG / 2?)", mismatch="loss")
    if abs(euler - 2 * change) > REG_PREMISE_TOLERANCE * max(abs(euler), abs(2 * change)) + euler_rounding \
            + 2 * loss_rounding:
        return refuted(f"the loss's change is no L2 term: along the parameters an L2 term's change ΔL has "
                       f"θ·Δg = 2·ΔL, this one θ·Δg = {euler / change:.3g}·ΔL (a temperature, a width or a scale "
                       "rather than a penalty's strength, or loss and grad scale it differently)")
    return Premise(True, gradient0)


def prove_slope(model: Model, strength: Strength, params: dict[str, np.ndarray], gradient: dict[str, np.ndarray],
                premise: Premise, seed: int, spent: list[int]) -> Premise:
    """The rest of the test, where the data loss alone is to be checked: dg
    is D's gradient. Along u = dg / |dg|, D's central difference must be
    |dg|; exact for an L2 term (D is quadratic) at any step. Four loss
    evaluations (added to ``spent[0]``): with and without the strength, on
    either side. Projections Euler's identity cannot see (a penalty loss
    and grad weigh differently between blocks) show here."""
    blocks = list(gradient)
    delta = {b: gradient[b] - premise.data_gradient[b] for b in blocks}
    size = math.sqrt(sum(float(np.sum(delta[b] ** 2)) for b in blocks))
    if size == 0:
        return premise  # (no change of the gradient to follow: prove() said so)
    norm = math.sqrt(sum(float(np.sum(params[b] ** 2)) for b in blocks))
    step = REG_PREMISE_STEP * norm  # > 0: at theta = 0 an L2 term has D = 0, refuted by prove()
    values = []
    for sign in (1.0, -1.0):
        moved = {b: params[b] + (sign * step / size) * delta[b] for b in blocks}
        for which in (model, data_only(model, strength, params)):
            with Evaluator(dataclasses.replace(which, params=moved), seed=seed, track_kinks=False) as evaluator:
                try:
                    values.append(evaluator.loss().value)
                finally:
                    spent[0] += evaluator.evaluations
    slope = ((values[0] - values[1]) - (values[2] - values[3])) / (2 * step)
    if not math.isfinite(slope) or abs(slope - size) > REG_PREMISE_TOLERANCE * size + _rounding(*values) / (2 * step):
        return dataclasses.replace(premise, proven=False, mismatch="slope", reason=(
            f"the gradient's change is not the loss's change's gradient: along it the loss's change has slope "
            f"{slope:.4g}, the gradient's change says {size:.4g} (loss and grad read {strength.name} differently?)"))
    return premise


def read_differently(strength: Strength, premise: Premise) -> str:
    """For a check that fails: loss and gradient both read the strength, and
    the gradient's change with it is not the loss's change's gradient (the
    premise's slope test), said as the failure's lead."""
    return (f"{strength.name} = {strength.value:g} looks like a regularization strength, and the loss and the "
            f"gradient disagree on its term: {premise.reason}")


def failed_split(strength: Strength, exc: BaseException, doing: str) -> str:
    """The note for a split that raised while ``doing`` it: the constant,
    what raised (its message's first line; the model's frames would bury
    the report), and that the checks made stand."""
    message = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
    first = (message.splitlines() or [""])[0] or type(exc).__name__
    return (f"{strength.name} looks like a regularization strength, but {doing} with {strength.name} = 0 failed "
            f"({first}): the data loss alone is not checked; the checks above stand")
