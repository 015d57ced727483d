"""Before trusting the complex step: a few central differences to compare.

The complex step is exact only for code that carries the imaginary part
through every operation. Some numpy functions drop it without any event
the evaluator can see: ``np.linalg.norm`` and ``np.var`` / ``np.std``
return moduli, so a gradient that forgot an L2 term written with ``norm``
passed, and a correct batchnorm failed. So the complex step is compared,
on one probe per block (the largest blocks first), with a central
difference whose error budget is known; where they disagree far beyond
both budgets, the method is refused with the reason and, where the
model's source shows one, the likely operation.
"""

from __future__ import annotations

import re

from .errors import MethodError
from .evaluate import BasePoint, Evaluator, index_label
from .verdict.noise import Noise
from .verdict.numeric import complex_step, estimate
from .verdict.probes import Probe
from .sampling import BlockPlan
from .settings import CONFIRM_FACTOR, DEFAULT_STEPS

# Probes compared (one per block, largest blocks first): each costs one
# complex evaluation and 2-8 real ones.
CROSS_CHECKS = 8

# numpy calls that return a modulus or a real part for complex input,
# so the imaginary step is lost without a warning.
_MODULUS_CALLS = re.compile(r"\b(?:np\.|numpy\.)?(linalg\.norm|var|std|absolute|abs|hypot|real|angle)\s*\(|\.(var|std|real)\b")


def cross_check(evaluator: Evaluator, base: BasePoint, plans: list[BlockPlan], noise: Noise,
                source: str | None) -> None:
    """Raise MethodError if the complex step disagrees with central differences."""
    sigma = noise.sigma
    for block in sorted(plans, key=lambda p: -p.size)[:CROSS_CHECKS]:
        if len(block.directions):
            probe, where = Probe(block.name, direction=block.directions[0], number=0), f"{block.name} direction 0"
        elif len(block.indices):
            index = int(block.indices[0])
            probe, where = Probe(block.name, index=index), index_label(block.name, block.shape, index)
        else:
            continue
        # Always a second stencil, so that truncation is estimated.
        real = estimate(evaluator, probe, base, method="central", h=DEFAULT_STEPS["central"], sigma=sigma,
                        refine=True)
        if real.error is not None or real.unresolved or real.kinked or real.truncation is None:
            continue  # a kink near, or a loss that broke: no reference here
        imaginary = complex_step(evaluator, probe, base, DEFAULT_STEPS["complex-step"])
        if imaginary.error is not None:
            continue  # the check itself reports it
        gap = abs(imaginary.numeric - real.numeric)
        if gap > CONFIRM_FACTOR * (real.uncertainty + imaginary.uncertainty):
            raise MethodError(
                f"the complex step disagrees with central differences along {where}: complex step "
                f"{imaginary.numeric:.10g}, central {real.numeric:.10g} ± {real.uncertainty:.1e} (two stencils); "
                "the model loses the imaginary part somewhere without a warning (a modulus or variance of complex "
                "values)" + _suspects(source) + ", so --method complex-step cannot be trusted on it; "
                "use --method central or five-point"
            )


def _suspects(source: str | None) -> str:
    """Lines of the model's file that call a modulus-taking function."""
    if not source:
        return ""
    try:
        with open(source, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    found = [f"line {n} ({m.group(0).strip().rstrip('(').strip()})"
             for n, text in enumerate(lines, 1) if not text.lstrip().startswith("#")
             for m in [_MODULUS_CALLS.search(text)] if m]
    if not found:
        return ""
    return f"; in {source}: " + ", ".join(found[:5])
