"""What a check differentiates along: a coordinate or a direction of one
block (``Probe``), and what its relative steps are relative to."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..evaluate import Evaluator
from ..sampling import Direction
from ..settings import STEP_SCALE_FLOOR


@dataclass(frozen=True)
class Probe:
    """A coordinate (flat ``index``) or a unit ``direction`` of one block
    (an array, or a sampling.Direction drawn by :meth:`resolved`)."""

    block: str
    index: int | None = None
    direction: np.ndarray | Direction | None = None
    number: int | None = None  # which direction, for the report

    def resolved(self) -> "Probe":
        """The probe with its direction drawn, for the time it is estimated."""
        if isinstance(self.direction, Direction):
            return replace(self, direction=self.direction.vector())
        return self


def step_scale(evaluator: Evaluator, probe: Probe) -> float:
    """What a relative step is relative to: the coordinate's magnitude, or
    the block's root mean square along a direction."""
    if probe.index is not None:
        return max(STEP_SCALE_FLOOR, abs(float(evaluator.model.params[probe.block].reshape(-1)[probe.index])))
    return max(STEP_SCALE_FLOOR, evaluator.block_rms(probe.block))
