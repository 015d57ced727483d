"""``check(...) -> Report``: load, plan, evaluate, compare, grade, report."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .drilldown import drill_down
from .errors import CheckTimeout, Interrupted, ModelError, StopSignal
from .evaluate import BasePoint, Evaluator
from .executors import Auto, DaskCluster, InProcess, Job, ProcessPool, recipe_for, resolve_jobs
from .grading import grade_block, grade_estimate, judge, measurable, verdict
from .model import Model, from_functions, frozen_copies, load_model
from .numeric import Estimate, Noise, Probe, loss_noise
from .process_state import borrows_process
from .report import FAIL, UNVERIFIED, BlockResult, Report, Warmup
from .sampling import BlockPlan, plan
from .settings import (
    DEFAULT_DIRECTIONS,
    DEFAULT_MAX_EVALS,
    DEFAULT_METHOD,
    DEFAULT_SAMPLES,
    DEFAULT_SEED,
    EPS,
    Settings,
    Thresholds,
)

# Loss noise above this many ulps means the loss loses precision somewhere
# (float32 inside, cancellation of large terms): worth a warning, since it
# limits what any finite difference can verify.
NOISY_LOSS_ULPS = 1e4


def resolve(
    model: str | Model | None = None,
    *,
    loss: Callable | None = None,
    grad: Callable | None = None,
    loss_and_grad: Callable | None = None,
    params: Any = None,
    params_file: str | None = None,
    seed: int = DEFAULT_SEED,
    overrides: dict[str, str] | None = None,
) -> Model:
    """A Model from a target, a loaded Model, or functions and params."""
    if overrides and not isinstance(model, str):
        raise ModelError("--set (overrides) needs a model file or module: it sets the module's constants")
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        return load_model(model, params_file=params_file, seed=seed, overrides=overrides)
    if model is None:
        return from_functions(loss=loss, grad=grad, loss_and_grad=loss_and_grad, params=params)
    raise TypeError(f"model must be a target string or a Model, not {type(model).__name__}")


@dataclass
class _BlockEstimates:
    plan: BlockPlan
    coordinates: list[tuple[int, Estimate]] = field(default_factory=list)  # (flat index, estimate)
    directions: list[Estimate] = field(default_factory=list)
    drilled: set[int] = field(default_factory=set)  # coordinates found by drill-down


@borrows_process
def check(
    model: str | Model | None = None,
    *,
    loss: Callable | None = None,
    grad: Callable | None = None,
    loss_and_grad: Callable | None = None,
    params: Any = None,
    params_file: str | None = None,
    h: float | str | None = None,
    samples: int | None = DEFAULT_SAMPLES,
    directions: int = DEFAULT_DIRECTIONS,
    seed: int = DEFAULT_SEED,
    thresholds: Thresholds | None = None,
    track_kinks: bool = True,
    method: str = DEFAULT_METHOD,
    max_evals: int = DEFAULT_MAX_EVALS,
    progress: Callable[[int, int], None] | None = None,
    timeout: float | None = None,
    overrides: dict[str, str] | None = None,
    warmup: int = 0,
    lr: float | None = None,
    jobs: int | str = 1,
    dask: Any = None,
) -> Report:
    """Check a model's analytic gradient against finite differences.

    ``model`` is a target (``"file.py"``, ``"pkg.module"``, either with
    ``":ATTR"``) or a loaded :class:`Model`; or leave it out and pass
    ``loss`` and ``grad`` (or ``loss_and_grad``) and ``params`` directly.
    ``samples=None`` checks every coordinate; ``method`` is ``central``,
    ``five-point`` or ``complex-step``; ``h`` a relative step, ``"auto"``,
    or None for the method's default. The caller's arrays are never
    modified: the check works on float64 copies.

    Raises :class:`~gradcheck_cli.errors.ModelError` when the model is
    unusable; a wrong gradient is not an exception but a ``fail`` verdict.
    ``progress(done, total)``, if given, is called after every probe.
    ``timeout`` (seconds) bounds the whole check, user code included: when
    it runs out, :class:`~gradcheck_cli.errors.CheckTimeout` is raised with
    a report of what finished; Ctrl-C raises
    :class:`~gradcheck_cli.errors.Interrupted` (a KeyboardInterrupt) likewise.

    The caller's process is left as it was found (global RNGs, streams,
    signal handlers, a pending interval timer, warning filters, loaded
    modules), and checks run one at a time: a call from a second thread
    waits for the first to finish.
    """
    started = time.perf_counter()
    settings = Settings(h=h, samples=samples, directions=directions, seed=seed, method=method,
                        thresholds=thresholds if thresholds is not None else Thresholds(),
                        max_evals=max_evals, track_kinks=track_kinks)
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    with _deadline(timeout) as out_of_time:
        loading = time.perf_counter()
        loaded = resolve(model, loss=loss, grad=grad, loss_and_grad=loss_and_grad, params=params,
                         params_file=params_file, seed=seed, overrides=overrides)
        load_seconds = time.perf_counter() - loading
        warmed = None
        if warmup:
            loaded, warmed = _warm_up(loaded, warmup, lr, settings.seed)
        plans = plan(loaded.params, samples=settings.samples, directions=settings.directions, seed=settings.seed)
        results: list[_BlockEstimates] = []
        base = evaluator = executor = None
        noise = Noise(0.0)
        try:
            with Evaluator(loaded, seed=settings.seed, track_kinks=settings.track_kinks) as evaluator:
                # Workers start now, to import the model while the start point is
                # evaluated here (--jobs auto decides later); whatever happens
                # from here on, they are stopped.
                executor = _executor(evaluator, loaded, model, params_file, seed, overrides, jobs, dask,
                                     load_seconds, settings.method, settings.h)
                finished = False
                try:
                    base = evaluator.base_point()
                    total = sum(len(block.indices) + len(block.directions) for block in plans)
                    executor.expect(total)  # --jobs auto decides here: workers start while the noise is measured
                    noise = _noise(evaluator, base, loaded, settings)
                    if settings.method == "complex-step":
                        from .crosscheck import cross_check  # imported where used: start-up

                        cross_check(evaluator, base, plans, settings.seed, loaded.source)
                    done = [0]

                    def step() -> None:
                        done[0] += 1
                        out_of_time()  # between probes, where no timer signal can reach
                        if progress is not None:
                            progress(min(done[0], total), total)

                    executor.job = Job(base, settings.method, settings.h, noise.sigma, settings.seed,
                                       settings.track_kinks, settings.thresholds, ties=base.ties)
                    results += [_BlockEstimates(block) for block in plans]
                    _evaluate_blocks(evaluator, settings, step, results, executor)
                    evaluator.verify_all()
                    finished = True
                finally:
                    executor.close(kill=not finished)
        except (KeyboardInterrupt, StopSignal) as stop:
            elapsed = time.perf_counter() - started
            timed_out = isinstance(stop, StopSignal)
            reason = f"timed out after {elapsed:.1f} s" if timed_out else f"interrupted after {elapsed:.1f} s"
            partial = None
            if base is not None:
                started_blocks = [r for r in results if r.coordinates or r.directions]
                checked = {r.plan.name for r in started_blocks}
                unreached = [b.name for b in plans if b.name not in checked]
                partial = _report(loaded, settings, base, started_blocks, evaluator, noise, elapsed,
                                  stopped=reason, unreached=unreached, executor=executor)
            if timed_out:
                finished = f"; finished {len(partial.blocks)} of {len(plans)} blocks" if partial else \
                    " before the first loss evaluation finished"
                raise CheckTimeout(f"{loaded.name}: {reason}{finished}", partial) from None
            raise Interrupted(partial) from None
    return _report(loaded, settings, base, results, evaluator, noise, time.perf_counter() - started, warmup=warmed,
                   executor=executor)


def _warm_up(model: Model, steps: int, lr: float | None, seed: int) -> tuple[Model, Warmup]:
    """The model moved by ``steps`` plain SGD steps, and what they did."""
    if steps < 0:
        raise ValueError(f"warmup must be 0 or more steps, got {steps}")
    from .training import train  # imported where used: start-up

    with Evaluator(model, seed=seed, track_kinks=False) as evaluator:
        training = train(evaluator, steps, optimizer="sgd", lr=lr, momentum=0.0)
    if not np.isfinite(training.loss_after):
        raise ModelError(f"{model.name}: the loss became {training.loss_after} during --warmup after "
                         f"{training.steps} steps at lr {training.lr:.2g}; give a smaller --lr")
    warmed = Warmup(training.steps, training.lr, training.loss_before, training.loss_after, evaluator.evaluations)
    return dataclasses.replace(model, params=frozen_copies(training.params)), warmed


@contextlib.contextmanager
def _deadline(seconds: float | None):
    """Stop the check after ``seconds``: a real-time timer interrupts user
    code that never returns (main thread only, where signals arrive); the
    yielded function also checks between probes, everywhere."""
    if seconds is None:
        yield lambda: None
        return
    ends = time.monotonic() + seconds

    def out_of_time() -> None:
        if time.monotonic() >= ends:
            raise StopSignal()

    use_timer = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not use_timer:
        yield out_of_time
        return

    def on_alarm(signum, frame):
        raise StopSignal()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    pending, interval = signal.setitimer(signal.ITIMER_REAL, seconds)  # the caller's timer, if any
    started = time.monotonic()
    try:
        yield out_of_time
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if pending > 0:
            # The caller's timer goes on; one due meanwhile fires at once.
            left = pending - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), interval)


def _executor(evaluator, loaded, model, params_file, seed, overrides, jobs, dask, load_seconds, method, h):
    """Where the probes will be estimated (its `job` is set once the start point is known)."""
    def recipe():
        return recipe_for(loaded, model if isinstance(model, str) else None, params_file, seed, overrides)

    if dask is None and jobs == "auto":
        return Auto(evaluator, recipe, load_seconds, method, h)
    workers = resolve_jobs(jobs)
    if dask is None and workers == 1:
        return InProcess(evaluator)
    recipe = recipe()
    if dask is not None:
        return DaskCluster(evaluator, recipe, dask)
    return ProcessPool(evaluator, recipe, workers)


def _noise(evaluator: Evaluator, base: BasePoint, model: Model, settings: Settings) -> Noise:
    if settings.method == "complex-step":
        # No differences of f are taken: its noise does not matter.
        return Noise(EPS * abs(base.loss), scale=abs(base.loss))
    largest = max(model.params, key=lambda name: model.params[name].size)
    return loss_noise(evaluator, base, largest, settings.seed)


def _evaluate_blocks(evaluator: Evaluator, settings: Settings, step: Callable[[], None],
                     results: list[_BlockEstimates], executor) -> None:
    """Fill ``results``: every block's sampled probes go to the executor at
    once (no idle workers at block boundaries), each estimate landing in its
    block as it arrives (so an interrupted check keeps what finished); then
    drill-down, block by block, here."""
    placed: list[tuple[_BlockEstimates, int | None]] = []  # (block, flat index or None for a direction)
    probes: list[Probe] = []
    for result in results:
        block = result.plan
        for i in block.indices:
            placed.append((result, int(i)))
            probes.append(Probe(block.name, index=int(i)))
        for k in range(len(block.directions)):
            placed.append((result, None))
            probes.append(Probe(block.name, direction=block.directions.ref(k), number=k))

    def collect(position: int, found: Estimate) -> None:
        result, index = placed[position]
        if index is None:
            result.directions.append(found)
        else:
            result.coordinates.append((index, found))
        step()

    executor.estimates(probes, collect)

    def measure(probe: Probe) -> Estimate:
        found = executor.job.estimate(evaluator, probe)
        step()
        return found

    for result in results:
        _drill_down(result, settings, measure)


def _drill_down(result: _BlockEstimates, settings: Settings, measure: Callable[[Probe], Estimate]) -> None:
    """Screen, then drill down: a direction that fails while every sampled
    coordinate passes points at wrong elements sampling missed."""
    block = result.plan
    thresholds = settings.thresholds
    if settings.max_evals and not any(judge(e, thresholds)[0] == FAIL for _, e in result.coordinates):
        budget = settings.max_evals
        checked = {i for i, _ in result.coordinates}
        for k, along in enumerate(result.directions):
            if budget <= 0 or judge(along, thresholds)[0] != FAIL:
                continue
            found, spent = drill_down(block.name, block.directions[k], measure, budget=budget, thresholds=thresholds,
                                      skip=checked)
            budget -= spent
            for index, e in found:
                checked.add(index)
                result.drilled.add(index)
                result.coordinates.append((index, e))
    result.coordinates.sort(key=lambda pair: pair[0])


def _report(loaded: Model, settings: Settings, base: BasePoint, results: list[_BlockEstimates],
            evaluator: Evaluator, noise: Noise, seconds: float, *, stopped: str | None = None,
            unreached: list[str] = (), warmup: Warmup | None = None, executor=None) -> Report:
    # The loss has kinks if tracking saw a kink operation, or any probe
    # crossed one. Grading is per dimension: only a probe that crossed a
    # kink, or had one near, is graded by the bands for kinks.
    kinked = bool(base.trace) or any(
        e.crossed_kink for r in results for e in [c for _, c in r.coordinates] + r.directions
    )
    thresholds = settings.thresholds
    # What "small" means: a block's largest value clearly above its budget;
    # the whole check's for a block that has none (a bias before batchnorm).
    scales = [max((measurable(e) for e in [c for _, c in r.coordinates] + r.directions), default=0.0)
              for r in results]
    overall = max(scales, default=0.0)
    blocks = []
    for r, scale in zip(results, scales):
        shape = r.plan.shape
        scale = scale or overall
        dims = tuple(
            grade_estimate(e, index=tuple(int(j) for j in np.unravel_index(i, shape)), direction=None,
                           thresholds=thresholds, scale=scale, drilled=i in r.drilled)
            for i, e in r.coordinates
        )
        directional = tuple(
            grade_estimate(e, index=None, direction=k, thresholds=thresholds, scale=scale)
            for k, e in enumerate(r.directions)
        )
        blocks.append(grade_block(r.plan.name, shape, r.plan.size, dims, directional, thresholds))

    warnings, notes = [], list(loaded.notes)
    for what, dtype in evaluator.low_precision.items():
        if what == "loss":
            warnings.append(
                f"the loss is computed in {dtype}: it carries about {_digits(dtype)} significant digits, so a "
                "finite difference over a small step keeps few of them; error budgets account for it, but few "
                "values can be verified to the notes' 1e-7: compute the loss in float64 when checking"
            )
        else:
            notes.append(f"the {what} was {dtype}; compared after conversion to float64")
    if "loss" not in evaluator.low_precision:  # else said above
        warning, note = _about_noise(noise, blocks)
        warnings += [warning] if warning else []
        notes += [note] if note else []
    if stopped is not None:
        warnings.append(f"{stopped}: this report is partial"
                        + (f"; not checked: {', '.join(unreached)}" if unreached else ""))
    if getattr(executor, "note", None):
        notes.append(executor.note)
    for text, count in evaluator.model_warnings.items():
        notes.append(f"the model raised {text} ({count} of {evaluator.evaluations} calls)")
    blocks_ = tuple(blocks)
    return Report(
        model=loaded.name,
        source=loaded.source,
        verdict=verdict(blocks_, tuple(warnings)),
        evaluations=evaluator.evaluations + (warmup.evaluations if warmup else 0),
        seconds=seconds,
        settings=settings,
        kinked=kinked,
        blocks=blocks_,
        warnings=tuple(warnings),
        notes=tuple(notes),
        loss=base.loss,
        loss_noise=noise.sigma,
        source_line=loaded.source_line,
        stopped=stopped,
        warmup=warmup,
    )


def _about_noise(noise: Noise, blocks: list[BlockResult]) -> tuple[str | None, str | None]:
    """A warning, or only a note, about the loss's rounding noise."""
    sigma = noise.sigma
    if noise.float32:
        # Always a warning, as for a float32 return value: the notes' advice
        # is to check in float64.
        return (f"the loss computes in float32: every value it returned is a float32 number (rounded to about "
                f"{_digits('float32')} digits, {sigma:.1e} here), though returned as float64; error budgets "
                "account for it, but few values can be verified to the notes' 1e-7: compute the loss in float64 "
                "when checking"), None
    if sigma <= NOISY_LOSS_ULPS * EPS * noise.scale:
        return None, None
    noisy = (f"the loss is noisy: it varies by about {sigma:.1e} ({sigma / max(noise.scale, 1e-300):.0e} relative) "
             "between nearby points, far more than float64 rounding (float32 inside the model, or large terms "
             "cancelling?)")
    if any(d.grade == UNVERIFIED for b in blocks for d in b.dims + b.directions):
        return noisy + "; it leaves some values unverified (reasons above)", None
    # Noise relative to the loss is not noise relative to its terms (a loss
    # that is 0 at the point, large terms cancelling exactly to a few ulps):
    # while every value is verified it is only worth knowing.
    return None, noisy + "; every value was still verified within its error budget"


def _digits(dtype: str) -> int:
    return int(np.finfo(np.dtype(dtype)).precision)
