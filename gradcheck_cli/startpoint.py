"""Is the start point degenerate? What the kink trace and the parameters say.

The notes: "a random initialisation can be a degenerate point where a wrong
gradient looks right (an SVM with tiny weights has all margins active)".
A gradient is only tested on the branches the point takes. At the start
point gradcheck has seen every kink operation of the loss, so it can tell:

- kink operations decided by a *tie* (``max(0, 0)``: a ReLU layer whose
  weights and bias are zero; a softmax at W = 0): the derivative there is a
  choice of subgradient, and any bug in either branch is out of sight;
- kink operations whose outcome is the same for (almost) every element
  (every hinge active, every ReLU on): the other branch is never taken, so a
  gradient that ignores the mask is exactly right here;
- blocks whose gradient is exactly zero: nothing of their formula is tested;
- weight blocks (two or more dimensions) that are exactly zero: units that
  are all alike, and every term proportional to the weights (an L2
  penalty's) vanishes. A zero *vector* is the usual bias initialisation and
  is only listed.

A *kink site* is one kink operation at one place in the model's
structure. A line's scalar evaluations in one call are one site, so the
naive loop's ``if margin > 0:`` (one scalar per example and class) is one
site of N*C elements, like the vectorised ``np.maximum(0, margins)``; its
evaluations on arrays are a site each, so one ``np.maximum(0, h @ W)``
line called for two layers is two sites (one all on, one mixed), not one
mixed site.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .kinks import KinkEvent
from .settings import GUARD_TOLERANCE, UNIFORM_MIN_ELEMENTS, UNIFORM_MINORITY

# Operations whose outcome says on which side of a kink each element is
# (two sides, or three for clip). Not equality (a measure-zero event that
# is almost always False), and not argmax, sort or rounding: their
# outcomes are positions or values, with no "other branch" to miss.
_SIDED = {
    "maximum", "minimum", "fmax", "fmin", "absolute", "fabs", "sign", "heaviside", "clip", "where",
    "greater", "greater_equal", "less", "less_equal",
}


@dataclass(frozen=True)
class KinkSite:
    """One kink operation at one line of the model, over a whole call."""

    filename: str
    """The model's file."""
    lineno: int
    """The line of the kink operation."""
    op: str
    """The operation (numpy's name: ``maximum``, ``greater``, ``where``...)."""
    size: int
    """Elements decided, over all the evaluations at this line in one call."""
    minority: int
    """Elements not on the most common side."""
    occurrence: int = -1
    """The line's k-th evaluation on arrays in a call; -1: its scalar evaluations."""

    @property
    def where(self) -> str:
        """How the report names it: ``file.py:30 (maximum, call 2)``."""
        return site_name(self.filename, self.lineno, self.op, self.occurrence)

    def to_dict(self) -> dict:
        return {"file": self.filename, "line": self.lineno, "op": self.op, "size": self.size,
                "minority": self.minority, "occurrence": self.occurrence}


@dataclass(frozen=True)
class StartPoint:
    """What the check found at the start point: is it degenerate (:mod:`gradcheck_cli.startpoint`)?"""

    tie: KinkSite | None
    """The first kink site decided by a tie (its size: the tied elements)."""
    uniform: tuple[KinkSite, ...]
    """Sites where (almost) every element took one side."""
    zero_blocks: tuple[str, ...]
    """Blocks exactly zero."""
    zero_gradients: tuple[str, ...]
    """Blocks whose gradient is exactly zero."""
    zero_weights: tuple[str, ...]
    """The zero blocks with two or more dimensions longer than 1."""

    @property
    def degenerate(self) -> bool:
        """A wrong gradient could look right here: a tie, a one-sided site, a zero weight block or gradient."""
        return bool(self.tie or self.uniform or self.zero_gradients or self.zero_weights)

    def reasons(self) -> list[str]:
        """Why the point is degenerate, one phrase each."""
        out = []
        if self.tie is not None:
            n = self.tie.size
            out.append(f"{self.tie.where} is decided by a tie ({n} element{'s' if n != 1 else ''} exactly at the kink)")
        for site in self.uniform:
            side = "every one" if site.minority == 0 else f"all but {site.minority}"
            out.append(f"{site.where}: {side} of its {site.size} elements on the same side")
        if self.zero_weights:
            out.append(f"{_names(self.zero_weights)} {'is' if len(self.zero_weights) == 1 else 'are'} exactly zero")
        if self.zero_gradients:
            out.append(f"the gradient of {_names(self.zero_gradients)} is exactly zero")
        return out

    def to_dict(self) -> dict:
        return {
            "degenerate": self.degenerate,
            "tie": self.tie.to_dict() if self.tie else None,
            "uniform": [s.to_dict() for s in self.uniform],
            "zero_blocks": list(self.zero_blocks),
            "zero_gradients": list(self.zero_gradients),
        }


def site_name(filename: str, lineno: int, op: str, occurrence: int = -1) -> str:
    """A kink site as the report names it: ``file.py:30 (maximum, call 2)``."""
    call = f", call {occurrence + 1}" if occurrence > 0 else ""
    return f"{os.path.basename(filename)}:{lineno} ({op}{call})"


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(names)


class Site(NamedTuple):
    """A kink site's elements in one call: their outcomes, and which were ties."""

    outcome: np.ndarray
    tied: np.ndarray  # boolean, like outcome


SiteKey = tuple[str, int, str, int]  # file, line, op, occurrence (-1: the line's scalar evaluations)


def sites(trace: list[KinkEvent]) -> dict[SiteKey, Site]:
    """The elements of each sided kink site of a call, flattened in order
    (ties known where the trace was recorded with ``ties=True``)."""
    ties = getattr(trace, "ties", {})
    grouped: dict[SiteKey, tuple[list, list]] = {}
    calls: dict[tuple[str, int, str], int] = {}  # array evaluations seen so far, per line and op
    for i, event in enumerate(trace):
        if event.op in _SIDED:
            line = (event.filename, event.lineno, event.op)
            occurrence = -1
            if np.size(event.outcome) > 1:
                occurrence = calls.get(line, 0)
                calls[line] = occurrence + 1
            outcomes, tied = grouped.setdefault((*line, occurrence), ([], []))
            outcome = np.ravel(event.outcome)
            outcomes.append(outcome)
            mask = ties.get(i)
            tied.append(np.zeros(outcome.shape, bool) if mask is None else
                        np.ravel(np.broadcast_to(np.asarray(mask, bool), np.shape(event.outcome))))
    return {key: Site(np.concatenate(outcomes), np.concatenate(tied)) for key, (outcomes, tied) in grouped.items()}


def tied_sites(trace: list[KinkEvent]) -> dict[tuple[str, int, str], int]:
    """Each kink site decided by a tie somewhere in a call recorded with
    ``ties=True``, and how many of its elements were tied (1 where the
    operation has no elements to count: a tied max over a whole array).
    Equality tests are left out: ``x == y`` is "tied" wherever it is True,
    which is what it is for."""
    ties = getattr(trace, "ties", {})
    counts: dict[tuple[str, int, str], int] = {}
    for i, mask in ties.items():
        event = trace[i]
        if event.op in ("equal", "not_equal"):
            continue
        key = (event.filename, event.lineno, event.op)
        counts[key] = counts.get(key, 0) + (int(np.count_nonzero(mask)) if mask is not True else 1)
    return counts


def inspect(trace: list[KinkEvent] | None, params: dict[str, np.ndarray], gradient: dict[str, np.ndarray],
            real_ties=None) -> StartPoint:
    """The start point's findings, from its kink trace (recorded with
    ``ties=True``), parameters and analytic gradient. ``real_ties``, if
    given, are the tied sites that a jitter of the parameters resolved
    (see :func:`persisting`): ties that survive any move (a margin set to 0
    by assignment, then put through max(0, .)) are structure, not a point
    on a kink."""
    trace = trace or []
    tied = tied_sites(trace)
    if real_ties is not None:
        tied = {key: n for key, n in tied.items() if key in real_ties}
    tie = None
    if tied:
        (filename, lineno, op), count = next(iter(tied.items()))
        tie = KinkSite(filename, lineno, op, count, 0)
    zero_blocks = tuple(name for name, block in params.items() if not np.any(block))
    zero_gradients = tuple(name for name, g in gradient.items() if not np.any(g))
    # A weight matrix has two dimensions longer than 1; a bias kept as a row
    # ((1, n), as numpy-from-scratch code keeps it to broadcast) is a vector.
    zero_weights = tuple(name for name in zero_blocks if sum(n > 1 for n in params[name].shape) >= 2)
    return StartPoint(tie, uniform_sites(trace), zero_blocks, zero_gradients, zero_weights)


def uniform_sites(trace: list[KinkEvent] | None, min_elements: int = UNIFORM_MIN_ELEMENTS) -> tuple[KinkSite, ...]:
    """The sided kink sites of a call whose elements (almost) all take one
    side, among those of at least ``min_elements`` elements."""
    uniform = []
    for key, site in sites(trace or []).items():
        size = int(np.count_nonzero(~site.tied))
        if size < min_elements:
            continue
        few = minority(site)
        if few <= UNIFORM_MINORITY * size:
            uniform.append(KinkSite(key[0], key[1], key[2], size, few, key[3]))
    return tuple(uniform)


def minority(site: Site) -> int:
    """A site's elements not on its most common side (a guard's: those it
    saturates; a clip's outcome is -1, 0 or 1). Tied elements are on
    neither side: a margin set to 0 for the correct class does not make the
    others' hinge any less one-sided."""
    outcome = site.outcome[~site.tied]
    if outcome.size == 0:
        return 0
    _, counts = np.unique(outcome, return_counts=True)
    return int(outcome.size - counts.max())


def persisting(start: list[KinkEvent], moved: list[KinkEvent]) -> set[tuple[str, int, str]]:
    """The tied sites of ``start`` whose ties a move left in place (as many
    tied elements, or more): structural ties, not a point on a kink."""
    before, after = tied_sites(start), tied_sites(moved)
    return {key for key, n in before.items() if after.get(key, 0) >= n}


def changed(first: Site | None, now: Site | None) -> tuple[int, int]:
    """Of a site's elements that were off its kink in ``first``: how many
    changed outcome in ``now``, and how many did not (all changed where the
    site ran a different number of elements: the loss took another branch)."""
    if first is None or now is None or first.outcome.shape != now.outcome.shape:
        return (0 if first is None else int(np.count_nonzero(~first.tied))), 0
    off = ~first.tied
    moved = int(np.count_nonzero((first.outcome != now.outcome) & off))
    return moved, int(np.count_nonzero(off)) - moved


def guard(event: KinkEvent) -> bool:
    """A kink that keeps a value off the edge of its domain, not a branch of
    the model: a clip, or a clamp or comparison at a tolerance (a constant
    within GUARD_TOLERANCE of 0 or of +-1, and not 0 itself: a probability
    kept off 0 and 1, a variance off 0). max(0, m), a hinge or a ReLU,
    compares with 0 itself; a Huber loss with its delta of 1 or more."""
    if event.op == "clip":
        return True
    bound = event.bound
    return bound is not None and bound != 0 and min(abs(bound), abs(abs(bound) - 1)) <= GUARD_TOLERANCE \
        and abs(bound) != 1


def guard_lines(trace: list[KinkEvent]) -> set[tuple[str, int]]:
    """The lines of a call where a guard is applied: every kink site there
    is the guard's (``np.where(p > eps, p, eps)`` is a comparison and a where)."""
    return {(event.filename, event.lineno) for event in trace if guard(event)}
