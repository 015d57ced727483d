"""The result of a check: frozen data, everything a renderer needs.

Report -> BlockResult -> DimResult. Nothing here computes; grading builds
these, renderers read them, and ``to_dict()`` is the stable JSON schema.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .kinks import Crossing
from .startpoint import StartPoint
from .settings import Settings

# Grades, from a dimension or a block.
PASS, OK, WARN, FAIL, UNVERIFIED, ZERO, KINK = "pass", "ok", "warn", "fail", "unverified", "zero", "kink"


def _number(x: float | None) -> float | None:
    """JSON has no nan or inf: they become null."""
    return x if x is not None and math.isfinite(x) else None


def _json_safe(value):
    """Numbers in nested lists and dicts, with nan and inf as null."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float):
        return _number(value)
    return value


@dataclass(frozen=True)
class DimResult:
    """One checked coordinate (``index``) or random direction (``direction``)."""

    index: tuple[int, ...] | None
    """The element checked, a coordinate of the block; None for a direction."""
    direction: int | None
    """Which of the block's random unit directions (0, 1, ...); None for a coordinate."""
    analytic: float
    """The model's gradient there: the element, or its dot product with the direction."""
    numeric: float
    """The finite-difference derivative of the loss along the same coordinate or direction."""
    rel_error: float | None
    """``|analytic - numeric| / max(|analytic|, |numeric|)``; None when it could not be measured."""
    grade: str
    """``pass``, ``ok``, ``warn``, ``fail``, ``unverified``, ``zero`` or ``kink`` (docs/grades.md)."""
    h: float
    """The relative step the numeric value comes from."""
    kink: Crossing | None = None
    """The kink crossed at the first step (tracked)."""
    kink_untracked: bool = False
    """A kink the numerical test found, tracking did not."""
    kink_harmless: bool = False
    """Winners flipped but the slope did not change (softmax's max shift)."""
    message: str | None = None
    """Why the grade is what it is, when not obvious."""
    roundoff: float = 0.0
    """How far the loss's rounding may move ``numeric``."""
    truncation: float | None = None
    """How far truncation may move it; None where not estimated."""
    bracket: tuple[float, float] | None = None
    """The one-sided derivatives, where every step crossed a kink."""
    drilled: bool = False
    """Found by drilling down a failing direction, not sampled."""
    evidence: dict | None = None
    """For a confirmed failure: the stencils and the budget it is beyond."""
    analytic_roundoff: float = 0.0
    """How far the analytic value's own rounding may move it."""
    taylor: dict | None = None
    """The Taylor test, where it judged the value (``taylor.Taylor.to_dict()``; docs/json.md)."""

    @property
    def uncertainty(self) -> float:
        """How far `numeric` may be from the analytic value of a right
        gradient: the error budget, both sides' rounding and truncation."""
        return self.roundoff + self.analytic_roundoff + (self.truncation or 0.0)

    @property
    def label(self) -> str:
        """How the report names it: ``[2, 0]`` or ``direction 1``."""
        if self.index is not None:
            return "[" + ", ".join(map(str, self.index)) + "]"
        return f"direction {self.direction}"

    @property
    def crossed_kink(self) -> bool:
        """A kink that changes the slope was crossed at the first step."""
        return (self.kink is not None and not self.kink_harmless) or self.kink_untracked

    def to_dict(self) -> dict:
        kink = None
        if self.kink is not None:
            kink = {**self.kink.to_dict(), "harmless": self.kink_harmless}
        elif self.kink_untracked:
            kink = {"untracked": True}
        return {
            "index": list(self.index) if self.index is not None else None,
            "direction": self.direction,
            "analytic": _number(self.analytic),
            "numeric": _number(self.numeric),
            "rel_error": _number(self.rel_error),
            "grade": self.grade,
            "h": self.h,
            "kink": kink,
            "message": self.message,
            "uncertainty": _number(self.uncertainty),
            "roundoff": _number(self.roundoff),
            "truncation": _number(self.truncation),
            "analytic_roundoff": _number(self.analytic_roundoff),
            "taylor": _json_safe(self.taylor),
            "evidence": self.evidence,
            "bracket": [_number(b) for b in self.bracket] if self.bracket is not None else None,
            "drilled": self.drilled,
        }


@dataclass(frozen=True)
class Diagnosis:
    """What a failing block's disagreement looks like (diagnosis.py): a
    hint with its evidence, never the verdict.

    It is the ``diagnosis`` of a failing :class:`BlockResult`."""

    kind: str
    """One of ``DIAGNOSIS_KINDS``: ``zero``, ``ratio``, ``sign``, ``transpose``, ``param``, ``confined``
    (docs/hints.md)."""
    text: str
    """The hint in words, with the numbers it rests on."""
    evidence: dict
    """Those numbers, for scripts (docs/json.md)."""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text, "evidence": _json_safe(self.evidence)}


# What a diagnosis can say (docs/json.md describes each):
#   zero       the block's gradient is exactly 0 where the loss moves
#   ratio      analytic ≈ c × numeric in every value (c: 2, 1/2, a data dimension N, ...)
#   sign       analytic ≈ −numeric in every value
#   transpose  analytic[i, j] ≈ numeric[j, i] (a square block)
#   param      analytic − numeric ≈ c × the block's own values (an L2 term's gradient)
#   confined   every wrong element is in a few rows, columns or elements; the others are right
DIAGNOSIS_KINDS = ("zero", "ratio", "sign", "transpose", "param", "confined")


@dataclass(frozen=True)
class BlockResult:
    """One parameter block: its coordinates and directions, and their summary."""

    name: str
    """The block's name: a key of the params dict, or a path into nested params (``layers[0].W``)."""
    shape: tuple[int, ...]
    """The block's shape."""
    size: int
    """The block's number of elements."""
    checked: int
    """Coordinates checked (directions are counted separately)."""
    grade: str
    """The block's grade, read from its values' (docs/grades.md)."""
    max_rel_error: float | None
    """The largest relative error over measurable values; None if there were none."""
    worst: DimResult | None
    """The value that decided the grade."""
    kink_crossings: int
    """Probes whose first step crossed a kink."""
    dims: tuple[DimResult, ...]
    """The coordinates checked (sampled, and any a drill-down found)."""
    directions: tuple[DimResult, ...]
    """The random unit directions checked."""
    warnings: tuple[str, ...] = ()
    """What the report warns of about this block."""
    diagnosis: Diagnosis | None = None
    """For a failing block: what kind of bug it looks like (a hint, never the grade)."""
    # For JUnit's testcases; not in to_dict(): the JSON report's blocks
    # stay as docs/json.md and the README's example show them.
    seconds: float = 0.0
    """Wall time spent on its probes (sampled, along ties, drill-down,
    diagnosis); the start point, noise and grading are the check's own."""

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "size": self.size,
            "checked": self.checked,
            "grade": self.grade,
            "max_rel_error": _number(self.max_rel_error),
            "worst": self.worst.to_dict() if self.worst is not None else None,
            "kink_crossings": self.kink_crossings,
            "dims": [d.to_dict() for d in self.dims],
            "directions": [d.to_dict() for d in self.directions],
            "warnings": list(self.warnings),
            "diagnosis": self.diagnosis.to_dict() if self.diagnosis is not None else None,
        }


@dataclass(frozen=True)
class Move:
    """How the check went from the start point to a generic point
    (generic.py): a seeded jitter, then a burn-in stopped by its outcome,
    or the steps --warmup N forced."""

    reasons: tuple[str, ...]
    """Why the start point is degenerate, if it is (``StartPoint.reasons()``)."""
    jittered: tuple[str, ...]
    """Blocks moved by the seeded jitter."""
    steps: int
    """Optimizer steps taken after it."""
    optimizer: str
    """The burn-in's optimizer: ``adam``."""
    lr: float
    """The learning rate at the last step."""
    loss_before: float
    """The loss at the jittered point."""
    loss_after: float
    """The loss at the generic point, after the steps."""
    flipped: tuple[tuple[str, float], ...]
    """Per kink site that was one-sided: the share of its elements that changed side."""
    stopped: str
    """Why the burn-in stopped: ``outcome``, ``budget``, ``steps``, ``left the domain`` or ``error``."""
    evaluations: int
    """Calls of the user's functions the move took."""
    checked: bool = True
    """The check ran at the generic point too."""
    why_not: str | None = None
    """If it did not (``checked`` false): why."""
    structural: tuple[str, ...] = ()
    """One-sided sites no step changed, though steps were large enough to change them."""
    stepped_back: str | None = None
    """Why the burn-in ended before a step it took: the model undefined there."""
    jitter: float = 1.0
    """The jitter's size, as a fraction of its default (smaller where the default left the model)."""
    held: tuple[str, ...] = ()
    """Blocks slowed where a step of theirs left the model's domain, and why."""
    guards: tuple[str, ...] = ()
    """Guards (a clip, a clamp at a tolerance) not driven past: their far side unchecked."""
    # Not in to_dict() yet: docs/json.md documents the generic point's keys.
    objective: str | None = None
    """For a derivative (a Hessian, a Jacobian): the objective it is a derivative of, which was moved (its
    generic point is the objective's; generic.objective_of)."""

    def describe(self) -> str:
        """What was done, in one sentence."""
        parts = []
        if self.jittered and self.jitter:
            parts.append("jittered every block (seeded)" if self.jitter == 1 else
                         f"jittered every block (seeded; {self.jitter:g} of the usual size, the usual one left the "
                         "model)")
        elif self.jittered:
            parts.append("not jittered (any jitter left the model)")
        if self.steps:
            what = f"took {self.steps} {'Adam' if self.optimizer == 'adam' else self.optimizer.upper()} step" \
                   f"{'s' if self.steps != 1 else ''} (loss {self.loss_before:.4g} -> {self.loss_after:.4g})"
            flips = [f"{share:.0%} of {site} flipped" for site, share in self.flipped]
            why = {"outcome": "until the loss showed its curvature" + (f" and {', '.join(flips)}" if flips else ""),
                   "budget": "(the most it takes" + (f"; {', '.join(flips)}" if flips else "") + ")",
                   "steps": "(--warmup)"}.get(self.stopped, "")
            parts.append(f"{what} {why}".strip())
        if self.structural:
            parts.append(f"{', '.join(self.structural)} stayed one-sided under steps large enough to change it: "
                         "structure, not a point")
        if self.guards:
            parts.append(f"kept short of the guard{'s' if len(self.guards) > 1 else ''} {', '.join(self.guards)} "
                         "(a clip, or a clamp at a tolerance: beyond it the model's inputs are taken as invalid, "
                         "and a gradient there is not checked)")
        if self.held:
            parts.append(f"slowed {'; '.join(self.held)}, where its step left the model's domain")
        if self.stepped_back:
            parts.append(f"stopped before {self.stepped_back} (no point to judge a gradient at)")
        done = "; ".join(parts) or "did not move"
        if self.objective is not None:
            done = f"moved the objective, {self.objective}, that this is a derivative of: {done}"
        return done + ("; checked at both points" if self.checked else
                       f"; checked at the start point only: {self.why_not}")

    def to_dict(self) -> dict:
        return {"reasons": list(self.reasons), "jittered": list(self.jittered), "steps": self.steps,
                "optimizer": self.optimizer, "lr": self.lr, "loss_before": _number(self.loss_before),
                "loss_after": _number(self.loss_after),
                "flipped": [{"site": site, "share": share} for site, share in self.flipped],
                "structural": list(self.structural), "stepped_back": self.stepped_back, "jitter": self.jitter,
                "held": list(self.held), "guards": list(self.guards),
                "stopped": self.stopped, "evaluations": self.evaluations, "checked": self.checked,
                "why_not": self.why_not}


@dataclass(frozen=True)
class Regularization:
    """The regularization strength's share of the gradient, and the check of
    the data loss alone (strength 0) where it dominates."""

    name: str
    """The constant (a module's, or the target object's attribute)."""
    value: float
    """Its value in the model."""
    share: dict[str, float]
    """Per block: ``|g - g_data| / (|g - g_data| + |g_data|)``, g_data the gradient with the strength at 0."""
    overall: float
    """The same over all blocks."""
    at: str
    """Where it was measured: ``"start point"`` or ``"generic point"``."""
    data_only: "Report | None" = None
    """The check of the data loss alone (the strength at 0), where it ran."""
    explicit: bool = False
    """Named by ``--reg NAME`` (the data check runs whatever the share)."""
    unchanged: bool = False
    """Setting it to 0 changed no gradient: the model does not read it at call time."""

    @property
    def dominated(self) -> tuple[str, ...]:
        """Blocks whose gradient is more than half regularization."""
        return tuple(name for name, share in self.share.items() if share > 0.5)

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "share": dict(self.share), "overall": self.overall,
                "at": self.at, "dominated": list(self.dominated), "explicit": self.explicit,
                "unchanged": self.unchanged,
                "data_only": self.data_only.to_dict() if self.data_only is not None else None}


@dataclass(frozen=True)
class Report:
    """A whole check: the verdict, each block, and what it cost."""

    model: str
    """The model as the check was given it: a target (``"svm.py"``), or a name for functions."""
    source: str | None
    """The file defining the model, where there is one."""
    verdict: str
    """``pass``, ``warn`` or ``fail``: the worst of every check it holds (``passed`` says whether it passed)."""
    evaluations: int
    """Calls of the user's functions."""
    seconds: float
    """Wall time of the whole check."""
    settings: Settings
    """How the check ran."""
    kinked: bool
    """The loss applies kink operations (max, abs, masks...) to the params."""
    blocks: tuple[BlockResult, ...]
    """Each parameter block's result, in the model's order."""
    warnings: tuple[str, ...] = ()
    """Model-level warnings (they make the verdict ``warn``); ``all_warnings`` adds the blocks'."""
    notes: tuple[str, ...] = ()
    """Facts worth knowing that do not affect the verdict."""
    loss: float = float("nan")
    """The loss at the parameters."""
    loss_noise: float = 0.0
    """Measured rounding noise of the loss (standard deviation)."""
    source_line: int | None = None
    """Line of the gradient's definition in ``source``."""
    stopped: str | None = None
    """Why the check stopped early (a partial report), if it did."""
    start_point: "StartPoint | None" = None
    """What the start point is like (degenerate?)."""
    moved: Move | None = None
    """How the check went to a generic point."""
    generic: "Report | None" = None
    """The check at the generic point."""
    regularization: Regularization | None = None
    """The regularization strength's share, and the check of the data loss alone."""
    hints: tuple[str, ...] = ()
    """What the failures together suggest (where a bug shows), never the verdict."""
    unchecked: tuple[str, ...] = ()
    """Blocks a stopped check (``stopped``) never reached."""
    derivative: str = "gradient"
    """What was checked: ``gradient``, or for a derivative reduced to the
    gradient check ``Jacobian``, ``Hessian``, ``Hessian-vector product``
    (docs/derivatives.md)."""

    def __rich__(self):
        """Rendered by a rich Console (and rich's Jupyter integration)."""
        from .render import text

        return text.build(self)

    def _repr_html_(self) -> str:
        """Rendered in a Jupyter notebook."""
        from .render import text

        return text.to_html(self)

    @property
    def passed(self) -> bool:
        """Whether the check passed: no block failed, and with ``strict``
        (``--strict``) none warned either. What the command line's exit code
        says (0 or 1), and what ``assert_gradients`` asserts."""
        return self.verdict == PASS or (self.verdict == WARN and not self.settings.strict)

    @property
    def kink_crossings(self) -> int:
        """Probes whose first step crossed a kink, over every block."""
        return sum(b.kink_crossings for b in self.blocks)

    def checks(self) -> tuple["Report", ...]:
        """Every check this report holds: its own (at the start point), the
        one at the generic point, the one of the data loss alone."""
        data_only = self.regularization.data_only if self.regularization is not None else None
        return tuple(r for r in (self, self.generic, data_only) if r is not None)

    @property
    def all_warnings(self) -> tuple[str, ...]:
        """The model's warnings, then each block's."""
        return self.warnings + tuple(w for b in self.blocks for w in b.warnings)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "model": self.model,
            "derivative": self.derivative,
            "source": self.source,
            "source_line": self.source_line,
            "evaluations": self.evaluations,
            "seconds": round(self.seconds, 6),
            "loss": _number(self.loss),
            "loss_noise": _number(self.loss_noise),
            "stopped": self.stopped,
            "start_point": self.start_point.to_dict() if self.start_point is not None else None,
            "generic_point": None if self.moved is None else {
                **self.moved.to_dict(),
                "check": self.generic.to_dict() if self.generic is not None else None},
            "regularization": self.regularization.to_dict() if self.regularization is not None else None,
            "settings": self.settings.to_dict(),
            "kinked": self.kinked,
            "kink_crossings": self.kink_crossings,
            "blocks": [b.to_dict() for b in self.blocks],
            "unchecked": list(self.unchecked),
            "warnings": list(self.all_warnings),
            "notes": list(self.notes),
            "hints": list(self.hints),
        }


@dataclass(frozen=True)
class ModelFailure:
    """A model that could not be checked at all (exit code 2): the error's message."""

    model: str
    message: str
    source: str | None = None
    """The model file, when the target named one."""

    verdict = "error"

    def to_dict(self) -> dict:
        return {"verdict": "error", "model": self.model, "source": self.source, "error": self.message}
