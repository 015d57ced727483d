"""Before trusting the complex step: a central difference on every block.

The complex step is exact only for code that carries the imaginary part
through every operation. Some numpy functions drop it without any event
the evaluator can see: ``np.linalg.norm`` and ``np.var`` / ``np.std``
return moduli, so a gradient that forgot an L2 term written with ``norm``
passed, and a correct batchnorm failed. So the complex step is compared,
on one probe of every block (a wrong projection can sit in the smallest
one), with a central difference whose error budget is known; where they
disagree far beyond both budgets, the method is refused with the reason
and, where the model's source shows one, the likely operation. A block
where no comparison could be made (a kink near the probe, a loss that
broke, a complex evaluation that raised) is not trusted to the complex
step: the check estimates it by central differences, and says so.
"""

from __future__ import annotations

import dataclasses
import re

from .errors import MethodError
from .evaluate import BasePoint, Evaluator
from .verdict.noise import Noise
from .verdict.numeric import complex_step, estimate
from .verdict.probes import Probe
from .sampling import BlockPlan, Direction
from .settings import CONFIRM_FACTOR, DEFAULT_STEPS

# numpy calls that return a modulus or a real part for complex input,
# so the imaginary step is lost without a warning.
_MODULUS_CALLS = re.compile(r"\b(?:np\.|numpy\.)?(linalg\.norm|var|std|absolute|abs|hypot|real|angle)\s*\(|\.(var|std|real)\b")


@dataclasses.dataclass(frozen=True)
class CrossCheck:
    """What the cross-check of the complex step found, block by block."""

    # Blocks the complex step could not be compared on, with why: the
    # check estimates them by central differences instead.
    central: dict = dataclasses.field(default_factory=dict)  # block -> reason

    @property
    def central_blocks(self) -> frozenset:
        """The blocks to estimate by central differences."""
        return frozenset(self.central)

    @property
    def note(self) -> str | None:
        """The report's note naming those blocks, or None when there are none."""
        if not self.central:
            return None
        reasons = "; ".join(f"{block}: {why}" for block, why in self.central.items())
        return (f"--method complex-step: {', '.join(self.central)} checked by central differences instead, "
                f"since the complex step could not be compared with them there ({reasons})")


def _probe(block: BlockPlan) -> tuple[Probe, str]:
    """The block's one cross-check probe and its label: a random direction,
    which a wrong projection of any element moves (a coordinate sees only
    its own: a quantile's derivative lives in one element). The plan's
    first direction where it has one; else the first of the same seeded
    stream, which a block checked at every coordinate never draws."""
    first = Direction(block.directions.seed, block.name, 0, block.size)
    return Probe(block.name, direction=first.vector(), number=0), f"{block.name} direction 0"


def cross_check(evaluator: Evaluator, base: BasePoint, plans: list[BlockPlan], noise: Noise,
                source: str | None) -> CrossCheck:
    """Compare the complex step with central differences on one probe of
    every block. Raises MethodError where they disagree; returns the blocks
    where they could not be compared (to be estimated centrally)."""
    sigma = noise.sigma
    central: dict[str, str] = {}
    for block in plans:
        probe, where = _probe(block)
        # Always a second stencil, so that truncation is estimated.
        real = estimate(evaluator, probe, base, method="central", h=DEFAULT_STEPS["central"], sigma=sigma,
                        refine=True)
        if real.error is not None:
            central[block.name] = "the loss broke near the probe"
            continue
        if real.unresolved or real.kinked or real.truncation is None:
            central[block.name] = "a kink near the probe"
            continue
        imaginary = complex_step(evaluator, probe, base, DEFAULT_STEPS["complex-step"])
        if imaginary.error is not None:
            # The loss raised (beyond the TypeError or ValueError the
            # evaluator refuses the method for) or was not finite with an
            # imaginary step: the complex step has nothing to say here.
            central[block.name] = "the loss failed with an imaginary step"
            continue
        gap = abs(imaginary.numeric - real.numeric)
        if gap > CONFIRM_FACTOR * (real.uncertainty + imaginary.uncertainty):
            raise MethodError(
                f"the complex step disagrees with central differences along {where}: complex step "
                f"{imaginary.numeric:.10g}, central {real.numeric:.10g} ± {real.uncertainty:.1e} (two stencils); "
                "the model loses the imaginary part somewhere without a warning (a modulus or variance of complex "
                "values)" + _suspects(source) + ", so --method complex-step cannot be trusted on it; "
                "use --method central or five-point"
            )
    return CrossCheck(central)


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
