"""The regularization strength: find it, measure its share of the gradient,
and make the model with it at 0 (the data loss alone).

The notes: if the L2 term dominates, the check mostly tests its (simple)
gradient; check the data loss alone too. ``--reg auto`` (the default) looks
for exactly one numeric constant named like a regularization strength, on
the target object (``model.py:net`` with ``net.reg``) or else in the
model's module. Its share of the gradient costs one grad call at strength
0; the data-loss check runs where the share is over half in any block
(``--reg NAME`` names the constant and always runs it).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable

import numpy as np

from .errors import ModelError
from .model import Model

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
