"""Where probe estimates are computed: in this process, in a process pool
(--jobs N), or on a Dask cluster (--dask ADDRESS).

The parent does everything sequential (the start point, the loss noise,
drill-down); the probes of a block are independent, so they are sent out
in batches. A worker rebuilds the model from its :class:`Recipe` (once per
worker), is handed the exact parameters and the parent's start point (loss,
kink trace, gradient), and returns Estimates. Every evaluation is reseeded
as in the parent, so the results -- values, kink crossings, counts,
warnings -- are the same as in process: only the time differs.

numpy's global RNG and the kink tracker's recording state are per process,
so a worker process runs one batch at a time (``borrows_process``'s lock),
even where the cluster gives it several threads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import pickle
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .errors import ModelError, NondeterminismError, UserCodeError, exception_text
from .evaluate import BasePoint, Evaluator
from .model import Model, _split_target, from_functions, frozen_copies, load_model
from .verdict import taylor
from .verdict.grading import worth_tracking
from .verdict.noise import analytic_roundoff
from .verdict.numeric import STENCILS, Estimate, crosses_kink, estimate
from .verdict.probes import Probe
from .guard import exit_with_parent
from .process_state import borrows_process
from .settings import AUTO_STEPS, EPS, NONDETERMINISM_ULPS, Thresholds
from .structure import unflatten

# Batches per worker: enough that a slow batch does not leave the others
# idle at the end, few enough that per-task overhead (pickling, scheduling,
# ~1 ms for a pool, a few ms for Dask) stays small against ~10 ms losses.
BATCHES_PER_WORKER = 8


@dataclass(frozen=True)
class Recipe:
    """How a worker rebuilds the model, and the point to evaluate it at."""

    target: str | None  # a model file or module; None: the functions below
    params_file: str | None
    seed: int
    overrides: dict[str, str] | None
    params: dict[str, np.ndarray]  # the exact point (after any warm-up)
    single_array: bool
    functions: tuple[Callable | None, Callable | None, Callable | None] | None  # loss, grad, loss_and_grad
    source: str | None  # the parent's path of the model file, for kink crossings
    data_file: str | None = None  # --data
    structure: Any = None  # nested params' template (functions only: a loaded model knows its own)

    def build(self) -> Model:
        if self.target is not None:
            model = load_model(self.target, params_file=self.params_file, seed=self.seed, overrides=self.overrides,
                               data_file=self.data_file)
        else:
            loss, grad, loss_and_grad = self.functions
            params = self.params["params"] if self.single_array else \
                unflatten(self.structure, self.params) if self.structure is not None else self.params
            model = from_functions(loss=loss, grad=grad, loss_and_grad=loss_and_grad, params=params)
        return dataclasses.replace(model, params=frozen_copies(self.params))


@dataclass(frozen=True)
class Job:
    """What every batch of a check shares."""

    base: BasePoint
    method: str
    h: float | str
    sigma: float
    seed: int
    track_kinks: bool
    thresholds: Thresholds
    ties: bool = False  # kink operations are tied at the start point: every probe is tracked
    # Per block, per element, the analytic gradient's own rounding (noise.Noise.analytic).
    analytic: dict = dataclasses.field(default_factory=dict)
    # Per block, its largest sampled analytic value: what grading verifies against.
    references: dict = dataclasses.field(default_factory=dict)
    # Blocks estimated by central differences whatever ``method`` says: under
    # --method complex-step, those whose cross-check could not vouch for the
    # complex step (crosscheck.py); a method nobody compared is not trusted.
    central_blocks: frozenset = frozenset()

    def method_for(self, block: str) -> tuple[str, float | str]:
        """The method and relative step ``block``'s probes are estimated with."""
        if block in self.central_blocks and self.method != "central":
            from .settings import DEFAULT_STEPS  # (the import line is shared; the step is the central default)

            return "central", DEFAULT_STEPS["central"]
        return self.method, self.h

    def estimate(self, evaluator: Evaluator, probe: Probe) -> Estimate:
        """The probe's estimate, with this check's method, step and noise.

        Winner tracking runs only where it pays: the probe is estimated
        untracked first (the numerical kink test runs on every probe), and
        estimated again with tracking where that test or the grade flags it
        (:func:`~gradcheck_cli.verdict.grading.worth_tracking`), so the report still
        names the line and the elements that flipped. A clean pass needs no
        tracking, nor does a loss that ran no kink operation at the start.
        Tracking costs Python code on every numpy operation of the loss, 10x
        and more for a loss that loops over examples. The complex step stays
        tracked: tracking is what tells its abs() of a complex number from an
        analytic function. So is every probe of a loss whose winners are tied
        at the start (``ties``): they flip on every probe, harmlessly, and the
        report says so.
        """
        probe = probe.resolved()  # a direction drawn now, dropped after
        method, h = self.method_for(probe.block)

        def run() -> Estimate:
            return estimate(evaluator, probe, self.base, method=method, h=h, sigma=self.sigma,
                            verify_to=self.thresholds.warn_above,
                            analytic_roundoff=analytic_roundoff(self.analytic.get(probe.block), probe), seed=self.seed,
                            reference=self.references.get(probe.block))

        if not self.track_kinks or method == "complex-step" or self.ties:
            return run()
        if not self.base.trace:
            # No kink operation ran at the start point, so none decides
            # anything near it either: nothing to track.
            with evaluator.tracking(False):
                return run()
        with evaluator.tracking(False):
            found = run()
        if not worth_tracking(found, self.thresholds):
            if found.taylor is None or found.taylor.outcome != taylor.WRONG:
                return found
            # A wrong value, judged on loss values where the loss has kink
            # operations: were they kink-free over the test's steps? Two
            # kinks crossed on opposite sides shift both one-sided slopes
            # alike, and no jump shows. Two tracked evaluations tell.
            spent = [0]
            crossed = crosses_kink(evaluator, probe, self.base, found.taylor.step, spent)
            found = dataclasses.replace(found, evaluations=found.evaluations + spent[0])
            if not crossed:
                return found
        tracked = run()
        return dataclasses.replace(tracked, evaluations=tracked.evaluations + found.evaluations)


@dataclass(frozen=True)
class BatchResult:
    estimates: list[Estimate]
    evaluations: int
    warnings: dict[str, int]
    low_precision: dict[str, str]


def recipe_for(model: Model, target: str | None, params_file, seed, overrides) -> Recipe:
    """The recipe of a loaded model; checks that it can be sent to workers."""
    functions = None if target is not None else (model.loss, model.grad, model.loss_and_grad)
    recipe = Recipe(target, params_file, seed, overrides, dict(model.params), model.single_array, functions,
                    model.source, model.data_file, model.structure)
    if functions is not None:
        try:
            pickle.dumps(functions)
        except Exception as exc:
            raise ModelError(
                "--jobs / --dask need a model file or module, or functions defined at a module's top level; "
                f"these cannot be sent to worker processes ({type(exc).__name__}: {exc})"
            ) from None
    return recipe


# -- the worker side -------------------------------------------------------------

_worker_models: dict[int, tuple[Recipe, Model]] = {}
_verified: set[int] = set()  # ids of the recipes whose start point this worker has confirmed


def _model_for(recipe: Recipe) -> Model:
    key = id(recipe)
    cached = _worker_models.get(key)
    if cached is None or cached[0] is not recipe:
        _worker_models.clear()  # one check at a time per worker
        _verified.clear()
        cached = (recipe, recipe.build())
        _worker_models[key] = cached
    return cached[1]


def _confirm_start_point(recipe: Recipe, evaluator: Evaluator, expected: float) -> None:
    """The loss at the start point here must be the parent's: a model whose
    data depend on the process (a vocabulary from list(set(words)), a seed
    from the pid) computes another function in every worker, and its
    differences would pass for derivatives. Once per worker and check; not
    counted, so the report stays that of --jobs 1."""
    if id(recipe) in _verified:
        return
    here = evaluator.loss().value
    evaluator.evaluations -= 1
    if not (here == expected or abs(here - expected) <= NONDETERMINISM_ULPS * EPS * max(abs(here), abs(expected))):
        raise NondeterminismError(
            f"the loss at the starting point is {expected!r} in gradcheck's process but {here!r} in a worker "
            f"process (pid {os.getpid()}): the model computes something that depends on the process it runs "
            "in, such as the order of a set of strings (it changes with PYTHONHASHSEED), the process id, or "
            "the time. Workers would check another function; make the model the same in every process "
            "(e.g. sorted(set(words))), or run without --jobs / --dask."
        )
    _verified.add(id(recipe))


@borrows_process
def run_batch(recipe: Recipe, job: Job, probes: Sequence[Probe]) -> BatchResult:
    """Estimate ``probes`` (a worker's task)."""
    model = _model_for(recipe)
    moved = recipe.source and model.source and model.source != recipe.source
    base = job.base
    if moved and base.trace is not None:
        # The parent's trace names its own copy of the file; compare like with like.
        base = dataclasses.replace(base, trace=[
            event._replace(filename=model.source) if event.filename == recipe.source else event
            for event in base.trace])
    job = dataclasses.replace(job, base=base)
    with Evaluator(model, seed=job.seed, track_kinks=job.track_kinks) as evaluator:
        _confirm_start_point(recipe, evaluator, job.base.loss)
        found = [job.estimate(evaluator, p) for p in probes]
        evaluator.verify_all()
    if moved:
        found = [_relocate(e, model.source, recipe.source) for e in found]
    return BatchResult(found, evaluator.evaluations, dict(evaluator.model_warnings),
                       dict(evaluator.low_precision))


def _relocate(e: Estimate, here: str, there: str) -> Estimate:
    """Name the parent's copy of the model file in kink crossings (a Dask
    worker imports an uploaded copy)."""
    if e.crossing is not None and e.crossing.filename == here:
        return dataclasses.replace(e, crossing=dataclasses.replace(e.crossing, filename=there))
    return e


_pool_state: dict[str, Any] = {}


def _pool_init(recipe: Recipe, parent: int) -> None:
    exit_with_parent(parent)  # a parent killed outright leaves no worker behind
    # Ctrl-C at a terminal reaches the whole process group: the parent stops
    # the workers; each of them printing its own KeyboardInterrupt would not help.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _pool_state["recipe"] = recipe
    try:
        _model_for(recipe)  # import the model once, while the parent finds its start point
    except ModelError as exc:
        # Said with the first batch: an initializer that raises only breaks
        # the pool, and the parent would learn nothing of why.
        _pool_state["error"] = str(exc)


def _pool_ready() -> bool:
    return "recipe" in _pool_state


def _pool_batch(job: Job, probes: Sequence[Probe]) -> BatchResult:
    if "error" in _pool_state:
        raise ModelError(f"in a worker process (--jobs), where the model is imported afresh: {_pool_state['error']}")
    return run_batch(_pool_state["recipe"], _with_shared_gradient(job), probes)


@dataclass(frozen=True)
class SharedBlock:
    """A gradient block in shared memory: sent to workers by name, not by value."""

    name: str
    shape: tuple[int, ...]


_attached: dict[str, tuple[Any, np.ndarray]] = {}


def _with_shared_gradient(job: Job) -> Job:
    """In a worker: the job with its SharedBlocks attached as arrays (once per worker)."""
    from multiprocessing import shared_memory

    gradient = {}
    for block, value in job.base.gradient.items():
        if isinstance(value, SharedBlock):
            if value.name not in _attached:
                memory = shared_memory.SharedMemory(name=value.name)
                _attached[value.name] = (memory, np.ndarray(value.shape, dtype=np.float64, buffer=memory.buf))
            value = _attached[value.name][1]
        gradient[block] = value
    return dataclasses.replace(job, base=dataclasses.replace(job.base, gradient=gradient))


# -- the parent side -------------------------------------------------------------

def batches(probes: Sequence[Probe], workers: int) -> list[list[Probe]]:
    """Contiguous batches, in order, BATCHES_PER_WORKER per worker."""
    if not probes:
        return []
    size = max(1, math.ceil(len(probes) / (workers * BATCHES_PER_WORKER)))
    return [list(probes[i:i + size]) for i in range(0, len(probes), size)]


class InProcess:
    """Estimates with the parent's own evaluator."""

    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator
        self.job: Job | None = None

    def expect(self, probes: int) -> None:
        """How many probes will come (after the start point): nothing to prepare."""

    def estimates(self, probes: Sequence[Probe], on_each: Callable[[int, Estimate], None]) -> None:
        for position, probe in enumerate(probes):
            on_each(position, self.job.estimate(self.evaluator, probe))

    def close(self, *, kill: bool = False) -> None:
        pass


class _Merging:
    """Sums what worker batches report into the parent's evaluator."""

    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator

    def expect(self, probes: int) -> None:
        """How many probes will come: the workers started already."""

    def merge(self, result: BatchResult, start: int, on_each: Callable[[int, Estimate], None]) -> int:
        """Account for a batch, hand on its estimates; the next batch's start."""
        self.evaluator.evaluations += result.evaluations
        for text, count in result.warnings.items():
            self.evaluator.model_warnings[text] = self.evaluator.model_warnings.get(text, 0) + count
        for what, dtype in result.low_precision.items():
            self.evaluator.low_precision.setdefault(what, dtype)
        for offset, found in enumerate(result.estimates):
            on_each(start + offset, found)
        return start + len(result.estimates)


class ProcessPool(_Merging):
    """A pool of ``jobs`` worker processes (spawned: no fork of a process that
    holds BLAS threads), each importing the model once."""

    def __init__(self, evaluator: Evaluator, recipe: Recipe, jobs: int):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        super().__init__(evaluator)
        self.jobs = jobs
        self.job: Job | None = None
        self.note: str | None = None  # for the report (a capped --jobs)
        self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_pool_init, initargs=(recipe, os.getpid()))
        self.shared: list[Any] = []
        # Start the workers now: they import the model while the parent
        # evaluates the start point and the loss noise. Each gets its share
        # of the cores for BLAS (read when numpy loads, so set for the spawn):
        # a threaded BLAS per worker oversubscribes the machine.
        with _blas_threads(max(1, (os.cpu_count() or 1) // jobs)):
            self.warming = [self.pool.submit(_pool_ready) for _ in range(jobs)]
        # The workers (all spawned by those submits), held here: the pool
        # forgets a dead one, and its exit status, as soon as it notices.
        self.workers: list = []
        self.workers = self._processes()

    def _processes(self) -> list:
        """Every worker the pool has had: those held, and any it started since."""
        current = (getattr(self.pool, "_processes", None) or {}).values()
        return self.workers + [p for p in current if p not in self.workers]

    def _shared_job(self) -> Job:
        """The job with its gradient in shared memory: sent with every batch,
        it then costs a few names instead of the gradient's bytes."""
        from multiprocessing import shared_memory

        gradient = {}
        for block, value in self.job.base.gradient.items():
            memory = shared_memory.SharedMemory(create=True, size=max(value.nbytes, 1))
            np.ndarray(value.shape, dtype=np.float64, buffer=memory.buf)[...] = value
            self.shared.append(memory)
            gradient[block] = SharedBlock(memory.name, value.shape)
        return dataclasses.replace(self.job, base=dataclasses.replace(self.job.base, gradient=gradient))

    def estimates(self, probes: Sequence[Probe], on_each: Callable[[int, Estimate], None]) -> None:
        from concurrent.futures.process import BrokenProcessPool

        position = 0
        try:
            job = self._shared_job()
            futures = [self.pool.submit(_pool_batch, job, chunk) for chunk in batches(probes, self.jobs)]
            for future in futures:
                position = self.merge(future.result(), position, on_each)
        except BrokenProcessPool:
            raise ModelError(self._death()) from None

    def _death(self) -> str:
        """Why the pool broke, as far as the workers' exit statuses tell."""
        ended = []
        processes = self._processes()
        # The pool's own thread reaps the dead too; whichever thread's wait
        # comes second sees no status at first: ask again for a moment.
        deadline = time.monotonic() + WORKER_EXIT_SECONDS
        while any(p.exitcode is None for p in processes) and time.monotonic() < deadline:
            time.sleep(0.02)
        for process in processes:
            code = process.exitcode
            if code is not None and code < 0:
                try:
                    ended.append(f"killed by {signal.Signals(-code).name}")
                except ValueError:
                    ended.append(f"killed by signal {-code}")
            elif code is not None:
                ended.append(f"exit status {code}")
        # The pool terminates the others once one is gone: those say nothing.
        ended = [e for e in ended if e != "killed by SIGTERM"] or ended
        how = f" ({', '.join(sorted(set(ended)))})" if ended else ""
        message = (f"a worker process of --jobs {self.jobs} ended{how} while running the model: a model must "
                   "return its values, never end the process (os._exit, a crash in a C extension, a signal)")
        from . import guard

        if not guard.active():  # called from a program of the user's, not the command line
            main = getattr(sys.modules.get("__main__"), "__file__", None)
            message += (". Or the program that called gradcheck could not start there: workers start afresh and "
                        + (f"import {os.path.basename(main)}, which must call check() only under "
                           "`if __name__ == '__main__':`" if main else
                           "import the program that called gradcheck, and one read from stdin or typed into an "
                           "interactive session cannot be; run it from a file")
                        + ", or use jobs=1")
        return message

    def close(self, *, kill: bool = False) -> None:
        processes = self._processes()
        if kill:
            for process in processes:
                process.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)
        # A worker whose model started a non-daemon thread never finishes
        # exiting: given a moment, it is terminated, then killed.
        ends = time.monotonic() + WORKER_EXIT_SECONDS
        for process in processes:
            process.join(timeout=max(0.0, ends - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=WORKER_EXIT_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        self.pool.shutdown(wait=True)  # (quick now: the pool's own thread ends with its workers)
        for memory in self.shared:
            memory.close()
            memory.unlink()
        self.shared.clear()


_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                          "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@contextlib.contextmanager
def _blas_threads(threads: int):
    """Processes spawned inside the block use ``threads`` BLAS threads,
    unless the user set a variable already (theirs is kept). The
    environment is given back afterwards."""
    saved = {name: os.environ.get(name) for name in _BLAS_THREAD_VARIABLES}
    if any(value is not None for value in saved.values()):
        yield
        return
    try:
        for name in _BLAS_THREAD_VARIABLES:
            os.environ[name] = str(threads)
        yield
    finally:
        for name in _BLAS_THREAD_VARIABLES:
            os.environ.pop(name, None)


class DaskCluster(_Merging):
    """Batches as tasks on a Dask distributed cluster. A model file is
    shipped to the workers with the client's upload_file; a dotted module
    must be importable there."""

    def __init__(self, evaluator: Evaluator, recipe: Recipe, address: Any):
        try:
            from distributed import Client
        except ImportError:
            raise ModelError("--dask needs the dask extra: pip install 'gradcheck-cli[dask]'") from None
        super().__init__(evaluator)
        self.own_client = not isinstance(address, Client)
        try:
            self.client = Client(address) if self.own_client else address
        except Exception as exc:
            raise ModelError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
        self.submitted: list[Any] = []  # every future of this run, cancelled when it ends
        if recipe.target is not None and recipe.source and _split_target(recipe.target)[0].endswith(".py"):
            # Workers import the uploaded copy by its module name.
            try:
                self.client.upload_file(recipe.source)
            except Exception as exc:  # the model's import raised on a worker
                self.close()
                name = os.path.basename(recipe.source)
                raise UserCodeError(f"importing {name} on the Dask workers failed: {type(exc).__name__}: "
                                    f"{exception_text(exc)}", exc, only=name) from None
            module = os.path.splitext(os.path.basename(recipe.source))[0]
            attr = _split_target(recipe.target)[1]
            recipe = dataclasses.replace(recipe, target=module + (f":{attr}" if attr else ""))
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self.recipe = self.client.scatter(recipe, broadcast=True)
        self.job: Job | None = None

    def estimates(self, probes: Sequence[Probe], on_each: Callable[[int, Estimate], None]) -> None:
        from concurrent.futures import CancelledError

        from distributed import KilledWorker

        job = self.client.scatter(self.job, broadcast=True)
        futures = [self.client.submit(run_batch, self.recipe, job, batch, pure=False)
                   for batch in batches(probes, self.workers)]
        self.submitted += futures
        position = 0
        try:
            for future in futures:  # in order, each as soon as it is done
                position = self.merge(future.result(), position, on_each)
        except (KilledWorker, CancelledError) as exc:  # (distributed's FutureCancelledError is a CancelledError)
            raise ModelError(
                f"a Dask worker died or stopped while evaluating the model ({type(exc).__name__}: {exc}); a model "
                "must return its values, never end the process or raise KeyboardInterrupt") from None

    def close(self, *, kill: bool = False) -> None:
        """Cancel whatever this run submitted. A task still running (a loss
        that never returns, stopped by --timeout or Ctrl-C) cannot be
        cancelled inside its worker, and would hold that worker -- and every
        later run's batches there -- for good: those workers are restarted
        (by their nannies)."""
        stuck: set[str] = set()
        pending = [f for f in self.submitted if not f.done()]
        if pending:
            with contextlib.suppress(Exception):
                keys = {f.key for f in pending}
                stuck = {worker for worker, running in self.client.processing().items() if keys & set(running)}
            with contextlib.suppress(Exception):
                self.client.cancel(pending, force=True)
        if stuck:
            try:
                self.client.restart_workers(list(stuck), timeout=DASK_RESTART_SECONDS)
            except Exception as exc:  # no nanny, or it did not come back in time
                import warnings

                warnings.warn(f"gradcheck: Dask worker(s) {', '.join(sorted(stuck))} still run a stopped task of "
                              f"this check and could not be restarted ({type(exc).__name__}: {exc})")
        self.submitted.clear()
        if self.own_client:
            self.client.close()


class Auto:
    """--jobs auto: worker processes only where they pay off.

    Nothing starts until the start point has timed the loss (its second,
    untracked call; :meth:`expect`), so workers start while the noise is
    measured, as they do for --jobs N. The probes' work in process is
    compared with a pool's: start-up (an interpreter, numpy and the model
    per worker) plus the work spread over the workers. The probes stay here
    unless the pool is predicted clearly faster (AUTO_MIN_GAIN); ``note``
    says which was chosen and why.

    A loss on a threaded BLAS is planned like any other: each worker gets
    its share of the cores (ProcessPool), and a BLAS's threads rarely speed
    one call up as much as separate calls on separate cores do (measured:
    2 threads 1.3x, 2 one-thread workers 1.64x; benchmarks/parallel.py).
    Their CPU time cannot tell: OpenBLAS threads spin while they wait.
    """

    def __init__(self, evaluator: Evaluator, recipe: Callable[[], Recipe], load_seconds: float, method: str,
                 h: float | str):
        self.evaluator = evaluator
        self.recipe = recipe
        self.load_seconds = load_seconds
        self.method, self.h = method, h
        self.inner: InProcess | ProcessPool | None = None
        self.job: Job | None = None
        self.note: str | None = None

    def expect(self, probes: int) -> None:
        """Decide, for ``probes`` probes, with the loss timed so far."""
        if self.inner is None:
            self.inner = self._choose(probes)
            self.inner.job = self._job

    def estimates(self, probes: Sequence[Probe], on_each: Callable[[int, Estimate], None]) -> None:
        self.expect(len(probes))
        self.inner.estimates(probes, on_each)

    def _choose(self, probes: int) -> "InProcess | ProcessPool":
        cores = os.cpu_count() or 1
        times = sorted(self.evaluator.loss_times)
        if cores < 2 or not times or not probes:
            self.note = "--jobs auto: in process (one core)" if cores < 2 else None
            return InProcess(self.evaluator)
        wall = times[len(times) // 2]
        work = probes * _evaluations_per_probe(self.method, self.h) * wall
        workers = cores
        start = WORKER_START_SECONDS + self.load_seconds
        pooled = start + work / workers
        if work < AUTO_MIN_GAIN * pooled:
            self.note = (f"--jobs auto: in process: the probes' ~{_seconds(work)} of loss calls would not pay for "
                         f"{workers} worker processes (~{_seconds(start)} to start)")
            return InProcess(self.evaluator)
        try:
            recipe = self.recipe()
        except ModelError as exc:
            self.note = f"--jobs auto: in process: {exc}"
            return InProcess(self.evaluator)
        self.note = (f"--jobs auto: {workers} worker processes for ~{_seconds(work)} of loss calls "
                     f"(predicted ~{_seconds(pooled)} with start-up)")
        return ProcessPool(self.evaluator, recipe, workers)

    def close(self, *, kill: bool = False) -> None:
        if self.inner is not None:
            self.inner.close(kill=kill)

    @property
    def job(self) -> Job | None:
        return self._job

    @job.setter
    def job(self, job: Job | None) -> None:
        # Drill-down's probes go through the chosen executor's job too.
        self._job = job
        if self.inner is not None:
            self.inner.job = job


def _evaluations_per_probe(method: str, h: float | str) -> int:
    if method == "complex-step":
        return 1
    return len(STENCILS[method]) * (len(AUTO_STEPS[method]) if h == "auto" else 1)


def _seconds(value: float) -> str:
    return f"{value:.2g} s"


# What starting a worker process costs before its first probe: an
# interpreter, numpy and gradcheck imported (~0.2-0.3 s on this project's
# machine), on top of importing the model (timed in the parent).
WORKER_START_SECONDS = 0.3
# How long Dask workers stuck in a stopped task get to restart.
DASK_RESTART_SECONDS = 30
# How long a worker gets to exit when the pool closes (it has nothing left
# to do; a model's non-daemon thread may hold it) before it is terminated.
WORKER_EXIT_SECONDS = 1.0
# A pool is chosen only if predicted this many times faster: the
# prediction rests on a few timed calls, and a wrong "pool" costs more
# (a slower check) than a wrong "in process" (a missed speed-up).
AUTO_MIN_GAIN = 1.3


def resolve_jobs(jobs: int | str) -> int:
    """--jobs N, or 'auto': this machine's cores."""
    if jobs == "auto":
        return os.cpu_count() or 1
    jobs = int(jobs)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1 (or 'auto'), got {jobs}")
    return jobs
