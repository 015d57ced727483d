"""At a tie: the directions the ties leave smooth.

Where kinks are tied at the start point (a max-pool window whose maximum is
shared by two elements, a ReLU at exactly 0), every coordinate of a tied
element crosses a kink, and any value between its one-sided derivatives is
a valid choice; where several kinks meet, a direction's one-sided slopes
cannot tell a wrong value from a valid choice of subgradient either. So a
backward that is wrong only at ties passes both: a max-pool mask
``window == max`` sends ``dout`` to every tied element, each one a valid
choice alone, twice the derivative along the pair.

The valid values at a tie are combinations of the gradients just off it,
one for each way of breaking the ties (the limiting gradients). Their
differences span the directions along which the pieces disagree; along any
direction orthogonal to them every piece has the same derivative, so the
loss is differentiable there however the ties break, and a value is right
or wrong, with nothing to excuse it. The analytic gradient at the tie, less
one limiting gradient, must lie in that span. Its part outside the span is
such a direction: it is checked like any other, against the loss's own
central difference (a correct backward has no part outside, and costs only
the limiting gradients).

The limiting gradients are the model's own grad at points a tiny seeded
jitter away (TIE_JITTER of each block's scale: far below any kink the point
is not on, far above round-off), drawn until the span stops growing. They
only say where to look; the verdict comes from the loss. Where more
elements are tied than TIE_MAX_TIED (a ReLU layer at W = 0), they are not
drawn at all (pipeline.py).
"""

from __future__ import annotations

import numpy as np

from .errors import GradcheckError
from .evaluate import BasePoint, Evaluator
from .generic import block_scales
from .settings import TIE_JITTER, TIE_OUTSIDE, TIE_RANK_TOLERANCE, TIE_SAMPLES, TIE_SETTLED


class _Span:
    """An orthonormal basis of the differences of one block's limiting
    gradients from the first, grown one gradient at a time (Gram-Schmidt,
    twice, for orthogonality in floating point): O(rank x size) a gradient,
    where an SVD of all of them each time cost minutes at a few hundred."""

    def __init__(self):
        self.first: np.ndarray | None = None
        self.basis: list[np.ndarray] = []
        self.scale = 0.0  # the largest gradient's norm seen

    def add(self, gradient: np.ndarray) -> bool:
        """Take one more limiting gradient; whether the span grew."""
        self.scale = max(self.scale, float(np.linalg.norm(gradient)))
        if self.first is None:
            self.first = gradient
            return False
        residual = self._outside(gradient - self.first)
        size = float(np.linalg.norm(residual))
        # Below the tolerance: the smooth change over the jitter, round-off.
        if size <= TIE_RANK_TOLERANCE * self.scale:
            return False
        self.basis.append(residual / size)
        return True

    def _outside(self, vector: np.ndarray) -> np.ndarray:
        for _ in range(2):
            for b in self.basis:
                vector = vector - float(b @ vector) * b
        return vector

    def outside(self, analytic: np.ndarray) -> np.ndarray | None:
        """The unit direction of ``analytic - first`` outside the span
        (None where that part is too small to be worth checking)."""
        residual = self._outside(analytic - self.first)
        size = float(np.linalg.norm(residual))
        scale = max(self.scale, float(np.linalg.norm(analytic)))
        if not scale or size <= TIE_OUTSIDE * scale:
            return None
        return residual / size


def tie_directions(evaluator: Evaluator, base: BasePoint, seed: int, blocks) -> dict[str, np.ndarray]:
    """Per block of ``blocks`` whose analytic value at the ties is no
    combination of the gradients just off them: a unit direction (flat,
    the block's size) along which the ties leave the loss smooth, to check
    the value along. Blocks where it is a combination, or where the model
    fails off the ties, get none."""
    params = evaluator.model.params
    scales = block_scales(params)
    rng = np.random.default_rng([seed, 0x7135])
    spans = {name: _Span() for name in blocks}
    settled = 0
    for _ in range(TIE_SAMPLES):
        moved = {name: block + TIE_JITTER * scales[name] * rng.standard_normal(block.shape)
                 for name, block in params.items()}
        try:
            _, gradient = evaluator.at(moved, gradient_only=True)
        except GradcheckError:
            return {}
        grew = False
        for name, span in spans.items():
            grew |= span.add(np.asarray(gradient[name], dtype=np.float64).reshape(-1))
        settled = 0 if grew else settled + 1
        if settled >= TIE_SETTLED:
            break
    else:
        return {}  # the span was still growing: too many ways to break the ties to tell
    found = {}
    for name, span in spans.items():
        direction = span.outside(base.gradient[name].reshape(-1))
        if direction is not None:
            found[name] = direction
    return found
