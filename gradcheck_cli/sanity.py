"""The pre-training sanity gate, and the regularization split.

``sanity(...)`` runs the course notes' checks before a long training:
1. the initial loss is what chance predicts (softmax ln C, SVM C - 1);
2. raising the regularization strength raises the loss;
3. the model can overfit its own (small) data: the loss falls tenfold;
4. during that run, each block's update/parameter ratio is near 1e-3.

``regularization_split(...)`` checks the gradient as it is and with the
regularization strength set to 0, and measures how much of the gradient
the regularization makes up: when it dominates, a bug in the data
gradient can hide under it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import ModelError
from .evaluate import Evaluator
from .pipeline import check, resolve
from .process_state import borrows_process
from .report import FAIL, PASS, WARN, Report, _number
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
    status: str  # pass | warn | fail | skip
    summary: str
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "summary": self.summary,
                "details": {k: _number(v) if isinstance(v, float) else v for k, v in self.details.items()}}


@dataclass(frozen=True)
class SanityReport:
    """The gate's checks, the overfit run's loss curve, and what it cost."""

    model: str
    checks: tuple[SanityCheck, ...]
    losses: tuple[float, ...]  # loss before each overfit step
    evaluations: int
    seconds: float

    @property
    def verdict(self) -> str:
        worst = max((c.status for c in self.checks), key=_RANK.__getitem__, default=PASS)
        return PASS if worst == SKIP else worst

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "model": self.model, "evaluations": self.evaluations,
                "seconds": round(self.seconds, 6), "checks": [c.to_dict() for c in self.checks],
                "losses": [_number(x) for x in self.losses]}


def _loss_at_start(model) -> tuple[float, int, dict]:
    with Evaluator(model, seed=DEFAULT_SEED, track_kinks=False) as evaluator:
        loss, gradient = evaluator.at(model.params)
    return loss, evaluator.evaluations, gradient


def _current_value(model, name: str) -> Any:
    namespace = model.namespace
    if namespace is None or not hasattr(namespace, name):
        raise ModelError(f"--reg {name}: {model.name} has no module-level name {name!r}")
    value = getattr(namespace, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelError(f"--reg {name}: {model.name} has {name} = {value!r}, not a number")
    return value


@borrows_process
def sanity(
    model: str,
    *,
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
    seed: int = DEFAULT_SEED,
    params_file: str | None = None,
    overrides: dict[str, str] | None = None,
) -> SanityReport:
    """Run the sanity gate on a model file or module (see the module docstring).

    With ``reg``, the initial-loss and overfit checks run with that constant
    set to 0 (the notes: no regularization), and the regularization check
    compares the loss at its value and at ten times it.
    """
    started = time.perf_counter()
    overrides = dict(overrides or {})
    as_is = resolve(model, params_file=params_file, seed=seed, overrides=overrides)
    data_overrides = {**overrides, reg: "0"} if reg else overrides
    data_only = resolve(model, params_file=params_file, seed=seed, overrides=data_overrides) if reg else as_is
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
        stronger = resolve(model, params_file=params_file, seed=seed, overrides={**overrides, reg: repr(raised)})
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
        checks.append(SanityCheck("regularization raises the loss", SKIP, "give --reg NAME (the strength's constant)"))

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
    return SanityReport(as_is.name, tuple(checks), run.losses, evaluations, time.perf_counter() - started)


@dataclass(frozen=True)
class RegularizationSplit:
    """The check as it is and with the regularization strength at 0."""

    name: str  # the constant
    value: float  # its value in the model
    as_is: Report
    data_only: Report
    share: dict[str, float]  # per block: |g_reg| / (|g_data| + |g_reg|)
    overall: float  # the same over all blocks

    @property
    def dominates(self) -> bool:
        return self.overall > 0.5

    @property
    def verdict(self) -> str:
        worst = max((self.as_is.verdict, self.data_only.verdict), key=_RANK.__getitem__)
        return WARN if worst == PASS and self.dominates else worst

    @property
    def model(self) -> str:
        return self.as_is.model

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "model": self.model, "as_is": self.as_is.to_dict(),
                "data_only": self.data_only.to_dict(),
                "regularization": {"name": self.name, "value": self.value, "share": self.share,
                                   "overall": self.overall, "dominates": self.dominates}}


@borrows_process
def regularization_split(model: str, name: str, *, overrides: dict[str, str] | None = None,
                         params_file: str | None = None, seed: int = DEFAULT_SEED,
                         **options: Any) -> RegularizationSplit:
    """Check ``model`` as it is and with ``name`` = 0 (the data loss alone), and
    measure the regularization's share of the gradient at the start."""
    overrides = dict(overrides or {})
    as_is_model = resolve(model, params_file=params_file, seed=seed, overrides=overrides)
    value = _current_value(as_is_model, name)
    data_model = resolve(model, params_file=params_file, seed=seed, overrides={**overrides, name: "0"})
    _, _, total = _loss_at_start(as_is_model)
    _, _, data = _loss_at_start(data_model)
    share = {}
    reg_norm2 = data_norm2 = 0.0
    for block in total:
        r = float(np.linalg.norm(total[block] - data[block]))
        d = float(np.linalg.norm(data[block]))
        share[block] = r / (r + d) if r + d else 0.0
        reg_norm2 += r**2
        data_norm2 += d**2
    overall = math.sqrt(reg_norm2) / (math.sqrt(reg_norm2) + math.sqrt(data_norm2)) if reg_norm2 + data_norm2 else 0.0
    as_is = check(model, params_file=params_file, seed=seed, overrides=overrides, **options)
    data_only = check(model, params_file=params_file, seed=seed, overrides={**overrides, name: "0"}, **options)
    return RegularizationSplit(name, float(value), as_is, data_only, share, overall)
