"""What a check differentiates along: a coordinate or a direction of one
block (``Probe``), and what its relative steps are relative to."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..evaluate import Evaluator
from ..sampling import Direction
from ..settings import EDGE_MIN_ULPS, EPS, KINK_RETRY_FLOOR, STEP_SCALE_FLOOR


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


def edge_floor(evaluator: Evaluator, probe: Probe) -> float:
    """The smallest relative step to try where the loss breaks (a domain's
    wall near x, at an unknown distance): one that moves what the probe
    moves by EDGE_MIN_ULPS ulps of it, never above KINK_RETRY_FLOOR. That
    is |x| for a coordinate; along a direction v, the smallest |x_i| /
    |v_i| (the element a wall at 0 is nearest). Elements at 0 say nothing
    of where a wall is: where all are 0, the floor is KINK_RETRY_FLOOR."""
    x = evaluator.model.params[probe.block].reshape(-1)
    if probe.index is not None:
        reach = abs(float(x[probe.index]))
    else:
        v = np.abs(np.asarray(probe.direction, dtype=float).reshape(-1))
        moved = (v > 0) & (x != 0)
        reach = float(np.min(np.abs(x[moved]) / v[moved])) if moved.any() else 0.0
    if not reach > 0 or not np.isfinite(reach):
        return KINK_RETRY_FLOOR
    return min(KINK_RETRY_FLOOR, EDGE_MIN_ULPS * EPS * reach / step_scale(evaluator, probe))
