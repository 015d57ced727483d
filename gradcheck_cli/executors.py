"""Where probe estimates are computed: in this process, in a process pool
(--jobs N), or on a Dask cluster (--dask ADDRESS).

The parent does everything sequential (the start point, the loss noise,
drill-down); the probes of a block are independent, so they are sent out
in batches. A worker rebuilds the model from its :class:`Recipe` (once per
worker and check), is handed the exact parameters and the parent's start
point (loss, kink trace, gradient), and returns Estimates. Every evaluation
is reseeded as in the parent, so the results -- values, kink crossings,
counts, warnings -- are the same as in process wherever the worker's BLAS
sums as the parent's does (the same thread count: blas_share, which a pool's
parent takes too while it lives): only the time differs.

numpy's global RNG and the kink tracker's recording state are per process,
so a worker process runs one batch at a time (``borrows_process``'s lock),
even where the cluster gives it several threads.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import linecache
import math
import os
import pickle
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .errors import GradcheckError, ModelError, NondeterminismError, UserCodeError
from .evaluate import BasePoint, Evaluator
from .model import (Model, OwnImports, _looks_like_path, _split_target, from_functions, frozen_copies, load_model,
                    provider)
from .verdict import taylor
from .verdict.grading import worth_tracking
from .verdict.noise import analytic_roundoff
from .verdict.numeric import STENCILS, Estimate, crosses_kink, estimate
from .verdict.probes import Probe
from .guard import exit_with_parent
from .process_state import borrows_process
from .settings import (AUTO_STEPS, ENDED_CHECKS_KEPT, EPS, MAX_BLAS_THREADS, NONDETERMINISM_ULPS, WORKER_MODELS_KEPT,
                       Thresholds)
from .structure import unflatten

# Batches per worker: enough that a slow batch does not leave the others
# idle at the end, few enough that per-task overhead (pickling, scheduling,
# ~1 ms for a pool, a few ms for Dask) stays small against ~10 ms losses.
BATCHES_PER_WORKER = 8


@dataclass(frozen=True)
class Shipped:
    """A model file and the modules of its own that it imported, as bytes,
    for workers that need not share this machine's disk (Dask). A worker
    writes them into a directory private to the check, imports the model
    from there as load_model imports any file (under a module name of its
    own, its directory on the path while its code runs), and removes both
    when the check ends."""

    model: str  # the model file's name in that directory
    # (path in that directory, this machine's path, contents): the path a
    # module is imported by (helpers.py, pkg/__init__.py, pkg/mod.py)
    files: tuple[tuple[str, str, bytes], ...]

    def places(self, directory: str) -> dict[str, str]:
        """This machine's path of each file -> its copy's in ``directory``."""
        return {there: os.path.join(directory, inside) for inside, there, _ in self.files}


@dataclass(frozen=True)
class Recipe:
    """How a worker rebuilds the model, and the point to evaluate it at."""

    target: str | None  # a model file or module; None: the functions below
    params_file: Any  # --params: an .npz's path, or check(params=)'s arrays for a target; None: the model's own
    seed: int
    overrides: dict[str, str] | None
    params: dict[str, np.ndarray]  # the exact point (after any warm-up)
    single_array: bool
    functions: tuple[Callable | None, Callable | None, Callable | None] | None  # loss, grad, loss_and_grad
    source: str | None  # the parent's path of the model file, for kink crossings
    data_file: str | None = None  # --data
    structure: Any = None  # nested params' template (functions only: a loaded model knows its own)
    # The check's name on workers: what its model is kept under there, and
    # what ends it (a recipe's id() would be another object's once freed).
    key: str = ""
    shipped: Shipped | None = None  # the model's files, where workers import a copy (Dask)

    def build(self, directory: str | None = None) -> Model:
        """The model, imported from ``directory``'s copy where it was shipped."""
        if self.target is not None:
            target = self.target
            if self.shipped is not None:
                attr = _split_target(self.target)[1]
                target = os.path.join(directory, self.shipped.model) + (f":{attr}" if attr else "")
            model = load_model(target, params=self.params_file, seed=self.seed, set=self.overrides,
                               data=self.data_file)
            # A reduction whose truth is judged where it is placed (an hvp's:
            # grad's differences or the loss's) is judged at the parent's
            # point too, as the parent judged it there: the same function.
            judged = provider(model, "judge")
            if judged is not None and not all(np.array_equal(model.params[name], block)
                                              for name, block in self.params.items()):
                judged.judge(self.params, "the generic point")
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
                    model.source, model.data_file, model.structure, key=uuid.uuid4().hex)
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

@dataclass
class _Built:
    """A check's model on this worker."""

    model: Model
    directory: str | None  # the check's private copy of its files (shipped), removed with it
    places: dict[str, str]  # the parent's path of each file -> the one this worker's copy has
    confirmed: bool = False  # its start point was checked here (_confirm_start_point)


# The models of the checks this worker serves, by recipe key, oldest first.
# Batches run one at a time (borrows_process), but a check's end
# (_end_check) arrives on another thread, hence the lock.
_built: "collections.OrderedDict[str, _Built]" = collections.OrderedDict()
_running: dict[str, bool] = {}  # the key whose batch runs now -> its check ended meanwhile
_ended: "collections.deque[str]" = collections.deque(maxlen=ENDED_CHECKS_KEPT)
_built_lock = threading.Lock()


def _model_for(recipe: Recipe) -> _Built:
    with _built_lock:
        if recipe.key in _ended:
            raise ModelError("this check has ended")  # (a late batch: its result goes nowhere)
        built = _built.get(recipe.key)
        if built is not None:
            _built.move_to_end(recipe.key)
            return built
    built = _build(recipe)
    with _built_lock:
        _built[recipe.key] = built
        pushed_out = [_built.popitem(last=False)[1] for _ in range(len(_built) - WORKER_MODELS_KEPT)]
    for old in pushed_out:
        _remove_files(old.directory)
    return built


def _build(recipe: Recipe) -> _Built:
    """The recipe's model; a shipped one imported from a new directory of
    its own, so that no other check's module, file or bytecode is found."""
    if recipe.shipped is None:
        model = recipe.build()
        moved = recipe.source and model.source and model.source != recipe.source
        return _Built(model, None, {recipe.source: model.source} if moved else {})
    # Its real path: load_model puts the real directory of a model file on
    # the path, and its siblings' file names must be those of places.
    directory = os.path.realpath(tempfile.mkdtemp(prefix="gradcheck-", dir=_scratch_directory()))
    places = recipe.shipped.places(directory)
    try:
        for inside, _, contents in recipe.shipped.files:
            path = os.path.join(directory, inside)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(contents)
        return _Built(recipe.build(directory), directory, places)
    except ModelError as exc:
        _remove_files(directory)
        raise _in_parent_terms(exc, places) from None
    except BaseException:
        _remove_files(directory)
        raise


def _scratch_directory() -> str | None:
    """A Dask worker's own scratch space (removed with the worker, should
    gradcheck never get to), else the system's temporary directory."""
    try:
        from distributed import get_worker

        return os.path.abspath(get_worker().local_directory)
    except (ImportError, ValueError, AttributeError):
        return None


def _remove_files(directory: str | None) -> None:
    """A check's private directory, and what the interpreter cached of it
    (modules, finders, source lines), gone."""
    if directory is None:
        return
    inside = directory + os.sep
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(inside):
            sys.modules.pop(name, None)
    for path in list(sys.path_importer_cache):
        if isinstance(path, str) and (path == directory or path.startswith(inside)):
            sys.path_importer_cache.pop(path, None)
    for filename in list(linecache.cache):
        if isinstance(filename, str) and filename.startswith(inside):
            linecache.cache.pop(filename, None)
    shutil.rmtree(directory, ignore_errors=True)


def _end_check(key: str) -> None:
    """On each worker, when a check has ended (run there by the parent, on
    success, failure, timeout or interrupt): its model and files go. A batch
    of it still running keeps its model until it returns."""
    with _built_lock:
        _ended.append(key)
        if key in _running:
            _running[key] = True
            built = _built.get(key)
        else:
            built = _built.pop(key, None)
    if built is not None:
        _remove_files(built.directory)


@contextlib.contextmanager
def _batch_of(key: str):
    with _built_lock:
        _running[key] = False
    try:
        yield
    finally:
        with _built_lock:
            ended = _running.pop(key, False)
            built = _built.pop(key, None) if ended else None
        if built is not None:
            _remove_files(built.directory)


def _in_parent_terms(exc: GradcheckError, places: dict[str, str]) -> GradcheckError:
    """``exc`` naming the parent's files where it names this worker's copies."""
    text = _translated(str(exc), places)
    if text == str(exc):
        return exc
    if isinstance(exc, UserCodeError):  # (it reaches the parent as its message alone)
        return ModelError(text)
    try:
        return type(exc)(text)
    except Exception:
        return ModelError(text)


def _translated(text: str, places: dict[str, str]) -> str:
    # Longest first: a copy's path is never cut short by its directory's.
    for there, here in sorted(places.items(), key=lambda item: -len(item[1])):
        if here != there:
            text = text.replace(here, there)
    return text


def _confirm_start_point(built: _Built, evaluator: Evaluator, expected: float) -> None:
    """The loss at the start point here must be the parent's: a model whose
    data depend on the process (a vocabulary from list(set(words)), a seed
    from the pid) computes another function in every worker, and its
    differences would pass for derivatives. Once per worker and check; not
    counted, so the report stays that of --jobs 1."""
    if built.confirmed:
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
    built.confirmed = True


@borrows_process
def run_batch(recipe: Recipe, job: Job, probes: Sequence[Probe], where: str | None = None,
              threads: int | None = None) -> BatchResult:
    """Estimate ``probes`` (a worker's task). ``where``: said before an
    error importing the model here (the pool says it at its start).
    ``threads``: the BLAS threads to evaluate with, given back afterwards
    (None: as this process has them; a Dask worker's are its cluster's)."""
    with _batch_of(recipe.key):
        try:
            built = _model_for(recipe)
        except ModelError as exc:
            if where is None:
                raise
            raise ModelError(f"{where}, where the model is imported afresh: {exc}") from None
        try:
            # (after the model's import: a BLAS it loads is limited too)
            with blas_limited(threads):
                return _estimates(built, job, probes)
        except GradcheckError as exc:
            raise _in_parent_terms(exc, built.places) from None


def _estimates(built: _Built, job: Job, probes: Sequence[Probe]) -> BatchResult:
    here = {there: here for there, here in built.places.items() if here != there}
    base = job.base
    if here and base.trace is not None:
        # The parent's trace names its own files; compare like with like.
        base = dataclasses.replace(base, trace=[event._replace(filename=here.get(event.filename, event.filename))
                                                for event in base.trace])
    job = dataclasses.replace(job, base=base)
    with Evaluator(built.model, seed=job.seed, track_kinks=job.track_kinks) as evaluator:
        _confirm_start_point(built, evaluator, job.base.loss)
        found = [job.estimate(evaluator, p) for p in probes]
        evaluator.verify_all()
    warnings = dict(evaluator.model_warnings)
    if here:
        found = [_relocate(e, here) for e in found]
        warnings = {}
        for text, count in evaluator.model_warnings.items():
            text = _translated(text, here)
            warnings[text] = warnings.get(text, 0) + count
    return BatchResult(found, evaluator.evaluations, warnings, dict(evaluator.low_precision))


def _relocate(e: Estimate, here: dict[str, str]) -> Estimate:
    """The estimate naming the parent's files (kink crossings, errors) where
    it names this worker's copies (``here``: the parent's path -> the copy's)."""
    back = {copy: there for there, copy in here.items()}
    if e.crossing is not None and e.crossing.filename in back:
        e = dataclasses.replace(e, crossing=dataclasses.replace(e.crossing, filename=back[e.crossing.filename]))
    if e.error is not None:
        e = dataclasses.replace(e, error=_translated(e.error, here))
    return e


_pool_state: dict[str, Any] = {}


def _pool_init(recipe: Recipe, parent: int, threads: int | None) -> None:
    exit_with_parent(parent)  # a parent killed outright leaves no worker behind
    # Ctrl-C at a terminal reaches the whole process group: the parent stops
    # the workers; each of them printing its own KeyboardInterrupt would not help.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _pool_state["recipe"] = recipe
    _pool_state["threads"] = threads
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
    return run_batch(_pool_state["recipe"], _with_shared_gradient(job), probes, threads=_pool_state["threads"])


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


def refuse_while_a_worker_starts() -> None:
    """A RuntimeError saying why, when gradcheck is called in a worker
    process that is still starting: a spawned process imports the program
    that started the pool (``__main__``, run again as ``__mp_main__``), and
    a program that calls check() at import, outside ``if __name__ ==
    "__main__":``, calls it again there. (Without this, each worker would
    run a whole check of its own, or fail deep in multiprocessing trying to
    start a pool of its own.)"""
    multiprocessing = sys.modules.get("multiprocessing")  # (not imported: not a spawned process)
    if multiprocessing is None or not getattr(multiprocessing.current_process(), "_inheriting", False):
        return
    main = getattr(sys.modules.get("__mp_main__"), "__file__", None)  # (the program, being run again)
    program = os.path.basename(main) if main else "the program that called gradcheck"
    raise RuntimeError(f"gradcheck was called while a worker process of check(jobs=...) was starting: workers "
                       f"start afresh and import {program}, which calls gradcheck as it is imported. Call it only "
                       "under `if __name__ == \"__main__\":` (or use jobs=1)")


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
        # The BLAS threads every process of this check evaluates the model
        # with (None: as the user set them), the parent's included for as
        # long as the pool lives: its start point and noise tables are
        # subtracted from the workers' values, so they must sum alike.
        self.threads = blas_share(jobs)
        self.limited = contextlib.ExitStack()
        self.limited.enter_context(blas_limited(self.threads))
        try:
            self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_pool_init, initargs=(recipe, os.getpid(), self.threads))
        except BaseException:
            self.limited.close()
            raise
        self.shared: list[Any] = []
        # Start the workers now: they import the model while the parent
        # evaluates the start point and the loss noise. Each gets its share
        # of the cores for BLAS (read when numpy loads, so set for the spawn):
        # a threaded BLAS per worker oversubscribes the machine (measured,
        # a 600x600 product on two cores: two workers of two OpenBLAS
        # threads made 0.6-1x the calls a second of this process alone, two
        # of one thread 1.6-2x). The price: unless the user fixed the thread
        # count, a sum the BLAS splits between threads rounds as on the
        # share's threads, not as under --jobs 1 (docs/big-models.md).
        with _blas_threads(self.threads):
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
        self.limited.close()  # the caller's BLAS threads given back


_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                          "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
# Also read by a BLAS as its thread count, though never written here
# (OpenBLAS's older name; MKL's per-domain list, of another syntax).
_USER_THREAD_VARIABLES = _BLAS_THREAD_VARIABLES + ("GOTO_NUM_THREADS", "MKL_DOMAIN_NUM_THREADS")


@contextlib.contextmanager
def _blas_threads(threads: int | None):
    """Processes spawned inside the block use ``threads`` BLAS threads from
    the moment their BLAS loads (blas_share). Where the user set a variable
    a BLAS reads its thread count from, they inherit the user's environment
    unchanged (and blas_share is the user's count), so that a BLAS that
    splits a sum between threads splits it alike everywhere: the report of
    --jobs 1. This process's BLAS loaded
    long ago: blas_limited tells it. The environment is given back
    afterwards."""
    if threads is None or _user_set_threads():
        yield
        return
    try:
        for name in _BLAS_THREAD_VARIABLES:
            os.environ[name] = str(threads)
        yield
    finally:
        for name in _BLAS_THREAD_VARIABLES:
            os.environ.pop(name, None)


def blas_share(jobs: int) -> int | None:
    """The BLAS threads each process of a check with ``jobs`` worker
    processes evaluates the model with: its share of the cores, or the
    count the user set in a thread variable (workers spawned with the
    user's environment load their BLAS with it); None where the user's
    variables give no count (every process keeps what it has).

    A variable set is not a BLAS that runs with it: it is read only when
    the BLAS loads, and something in this process may have set it since
    (a Dask worker run in process sets OMP/MKL/OPENBLAS_NUM_THREADS=1 in
    os.environ). So this process is told the count too (blas_limited),
    as the workers are: otherwise it sums on the threads it loaded with
    and the workers on the variable's, and a correct model's start point
    differs between them."""
    if _user_set_threads():
        return _user_threads()
    return max(1, (os.cpu_count() or 1) // jobs)


def _user_set_threads() -> bool:
    return any(name in os.environ for name in _USER_THREAD_VARIABLES)


# Read in a BLAS's own order: its specific variable before OpenMP's.
_COUNT_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "BLIS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "OMP_NUM_THREADS")


def _user_threads() -> int | None:
    """The thread count the user's variables give a BLAS that loads now:
    the first that int() reads as a count from 1 to MAX_BLAS_THREADS. (A
    digit int() cannot read, '²', passes str.isdigit.)"""
    for name in _COUNT_VARIABLES:
        text = os.environ.get(name, "").split(",")[0].strip()  # (OMP's nested list: the outer level)
        try:
            count = int(text)
        except ValueError:
            continue
        if 1 <= count <= MAX_BLAS_THREADS:
            return count
    return None


@contextlib.contextmanager
def blas_limited(threads: int | None):
    """This process's BLAS (and OpenMP) thread pools at ``threads`` inside
    the block, as they were after it. The environment variables act only
    when a library loads; numpy's BLAS loaded long before a check, in the
    caller's process as in a worker that imported numpy first, and only
    the library itself can be told another count then. None: unchanged."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits  # imported where used: start-up

    with threadpool_limits(limits=threads):
        yield


class DaskCluster(_Merging):
    """Batches as tasks on a Dask distributed cluster. A model file goes to
    the workers as bytes, with the modules of its own it imported (shipped);
    each worker imports a private copy of them for this check and removes
    it when the check ends. A dotted module must be importable there."""

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
        self.unsent = recipe  # scattered with the first batches, once the model has run here
        self.recipe: Any = None  # its future on the cluster
        self.scattered: list[Any] = []
        self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self.job: Job | None = None

    def _recipe(self) -> Any:
        """The recipe on the cluster. Its files are read now, after the start
        point: a module the model imports only when its loss runs is among
        its own modules by then."""
        if self.recipe is None:
            recipe = self.unsent
            if recipe.target is not None and recipe.source and _looks_like_path(_split_target(recipe.target)[0]):
                recipe = dataclasses.replace(recipe, shipped=shipped(recipe.source, self.evaluator.model.imports))
            self.recipe = self.client.scatter(recipe, broadcast=True)
            self.scattered.append(self.recipe)
        return self.recipe

    def estimates(self, probes: Sequence[Probe], on_each: Callable[[int, Estimate], None]) -> None:
        from concurrent.futures import CancelledError

        from distributed import KilledWorker

        recipe = self._recipe()
        job = self.client.scatter(self.job, broadcast=True)
        self.scattered.append(job)
        futures = [self.client.submit(run_batch, recipe, job, batch, "on the Dask workers", pure=False)
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
        """Cancel whatever this run submitted, and end the check on every
        worker (its model and files go). A task still running (a loss
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
        if self.recipe is not None:
            with contextlib.suppress(Exception):  # (a worker gone meanwhile has nothing left to end)
                self.client.run(_end_check, self.unsent.key, on_error="ignore")
        for future in self.scattered:
            with contextlib.suppress(Exception):
                future.release()
        self.scattered.clear()
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


def shipped(source: str, imports: OwnImports | None) -> Shipped:
    """The model file ``source`` and the modules of its own that it
    imported, each at the path it is imported by, so that the copy's
    directory imports as the model's did: those its import brought in
    (``imports``, as own_imports keeps them), and, called while its code
    runs, those imported since from its directory (a loss's ``import
    helpers``: own_imports takes them in only when the model's code is
    done). A module whose file is not at that path (imported from a file by
    another name) stays behind, as do extension modules and every library:
    those the workers must have."""
    files = {os.path.basename(source): source}
    modules = dict(imports.modules) if imports is not None else {}
    if imports is not None and imports.directory is not None:
        directory = os.path.realpath(imports.directory) + os.sep
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if name not in modules and isinstance(file, str) and os.path.realpath(file).startswith(directory):
                modules[name] = module
    for name, module in modules.items():
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or not file.endswith(".py"):
            continue
        parts = name.split(".")
        inside = os.path.join(*parts, "__init__.py") if os.path.basename(file) == "__init__.py" \
            else os.path.join(*parts[:-1], parts[-1] + ".py")
        if os.path.normpath(os.path.join(os.sep, file)).endswith(os.sep + inside):
            files.setdefault(inside, file)  # (the model file's own name first: it is what is checked)
    contents = []
    for inside, there in files.items():
        try:
            with open(there, "rb") as handle:
                contents.append((inside, there, handle.read()))
        except OSError as exc:
            what = "the model file" if there == source else f"{there}, a module the model imported,"
            raise ModelError(f"cannot read {what} to send it to the Dask workers: {exc.strerror or exc}") from None
    return Shipped(os.path.basename(source), tuple(contents))


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
        # The start point, evaluated before the choice, on the BLAS threads
        # the pool's workers would have: a worker checks its loss there
        # against this process's to the last few bits (and the loss is
        # timed as they would run it). Given back if the probes stay here.
        self.limited = contextlib.ExitStack()
        if (os.cpu_count() or 1) > 1:
            self.limited.enter_context(blas_limited(blas_share(os.cpu_count())))

    def expect(self, probes: int) -> None:
        """Decide, for ``probes`` probes, with the loss timed so far."""
        if self.inner is None:
            self.inner = self._choose(probes)
            self.inner.job = self._job
            if isinstance(self.inner, InProcess):
                self.limited.close()

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
        try:
            if self.inner is not None:
                self.inner.close(kill=kill)
        finally:
            self.limited.close()

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
