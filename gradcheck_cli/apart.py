"""Blocks checked apart, as one report: a model whose loss is a sum of
independent terms, one per block (a Jacobian's or Hessian's rows,
``blocks_apart`` on its adapter), has each block checked as a model of its
own, so with its own noise and scale (summed, a row of e^20 rounds away
a row of e^-20's differences); pipeline._check_apart runs those checks,
and this module says which blocks it checks and makes their reports the
model's one."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Iterable

import numpy as np

from .model import Model, provider
from .report import FAIL, ZERO, BlockResult, Report
from .settings import ROWS_APART_CHECKED, ROWS_APART_NAMED, ROWS_APART_STREAM, Settings
from .verdict.grading import ALL_ZERO, verdict


def rows_checked(loaded: Model, settings: Settings) -> tuple[set[str], str | None]:
    """The blocks apart to check: every one, or where the target's ``rows``
    (one matrix's rows or columns) are more than ROWS_APART_CHECKED and
    --samples is not all, a seeded sample of them (the same at every
    point); and the note saying so."""
    names = list(loaded.params)
    target = provider(loaded, "blocks_apart")
    rows = [name for name in getattr(target, "rows", names) if name in loaded.params]
    if settings.samples is None or len(rows) <= ROWS_APART_CHECKED:
        return set(names), None
    rng = np.random.default_rng([settings.seed, ROWS_APART_STREAM])
    sample = {rows[i] for i in rng.choice(len(rows), size=ROWS_APART_CHECKED, replace=False)}
    what = getattr(target, "blocks_apart", "blocks")
    return (set(names) - set(rows)) | sample, (
        f"{ROWS_APART_CHECKED} of the {len(rows)} {what} checked, a seeded sample (each {what[:-1]} is a check "
        f"of its own); --samples all checks every one")


def merged(reports: list[Report], target: Any, unchecked: Iterable[str] = ()) -> Report:
    """Checks of one model's blocks apart as the model's one report: its
    blocks each as its own check found it, the verdict the worst of theirs,
    the evaluations and time summed; what several say, said once."""
    def once(texts) -> tuple[str, ...]:
        return tuple(dict.fromkeys(texts))

    first = reports[0]
    stopped = next((r.stopped for r in reports if r.stopped is not None), None)
    blocks = [b for r in reports for b in r.blocks]
    warnings = once(w for r in reports for w in r.warnings)
    # "A check of zeros proves nothing" is said of what the user asked to
    # verify, the model: a row exactly zero beside rows that were measured
    # is a zero element of the derivative, as it was in one block.
    def zero(block: BlockResult) -> bool:
        return any(ALL_ZERO in w for w in block.warnings)

    if not all(zero(b) for b in blocks):
        blocks = [dataclasses.replace(b, grade=ZERO, warnings=tuple(w for w in b.warnings if ALL_ZERO not in w))
                  if zero(b) else b for b in blocks]
    shared = shared_elements(blocks, getattr(target, "blocks_apart", ""))
    if shared:
        # Said once for the matrix: each failing row's own "the wrong element is element c" is that hint again.
        blocks = [dataclasses.replace(b, diagnosis=None) if b.grade == FAIL and b.diagnosis is not None
                  and b.diagnosis.kind == "confined" else b for b in blocks]
    return dataclasses.replace(
        first,
        verdict=verdict(tuple(blocks), warnings),
        evaluations=sum(r.evaluations for r in reports),
        seconds=sum(r.seconds for r in reports),
        kinked=any(r.kinked for r in reports),
        blocks=tuple(blocks),
        warnings=warnings,
        notes=once(n for r in reports for n in r.notes),
        hints=once(h for r in reports for h in r.hints) + shared,
        loss=sum(r.loss for r in reports),  # (the model's loss: the sum of its blocks' terms)
        loss_noise=max(r.loss_noise for r in reports),
        stopped=stopped,
        unchecked=tuple(b for r in reports for b in r.unchecked) + tuple(unchecked),
    )


def partial(done: list[Report], whole: Model, planned: set[str], timed_out: bool, began: float) -> Report | None:
    """A stopped check of blocks apart: those it finished (the last one
    perhaps in part), as one report, partial, said of the whole."""
    if not done:
        return None
    reached = {b.name for r in done for b in r.blocks}
    unreached = [n for n in whole.params if n in planned and n not in reached]
    report = merged(done, provider(whole, "blocks_apart"), unchecked=unreached)
    reason = f"{'timed out' if timed_out else 'interrupted'} after {time.perf_counter() - began:.1f} s"
    said = tuple(r.stopped for r in done if r.stopped is not None)  # (a block's own, of its own time)
    warnings = tuple(w for w in report.warnings if not w.startswith(said)) + (
        f"{reason}: this report is partial" + (f"; not checked: {', '.join(unreached)}" if unreached else ""),)
    return dataclasses.replace(report, stopped=reason, warnings=warnings, verdict=verdict(report.blocks, warnings))


def shared_elements(blocks: list[BlockResult], apart: Any) -> tuple[str, ...]:
    """Where several blocks apart fail at the same elements and nowhere
    else: a matrix's rows (``apart == "rows"``) wrong in one column, or its
    columns in one row, said once for the matrix (naming a few of them:
    a Jacobian of 500 residuals is one line)."""
    failed = [b for b in blocks if b.grade == FAIL]
    wrong = [frozenset(d.index for d in b.dims if d.grade == FAIL and d.index is not None) for b in failed]
    if len(failed) < 2 or not wrong[0] or any(w != wrong[0] for w in wrong):
        return ()
    elements = sorted(wrong[0])
    across = {"rows": "column", "columns": "row"}.get(apart, "element")
    where = ", ".join(str(i[0]) if len(i) == 1 else str(list(i)) for i in elements)
    names = [b.name for b in failed]
    several = "" if len(names) <= ROWS_APART_NAMED else f" and {len(names) - ROWS_APART_NAMED} more"
    which = f"{len(names)} {apart or 'blocks'} ({', '.join(names[:ROWS_APART_NAMED])}{several})"
    passed = len([b for b in blocks if b.grade != FAIL])
    others = f"; the other {passed} agree" if passed else ""
    return (f"{which} each fail at the same element{'s' if len(elements) > 1 else ''} and no other{others}: "
            f"{across}{'s' if len(elements) > 1 else ''} {where} of the matrix is wrong",)
