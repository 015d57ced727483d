"""What each option's value may be, defined once: the command line's click
types (cli.py) parse with these, ``[tool.gradcheck]`` goes through those
types (config.py), and check(), sweep(), sanity() and the functions that
hand their keywords on parse their keywords with the same parsers
(``parsed``, ``parse_keywords``). So one value gives one result, or one
message, wherever it is given: ``--samples ALL``, ``samples = "ALL"`` and
``samples="ALL"`` all mean every coordinate, and ``--steps 0``,
``steps = 0`` and ``steps=0`` are all refused with "0 must be at least 1".

A parser reads the command line's text, a TOML value or a Python object
into the value the library takes, and reads its own results back
unchanged (a call that hands its keywords on parses them, and the
function it calls parses them again). Its ValueError says what is wrong
with the value; each caller names the option its own way (``--steps``,
``'steps' in pyproject.toml``, ``sanity(): steps=``).

What the Python API takes beyond the command line's values is its own:
arrays for ``params``, a mapping for ``set``, a ``distributed.Client`` for
``dask``, a ``Thresholds``; those options have no parser here.

Imported by the command line: standard library only.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
import sys
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Callable, Container, Mapping, TypeVar


class Value(ABC):
    """One option's values."""

    metavar: str  # how the help names a value

    # Whether None is one of the values (``samples=None``: every coordinate).
    # Where it is not, None given for a keyword typed ``... | None`` means
    # that keyword's default (parse_keywords).
    takes_none = False

    @abstractmethod
    def parse(self, raw: Any) -> Any:
        """The value ``raw`` stands for; ValueError saying why it stands for none."""


def _number(raw: Any, what: str) -> float:
    """``raw`` as a float: a number (not a bool, which is a flag's value) or its text."""
    if isinstance(raw, bool) or not isinstance(raw, (numbers.Real, str)):
        raise ValueError(f"{raw!r} is not {what}")
    try:
        return float(raw)
    except OverflowError:  # (a whole number past float's range: as far as any range goes)
        return math.inf if raw > 0 else -math.inf
    except ValueError:
        raise ValueError(f"{raw!r} is not {what}") from None


class Count(Value):
    """A whole number from ``minimum`` (to ``maximum``), or one of the
    ``keywords`` (any case), which stand for their values: ``--samples all``
    is None (every coordinate), ``--jobs auto`` is "auto"."""

    def __init__(self, minimum: int, maximum: int | None = None, keywords: Mapping[str, Any] | None = None):
        self.minimum, self.maximum, self.keywords = minimum, maximum, dict(keywords or {})
        self.metavar = "|".join(["N", *self.keywords])
        self.takes_none = None in self.keywords.values()

    def parse(self, raw: Any) -> Any:
        if raw is None and self.takes_none:
            return None
        words = " or ".join(f"'{k}'" for k in self.keywords)
        if isinstance(raw, str) and raw.strip().lower() in self.keywords:
            return self.keywords[raw.strip().lower()]
        if isinstance(raw, numbers.Integral) and not isinstance(raw, bool):
            number = int(raw)
        else:
            try:
                number = int(raw.strip()) if isinstance(raw, str) else None
            except ValueError:
                number = None
            if number is None:
                raise ValueError(f"{raw!r} is neither a whole number nor {words}" if words else
                                 f"{raw!r} is not a whole number")
        if self.maximum is not None and not self.minimum <= number <= self.maximum:
            raise ValueError(f"{raw!r} is not in the range {self.minimum}<=x<={self.maximum}")
        if number < self.minimum:
            raise ValueError(f"{raw!r} must be at least {self.minimum}" + (f" (or {words})" if words else ""))
        return number


class Number(Value):
    """A finite number, above ``minimum`` (or at least it, where ``min_open``
    is False), if one is given. nan and infinity are refused: no threshold,
    rate or tolerance means anything there (and every comparison with nan
    is false, so a range alone lets it through)."""

    metavar = "FLOAT"

    def __init__(self, minimum: float | None = None, *, min_open: bool = False):
        self.minimum, self.min_open = minimum, min_open

    def parse(self, raw: Any) -> float:
        number = _number(raw, "a number")
        if not math.isfinite(number):
            raise ValueError(f"{raw!r} is not a finite number")
        if self.minimum is not None and (number <= self.minimum if self.min_open else number < self.minimum):
            raise ValueError(f"{raw!r} must be {'above' if self.min_open else 'at least'} {self.minimum:g}")
        return number


class Step(Value):
    """``--h``: a relative step (a positive number) or 'auto'. How small
    and how large a step may be depends on the method (settings.check_step
    says it, wherever the step comes from)."""

    metavar = "FLOAT|auto"

    def parse(self, raw: Any) -> float | str:
        if isinstance(raw, str) and raw.strip().lower() == "auto":
            return "auto"
        try:
            number = _number(raw, "a number")
        except ValueError:
            raise ValueError(f"{raw!r} is neither a number nor 'auto'") from None
        if not (number > 0 and math.isfinite(number)):
            raise ValueError(f"{raw!r} must be a positive number (or 'auto')")
        return number


class Seconds(Value):
    """``--timeout``: a positive number of seconds, or inf, no limit (None)."""

    metavar = "SECONDS"

    def parse(self, raw: Any) -> float | None:
        number = _number(raw, "a number of seconds")
        if not number > 0:  # (nan too)
            raise ValueError(f"{raw!r} must be a positive number of seconds (or inf: no limit)")
        return None if math.isinf(number) else number


class Choice(Value):
    """One of ``choices``, spelled as they are."""

    def __init__(self, choices: tuple[str, ...]):
        self.choices = choices
        self.metavar = "[" + "|".join(choices) + "]"

    def parse(self, raw: Any) -> str:
        if raw not in self.choices or not isinstance(raw, str):
            raise ValueError(f"{raw!r} is not one of {', '.join(map(repr, self.choices))}")
        return raw


class Name(Value):
    """A Python name (a model's constant), or one of ``keywords`` in any
    case, as every option's keywords are (``--reg NONE`` is ``--reg none``,
    as ``--warmup OFF`` is ``--warmup off``; a constant named ``NONE``
    cannot be named, and would not be a strength's name)."""

    def __init__(self, keywords: tuple[str, ...] = ()):
        self.keywords = keywords
        self.metavar = "|".join([*keywords, "NAME"])

    def parse(self, raw: Any) -> str:
        if isinstance(raw, str) and raw.strip().lower() in self.keywords:
            return raw.strip().lower()
        if not (isinstance(raw, str) and raw.isidentifier()):
            either = "".join(f"'{k}', " for k in self.keywords)
            raise ValueError(f"{raw!r} is not {either}{'or ' if either else ''}the name of a constant")
        return raw


class File(Value):
    """A file's path: a string (or, from Python, an os.PathLike)."""

    metavar = "FILE"

    def parse(self, raw: Any) -> str:
        text = os.fspath(raw) if isinstance(raw, os.PathLike) else raw
        if not isinstance(text, str):
            raise ValueError(f"{raw!r} must be a string")
        return text


class Names(Value):
    """Names, repeatable (``--block W1 --block W2``): one string, or several."""

    metavar = "NAME"

    def parse(self, raw: Any) -> tuple[str, ...]:
        names = (raw,) if isinstance(raw, str) else tuple(raw) if isinstance(raw, Iterable) else None
        if names is None or not all(isinstance(name, str) for name in names):
            raise ValueError(f"{raw!r} must be a list, or one string")
        return names


class Flag(Value):
    """A switch: True or False, Python's or numpy's (``strict=a.all()``).
    Nothing else: a string such as "false" is true to Python, and would
    silently turn the option on."""

    metavar = "true|false"

    def parse(self, raw: Any) -> bool:
        numpy = sys.modules.get("numpy")  # (not imported: no numpy bool exists, and --help does not pay for it)
        if isinstance(raw, bool) or (numpy is not None and isinstance(raw, numpy.bool_)):
            return bool(raw)
        raise ValueError(f"{raw!r} must be true or false")


def assignment_text(value: Any) -> str:
    """A constant's value as ``--set NAME=VALUE`` writes it: a string
    stands for itself, anything else is its repr (which reads back as it:
    a numpy scalar as its Python number)."""
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        value = value.item()  # (np.float64(0.5)'s repr does not read back as a number)
    return value.strip() if isinstance(value, str) else repr(value)


# numpy's legacy seeding (np.random.seed, RandomState) takes 0 <= seed < 2**32
# (settings.MAX_SEED; repeated here, where --help must not import numpy).
SEED = Count(0, 2**32 - 1)
SAMPLES = Count(1, keywords={"all": None})  # None: every coordinate
JOBS = Count(1, keywords={"auto": "auto"})
WARMUP = Count(0, keywords={"auto": "auto", "off": "off"})  # a number: that many steps, 0 off
AT_LEAST_0 = Count(0)
AT_LEAST_1 = Count(1)
CLASSES = Count(2)  # (one class has nothing to classify: ln 1 = 0)
STEP = Step()
SECONDS = Seconds()
FINITE = Number()
NON_NEGATIVE = Number(0.0)
POSITIVE = Number(0.0, min_open=True)
ABOVE_ONE = Number(1.0, min_open=True)  # --overfit-factor: a fall 1-fold is none
METHOD = Choice(("central", "five-point", "complex-step"))
OPTIMIZER = Choice(("adam", "sgd"))
# --reg: the regularization strength's constant, found by its name ('auto'),
# or none; one meaning for check and sanity, so one key in [tool.gradcheck].
REG = Name(("auto", "none"))
FLAG = Flag()
FILE = File()
NAMES = Names()

# The Python keywords each function parses, by its command's options.
# (tests/test_option_names.py holds every click option to the same parser.)
_SOURCE = {"seed": SEED, "data": FILE}  # (params= is a path or the arrays themselves: model.py reads it)
_PROBE = {"samples": SAMPLES, "method": METHOD, "track_kinks": FLAG}
CHECK = {**_SOURCE, **_PROBE, "directions": AT_LEAST_0, "h": STEP, "fail_above": NON_NEGATIVE,
         "warn_above": NON_NEGATIVE, "good_below": NON_NEGATIVE, "tiny_below": NON_NEGATIVE, "max_evals": AT_LEAST_0,
         "warmup": WARMUP, "lr": POSITIVE, "reg": REG, "jobs": JOBS, "timeout": SECONDS, "strict": FLAG,
         "save_params": FILE}
SWEEP = {**_SOURCE, **_PROBE, "dims": AT_LEAST_1, "block": NAMES}
TAYLOR = {**_SOURCE, **_PROBE, "block": NAMES}
SANITY = {**_SOURCE, "classes": CLASSES, "svm": FLAG, "expect_loss": FINITE, "loss_tolerance": POSITIVE,
          "reg": REG, "steps": AT_LEAST_1, "optimizer": OPTIMIZER, "lr": POSITIVE, "overfit_factor": ABOVE_ONE,
          "overfit_below": NON_NEGATIVE, "strict": FLAG}


def parse_keywords(function: str, given: Mapping[str, Any], table: Mapping[str, Value],
                   nullable: Mapping[str, Any] = {}) -> dict[str, Any]:
    """``given`` with each keyword of ``table`` parsed: a ValueError names
    ``function`` and the keyword. None given for one of the ``nullable``
    keywords (``nullable``: theirs, with their defaults) is "not given":
    the keyword's default, unless None is one of its parser's values."""
    out = dict(given)
    for name, raw in given.items():
        if name not in table:
            continue
        if raw is None and name in nullable and not table[name].takes_none:
            raw = out[name] = nullable[name]
            if raw is None:
                continue
        try:
            out[name] = table[name].parse(raw)
        except ValueError as exc:
            raise ValueError(f"{function}(): invalid value for {name}= (--{name.replace('_', '-')}): {exc}") from None
    return out


def _admits_none(annotation: Any) -> bool:
    """Whether a parameter's annotation (a string, under ``from __future__
    import annotations``) lets None through: ``X | None``, ``Optional[X]``."""
    if annotation is None or annotation is type(None):
        return True
    if isinstance(annotation, str):
        text = annotation.replace(" ", "")
        return text == "None" or text.startswith("Optional[") or "None" in _top_level(text, "|") \
            or (text.startswith("Union[") and "None" in _top_level(text[len("Union["):-1], ","))
    return type(None) in typing.get_args(annotation)


def _top_level(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += (char == "[") - (char == "]")
        if char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def nullable(function: Callable) -> dict[str, Any]:
    """The keywords of ``function`` for which None is "not given", with
    their defaults: those typed to admit None, or whose default is None.
    (check() typed ``reg`` and ``warmup`` ``... | None`` and took None for
    'auto', their default, before these parsers: the signature says so.)"""
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty and (p.default is None or _admits_none(p.annotation))}


F = TypeVar("F", bound=Callable[..., Any])


def parsed(table: Mapping[str, Value]) -> Callable[[F], F]:
    """Decorate a public function whose keywords are options: each is
    parsed as the command line parses the option (``parse_keywords``)."""
    def decorate(fn: F) -> F:
        empty = nullable(fn)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # (pytest: the user's call, not this frame)
            return fn(*args, **parse_keywords(fn.__name__, kwargs, table, empty))

        return wrapper  # type: ignore[return-value]

    return decorate
