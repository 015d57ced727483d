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
only say where to look; the verdict comes from the loss.
"""

from __future__ import annotations

import numpy as np

from .errors import GradcheckError
from .evaluate import BasePoint, Evaluator
from .settings import TIE_JITTER, TIE_OUTSIDE, TIE_RANK_TOLERANCE, TIE_SAMPLES, TIE_SETTLED


def _scales(params: dict[str, np.ndarray]) -> dict[str, float]:
    """Each block's RMS; a zero block's, its peers' (1 where all are zero)."""
    rms = {name: float(np.sqrt(np.mean(np.square(block)))) if block.size else 0.0 for name, block in params.items()}
    nonzero = [r for r in rms.values() if r > 0]
    peer = float(np.sqrt(np.mean(np.square(nonzero)))) if nonzero else 1.0
    return {name: r if r > 0 else peer for name, r in rms.items()}


def _span(pieces: list[np.ndarray]) -> np.ndarray:
    """An orthonormal basis (rows) of the span of the pieces' differences,
    leaving out what is below TIE_RANK_TOLERANCE of the gradients' size:
    the smooth change over the tiny jitter, and round-off."""
    if len(pieces) < 2:
        return np.zeros((0, pieces[0].size if pieces else 0))
    scale = max(float(np.linalg.norm(p)) for p in pieces)
    _, singular, rows = np.linalg.svd(np.array([p - pieces[0] for p in pieces[1:]]), full_matrices=False)
    return rows[singular > TIE_RANK_TOLERANCE * scale] if scale else rows[:0]


def _outside(analytic: np.ndarray, pieces: list[np.ndarray]) -> np.ndarray | None:
    """The part of ``analytic - pieces[0]`` outside the span of the pieces'
    differences (None where there is no part worth checking)."""
    basis = _span(pieces)
    residual = analytic - pieces[0]
    residual = residual - basis.T @ (basis @ residual)
    size = float(np.linalg.norm(residual))
    scale = max(float(np.linalg.norm(analytic)), max(float(np.linalg.norm(p)) for p in pieces))
    if not scale or size <= TIE_OUTSIDE * scale:
        return None
    return residual / size


def tie_directions(evaluator: Evaluator, base: BasePoint, seed: int) -> dict[str, np.ndarray]:
    """Per block whose analytic value at the ties is no combination of the
    gradients just off them: a unit direction (flat, the block's size)
    along which the ties leave the loss smooth, to check the value along.
    Blocks where it is a combination, or where the model fails off the
    ties, get none."""
    params = evaluator.model.params
    scales = _scales(params)
    rng = np.random.default_rng([seed, 0x7135])
    pieces: dict[str, list[np.ndarray]] = {name: [] for name in params}
    ranks = {name: 0 for name in params}
    settled = 0
    for _ in range(TIE_SAMPLES):
        moved = {name: block + TIE_JITTER * scales[name] * rng.standard_normal(block.shape)
                 for name, block in params.items()}
        try:
            _, gradient = evaluator.at(moved, gradient_only=True)
        except GradcheckError:
            return {}
        grew = False
        for name in params:
            pieces[name].append(np.asarray(gradient[name], dtype=np.float64).reshape(-1))
            rank = len(_span(pieces[name]))
            grew |= rank > ranks[name]
            ranks[name] = rank
        settled = 0 if grew else settled + 1
        if settled >= TIE_SETTLED:
            break
    else:
        return {}  # the span was still growing: too many ways to break the ties to tell
    found = {}
    for name in params:
        direction = _outside(base.gradient[name].reshape(-1), pieces[name])
        if direction is not None:
            found[name] = direction
    return found
