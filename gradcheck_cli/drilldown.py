"""Screen, then drill down: find the wrong elements a failing direction saw.

A random direction v through a block checks every element at once (2
evaluations), so it notices a bug in a handful of elements that coordinate
sampling missed. To point at them, the direction is bisected: v restricted
to each half of its support is checked as a direction of its own, and the
search goes on in the halves that still disagree, down to single
coordinates. One wrong element among n costs about 4*log2(n) + 2
evaluations instead of 2n.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .verdict.grading import judge
from .verdict.numeric import Estimate
from .verdict.probes import Probe
from .report import FAIL
from .settings import Thresholds


def _disagrees(estimate: Estimate, thresholds: Thresholds) -> bool:
    """A half is searched further if it fails as a direction of its own:
    confirmed beyond its budget, or beyond the bands near a kink. (Halves
    where winners flip harmlessly are as smooth as any: a softmax at W = 0
    has them everywhere.)"""
    return judge(estimate, thresholds)[0] == FAIL


def drill_down(
    block: str,
    direction: np.ndarray,
    measure: Callable[[Probe], Estimate],
    *,
    budget: int,
    thresholds: Thresholds,
    skip: set[int],
) -> tuple[list[tuple[int, Estimate]], int]:
    """Coordinates of ``block`` found wrong by bisecting ``direction``.

    ``measure`` estimates a probe; halves that fail by ``thresholds`` are
    searched further. Stops after ``budget`` evaluations.
    Coordinates in ``skip`` (already checked) are not re-checked. Returns
    the coordinates reached, with their estimates, and the evaluations spent.
    """
    found: list[tuple[int, Estimate]] = []
    spent = 0
    stack = [np.flatnonzero(direction)]
    while stack and spent < budget:
        support = stack.pop()
        if len(support) == 1:
            index = int(support[0])
            if index not in skip:
                estimate = measure(Probe(block, index=index))
                spent += estimate.evaluations
                found.append((index, estimate))
            continue
        middle = len(support) // 2
        # Push the second half first so the first is searched first.
        for half in (support[middle:], support[:middle]):
            if spent >= budget:
                break
            sub = np.zeros_like(direction)
            sub[half] = direction[half]
            sub /= np.sqrt(np.sum(sub * sub))  # pairwise summation: the same on every BLAS
            estimate = measure(Probe(block, direction=sub))
            spent += estimate.evaluations
            if _disagrees(estimate, thresholds):
                stack.append(half)
    return found, spent
