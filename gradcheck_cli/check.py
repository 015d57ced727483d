"""``check(...) -> Report``: load, plan, evaluate, compare, grade, report."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from .evaluate import Evaluator
from .grading import grade_block, grade_estimate, verdict
from .model import Model, from_functions, load_model
from .numeric import Estimate, Probe, estimate
from .report import Report
from .sampling import plan
from .settings import DEFAULT_DIRECTIONS, DEFAULT_SAMPLES, DEFAULT_SEED, DEFAULT_STEP, Settings, Thresholds


def check(
    model: str | Model | None = None,
    *,
    loss: Callable | None = None,
    grad: Callable | None = None,
    loss_and_grad: Callable | None = None,
    params: Any = None,
    params_file: str | None = None,
    h: float = DEFAULT_STEP,
    samples: int | None = DEFAULT_SAMPLES,
    directions: int = DEFAULT_DIRECTIONS,
    seed: int = DEFAULT_SEED,
    thresholds: Thresholds | None = None,
    track_kinks: bool = True,
) -> Report:
    """Check a model's analytic gradient against centered finite differences.

    ``model`` is a target (``"file.py"``, ``"pkg.module"``, either with
    ``":ATTR"``) or a loaded :class:`Model`; or leave it out and pass
    ``loss`` and ``grad`` (or ``loss_and_grad``) and ``params`` directly.
    ``samples=None`` checks every coordinate. The caller's arrays are never
    modified: the check works on float64 copies.

    Raises :class:`~gradcheck_cli.errors.ModelError` when the model is
    unusable; a wrong gradient is not an exception but a ``fail`` verdict.
    """
    started = time.perf_counter()
    settings = Settings(h=h, samples=samples, directions=directions, seed=seed,
                        thresholds=thresholds if thresholds is not None else Thresholds())
    if isinstance(model, Model):
        loaded = model
    elif isinstance(model, str):
        loaded = load_model(model, params_file=params_file, seed=seed)
    elif model is None:
        loaded = from_functions(loss=loss, grad=grad, loss_and_grad=loss_and_grad, params=params)
    else:
        raise TypeError(f"model must be a target string or a Model, not {type(model).__name__}")

    plans = plan(loaded.params, samples=settings.samples, directions=settings.directions, seed=settings.seed)
    with Evaluator(loaded, seed=settings.seed, track_kinks=track_kinks) as evaluator:
        base = evaluator.base_point()
        estimates: list[tuple[list[Estimate], list[Estimate]]] = []
        for block in plans:
            coordinates = [estimate(evaluator, Probe(block.name, index=int(i)), base, settings.h) for i in block.indices]
            along = [
                estimate(evaluator, Probe(block.name, direction=v, number=k), base, settings.h)
                for k, v in enumerate(block.directions)
            ]
            estimates.append((coordinates, along))

    # The loss has kinks if tracking saw a kink operation, or any probe
    # crossed one; then 1e-7..1e-4 is an acceptable error (the notes' band).
    kinked = bool(base.trace) or any(e.crossed_kink for c, d in estimates for e in c + d)
    thresholds_ = settings.thresholds
    blocks = []
    for block, (coordinates, along) in zip(plans, estimates):
        dims = tuple(
            grade_estimate(e, index=tuple(int(j) for j in np.unravel_index(i, block.shape)), direction=None,
                           kinked=kinked, thresholds=thresholds_)
            for i, e in zip(block.indices, coordinates)
        )
        directional = tuple(
            grade_estimate(e, index=None, direction=k, kinked=kinked, thresholds=thresholds_)
            for k, e in enumerate(along)
        )
        blocks.append(grade_block(block.name, block.shape, block.size, dims, directional, thresholds_))

    warnings, notes = [], list(loaded.notes)
    for what, dtype in evaluator.low_precision.items():
        if what == "loss":
            warnings.append(
                f"the loss is computed in {dtype}: it carries about {_digits(dtype)} significant digits, so a "
                "finite difference over a small step keeps few of them and a correct gradient can show "
                "relative errors near 1e-2; compute the loss in float64 when checking"
            )
        else:
            notes.append(f"the {what} was {dtype}; compared after conversion to float64")
    for text, count in evaluator.model_warnings.items():
        notes.append(f"the model raised {text} ({count} of {evaluator.evaluations} calls)")
    blocks_ = tuple(blocks)
    return Report(
        model=loaded.name,
        source=loaded.source,
        verdict=verdict(blocks_, tuple(warnings)),
        evaluations=evaluator.evaluations,
        seconds=time.perf_counter() - started,
        settings=settings,
        kinked=kinked,
        blocks=blocks_,
        warnings=tuple(warnings),
        notes=tuple(notes),
    )


def _digits(dtype: str) -> int:
    return int(np.finfo(np.dtype(dtype)).precision)
