"""The pre-training sanity gate.

``sanity(...)`` runs the course notes' checks before a long training:
1. the initial loss is what chance predicts (softmax ln C, SVM C - 1);
2. raising the regularization strength raises the loss;
3. the model can overfit its own (small) data: the loss falls tenfold;
4. during that run, each block's update/parameter ratio is near 1e-3.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any


from .errors import ModelError
from .evaluate import Evaluator
from .model import Assignments, ParamsSource, parse_assignments
from .options import python_names
from .values import SANITY, parsed
from .pipeline import resolve
from .regularization import AUTO, NONE, find
from .process_state import borrows_process
from .report import FAIL, PASS, WARN, _number
from .settings import (
    DEFAULT_LOSS_TOLERANCE,
    DEFAULT_OVERFIT_FACTOR,
    DEFAULT_OVERFIT_STEPS,
    DEFAULT_SEED,
    UPDATE_RATIO_HIGH,
    UPDATE_RATIO_LOW,
)
from .training import train

SKIP = "skip"
_RANK = {SKIP: 0, PASS: 1, WARN: 2, FAIL: 3}


@dataclass(frozen=True)
class SanityCheck:
    """One check of the gate."""

    name: str
    """Which check: ``initial loss``, ``regularization raises the loss``, ``overfit``, ``update/param ratio``."""
    status: str
    """``pass``, ``warn``, ``fail`` or ``skip``."""
    summary: str
    """What it found, in a sentence."""
    details: dict = field(default_factory=dict)
    """The numbers behind it, for scripts."""

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "summary": self.summary,
                "details": {k: _number(v) if isinstance(v, float) else v for k, v in self.details.items()}}


@dataclass(frozen=True)
class SanityReport:
    """The gate's checks, the overfit run's loss curve, and what it cost."""

    model: str
    """The model as it was given."""
    checks: tuple[SanityCheck, ...]
    """The gate's checks, in order."""
    losses: tuple[float, ...]
    """The loss before each overfit step."""
    evaluations: int
    """Calls of the user's functions."""
    seconds: float
    """Wall time of the gate."""
    # (not in to_dict(), as for a check: it decides `passed`, never a status)
    strict: bool = False
    """``--strict``: a warning fails too (``passed``)."""

    @property
    def verdict(self) -> str:
        """The worst status of the checks (``skip`` counts as ``pass``)."""
        worst = max((c.status for c in self.checks), key=_RANK.__getitem__, default=PASS)
        return PASS if worst == SKIP else worst

    @property
    def passed(self) -> bool:
        """No check failed, and with ``strict`` none warned: the command line's exit code 0."""
        return self.verdict == PASS or (self.verdict == WARN and not self.strict)

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "model": self.model, "evaluations": self.evaluations,
                "seconds": round(self.seconds, 6), "checks": [c.to_dict() for c in self.checks],
                "losses": [_number(x) for x in self.losses]}


def _loss_at_start(model) -> tuple[float, int, dict]:
    with Evaluator(model, seed=DEFAULT_SEED, track_kinks=False) as evaluator:
        loss, gradient = evaluator.at(model.params)
    return loss, evaluator.evaluations, gradient


def _named_strength(model, reg: str | None) -> tuple[str | None, str]:
    """The constant ``reg`` names (as check's --reg: ``"auto"``, ``"none"``
    or a name), and what the skipped check says where there is none:
    ``auto`` takes the one module-level constant named like a
    regularization strength (regularization.find's rule), which --set can
    set to 0 and raise."""
    if reg is None or reg == NONE:
        return None, "give --reg NAME (the strength's constant), or --reg auto"
    if reg != AUTO:
        return reg, ""
    strength, note = find(model, AUTO)
    if strength is None or strength.holder is not model.namespace:
        why = note or ("no module-level constant is named like a regularization strength" if strength is None else
                       f"--reg auto found {strength.name} on the target object, not a module-level constant")
        return None, f"{why}; give --reg NAME (the strength's constant)"
    return strength.name, ""


def _current_value(model, name: str) -> Any:
    strength, _ = find(model, name)
    return strength.value


@python_names
@parsed(SANITY)
@borrows_process
def sanity(
    model: str,
    *,
    params: ParamsSource = None,
    data: str | os.PathLike[str] | None = None,
    set: Assignments = None,
    seed: int = DEFAULT_SEED,
    classes: int | None = None,
    svm: bool = False,
    expect_loss: float | None = None,
    loss_tolerance: float = DEFAULT_LOSS_TOLERANCE,
    reg: str | None = None,
    steps: int = DEFAULT_OVERFIT_STEPS,
    optimizer: str = "adam",
    lr: float | None = None,
    overfit_factor: float = DEFAULT_OVERFIT_FACTOR,
    overfit_below: float | None = None,
    strict: bool = False,
) -> SanityReport:
    """Run the sanity gate (the checks :mod:`gradcheck_cli.sanity_checks` lists) on
    ``model``, a model file or module (a target as for
    :func:`~gradcheck_cli.check`): ``gradcheck sanity``, whose options these
    keywords are. Returns a :class:`SanityReport`.

    ``params``, ``data``, ``set`` and ``seed`` are as for
    :func:`~gradcheck_cli.check`. ``classes``: the initial loss should be
    ln C (softmax), or C - 1 with ``svm``; ``expect_loss`` instead, within
    ``loss_tolerance`` (relative). With ``reg`` (a constant's name, or
    ``"auto"``: the one constant named like a strength, as check finds it;
    ``"none"``, as not given: no regularization check), the initial-loss and
    overfit checks run with that constant set to 0 (the notes: no
    regularization), and the regularization check compares the loss at its
    value and at ten times it. The overfit run takes ``steps`` of
    ``optimizer`` (``"adam"`` or ``"sgd"``) at rate ``lr`` and passes when
    the loss falls ``overfit_factor``-fold or below ``overfit_below``.
    ``strict``: a warning fails too (:attr:`SanityReport.passed`).
    ``params_file``, ``data_file`` and ``overrides`` are the deprecated
    names of ``params``, ``data`` and ``set``.
    """
    started = time.perf_counter()
    overrides = parse_assignments(set)
    as_is = resolve(model, params=params, seed=seed, set=overrides, data=data)
    reg, no_reg = _named_strength(as_is, reg)
    data_overrides = {**overrides, reg: "0"} if reg else overrides
    if reg and not hasattr(as_is.namespace, reg):
        raise ModelError(f"--reg {reg}: {as_is.name} has no module-level constant {reg!r}; name the one that holds "
                         "the regularization strength")
    data_only = resolve(model, params=params, seed=seed, set=data_overrides, data=data) if reg else as_is
    checks, evaluations = [], 0

    # The overfit run starts where the initial-loss check looks: its first
    # loss is that check's, with no evaluation of its own.
    with Evaluator(data_only, seed=seed, track_kinks=False) as evaluator:
        run = train(evaluator, steps, optimizer=optimizer, lr=lr)
    evaluations += evaluator.evaluations

    # 1. initial loss
    initial = run.loss_before
    expected, why = expect_loss, "--expect-loss"
    if expected is None and classes:
        expected, why = (classes - 1, f"C - 1 = {classes - 1} for an SVM over {classes} classes") if svm else \
            (math.log(classes), f"ln C = {math.log(classes):.4g} for a softmax over {classes} classes")
    if expected is None:
        checks.append(SanityCheck("initial loss", SKIP, f"loss {initial:.6g}; give --classes C (with --svm for an "
                                  "SVM) or --expect-loss to compare it with chance", {"loss": initial}))
    else:
        off = abs(initial - expected) / max(abs(expected), 1e-12)
        ok = off <= loss_tolerance
        checks.append(SanityCheck(
            "initial loss", PASS if ok else FAIL,
            f"loss {initial:.6g}, expected {expected:.6g} ({why})" + ("" if ok else
            f": {off:.0%} off, more than {loss_tolerance:.0%}; are the weights small and the regularization off "
            "(--reg NAME)? If so, the loss is wrong"),
            {"loss": initial, "expected": float(expected), "relative_difference": off}))

    # 2. raising the regularization raises the loss
    if reg:
        value = _current_value(as_is, reg)
        raised = value * 10 if value > 0 else 1.0
        stronger = resolve(model, params=params, seed=seed, set={**overrides, reg: repr(raised)}, data=data)
        base_loss, spent_a, _ = _loss_at_start(as_is)
        raised_loss, spent_b, _ = _loss_at_start(stronger)
        evaluations += spent_a + spent_b
        details = {"value": float(value), "raised_to": float(raised), "loss": base_loss, "raised_loss": raised_loss}
        if raised_loss > base_loss:
            status, summary = PASS, (f"{reg} {value:g} -> {raised:g} raised the loss {base_loss:.10g} -> "
                                     f"{raised_loss:.10g} (+{raised_loss - base_loss:.2g})")
        elif raised_loss == base_loss:
            status, summary = WARN, (f"{reg} {value:g} -> {raised:g} left the loss at {base_loss:.6g}: zero weights? "
                                     "(then the penalty is 0 at this point) or the loss ignores it")
        else:
            status, summary = FAIL, (f"{reg} {value:g} -> {raised:g} LOWERED the loss {base_loss:.6g} -> "
                                     f"{raised_loss:.6g}: the regularization term has the wrong sign")
        checks.append(SanityCheck("regularization raises the loss", status, summary, details))
    else:
        checks.append(SanityCheck("regularization raises the loss", SKIP, no_reg))

    # 3. overfit, and 4. update/parameter ratios on the way
    start, end = run.loss_before, run.loss_after
    target = overfit_below if overfit_below is not None else start / overfit_factor
    how = f"below {overfit_below:g}" if overfit_below is not None else f"by {overfit_factor:g}x"
    details = {"steps": run.steps, "optimizer": optimizer, "lr": run.lr, "loss_before": start, "loss_after": end}
    if not math.isfinite(end):
        checks.append(SanityCheck("overfit", FAIL, f"the loss became {end} after {run.steps} {optimizer} steps at lr "
                                  f"{run.lr:.2g}; give a smaller --lr", details))
    elif end <= target:
        checks.append(SanityCheck("overfit", PASS, f"{optimizer}, lr {run.lr:.2g}: loss {start:.4g} -> {end:.4g} in "
                                  f"{run.steps} steps (needed: {how})", details))
    else:
        checks.append(SanityCheck("overfit", FAIL, f"{optimizer}, lr {run.lr:.2g}: loss only {start:.4g} -> "
                                  f"{end:.4g} in {run.steps} steps (needed: {how}). If a larger --lr or more "
                                  "--steps does not help, do not train on the full set yet", details))
    low = {k: v for k, v in run.update_ratios.items() if v < UPDATE_RATIO_LOW}
    high = {k: v for k, v in run.update_ratios.items() if v > UPDATE_RATIO_HIGH}
    ratios = ", ".join(f"{k} {v:.1e}" for k, v in run.update_ratios.items())
    if not run.update_ratios:
        checks.append(SanityCheck("update/param ratio", SKIP, "no updates were made"))
    elif low or high:
        parts = ([f"too low in {', '.join(low)} (learning rate too low?)"] if low else []) + \
                ([f"too high in {', '.join(high)} (learning rate too high?)"] if high else [])
        checks.append(SanityCheck("update/param ratio", WARN, f"median norm(update)/norm(param) per step: {ratios}; "
                                  f"{'; '.join(parts)}; around 1e-3 is healthy", dict(run.update_ratios)))
    else:
        checks.append(SanityCheck("update/param ratio", PASS, f"median norm(update)/norm(param) per step: {ratios} "
                                  "(around 1e-3 is healthy)", dict(run.update_ratios)))
    return SanityReport(as_is.name, tuple(checks), run.losses, evaluations, time.perf_counter() - started, strict)
