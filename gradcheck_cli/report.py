"""The result of a check: frozen data, everything a renderer needs.

Report -> BlockResult -> DimResult. Nothing here computes; grading builds
these, renderers read them, and ``to_dict()`` is the stable JSON schema.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .kinks import Crossing
from .settings import Settings

# Grades, from a dimension or a block.
PASS, OK, WARN, FAIL, UNVERIFIED, ZERO, KINK = "pass", "ok", "warn", "fail", "unverified", "zero", "kink"


def _number(x: float | None) -> float | None:
    """JSON has no nan or inf: they become null."""
    return x if x is not None and math.isfinite(x) else None


@dataclass(frozen=True)
class DimResult:
    """One checked coordinate (``index``) or random direction (``direction``)."""

    index: tuple[int, ...] | None
    direction: int | None
    analytic: float
    numeric: float
    rel_error: float | None  # None when it could not be measured
    grade: str
    h: float  # the relative step the numeric value comes from
    kink: Crossing | None = None  # kink crossed at the first step (tracked)
    kink_untracked: bool = False  # a kink the numerical test found, tracking did not
    kink_harmless: bool = False  # winners flipped but the slope did not change (softmax max shift)
    message: str | None = None  # why the grade is what it is, when not obvious
    roundoff: float = 0.0  # how far the loss's rounding may move `numeric`
    truncation: float | None = None  # how far truncation may; None where not estimated
    bracket: tuple[float, float] | None = None  # one-sided derivatives, where every step crossed a kink
    drilled: bool = False  # found by drilling down a failing direction, not sampled
    evidence: dict | None = None  # for a confirmed failure: the stencils and the budget it is beyond

    @property
    def uncertainty(self) -> float:
        """How far `numeric` may be from the true derivative: the error budget."""
        return self.roundoff + (self.truncation or 0.0)

    @property
    def label(self) -> str:
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
            "evidence": self.evidence,
            "bracket": [_number(b) for b in self.bracket] if self.bracket is not None else None,
            "drilled": self.drilled,
        }


@dataclass(frozen=True)
class BlockResult:
    """One parameter block: its coordinates and directions, and their summary."""

    name: str
    shape: tuple[int, ...]
    size: int
    checked: int  # coordinates checked (directions are counted separately)
    grade: str
    max_rel_error: float | None  # over measurable dimensions; None if there were none
    worst: DimResult | None  # the dimension that decided the grade
    kink_crossings: int  # probes whose first step crossed a kink
    dims: tuple[DimResult, ...]
    directions: tuple[DimResult, ...]
    warnings: tuple[str, ...] = ()

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
        }


@dataclass(frozen=True)
class Warmup:
    """SGD steps taken with the model's own gradient before the check."""

    steps: int
    lr: float
    loss_before: float
    loss_after: float
    evaluations: int

    def to_dict(self) -> dict:
        return {"steps": self.steps, "lr": self.lr, "loss_before": _number(self.loss_before),
                "loss_after": _number(self.loss_after), "evaluations": self.evaluations}


@dataclass(frozen=True)
class Report:
    """A whole check: the verdict, each block, and what it cost."""

    model: str
    source: str | None
    verdict: str  # pass | warn | fail
    evaluations: int  # calls of the user's functions
    seconds: float
    settings: Settings
    kinked: bool  # the loss applies kink operations (max, abs, masks...) to the params
    blocks: tuple[BlockResult, ...]
    warnings: tuple[str, ...] = ()  # model-level warnings (they make the verdict `warn`)
    notes: tuple[str, ...] = ()  # facts worth knowing that do not affect the verdict
    loss: float = float("nan")  # the loss at the parameters
    loss_noise: float = 0.0  # measured rounding noise of the loss (standard deviation)
    source_line: int | None = None  # line of the gradient's definition in `source`
    stopped: str | None = None  # why the check stopped early (a partial report), if it did
    warmup: Warmup | None = None  # the SGD steps taken before checking (--warmup)

    def __rich__(self):
        """Rendered by a rich Console (and rich's Jupyter integration)."""
        from .render import text

        return text.build(self)

    def _repr_html_(self) -> str:
        """Rendered in a Jupyter notebook."""
        from .render import text

        return text.to_html(self)

    @property
    def kink_crossings(self) -> int:
        return sum(b.kink_crossings for b in self.blocks)

    @property
    def all_warnings(self) -> tuple[str, ...]:
        return self.warnings + tuple(w for b in self.blocks for w in b.warnings)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "model": self.model,
            "source": self.source,
            "source_line": self.source_line,
            "evaluations": self.evaluations,
            "seconds": round(self.seconds, 6),
            "loss": _number(self.loss),
            "loss_noise": _number(self.loss_noise),
            "stopped": self.stopped,
            "warmup": self.warmup.to_dict() if self.warmup else None,
            "settings": self.settings.to_dict(),
            "kinked": self.kinked,
            "kink_crossings": self.kink_crossings,
            "blocks": [b.to_dict() for b in self.blocks],
            "warnings": list(self.all_warnings),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ModelFailure:
    """A model that could not be checked at all (exit code 2): the error's message."""

    model: str
    message: str
    source: str | None = None  # the model file, when the target named one

    verdict = "error"

    def to_dict(self) -> dict:
        return {"verdict": "error", "model": self.model, "source": self.source, "error": self.message}
