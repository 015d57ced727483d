"""Kink detection by winner tracking.

The loss is handed its parameters as :class:`TrackedArray`, an ndarray
subclass that passes itself on to every array computed from it (through
``__array_ufunc__``, ``__array_function__``, ``__array_priority__`` for
``X.dot(W)``, and indexing). Every *kink operation* applied to a tracked
array -- ``np.maximum``/``minimum``/``fmax``/``fmin``, max/min reductions,
argmax/argmin, ``abs``, ``sign``, ``clip``, comparisons that build masks
(``z > 0``), ``where``, sorting, rounding -- records its outcome (which side
won, elementwise) together with the line of the user's file it ran on.

Two evaluations whose traces differ took different branches of some max:
the loss is not differentiable between those two points, and a finite
difference across them measures a jump, not a slope. :func:`compare_traces`
finds the first difference and says where and how many elements flipped.

Tracking sees only numpy. Code that leaves it (``float(x)`` then ``math``
or Python's ``max`` on floats, C extensions) is covered by the numerical
kink test in :mod:`gradcheck_cli.verdict.numeric`.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np

_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class KinkEvent(NamedTuple):
    """One kink operation's outcome during one loss evaluation."""

    filename: str
    lineno: int
    op: str
    outcome: np.ndarray | np.generic  # which side won, elementwise (bool or integer array; a numpy scalar)
    bound: float | None = None  # the constant it compares against (maximum(p, 1e-7): 1e-7), where it has one


@dataclass(frozen=True)
class Crossing:
    """The first kink operation whose outcome differs between two evaluations."""

    filename: str
    lineno: int
    op: str
    flipped: int  # elements whose winner changed
    size: int  # elements the operation decided
    control_flow: bool = False  # the two evaluations ran different kink operations

    def describe(self) -> str:
        where = f"{os.path.basename(self.filename)}:{self.lineno}"
        if self.control_flow:
            return f"{where} ({self.op}): the loss took a different branch"
        return f"{where} ({self.op}): {self.flipped} of {self.size} element{'s' if self.size != 1 else ''} flipped"

    def to_dict(self) -> dict:
        return {
            "file": self.filename,
            "line": self.lineno,
            "op": self.op,
            "flipped": self.flipped,
            "size": self.size,
            "control_flow": self.control_flow,
        }


class Trace(list):
    """The kink events of one evaluation, in order. Recorded with
    ``ties=True`` it also notes which kink operations were decided by a tie
    (``ties``: event index -> the tied elements, a boolean mask shaped like
    the outcome, or True where no elementwise mask applies): two sides
    equal, several maxima, a value exactly at 0 for abs. At a tie any step
    flips the winner, harmlessly where the loss does not care which side
    won (a softmax's max shift at W = 0)."""

    def __init__(self, ties: bool = False):
        super().__init__()
        self.want_ties = ties
        self.ties: dict[int, np.ndarray | bool] = {}

    @property
    def tied(self) -> bool:
        return bool(self.ties)

    def mark_tie(self, where) -> None:
        """The event just recorded was decided by a tie at ``where`` (a mask, or True)."""
        if where is True or np.any(where):
            self.ties[len(self) - 1] = where


# The trace being recorded, or None. Module state rather than an argument
# because the recording happens inside numpy's dispatch, called from the
# user's code, where no argument of ours can reach.
_active: Trace | None = None


@contextmanager
def recording(ties: bool = False) -> Iterator[Trace]:
    """Record the kink operations of everything run inside the block (and
    whether any was tied, with ``ties``: extra work, for one evaluation)."""
    global _active
    previous, trace = _active, Trace(ties)
    _active = trace
    try:
        yield trace
    finally:
        _active = previous


@contextmanager
def beside() -> Iterator[Trace]:
    """Record a part of an evaluation in a trace of its own, whose events
    are also the evaluation's where one is recorded (a reduction comparing
    the kink decisions of the points it evaluates: derivatives/hvp.py)."""
    global _active
    outer = _active
    trace = Trace(outer.want_ties if outer is not None else False)
    _active = trace
    try:
        yield trace
    finally:
        _active = outer
        if outer is not None:
            first = len(outer)
            outer.extend(trace)
            outer.ties.update({first + i: where for i, where in trace.ties.items()})


# Code objects known to belong to numpy or to this package (True) or not.
_internal_code: dict = {}


def _call_site() -> tuple[str, int]:
    """The innermost frame outside numpy and this package: the user's line."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        internal = _internal_code.get(code)
        if internal is None:
            path = os.path.abspath(code.co_filename)
            internal = path.startswith(_NUMPY_DIR + os.sep) or path.startswith(_PACKAGE_DIR + os.sep)
            _internal_code[code] = internal
        if not internal:
            return code.co_filename, frame.f_lineno
        frame = frame.f_back
    return "<unknown>", 0


def _record(op: str, outcome, bound: float | None = None) -> None:
    # A copy: the user may later modify a mask in place (a numpy scalar is immutable).
    if isinstance(outcome, np.ndarray):
        outcome = outcome.copy()
    elif not isinstance(outcome, np.generic):
        outcome = np.asarray(outcome)
    filename, lineno = _call_site()
    _active.append(KinkEvent(filename, lineno, op, outcome, bound))


def _constant(inputs) -> float | None:
    """The constant a two-sided kink compares against: its one operand that
    is a plain real scalar (not computed from the parameters)."""
    for x in inputs:
        if type(x) not in _UNWRAP and isinstance(x, (int, float, np.integer, np.floating)):
            return float(x)
    return None


def _taint(x):
    """Mark a result as parameter-derived, so operations on it are tracked too."""
    kind = type(x)
    if kind is TrackedArray or kind is TrackedFloat:
        return x
    if kind is np.float64:
        return TrackedFloat(x)
    if isinstance(x, np.ndarray):
        return x.view(TrackedArray)
    if isinstance(x, (np.floating, np.bool_, np.complexfloating)):
        # Keep scalars tracked so `if margin > 0:` and Python's max() over
        # them are seen: that is how naive loops (svm_loss_naive) write their
        # hinges. float64 has its own cheap type (TrackedFloat); the rest
        # (float32, complex for the complex step) are kept as 0-d arrays.
        return np.asarray(x).view(TrackedArray)
    if isinstance(x, tuple):
        values = [_taint(v) for v in x]
        # Named tuples (np.linalg.svd's result) keep their type and fields.
        return type(x)(*values) if hasattr(x, "_fields") else tuple(values)
    if isinstance(x, list):
        return [_taint(v) for v in x]
    return x


def _reduce_winner(a: np.ndarray, kwargs: dict, pick) -> np.ndarray:
    """Index of the winning element along the reduced axes."""
    a = np.asarray(a)
    if a.size == 0:
        return np.zeros(0, dtype=np.intp)
    axis = kwargs.get("axis", 0)
    if axis is None:
        winner = np.asarray(pick(a.reshape(-1)))
    else:
        axes = tuple(ax % a.ndim for ax in (axis if isinstance(axis, tuple) else (axis,))) if a.ndim else ()
        if not axes:
            return np.zeros(a.shape, dtype=np.intp)
        moved = np.moveaxis(a, axes, tuple(range(a.ndim - len(axes), a.ndim)))
        winner = pick(moved.reshape(moved.shape[: a.ndim - len(axes)] + (-1,)), axis=-1)
    initial = kwargs.get("initial", np._NoValue)
    if initial is not np._NoValue:
        # `initial` competes too: np.max(z, initial=0) is a ReLU of the max.
        extreme = np.max(a, axis=axis) if pick is np.argmax else np.min(a, axis=axis)
        beats = extreme >= initial if pick is np.argmax else extreme <= initial
        winner = np.where(beats, winner, -1)
    return winner


# Outcome of a kink ufunc, computed from its (unwrapped) inputs before the
# call so that `out=` aliasing an input cannot hide it. Keyed by ufunc name:
# the clip ufunc is not np.clip (a Python function) and lives in a private
# numpy module.
_BEFORE_CALL = {
    "maximum": lambda a, b: np.greater_equal(a, b),
    "fmax": lambda a, b: np.greater_equal(a, b),
    "minimum": lambda a, b: np.less_equal(a, b),
    "fmin": lambda a, b: np.less_equal(a, b),
    "absolute": lambda a: np.greater_equal(a, 0),
    "fabs": lambda a: np.greater_equal(a, 0),
    "heaviside": lambda a, b: np.sign(a),
    "clip": lambda a, lo, hi: np.greater(a, hi).astype(np.int8) - np.less(a, lo).astype(np.int8),
}
# Kink ufuncs whose result is itself the outcome.
_RESULT_IS_OUTCOME = {
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
    "sign", "floor", "ceil", "rint", "trunc",
}
_NON_ANALYTIC = {"absolute", "fabs", "sign"}
# The loss left numpy for Python code the tracker cannot follow (``.tolist()``,
# ``np.vectorize``): kinks may be there unseen. Recorded once per such call,
# with no outcome to compare (the generic point's burn-in goes further then).
OPAQUE = "opaque"
_NUMPY_UFUNCS = frozenset(name for name in dir(np) if isinstance(getattr(np, name), np.ufunc))


def _python_ufunc(ufunc) -> bool:
    """A ufunc made by np.frompyfunc (np.vectorize's): it loops over objects."""
    return all(t.startswith("O") for t in ufunc.types)
_AT_ZERO = {"absolute", "fabs", "sign", "heaviside"}  # kinks at 0 of the first argument
_PAIRWISE = {"maximum", "fmax", "minimum", "fmin", "greater", "greater_equal", "less", "less_equal", "equal",
             "not_equal"}


def _tie_mask(name: str, method: str, raw: list, kwargs: dict):
    """Where a kink ufunc's decision was a tie (see Trace): an elementwise
    mask for elementwise operations, True or False for a reduction."""
    with np.errstate(invalid="ignore"):
        if method == "reduce" and name in _REDUCE_PICK:
            return _several_extremes(np.asarray(raw[0]), kwargs.get("axis", 0), _REDUCE_PICK[name])
        if method != "__call__":
            return False
        if name in _AT_ZERO:
            return np.equal(raw[0], 0)
        if name == "clip" and len(raw) == 3:
            return np.equal(raw[0], raw[1]) | np.equal(raw[0], raw[2])
        if name in _PAIRWISE and len(raw) == 2:
            return np.equal(raw[0], raw[1])
    return False


def _several_extremes(a: np.ndarray, axis, pick) -> bool:
    """Whether the max (or min) along ``axis`` is reached more than once somewhere."""
    if a.size == 0:
        return False
    extreme = (np.max if pick is np.argmax else np.min)(a, axis=axis, keepdims=True)
    return bool(np.any(np.sum(a == extreme, axis=axis) > 1))


def _sorted_ties(a: np.ndarray, axis) -> bool:
    """Whether sorting ``a`` along ``axis`` meets equal values."""
    a = np.asarray(a)
    if a.size < 2:
        return False
    if axis is None:
        a, axis = a.reshape(-1), 0
    return bool(np.any(np.diff(np.sort(a, axis=axis), axis=axis) == 0))
_REDUCE_PICK = {"maximum": np.argmax, "fmax": np.argmax, "minimum": np.argmin, "fmin": np.argmin}
_ORDER_STATISTICS = {np.quantile, np.percentile, np.nanquantile, np.nanpercentile, np.median, np.nanmedian}


class TrackedArray(np.ndarray):
    """An ndarray that taints what is computed from it and records kink outcomes."""

    # Above ndarray's 0 and most subclasses', so that X.dot(W) with a plain
    # X returns a TrackedArray.
    __array_priority__ = 1000.0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # The hot path of tracking (every arithmetic op of the loss): kept to
        # plain comprehensions and dict lookups.
        raw = [_UNWRAP[type(x)](x) if type(x) in _UNWRAP else x for x in inputs]
        out = kwargs.get("out")
        if out is not None:
            if out is Ellipsis:  # out=...: arrays, never scalars (np.quantile's _lerp asks so)
                out = None
            else:
                kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, TrackedArray) else o for o in out)
        where = kwargs.get("where")
        if type(where) in _UNWRAP:  # a tracked mask would send the call back here, for ever
            kwargs["where"] = _UNWRAP[type(where)](where)
        if _active is None:
            result = getattr(ufunc, method)(*raw, **kwargs)
        else:
            outcome = None
            name = ufunc.__name__
            if method == "__call__":
                rule = _BEFORE_CALL.get(name)
                if rule is not None and len(raw) == ufunc.nin:
                    outcome = rule(*raw)
            elif method == "reduce" and name in _REDUCE_PICK:
                outcome = _reduce_winner(raw[0], kwargs, _REDUCE_PICK[name])
            elif method == "outer" and name in _BEFORE_CALL and ufunc.nin == 2:
                outcome = np.subtract.outer(np.asarray(raw[0], float), np.asarray(raw[1], float)) >= 0
            result = getattr(ufunc, method)(*raw, **kwargs)
            if outcome is None and method == "__call__" and name in _RESULT_IS_OUTCOME:
                outcome = result
            if name not in _NUMPY_UFUNCS and _python_ufunc(ufunc):
                _record(OPAQUE, np.True_)  # np.vectorize, np.frompyfunc: Python code on each element
            if outcome is not None:
                tie = _tie_mask(name, method, raw, kwargs) if _active.want_ties else False
                if name in _NON_ANALYTIC and any(np.iscomplexobj(x) for x in raw):
                    # abs and sign of a complex number are not analytic: a
                    # complex step through them is meaningless. Named so the
                    # complex-step method can say where.
                    name = f"{name} of complex values"
                _record(name, outcome, _constant(inputs) if name in _PAIRWISE else None)
                if tie is not False:
                    _active.mark_tie(tie)
        if out is not None:
            return out[0] if len(out) == 1 else out
        if type(result) is np.ndarray:
            return result.view(TrackedArray)
        return _taint(result)

    def __array_function__(self, func, types, args, kwargs):
        if _active is not None and func is np.where:
            condition = args[0] if args else kwargs.get("condition")
            if isinstance(condition, TrackedArray):
                _record("where", condition)
        if func in _ORDER_STATISTICS:
            # An order statistic: its kink is the order, recorded as a sort's.
            # numpy's implementation asks its ufuncs for arrays where a
            # tracked scalar stands (out=...), so it runs on plain arrays.
            plain = [a.view(np.ndarray) if isinstance(a, TrackedArray) else a for a in args]
            if _active is not None:
                values = np.asarray(plain[0] if plain else kwargs["a"], dtype=float)
                axis = kwargs.get("axis")
                flat = values.reshape(-1) if axis is None else values
                _record("sort", np.argsort(flat, axis=-1 if axis is None else axis))
                if _active.want_ties and _sorted_ties(flat, -1 if axis is None else axis):
                    _active.mark_tie(True)
            return _taint(func(*plain, **kwargs))
        # Run numpy's own implementation on the tracked arrays, so the ufuncs
        # and methods inside it are seen; C functions (einsum, dot, linalg)
        # return plain arrays, tainted here.
        result = super().__array_function__(func, types, args, kwargs)
        return _taint(result)

    def __getitem__(self, key):
        # A single element comes back as a numpy scalar, which would drop out
        # of tracking in `for j in range(C): margin = scores[j] - ...`.
        return _taint(super().__getitem__(key))

    def tolist(self):
        if _active is not None and self.size > 1:
            _record(OPAQUE, np.True_)  # the loss goes on in Python floats, where nothing is seen
        return super().tolist()

    def sort(self, *args, **kwargs):
        if _active is not None:
            _record("sort", self.view(np.ndarray).argsort(*args, **kwargs))
            if _active.want_ties and _sorted_ties(self, args[0] if args else kwargs.get("axis", -1)):
                _active.mark_tie(True)
        super().sort(*args, **kwargs)

    def partition(self, *args, **kwargs):
        if _active is not None:
            _record("partition", self.view(np.ndarray).argpartition(*args, **kwargs))
            if _active.want_ties and _sorted_ties(self, kwargs.get("axis", args[1] if len(args) > 1 else -1)):
                _active.mark_tie(True)
        super().partition(*args, **kwargs)


class TrackedFloat(np.float64):
    """A parameter-derived float64 scalar: an element of a tracked array, or
    a sum of one.

    Naive loops (svm_loss_naive) do most of their work on such scalars:
    ``margin = scores[j] - correct + 1; if margin > 0:``. As a 0-d
    TrackedArray each operation went through numpy's ufunc machinery and
    ``__array_ufunc__`` (~3.5 us); here Python's operators run float64's
    own scalar arithmetic and wrap the result (~0.5 us), comparisons record
    their outcome, and numpy functions (np.maximum(0, margin), an array
    times it) still reach ``__array_ufunc__``. It is a float: ``float()``,
    ``math`` and formatting work as on any float64.
    """

    __slots__ = ()

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return TrackedArray.__array_ufunc__(self, ufunc, method, *inputs, **kwargs)

    def __abs__(self):
        if _active is not None:
            _record("absolute", np.float64.__ge__(self, 0))
            if _active.want_ties and np.float64.__eq__(self, 0):
                _active.mark_tie(True)
        return TrackedFloat(np.float64.__abs__(self))

    def __neg__(self):
        return TrackedFloat(np.float64.__neg__(self))

    def __pos__(self):
        return self

    __hash__ = np.float64.__hash__


def _scalar_arithmetic(name: str):
    plain = getattr(np.float64, name)

    def method(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented  # the array's operator, and its __array_ufunc__, take it
        result = plain(self, other)
        if type(result) is np.float64:
            return TrackedFloat(result)
        return _taint(result) if result is not NotImplemented else result

    method.__name__ = name
    return method


def _scalar_comparison(name: str, ufunc: str):
    plain = getattr(np.float64, name)

    def method(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented
        result = plain(self, other)
        if _active is not None and result is not NotImplemented:
            _record(ufunc, result, _constant((other,)))
            if _active.want_ties and np.float64.__eq__(self, other):
                _active.mark_tie(True)
        return result

    method.__name__ = name
    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"):
    for _side in ("", "r"):
        _dunder = f"__{_side}{_name}__"
        setattr(TrackedFloat, _dunder, _scalar_arithmetic(_dunder))
for _dunder, _ufunc in (("__lt__", "less"), ("__le__", "less_equal"), ("__gt__", "greater"),
                        ("__ge__", "greater_equal"), ("__eq__", "equal"), ("__ne__", "not_equal")):
    setattr(TrackedFloat, _dunder, _scalar_comparison(_dunder, _ufunc))

# How __array_ufunc__ hands tracked inputs to numpy: as plain arrays and scalars.
_UNWRAP = {TrackedArray: lambda x: x.view(np.ndarray), TrackedFloat: np.float64}


def _recording_method(name: str):
    """An ndarray method that also records its result: argmax and friends are
    neither ufuncs nor array functions, so no protocol sees them."""
    plain = getattr(np.ndarray, name)

    def method(self, *args, **kwargs):
        result = plain(self, *args, **kwargs)
        if _active is not None:
            _record(name, result)
            if _active.want_ties:
                if name == "argpartition":  # argpartition(kth, axis=-1)
                    axis = args[1] if len(args) > 1 else kwargs.get("axis", -1)
                else:
                    axis = args[0] if args else kwargs.get("axis", -1 if name == "argsort" else None)
                values = self.view(np.ndarray)
                tie = (_several_extremes(values if axis is not None else values.reshape(-1),
                                         axis if axis is not None else 0,
                                         np.argmax if name == "argmax" else np.argmin)
                       if name in ("argmax", "argmin") else _sorted_ties(values, axis))
                if tie:
                    _active.mark_tie(True)
        return result

    method.__name__ = name
    method.__doc__ = plain.__doc__
    return method


for _name in ("argmax", "argmin", "argsort", "argpartition"):
    setattr(TrackedArray, _name, _recording_method(_name))


def track(array: np.ndarray) -> TrackedArray:
    """A tracked view of ``array`` (writes go through, so mutation is still detectable)."""
    return array.view(TrackedArray)


def compare_traces(expected: list[KinkEvent], actual: list[KinkEvent]) -> Crossing | None:
    """The first kink operation that decided differently in ``actual``, or None."""
    for a, b in zip(expected, actual):
        # Indexed, not by name, and the cheapest test first: thousands of
        # events a call in a naive loop.
        if a[1] != b[1] or a[2] != b[2] or a[0] != b[0]:  # line, op, file
            return Crossing(b.filename, b.lineno, b.op, flipped=0, size=0, control_flow=True)
        if isinstance(a[3], np.generic) and isinstance(b[3], np.generic):
            # A scalar decision (`if margin > 0:`): numpy's booleans are
            # singletons, so the same decision is the same object.
            if a[3] is b[3] or a[3] == b[3]:
                continue
            return Crossing(a.filename, a.lineno, a.op, flipped=1, size=1)
        if a.outcome.shape != b.outcome.shape:
            return Crossing(b.filename, b.lineno, b.op, flipped=b.outcome.size, size=b.outcome.size, control_flow=True)
        if not np.array_equal(a.outcome, b.outcome):
            flipped = int(np.count_nonzero(a.outcome != b.outcome))
            return Crossing(a.filename, a.lineno, a.op, flipped=flipped, size=int(a.outcome.size))
    if len(expected) != len(actual):
        longer = expected if len(expected) > len(actual) else actual
        extra = longer[min(len(expected), len(actual))]
        return Crossing(extra.filename, extra.lineno, extra.op, flipped=0, size=0, control_flow=True)
    return None
