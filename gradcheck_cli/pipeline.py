"""``check(...) -> Report``: load, plan, evaluate, compare, grade, report."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from . import apart
from .drilldown import drill_down
from .errors import CheckTimeout, Interrupted, ModelError, OutputError, StopSignal, UserCodeError, listed
from .evaluate import BasePoint, Evaluator
from .executors import (Auto, DaskCluster, InProcess, Job, ProcessPool, recipe_for, refuse_while_a_worker_starts,
                        resolve_jobs)
from .layers import Layer
from .options import python_names
from .values import CHECK, parsed
from .model import (Assignments, Model, ParamsSource, copies_of, from_functions, frozen_copies, load_model, provider,
                    params_from_file, parse_assignments)
from .outputs import write_params
from .verdict.grading import grade_block, grade_estimate, judge, measurable, verdict, worst
from .verdict.noise import SUBNORMAL_SPACING, Noise, constant, loss_noise
from .verdict.numeric import Estimate
from .verdict.probes import Probe, step_scale
from .process_state import borrows_process, shielding
from .report import FAIL, KINK, OK, PASS, UNVERIFIED, WARN, ZERO, BlockResult, Move, Regularization, Report
from .sampling import BlockPlan, plan
from .startpoint import StartPoint
from .settings import (
    DEFAULT_DIRECTIONS,
    DEFAULT_MAX_EVALS,
    DEFAULT_METHOD,
    DEFAULT_SAMPLES,
    DEFAULT_SEED,
    EPS,
    EPS16,
    GENERIC_DIRECTIONS,
    TIE_MAX_TIED,
    MAX_JOBS_PER_CORE,
    STOP_DEFERRED,
    TIMER_LIMIT,
    Settings,
    Thresholds,
)

# Loss noise above this many ulps means the loss loses precision somewhere
# (float32 inside, cancellation of large terms): worth a warning, since it
# limits what any finite difference can verify.
NOISY_LOSS_ULPS = 1e4


@dataclass(frozen=True)
class Progress:
    """What a check is doing, handed to ``check(progress=...)`` at every
    phase change and after every unit a phase counts."""

    phase: str
    """One of :data:`PHASES`."""
    point: str | None
    """The check it belongs to (``"start point"``, ``"generic point"``, ``"data loss alone"``); None
    for loading and for what happens between checks: the jitter, the burn-in, the regularization's share."""
    detail: str
    """It in a few words (``"probes 12/40 (block W1)"``, ``"burn-in step 30"``): words for people,
    which may change; programs read the fields."""
    done: int | None = None
    """Units of the phase done (None where the phase counts none)."""
    total: int | None = None
    """Of how many (None where the phase counts none, or does not know how many will come)."""
    evaluations: int = 0
    """Evaluations of the model so far, in the whole check."""
    block: str | None = None
    """The block of the latest unit (probes may come back out of order from worker processes: the
    count is the phase's)."""

    def __str__(self) -> str:
        return f"{self.point}: {self.detail}" if self.point else self.detail


# The phases, in the order a check goes through them (a phase it does not
# need is skipped; those of a point's check come again for each point).
PHASES = (
    "loading",         # importing the model, its init_params, --params, --data
    "base point",      # the loss and gradient at the point (twice at the start point: determinism)
    "noise",           # the loss's rounding noise, from difference tables
    "cross-check",     # --method complex-step vetted against central differences
    "probes",          # the sampled coordinates and directions: done/total
    "tie directions",  # directions the tied kinks leave smooth
    "drill-down",      # bisecting a failing direction down to coordinates
    "diagnosis",       # what kind of bug a failing block looks like: a probe per row, column or element
    "jitter",          # to a generic point: the seeded jitter ...
    "burn-in",         # ... then Adam steps (done: the step; total only under --warmup N)
    "regularization",  # the strength's share of the gradient (then the data loss alone, a point's check)
)


def _receiver(progress: Callable | None) -> Callable[[Progress], None] | None:
    """The caller's callback as one taking Progress events. A callable
    of two positional parameters is release 2's ``progress(done, total)``:
    still called after every probe of a point's check, with that check's
    count (tie directions and drill-down beyond ``total`` count as it)."""
    if progress is None:
        return None
    if not callable(progress):  # (found before the check, not at its first event)
        raise TypeError(f"progress= must be a function taking a Progress event, not {type(progress).__name__}")
    import inspect

    try:
        signature = inspect.signature(progress)
    except (TypeError, ValueError):  # (a builtin without one: events)
        return progress
    try:
        signature.bind(None)
        return progress
    except TypeError:
        pass
    try:
        signature.bind(0, 0)
    except TypeError:
        return progress  # (neither: let the call say what is wrong)
    units = [0, 0]  # done, total at the point

    def counted(event: Progress) -> None:
        if event.phase == "probes" and event.done:
            units[:] = [event.done, event.total or 0]
        elif event.phase in ("tie directions", "drill-down", "diagnosis") and event.done:
            units[0] += 1
        elif event.phase == "base point":
            units[:] = [0, 0]
            return
        else:
            return
        progress(min(units[0], units[1]), units[1])

    return counted


class _Reporter:
    """Builds the Progress events of one check and hands them on (nothing
    without a callback). ``point``: the check under way; ``spent``: the
    evaluations of what finished (earlier points, the burn-in);
    ``evaluator``: the one in use, whose count runs."""

    def __init__(self, receiver: Callable[[Progress], None] | None):
        self.receiver = receiver
        self.point: str | None = None
        self.spent: Callable[[], int] = lambda: 0
        self.evaluator: Evaluator | None = None

    def __call__(self, phase: str, detail: str, done: int | None = None, total: int | None = None,
                 block: str | None = None, evaluations: int | None = None) -> None:
        if self.receiver is None:
            return
        if evaluations is None:
            evaluations = self.evaluator.evaluations if self.evaluator is not None else 0
        self.receiver(Progress(phase, self.point, detail, done, total, self.spent() + evaluations, block))


def resolve(
    model: str | Model | Layer | None = None,
    *,
    loss: Callable | None = None,
    grad: Callable | None = None,
    loss_and_grad: Callable | None = None,
    params: ParamsSource = None,
    seed: int = DEFAULT_SEED,
    set: Assignments = None,
    data: str | os.PathLike[str] | None = None,
) -> Model:
    """A Model from a target, a loaded Model, a layer(), or functions and
    params: the model check(), sweep() and sanity() take, with their
    ``params``, ``set`` and ``data``."""
    overrides = parse_assignments(set)
    if overrides and not isinstance(model, str):
        raise ModelError("--set (set=) needs a model file or module: it sets the module's constants")
    if data is not None and not isinstance(model, str):
        raise ModelError("--data (data=) needs a model file or module: its arrays become the module's variables")
    if params is not None and isinstance(model, (Model, Layer)):
        raise ModelError(f"params= is for a target or for loss and grad functions; "
                         f"{'a loaded Model has' if isinstance(model, Model) else 'a layer() draws'} its own")
    if isinstance(model, Model):
        return model
    if isinstance(model, Layer):
        return from_functions(name=model.name, loss=model.loss, grad=model.grad, params=model.init_params(seed))
    if isinstance(model, str):
        return load_model(model, params=params, seed=seed, set=overrides, data=data)
    if model is None:
        # (said as the call's keywords: there is no model file to name)
        if loss is None and grad is None and loss_and_grad is None:
            raise TypeError("no model given: pass a target ('model.py', 'pkg.module:attr'), a Model or a layer(), "
                            "or the functions as loss= and grad= (or loss_and_grad=) with params=")
        if loss_and_grad is None and (loss is None or grad is None):
            given, missing = ("loss", "grad") if grad is None else ("grad", "loss")
            raise ModelError(f"{given}= was given without {missing}=: pass both, or loss_and_grad= alone")
        if params is None:
            raise ModelError("params= was not given: the functions are checked at those parameters")
        if isinstance(params, (str, os.PathLike)):  # an .npz, as for a target
            params = params_from_file(os.fspath(params))
        return from_functions(loss=loss, grad=grad, loss_and_grad=loss_and_grad, params=params)
    raise TypeError(f"model must be a target string, a Model or a layer(), not {type(model).__name__}")


@dataclass
class _BlockEstimates:
    plan: BlockPlan
    coordinates: list[tuple[int, Estimate]] = field(default_factory=list)  # (flat index, estimate)
    directions: list[Estimate] = field(default_factory=list)
    drilled: set[int] = field(default_factory=set)  # coordinates found by drill-down
    along_ties: set[int] = field(default_factory=set)  # directions the ties leave smooth (ties.py)
    diagnosis: Any = None  # for a failing block: what kind of bug it looks like (diagnosis.py)
    seconds: float = 0.0  # wall time spent on its probes (_timed_by_block)


@python_names
@parsed(CHECK)
@borrows_process
def check(
    model: str | Model | Layer | None = None,
    *,
    loss: Callable | None = None,
    grad: Callable | None = None,
    loss_and_grad: Callable | None = None,
    params: ParamsSource = None,
    data: str | os.PathLike[str] | None = None,
    set: Assignments = None,
    seed: int = DEFAULT_SEED,
    samples: int | str | None = DEFAULT_SAMPLES,
    method: str = DEFAULT_METHOD,
    track_kinks: bool = True,
    directions: int = DEFAULT_DIRECTIONS,
    h: float | str | None = None,
    thresholds: Thresholds | None = None,
    fail_above: float | None = None,
    warn_above: float | None = None,
    good_below: float | None = None,
    tiny_below: float | None = None,
    max_evals: int = DEFAULT_MAX_EVALS,
    warmup: int | str | None = "auto",
    lr: float | None = None,
    reg: str | None = "auto",
    save_params: str | os.PathLike[str] | None = None,
    jobs: int | str = 1,
    dask: Any = None,
    timeout: float | None = None,
    strict: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> Report:
    """Check a model's analytic gradient against finite differences.

    Every keyword is the command line's option of the same name (``--max-evals``
    is ``max_evals``), with its meaning, its default and its checks;
    ``[tool.gradcheck]`` takes the same names.

    ``model`` is a target (``"file.py"``, ``"pkg.module"``, either with
    ``":ATTR"``; a checks file's layer as ``"checks.py:affine"``), a loaded
    :class:`Model` or a :func:`layer`; or leave it out and pass ``loss``
    and ``grad`` (or ``loss_and_grad``) and ``params``. A file of
    ``layer(...)`` checks holds several models: :func:`check_layers` checks
    each (a report apiece, as the command line does); check() refuses it,
    naming its layers.

    ``params`` (``--params``): a path (str or os.PathLike) is an .npz file
    whose keys are block names; anything else is the arrays themselves (a
    dict of arrays, nested lists and dicts of them, or one array). With a
    target they replace its own params, which they must match in blocks
    and shapes. ``data`` (``--data``): the path of an .npz whose arrays
    become the model module's variables of the same names (a model
    object's ``X`` and ``y``). ``set`` (``--set``): the model's constants
    to set first, ``{"REG": 0}`` or ``["REG=0"]`` as the command line
    gives them. ``seed``: the sampling's, ``init_params(seed)``'s and the
    RNGs' reset before every model call.

    ``samples``: coordinates checked per block (``None`` or ``"all"``:
    every one); ``directions``: random unit directions per block. ``method``
    is ``central``, ``five-point`` or ``complex-step``; ``h`` a relative
    step, ``"auto"``, or None for the method's default; ``track_kinks``:
    follow max/abs/masks to find kink crossings; ``max_evals``: the
    drill-down's evaluations per block. The grading bands are
    ``fail_above``, ``warn_above``, ``good_below`` and ``tiny_below``
    (each overrides that band of ``thresholds``, a :class:`Thresholds`).
    ``strict`` (``--strict``): a warning fails too; the verdict is still the
    grade, and :attr:`Report.passed` says whether the check passed under
    this rule (the command line's exit code). The caller's arrays are
    never modified: the check works on float64 copies.

    ``warmup``: ``"auto"`` also checks at a generic point (a seeded jitter
    of every block, then a short burn-in stopped by its outcome: a wrong
    gradient can be right at the start point), unless the start point
    fails already; ``"off"`` checks the start point only; a number forces
    that many Adam steps after the jitter (``lr``: Adam's rate). ``reg``: ``"auto"``
    finds the regularization strength, reports its share of the gradient
    and checks the data loss alone where it dominates; a name always does;
    ``"none"`` does not. The returned report is the start point's, holding
    the others (``generic``, ``regularization.data_only``); its
    verdict is the worst of all. ``save_params``: write the parameters
    the last check ran at to that .npz. ``jobs``: worker processes
    (``"auto"``: where they pay off); each starts afresh and imports the
    program that called check(), so a script calls it only under ``if
    __name__ == "__main__":`` (else each worker would run the script again:
    a RuntimeError there says so). ``dask``: a Dask scheduler's address
    (or a ``distributed.Client``) to run the evaluations on.

    Each value is read as the command line reads its option
    (``samples="ALL"``, ``h="1e-5"``, ``timeout="10"``); None, where a
    keyword's type admits it, is its default (``reg=None`` is ``"auto"``). Raises
    :class:`~gradcheck_cli.errors.ModelError` when the model is
    unusable, ``ValueError`` naming the keyword for a value the command
    line would refuse, ``TypeError`` when no model is given, and
    ``TypeError`` for an option that only the command line has (``format``,
    ``verbose``... the message says what to use instead); a wrong gradient
    is not an exception but a ``fail`` verdict. ``params_file``,
    ``data_file`` and ``overrides`` are the deprecated names of ``params``,
    ``data`` and ``set`` (a DeprecationWarning).
    ``progress``, if given, is called with a :class:`Progress` event at
    every phase change (loading, each point's base evaluation, noise,
    probes, tie directions, drill-down, the jitter and burn-in, the
    regularization's share; :data:`PHASES`) and after every unit a phase
    counts (a probe, a burn-in step), from the thread that called check().
    (A callable of two positional parameters, release 2's
    ``progress(done, total)``, is still called after every probe.)
    ``timeout`` (seconds) bounds the whole check, user code included: when
    it runs out, :class:`~gradcheck_cli.errors.CheckTimeout` is raised with
    a report of what finished; Ctrl-C raises
    :class:`~gradcheck_cli.errors.Interrupted` (a KeyboardInterrupt) likewise.

    The caller's process is left as it was found (global RNGs, streams,
    signal handlers, a pending interval timer, warning filters, loaded
    modules, the working directory), and checks run one at a time: a call from a second thread
    waits for the first to finish.
    """
    started = time.perf_counter()
    refuse_while_a_worker_starts()
    overrides = parse_assignments(set)  # (a bad item is refused before anything is imported)
    count = samples  # (parsed: a whole number, or None for every coordinate)
    bands = {name: value for name, value in (("fail_above", fail_above), ("warn_above", warn_above),
                                             ("good_below", good_below), ("tiny_below", tiny_below))
             if value is not None}
    thresholds = dataclasses.replace(thresholds if thresholds is not None else Thresholds(), **bands)
    settings = Settings(h=h, samples=count, directions=directions, seed=seed, method=method,
                        thresholds=thresholds, max_evals=max_evals, track_kinks=track_kinks, strict=strict)
    steps = None if warmup == "auto" else 0 if warmup == "off" else warmup  # (None: stopped by its outcome)
    reporter = _Reporter(_receiver(progress))
    name = model if isinstance(model, str) else getattr(model, "name", "the model")
    phases: _Phases | None = None
    # The deadline is armed inside this try, and disarmed inside it: the
    # timer can fire at any line from its arming on (timeout=1e-6 fires
    # before the model's import starts), so every line of the check is
    # where its StopSignal becomes CheckTimeout (Ctrl-C's KeyboardInterrupt
    # becomes Interrupted alike).
    try:
        with _deadline(timeout) as out_of_time:
            loading = time.perf_counter()
            reporter("loading", "loading the model")
            loaded = resolve(model, loss=loss, grad=grad, loss_and_grad=loss_and_grad, params=params, seed=seed,
                             set=overrides, data=data)
            load_seconds = time.perf_counter() - loading
            target = model if isinstance(model, str) else None
            params_source = (os.fspath(params) if isinstance(params, os.PathLike) else params) if target else None
            phases = _Phases(loaded, settings, started, target, params_source, seed, overrides, jobs, dask,
                             load_seconds, reporter, out_of_time)
            _in_flight.phases = phases
            try:
                phases.run(steps, lr, reg)
            except _Stopped as stop:
                phases.stopped(stop.timed_out, stop.partial, stop.planned)
            finally:
                _in_flight.phases = None
            unsaved = None
            if save_params is not None:
                try:
                    write_params(os.fspath(save_params), phases.final_params)
                except OutputError as exc:
                    unsaved = exc
    except (KeyboardInterrupt, StopSignal) as stop:
        timed_out = isinstance(stop, StopSignal)
        if phases is not None:
            # Between phases (training, the regularization's gradient), or
            # as the check ended: what finished stands.
            phases.stopped(timed_out)
        # Importing the model or its init_params: nothing was checked yet.
        if timed_out:
            raise CheckTimeout(f"{name}: timed out after {time.perf_counter() - started:.1f} s while loading "
                               "the model (its import or init_params); nothing was checked") from None
        raise Interrupted(None) from None
    report = phases.report()
    if report is None:  # (a check stopped before the start point's report raised, in phases.stopped)
        raise RuntimeError("gradcheck: a check ended without a report; a bug in gradcheck, please report it")
    if unsaved is not None:  # (the check stands: the error comes with its report)
        raise OutputError(str(unsaved), report)
    return report


class _InFlight:
    """The check running now (checks run one at a time per process), for
    :func:`report_so_far`."""

    phases: "_Phases | None" = None
    partial: "Callable[[bool], Report | None] | None" = None  # the current point's check so far
    planned: int = 0
    # Blocks apart (_check_apart): those finished at this point, the model, the planned, when it began.
    apart: "tuple[list[Report], Model, set[str], float] | None" = None


_in_flight = _InFlight()


def report_so_far() -> tuple[Report | None, str] | None:
    """From another thread, while a check runs with a --timeout it has
    overrun: the report of what finished and the message saying so (None
    when no check is past loading its model). For the command line's last
    resort when user code will not stop (it catches the stop signal);
    the running check is not to be continued afterwards."""
    phases, partial = _in_flight.phases, _in_flight.partial
    if phases is None:
        return None
    current = partial(True) if partial is not None else None
    if _in_flight.apart is not None:  # (one block's check so far, after the blocks finished before it)
        done, whole, planned, began = _in_flight.apart
        current = apart.partial(done + ([current] if current is not None else []), whole, planned, True, began)
    return phases.settle(True, current, _in_flight.planned)


class _Stopped(Exception):
    """A check at one point stopped by the deadline or Ctrl-C, with what it finished."""

    def __init__(self, partial: Report | None, timed_out: bool, planned: int):
        super().__init__()
        self.partial, self.timed_out, self.planned = partial, timed_out, planned


class _Phases:
    """The checks one call of check() makes, in order, and what each found:
    at the start point; at a generic point (generic.py), unless the start
    point fails already or --warmup off; of the data loss alone, when
    regularization dominates."""

    def __init__(self, loaded, settings, started, target, params_file, seed, overrides, jobs, dask, load_seconds,
                 progress, out_of_time):
        self.loaded, self.settings, self.started = loaded, settings, started
        self.target, self.params_file, self.seed, self.overrides = target, params_file, seed, overrides
        self.jobs, self.dask, self.load_seconds = jobs, dask, load_seconds
        self.progress, self.out_of_time = progress, out_of_time
        # (What finished counts towards the progress events' evaluations.)
        progress.spent = lambda: sum(p.evaluations for p in (self.start, self.generic) if p is not None) \
            + self.extra_evaluations
        self.start: Report | None = None
        self.findings: StartPoint | None = None
        self.move: Move | None = None
        self.generic: Report | None = None
        self.regularization: Regularization | None = None
        self.extra_evaluations = 0  # the warm-up's, the regularization share's
        self.notes: list[str] = []
        self.hints: list[str] = []  # what a failure's evidence beyond its values suggests (the regularization split's)
        self.final_params = loaded.params  # where the last check ran
        self.final_base: BasePoint | None = None  # and its loss, trace and gradient
        self.halted: str | None = None

    def _at(self, model: Model, overrides: dict[str, str], plans: list[BlockPlan] | None = None, *,
            point: str | None = None, settings: Settings | None = None) -> tuple[Report, BasePoint]:
        # (The start point's check comes first; the generic point's has its plan; the data loss's follows.)
        self.progress.point = point or ("start point" if self.start is None else "generic point"
                                        if plans is not None else "data loss alone")
        try:
            run = _check_apart if getattr(provider(model, "blocks_apart"), "blocks_apart", False) else _check_point
            return run(model, settings or self.settings, self.target, self.params_file, self.seed, overrides,
                       self.jobs, self.dask, self.load_seconds, self.progress, self.out_of_time, plans)
        finally:
            self.progress.point = None

    def run(self, steps: int | None, lr: float | None, reg: str | None) -> None:
        from . import startpoint  # imported where used: start-up

        self.start, base = self._at(self.loaded, self.overrides)
        self.final_base = base
        self.findings = startpoint.inspect(base.trace, self.loaded.params, base.gradient)
        failed = tuple(b.name for b in self.start.blocks if b.grade == FAIL)
        held = copies_of(self.loaded, {name: self.loaded.params[name] for name in failed})
        if any(held.values()):
            with Evaluator(self.loaded, seed=self.settings.seed, track_kinks=False) as evaluator:
                try:
                    _refuse_unread(evaluator, base, self.settings.seed, [n for n in failed if held[n]], together=False)
                finally:
                    self.extra_evaluations += evaluator.evaluations
        if set(self.findings.zero_gradients) & set(failed):
            # A zero gradient the check fails is the bug (a gradient never
            # computed), not a point where the gradient is zero.
            self.findings = dataclasses.replace(
                self.findings, zero_gradients=tuple(n for n in self.findings.zero_gradients if n not in failed))
        if steps == 0:
            if self.findings.degenerate:
                self.notes.append("the start point is degenerate (" + "; ".join(self.findings.reasons())
                                  + "): a wrong gradient can pass here; --warmup auto (the default) checks at a "
                                  "generic point too")
        elif self.start.verdict == FAIL and steps is None:
            pass  # the verdict is fail whatever a second point shows; its report says where
        else:
            self._move(base, steps, lr)
        self.out_of_time()
        self._regularization(reg)

    def _move(self, base: BasePoint, steps: int | None, lr: float | None) -> None:
        from .generic import leave
        from .sampling import plan_generic

        moved, self.move, self.findings, spent = leave(self.loaded, self.findings, base, seed=self.seed, steps=steps,
                                                       lr=lr, progress=self.progress)
        self.extra_evaluations += spent
        if moved is not None:
            self.out_of_time()
            self.final_params = frozen_copies(moved)
            # (What placing a derivative there found, its target's later notes:
            # a jac that is not fun's gradient at the generic point.)
            placed = getattr(provider(self.loaded, "place"), "notes", ())
            later = tuple(n for n in placed if isinstance(n, str) and n not in self.loaded.notes) \
                if isinstance(placed, (list, tuple)) else ()
            moved_model = dataclasses.replace(self.loaded, name=f"{self.loaded.name} (generic point)",
                                              params=self.final_params, notes=self.loaded.notes + later)
            plans = plan_generic(self.final_params, directions=max(self.settings.directions, GENERIC_DIRECTIONS),
                                 seed=self.settings.seed, carried=_unresolved(self.start))
            self.generic, self.final_base = self._at(moved_model, self.overrides, plans)

    def _regularization(self, reg: str | None) -> None:
        from . import regularization

        strength, note = regularization.find(self.loaded, reg)
        if note:
            self.notes.append(note)
        if strength is None or strength.value == 0:
            return
        self.progress("regularization", f"regularization: {strength.name}'s share of the gradient")
        explicit = reg not in (None, "auto")
        where = "generic point" if self.generic is not None else "start point"
        total = self.final_base  # the gradient as it is, where the data loss would be checked
        # A helper never costs the report already made: whatever the model
        # does with the strength at 0 (raises, breaks, reads a copy) is a
        # note. Only a constant that proves to be an L2 strength is acted
        # on unasked; one named with --reg NAME is acted on all the same.
        spent = [0]

        def guarded(step: Callable[[], Any]) -> Any:
            try:
                return step()
            except Exception as exc:  # (a stop or Ctrl-C is no Exception: it goes on up)
                self.notes.append(regularization.failed_split(strength, exc, "calling the model"))
                return None
            finally:
                self.extra_evaluations += spent[0]
                spent[0] = 0

        premise = guarded(lambda: regularization.prove(self.loaded, strength, self.final_params, total.loss,
                                                       total.gradient, self.seed, spent))
        if premise is None:
            return
        if premise.unchanged:
            shares, overall = regularization.share(total.gradient, premise.data_gradient)
            self.regularization = Regularization(strength.name, strength.value, shares, overall, where,
                                                 explicit=explicit, unchanged=True)
            self.notes.append(f"{premise.reason}; --reg NAME names the one it reads")
            return
        shares, overall = regularization.share(total.gradient, premise.data_gradient) \
            if premise.data_gradient else ({}, 0.0)
        failed = FAIL in (self.start.verdict, getattr(self.generic, "verdict", None))
        # Where the check fails, the data loss alone cannot change the
        # verdict, but it says which part is wrong: the data loss's gradient
        # or the regularization's.
        act = explicit or (premise.proven and (any(v > 0.5 for v in shares.values()) or failed))
        if act and premise.proven:
            # The test's costlier half, only where the data loss alone is to be checked.
            premise = guarded(lambda: regularization.prove_slope(self.loaded, strength, self.final_params,
                                                                 total.gradient, premise, self.seed, spent))
            if premise is None:
                return
        if not premise.proven:
            if failed and premise.mismatch in ("gradient", "slope"):
                # A check that fails, and a strength whose term the loss has
                # and the gradient misses or gets wrong: the data loss alone
                # (the loss and gradient at strength 0, each meaningful) says
                # whether that is all that is wrong. (Where only the gradient
                # reads it, the loss at 0 would keep its term: no split.)
                if premise.mismatch == "slope":
                    self.hints.append(regularization.read_differently(strength, premise))
                act = True
            elif not explicit or not premise.data_gradient:
                # The test reads the gradient's change with the strength: where
                # the gradient fails, a refutation may be the bug's, not the
                # constant's.
                if failed:
                    # (its reason would read the failing gradient as the constant's nature: "a temperature?")
                    self.notes.append(f"whether {strength.name} is an L2 strength cannot be told while the gradient "
                                      "fails (the test reads how the gradient changes with it); the data loss alone "
                                      "is not checked")
                else:
                    self.notes.append(f"{strength.name} is named like a regularization strength but is not one: "
                                      f"{premise.reason}; the data loss alone is not checked with it at 0")
                return
            else:
                self.notes.append(f"--reg {strength.name}: the data loss alone is checked with it at 0 as asked, "
                                  f"though {premise.reason}")
        self.regularization = Regularization(strength.name, strength.value, shares, overall, where,
                                             explicit=explicit)
        if act:
            self.out_of_time()
            overrides = {**self.overrides, strength.name: "0"}
            data_model = regularization.data_only(self.loaded, strength, self.final_params)
            plans, settings = None, None
            if failed and not explicit and not any(v > 0.5 for v in shares.values()):
                # Checked only to say which part of a failure is wrong: the
                # failing blocks, along random directions (each sees every
                # element of its block), without drill-down or the hints'
                # probes. A sixth of the full check's cost.
                from .sampling import plan_generic

                wrong = {b.name for check in (self.start, self.generic) if check is not None
                         for b in check.blocks if b.grade == FAIL}
                plans = [p for p in plan_generic(self.final_params, directions=max(self.settings.directions,
                                                                                    GENERIC_DIRECTIONS),
                                                 seed=self.settings.seed, carried={}) if p.name in wrong]
                settings = dataclasses.replace(self.settings, max_evals=0)
            try:
                data_report, _ = self._at(data_model, overrides, plans, point="data loss alone", settings=settings)
            except _Stopped:
                raise  # what finished is kept (settle)
            except Exception as exc:
                self.notes.append(regularization.failed_split(strength, exc, "the check of the data loss alone"))
                return
            self.regularization = dataclasses.replace(self.regularization, data_only=data_report)

    def stopped(self, timed_out: bool, partial: Report | None = None, planned: int = 0) -> None:
        """A phase was stopped: keep what finished (``partial``: the stopped
        check's part, of ``planned`` blocks), and raise CheckTimeout or
        Interrupted with it."""
        report, message = self.settle(timed_out, partial, planned)
        if timed_out:
            raise CheckTimeout(message, report) from None
        raise Interrupted(report) from None

    def settle(self, timed_out: bool, partial: Report | None = None, planned: int = 0) -> tuple[Report | None, str]:
        """The report of what finished, and the message saying how it ended."""
        elapsed = time.perf_counter() - self.started
        self.halted = f"timed out after {elapsed:.1f} s" if timed_out else f"interrupted after {elapsed:.1f} s"
        finished = "; the start point was checked, not all that was to follow it"
        if self.start is None:
            finished = f"; reached {len(partial.blocks)} of {planned} blocks" if partial is not None else \
                " before the first loss evaluation finished"
            self.start = partial
        elif self.move is not None and self.generic is None and self.regularization is None:
            self.generic = partial
        elif self.regularization is not None and partial is not None:
            self.regularization = dataclasses.replace(self.regularization, data_only=partial)
        return self.report(), f"{self.loaded.name}: {self.halted}{finished}"

    def report(self) -> Report | None:
        """The start point's report, with everything the later phases found."""
        if self.start is None:
            return None
        parts = [self.start, self.generic, getattr(self.regularization, "data_only", None)]
        done = [p for p in parts if p is not None]
        verdicts = [p.verdict for p in done]
        if self.generic is not None and _resolved_at_generic(self.start, self.generic):
            # Values the start point could not resolve (on a kink, or within
            # a budget too wide there) were checked again, and verified, at
            # the generic point.
            verdicts[0] = PASS
        warnings = self.start.warnings
        hints = self.start.hints  # (a check of blocks apart: what their failures say together)
        if self.generic is not None and self.generic.verdict == FAIL and self.start.verdict != FAIL:
            hints += (_where_wrong(self.generic),)
        hints += tuple(self.hints)
        if self.regularization is not None and self.regularization.data_only is not None:
            hints += _which_part(self.regularization, [p for p in parts[:2] if p is not None])
        if self.halted is not None and self.start.stopped is None:
            warnings += (f"{self.halted}: this report is partial (the start point was checked; not all that "
                         "was to follow it)",)
        return dataclasses.replace(
            self.start,
            verdict=worst(*verdicts) if self.halted is None or self.start.stopped is None else self.start.verdict,
            warnings=warnings,
            evaluations=sum(p.evaluations for p in done) + self.extra_evaluations,
            seconds=time.perf_counter() - self.started,
            notes=self.start.notes + tuple(self.notes) + _advice([p for p in parts[:2] if p is not None]),
            hints=hints,
            stopped=self.start.stopped or self.halted,
            start_point=self.findings,
            moved=self.move,
            **self._said_once(),
        )

    def _said_once(self) -> dict[str, Any]:
        """The later checks (at the generic point, of the data loss alone)
        without the warnings and notes an earlier check says already: the
        same fact (a float32 loss, the model's own notes, --jobs auto's
        choice) is said once per model. Their verdicts stay as found."""
        said = set(self.start.warnings) | set(self.start.notes)
        generic, regularization = self.generic, self.regularization
        if generic is not None:
            generic = _without(generic, said)
            said |= set(self.generic.warnings) | set(self.generic.notes)
        if regularization is not None and regularization.data_only is not None:
            regularization = dataclasses.replace(regularization, data_only=_without(regularization.data_only, said))
        return {"generic": generic, "regularization": regularization}


def _without(report: Report, said: set[str]) -> Report:
    """``report`` without the model-level warnings and notes in ``said``."""
    return dataclasses.replace(report, warnings=tuple(w for w in report.warnings if w not in said),
                               notes=tuple(n for n in report.notes if n not in said))


def _advice(checks: list[Report]) -> tuple[str, ...]:
    """What to do about blocks exactly zero at every point the run checked
    (the start point, and the generic one where it went there): a point
    where they matter. Said once per model, after every point, and only
    what the run has not done: a block that is not zero at the generic
    point was checked where it matters; more --samples only where some
    of a block's elements went unsampled."""
    from .verdict.grading import ALL_ZERO

    zero, unsampled = [], False
    for block in checks[0].blocks if checks else ():
        same = [b for check in checks for b in check.blocks if b.name == block.name]
        if all(any(ALL_ZERO in w for w in b.warnings) for b in same):
            zero.append(block.name)
            unsampled = unsampled or any(b.checked < b.size for b in same)
    if not zero:
        return ()
    points = "both points checked" if len(checks) > 1 else "the point checked"
    return (f"{', '.join(zero)} {'is' if len(zero) == 1 else 'are'} exactly zero at {points}: check at a point "
            f"where {'it matters' if len(zero) == 1 else 'they matter'} (other --params"
            f"{', more --samples' if unsampled else ''})",)


def _unresolved(report: Report) -> dict[str, list[int]]:
    """Per block, the coordinates the start point could not resolve for a
    kink (several meeting, a tie, a subgradient's bracket, a kink crossed
    where the budget did not decide): judged at the generic point too, off
    the kink. Values a noisy loss leaves unverified are not: the noise is
    the same there, and each would cost a Taylor test for nothing."""
    carried: dict[str, list[int]] = {}
    for block in report.blocks:
        for dim in block.dims:
            at_kink = dim.kink is not None or dim.kink_untracked or dim.bracket is not None
            if dim.grade == KINK or (dim.grade in (OK, UNVERIFIED, WARN) and at_kink):
                carried.setdefault(block.name, []).append(int(np.ravel_multi_index(dim.index, block.shape))
                                                          if block.shape else 0)
    return carried


def _where_wrong(generic: Report) -> str:
    """What a failure at the generic point alone suggests."""
    failed = [b.name for b in generic.blocks if b.grade == FAIL]
    return (f"right at the start point, wrong at the generic point ({', '.join(failed)}): a term that vanishes at "
            "the start (a zero bias, a tiny initialisation), a mask the start point never exercised, or a grad "
            "that ignores its argument?")


def _which_part(reg: Regularization, checks: list[Report]) -> tuple[str, ...]:
    """Where the loss with the strength fails: is the data loss's gradient
    wrong, or the regularization's? The check of the data loss alone says."""
    failed = sorted({b.name for check in checks for b in check.blocks if b.grade == FAIL})
    if not failed:
        return ()
    alone = {b.name: b.grade for b in reg.data_only.blocks}
    wrong_alone = [name for name in failed if alone.get(name) == FAIL]
    right_alone = [name for name in failed if alone.get(name) in (PASS, OK)]
    said = []
    # (What is left at 0 is everything but this strength's term: other
    # penalties, an L1 term under another name, stay in it.)
    if right_alone:
        said.append(f"with {reg.name} = 0 the loss without {reg.name}'s term passes in {', '.join(right_alone)}: "
                    f"{reg.name}'s term's gradient is what is wrong there (its loss and gradient disagree)")
    if wrong_alone:
        said.append(f"with {reg.name} = 0 the loss without {reg.name}'s term fails too in {', '.join(wrong_alone)}: "
                    f"the rest of the gradient is wrong there, whatever {reg.name}'s term's")
    return tuple(said)


def _resolved_at_generic(start: Report, generic: Report) -> bool:
    """The start point warns only because some blocks could not be resolved
    there (unverified, or kinks meeting), and the generic point verified
    every one of those blocks: measured a value in it, not only found the
    loss standing still along it (a pulse's arrival time jittered off its
    pulse has gradient 0 and verifies nothing of the pulse's)."""
    if start.verdict != WARN or start.warnings:
        return False
    if any(b.grade not in (PASS, OK, ZERO, KINK, UNVERIFIED) for b in start.blocks):
        return False
    there = {b.name: b for b in generic.blocks}
    return all(b.name in there and there[b.name].grade in (PASS, OK) and there[b.name].max_rel_error is not None
               for b in start.blocks if b.grade in (KINK, UNVERIFIED))


def _check_point(loaded: Model, settings: Settings, target, params_file, seed, overrides, jobs, dask,
                 load_seconds, progress, out_of_time, plans: list[BlockPlan] | None = None
                 ) -> tuple[Report, BasePoint]:
    """The check at ``loaded``'s parameters: plan (unless ``plans`` are
    given), evaluate, compare, grade. Raises _Stopped with what finished
    when time runs out or Ctrl-C comes."""
    started = time.perf_counter()
    at_start = plans is None  # (the generic point's plan is given)
    if plans is None:
        plans = plan(loaded.params, samples=settings.samples, directions=settings.directions, seed=settings.seed)
    results: list[_BlockEstimates] = []
    base = evaluator = executor = None
    noise = Noise(0.0)

    def partial(timed_out: bool) -> Report | None:
        """What this check finished so far, as a report (None before the start point)."""
        if base is None:
            return None
        elapsed = time.perf_counter() - started
        reason = f"timed out after {elapsed:.1f} s" if timed_out else f"interrupted after {elapsed:.1f} s"
        started_blocks = [r for r in results if r.coordinates or r.directions]
        checked = {r.plan.name for r in started_blocks}
        unreached = [b.name for b in plans if b.name not in checked]
        return _report(loaded, settings, base, started_blocks, evaluator, noise, elapsed,
                       stopped=reason, unreached=unreached, executor=executor)

    _in_flight.partial, _in_flight.planned = partial, len(plans)
    try:
        with Evaluator(loaded, seed=settings.seed, track_kinks=settings.track_kinks) as evaluator:
            progress.evaluator = evaluator
            # Workers start now, to import the model while the start point is
            # evaluated here (--jobs auto decides later); whatever happens
            # from here on, they are stopped.
            executor = _executor(evaluator, loaded, target, params_file, seed, overrides, jobs, dask,
                                 load_seconds, settings.method, settings.h)
            finished = False
            try:
                # The generic point's model proved its determinism at the start point.
                progress("base point", "the loss and gradient, twice (determinism)" if at_start else
                         "the loss and gradient")
                base = evaluator.base_point(repeat=at_start)
                total = sum(len(block.indices) + len(block.directions) for block in plans)
                executor.expect(total)  # --jobs auto decides here: workers start while the noise is measured
                progress("noise", "measuring the loss's rounding noise")
                noise = _noise(evaluator, base, loaded, settings, {block.name: block.indices for block in plans})
                # A loss that stands still at every width while its gradient says
                # it moves: the user's objective ignores what it is handed. A
                # reduction's loss is gradcheck's, read through the user's
                # derivative: standing still, it is constant there (the next
                # derivative is 0: a piecewise-linear model's H v), not coarsely
                # quantised, and the derivative claiming otherwise is the bug.
                if noise.still and loaded.derivative == "gradient":
                    _refuse_unread(evaluator, base, settings.seed, list(loaded.params), together=True)
                elif noise.still:
                    noise = constant(noise, base.loss)
                compared = None
                if settings.method == "complex-step":
                    from .crosscheck import cross_check  # imported where used: start-up

                    progress("cross-check", "the complex step against central differences, a probe per block")
                    compared = cross_check(evaluator, base, plans, noise, loaded.source)
                    if compared.note:
                        # The report's notes begin with the model's; rebound here,
                        # the partial report (a closure over it) has the note too.
                        loaded = dataclasses.replace(loaded, notes=loaded.notes + (compared.note,))
                done: dict[str, int] = {}  # units done, per phase

                def step(phase: str, block: str | None = None, total: int | None = None) -> None:
                    """A unit of ``phase`` done, in ``block`` (None: the phase begins)."""
                    if block is not None:
                        done[phase] = done.get(phase, 0) + 1
                        out_of_time()  # between probes, where no timer signal can reach
                    count = done.get(phase, 0)
                    what = {"probes": "probes", "tie directions": "directions along tied kinks"}.get(phase, phase)
                    detail = f"{what} {count}/{total}" if total is not None else \
                        f"{what}: {count} probe{'s' if count > 1 else ''}" if count else what
                    progress(phase, detail + (f" (block {block})" if block is not None else ""), count, total, block)

                executor.job = Job(base, settings.method, settings.h, noise.sigma, settings.seed,
                                   settings.track_kinks, settings.thresholds, ties=base.ties,
                                   analytic=noise.analytic, references=_references(base, plans),
                                   central_blocks=compared.central_blocks if compared else frozenset())
                results += [_BlockEstimates(block) for block in plans]
                _evaluate_blocks(evaluator, settings, step, results, executor, base)
                _diagnose(loaded, settings, results, base,
                          _timed_by_block(results, lambda probe: _measured(executor, evaluator, probe, step)))
                evaluator.verify_all()
                finished = True
            finally:
                executor.close(kill=not finished)
    except (KeyboardInterrupt, StopSignal) as stop:
        raise _Stopped(partial(isinstance(stop, StopSignal)), isinstance(stop, StopSignal), len(plans)) from None
    finally:
        _in_flight.partial = None
        progress.evaluator = None
    report = _report(loaded, settings, base, results, evaluator, noise, time.perf_counter() - started,
                     executor=executor)
    return report, base


def _check_apart(loaded: Model, settings: Settings, target, params_file, seed, overrides, jobs, dask,
                 load_seconds, progress, out_of_time, plans: list[BlockPlan] | None = None
                 ) -> tuple[Report, BasePoint]:
    """The check of a model whose loss is a sum of independent terms, one
    per block (a derivative's rows: ``blocks_apart``), at ``loaded``'s
    parameters: each block is checked as a model of its own, with that term
    alone as its loss, so with its own noise and scale (summed, a row of
    e^20 rounds away a row of e^-20's differences), then the block reports
    are one: the model's. Workers rebuild the whole model and are handed the
    one block (the model's loss sums the blocks it is given)."""
    reports: list[Report] = []
    bases: list[BasePoint] = []
    checked, note = apart.rows_checked(loaded, settings)
    notes = [note] if note is not None else []
    if dask is not None or (jobs != "auto" and resolve_jobs(jobs) > 1):
        # Workers are started per check, so per block here: a pool's start-up
        # (an interpreter, numpy, the model) per row of a dozen probes cost
        # 100x the work (n = 50: 116 s against 1 s in process).
        notes.append(f"--jobs {'(Dask)' if dask is not None else jobs}: the {len(checked)} blocks are checked in "
                     "process, one after another (each is a check of its own, too small for workers)")
        jobs, dask = 1, None
    began = time.perf_counter()
    _in_flight.apart = (reports, loaded, checked, began)
    try:
        for name, block in loaded.params.items():
            ours = None if plans is None else [p for p in plans if p.name == name]
            if name not in checked or ours == []:
                continue  # (sampled out; or a plan for some blocks only: the data loss's of failing ones)
            try:
                report, base = _check_point(dataclasses.replace(loaded, params={name: block}), settings, target,
                                            params_file, seed, overrides, jobs, dask, load_seconds, progress,
                                            out_of_time, ours)
            except _Stopped as stop:
                done = reports + ([stop.partial] if stop.partial is not None else [])
                raise _Stopped(apart.partial(done, loaded, checked, stop.timed_out, began), stop.timed_out,
                               len(checked)) from None
            reports.append(report)
            bases.append(base)
    except (KeyboardInterrupt, StopSignal) as stop:  # (between two blocks' checks)
        timed_out = isinstance(stop, StopSignal)
        raise _Stopped(apart.partial(reports, loaded, checked, timed_out, began), timed_out,
                       len(checked)) from None
    finally:
        _in_flight.apart = None
    if notes:
        reports[0] = dataclasses.replace(reports[0], notes=reports[0].notes + tuple(notes))
    # (Each term runs the model's code at its point: the first block's trace
    # stands for the model's kink sites, which the start point's findings read.)
    base = BasePoint(sum(b.loss for b in bases), bases[0].trace, {n: g for b in bases for n, g in b.gradient.items()},
                     ties=any(b.ties for b in bases))
    return apart.merged(reports, provider(loaded, "blocks_apart")), base


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
        left = ends - time.monotonic()
        if left > 0:  # a deadline beyond what the timer holds: wait on
            signal.setitimer(signal.ITIMER_REAL, min(left, TIMER_LIMIT))
            return
        if shielding():  # gradcheck's own bookkeeping, which a stop would leave half done
            signal.setitimer(signal.ITIMER_REAL, STOP_DEFERRED)
            return
        raise StopSignal()

    pending, interval = signal.getitimer(signal.ITIMER_REAL)  # the caller's timer, if any
    previous = signal.signal(signal.SIGALRM, on_alarm)
    started = time.monotonic()
    try:
        # A deadline decades away (--timeout 1e300) is no deadline for the
        # timer, which holds seconds in a time_t; out_of_time() still knows it.
        signal.setitimer(signal.ITIMER_REAL, min(seconds, TIMER_LIMIT))
        yield out_of_time
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        except StopSignal:
            pass  # (it fired as the check ended: the check ended anyway, and the timer cannot fire again)
        signal.signal(signal.SIGALRM, previous)
        if pending > 0:
            # The caller's timer goes on; one due meanwhile fires at once.
            left = pending - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), interval)


def _executor(evaluator, loaded, target, params_file, seed, overrides, jobs, dask, load_seconds, method, h):
    """Where the probes will be estimated (its `job` is set once the start point is known)."""
    def recipe():
        return recipe_for(loaded, target, params_file, seed, overrides)

    if dask is None and jobs == "auto":
        return Auto(evaluator, recipe, load_seconds, method, h)
    workers = resolve_jobs(jobs)
    if dask is None and workers == 1:
        return InProcess(evaluator)
    recipe = recipe()
    if dask is not None:
        return DaskCluster(evaluator, recipe, dask)
    limit = MAX_JOBS_PER_CORE * (os.cpu_count() or 1)
    pool = ProcessPool(evaluator, recipe, min(workers, limit))
    if workers > limit:
        pool.note = (f"--jobs {workers}: {limit} worker processes, {MAX_JOBS_PER_CORE} per core of this machine's "
                     f"{os.cpu_count() or 1}; more only add start-up (an interpreter, numpy and the model each)")
    return pool


def _noise(evaluator: Evaluator, base: BasePoint, model: Model, settings: Settings, probed: dict) -> Noise:
    # Measured for the complex step too: it takes no differences of f, but
    # the central differences that vet it do, and the analytic side's own
    # rounding is all of its budget.
    return loss_noise(evaluator, base, settings.seed, probed)


def _refuse_unread(evaluator: Evaluator, base: BasePoint, seed: int, blocks: list[str], together: bool) -> None:
    """A ModelError where the loss does not read the params it is handed.

    The evidence (:func:`_unmoved`): moved by their own scale, both ways,
    the blocks leave the loss exactly as it is, while the gradient says it
    changes far beyond rounding. Moved ``together`` (every block, where the
    noise table stood still), that is the whole loss: it ignores what it
    is handed, whatever else is true, and no difference can check its
    gradient. One block at a time (those the start point failed), a block
    the loss ignores is as likely a wrong gradient's (one for a parameter
    the loss never uses), so it is refused only where the loss is seen to
    read a copy of it the model holds (``self.W`` beside ``self.params``, the
    module's ``params`` where a function reads them instead of its argument).
    Either way an array is named only where moving it moved the loss
    (:func:`_read_instead`): equal values are a suspicion, not evidence."""
    moves = _moves(evaluator, blocks, seed)
    if together:
        predicted = _unmoved(evaluator, base, moves)
        unread = dict.fromkeys(blocks, predicted) if predicted is not None else {}
    else:
        unread = {name: change for name in blocks
                  if (change := _unmoved(evaluator, base, {name: moves[name]})) is not None}
    read = {name: _read_instead(evaluator, base, name, moves[name]) for name in unread}
    if not together:
        unread = {name: change for name, change in unread.items() if read[name]}
    if not unread:
        return
    held = [f"{label} (block {name!r})" for name in unread for label in read[name]]
    what = "the parameters" if together else f"block{'s' if len(unread) > 1 else ''} {listed(unread)}"
    moved = "every block" if together else "each" if len(unread) > 1 else "it"
    tail = (f"; it reads {'their' if len(unread) > 1 else 'its'} values where no call hands them (moving them "
            f"there moved the loss): {', '.join(held)}. Compute from what each call is handed (a function's "
            "argument; a model or layer object's self.params)" if held else
            "; it returns the same value whatever it is handed: it computes from something no call hands it "
            "(a copy of the weights kept elsewhere), or is a constant, whose gradient is zero")
    raise ModelError(f"the loss does not depend on {what} it is handed: with {moved} moved by its own scale, both "
                     f"ways, the loss stayed {base.loss!r}, while the gradient says it changes by "
                     f"{max(unread.values()):.3g}{tail}")


def _moves(evaluator: Evaluator, blocks: list[str], seed: int) -> dict[str, np.ndarray]:
    """Per block, a move by its own scale with seeded signs on every element."""
    rng = np.random.default_rng([seed, 19])
    params = evaluator.model.params
    return {name: step_scale(evaluator, Probe(name)) * rng.choice((-1.0, 1.0), params[name].shape) for name in blocks}


def _unmoved(evaluator: Evaluator, base: BasePoint, moves: dict[str, np.ndarray]) -> float | None:
    """The change the gradient predicts for ``moves``, where the loss is
    exactly the start's at that move and its opposite; None where it moves,
    breaks (it reads them) or the gradient predicts no change beyond rounding."""
    params = evaluator.model.params
    predicted = abs(sum(float(np.sum(base.gradient[name] * move)) for name, move in moves.items()))
    if not predicted > max(EPS16 * abs(base.loss), SUBNORMAL_SPACING):
        return None  # (a change float16, the coarsest type a loss computes in, could hide)
    for sign in (1.0, -1.0):
        point = {name: x + sign * moves[name] if name in moves else x for name, x in params.items()}
        try:
            value, _ = evaluator.at(point, loss_only=True)
        except ModelError as exc:
            if type(exc) not in (ModelError, UserCodeError):
                raise  # the model changed its params, or is not deterministic
            return None
        if value != base.loss:
            return None
    return predicted


def _read_instead(evaluator: Evaluator, base: BasePoint, name: str, move: np.ndarray) -> list[str]:
    """The arrays the model holds with block ``name``'s values (copies_of)
    that the loss reads: moved by ``move`` in place, for one call at the
    checked point, they change the loss. Each is put back exactly as it
    was, whatever the call did; one that cannot be written (read-only) is
    not tried."""
    read = []
    for label, array in copies_of(evaluator.model, {name: evaluator.model.params[name]})[name]:
        if not array.flags.writeable:
            continue
        kept = array.copy()
        try:
            array += move.astype(array.dtype, copy=False)
            value, _ = evaluator.at(dict(evaluator.model.params), loss_only=True)
        except (ModelError, FloatingPointError, TypeError, ValueError):
            continue
        finally:
            np.copyto(array, kept)
        if value != base.loss:
            read.append(label)
    return read


def _references(base: BasePoint, plans) -> dict[str, float]:
    """Per block, the largest analytic value among its sampled coordinates:
    the scale grading will verify its values against (a block sampled by
    directions alone has none: its typical value stands in)."""
    references = {}
    for block in plans:
        if len(block.indices):
            references[block.name] = float(np.max(np.abs(base.gradient[block.name].reshape(-1)[block.indices])))
    return references


def _evaluate_blocks(evaluator: Evaluator, settings: Settings, step: Callable[..., None],
                     results: list[_BlockEstimates], executor, base: BasePoint) -> None:
    """Fill ``results``: every block's sampled probes go to the executor at
    once (no idle workers at block boundaries), each estimate landing in its
    block as it arrives (so an interrupted check keeps what finished); then,
    here, the directions ties leave smooth (ties.py), and drill-down, block
    by block. ``step(phase, block, total)`` after each probe (block None:
    the phase begins)."""
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

    # Estimates arrive in order, so the wait for each is its probe's share
    # of the wall time (in a pool the blocks' probes overlap, and the
    # shares still add up to the time the probes took).
    arrived = [time.perf_counter()]

    def collect(position: int, found: Estimate) -> None:
        result, index = placed[position]
        now = time.perf_counter()
        result.seconds += now - arrived[0]
        arrived[0] = now
        if index is None:
            result.directions.append(found)
        else:
            result.coordinates.append((index, found))
        step("probes", result.plan.name, len(probes))

    step("probes", None, len(probes))
    arrived[0] = time.perf_counter()
    executor.estimates(probes, collect)
    phase: list = ["tie directions", None]  # the phase measure() counts in, of how many

    def measure(probe: Probe) -> Estimate:
        found = executor.job.estimate(evaluator, probe)
        step(phase[0], probe.block, phase[1])
        return found

    measure = _timed_by_block(results, measure)

    if base.ties and settings.method != "complex-step":
        step("tie directions")
    along_ties = _tie_directions(evaluator, settings, base, results)
    phase[1] = len(along_ties)
    for result in results:
        direction = along_ties.get(result.plan.name)
        if direction is not None:
            result.along_ties.add(len(result.directions))
            result.directions.append(measure(Probe(result.plan.name, direction=direction.reshape(result.plan.shape),
                                                   number=len(result.directions))))
    phase[:] = ["drill-down", None]
    for result in results:
        _drill_down(result, settings, measure)


def _timed_by_block(results: list[_BlockEstimates],
                    measure: Callable[[Probe], Estimate]) -> Callable[[Probe], Estimate]:
    """``measure`` with each call's wall time added to the probed block's
    ``seconds``: what a JUnit testcase says its block took."""
    by_name = {result.plan.name: result for result in results}

    def timed(probe: Probe) -> Estimate:
        began = time.perf_counter()
        try:
            return measure(probe)
        finally:
            by_name[probe.block].seconds += time.perf_counter() - began

    return timed


def _tie_directions(evaluator: Evaluator, settings: Settings, base: BasePoint,
                    results: list[_BlockEstimates]) -> dict[str, np.ndarray]:
    """Where kinks are tied at the point, the direction in each block the
    ties leave smooth, if the analytic value departs from every valid
    choice there (ties.py); none where more elements are tied than
    TIE_MAX_TIED (a ReLU layer at W = 0: each tie a dimension to sample,
    too many to tell, and each way of breaking them a valid choice)."""
    if not base.ties or settings.method == "complex-step":
        return {}
    from .startpoint import tied_sites
    from .ties import tie_directions  # imported where used: start-up

    if sum(tied_sites(base.trace or []).values()) > TIE_MAX_TIED:
        return {}
    return tie_directions(evaluator, base, settings.seed, [r.plan.name for r in results])


def _drill_down(result: _BlockEstimates, settings: Settings, measure: Callable[[Probe], Estimate]) -> None:
    """Screen, then drill down: a direction that fails while every sampled
    coordinate passes points at wrong elements sampling missed."""
    block = result.plan
    thresholds = settings.thresholds
    if settings.max_evals and not any(judge(e, thresholds)[0] == FAIL for _, e in result.coordinates):
        budget = settings.max_evals
        checked = {i for i, _ in result.coordinates}
        for k, along in enumerate(result.directions):
            # (Not along the ties: each of its coordinates is a valid choice alone.)
            if budget <= 0 or k in result.along_ties or judge(along, thresholds)[0] != FAIL:
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
            unreached: list[str] = (), executor=None) -> Report:
    # The loss has kinks if tracking saw a kink operation, or any probe
    # crossed one. Grading is per dimension: only a probe that crossed a
    # kink, or had one near, is graded by the bands for kinks.
    kinked = bool(base.trace) or any(
        e.crossed_kink for r in results for e in [c for _, c in r.coordinates] + r.directions
    )
    blocks = [dataclasses.replace(block, diagnosis=r.diagnosis if block.grade == FAIL else block.diagnosis,
                                  seconds=r.seconds)
              for r, block in zip(results, _graded(results, settings.thresholds))]

    warnings, notes = [], list(loaded.notes)
    said_warnings, said_notes = _precision(evaluator.low_precision, noise, blocks, settings.method)
    warnings += said_warnings
    notes += said_notes
    if stopped is not None:
        warnings.append(f"{stopped}: this report is partial"
                        + (f"; not checked: {', '.join(unreached)}" if unreached else ""))
    if getattr(executor, "note", None):
        notes.append(executor.note)
    if evaluator.ignored_keys:
        notes.append(f"the gradient's keys are 'd' + each block's name; its other keys "
                     f"({', '.join(sorted(evaluator.ignored_keys))}) name no block and were not compared")
    for text, count in evaluator.model_warnings.items():
        notes.append(f"the model raised {text} ({count} of {evaluator.evaluations} calls)")
    blocks_ = tuple(blocks)
    return Report(
        model=loaded.name,
        source=loaded.source,
        verdict=verdict(blocks_, tuple(warnings)),
        evaluations=evaluator.evaluations,
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
        unchecked=tuple(unreached),
        derivative=loaded.derivative,
    )


def _graded(results: list[_BlockEstimates], thresholds) -> list[BlockResult]:
    """Each block's estimates graded, and summarised."""
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
            _along_ties(grade_estimate(e, index=None, direction=k, thresholds=thresholds, scale=scale))
            if k in r.along_ties else grade_estimate(e, index=None, direction=k, thresholds=thresholds, scale=scale)
            for k, e in enumerate(r.directions)
        )
        blocks.append(grade_block(r.plan.name, shape, r.plan.size, dims, directional, thresholds))
    return blocks


def _measured(executor, evaluator: Evaluator, probe: Probe, step: Callable[..., None]) -> Estimate:
    """One more probe, here, for the diagnosis (a unit of its own phase)."""
    step("diagnosis", probe.block)  # (and the deadline, between probes)
    return executor.job.estimate(evaluator, probe)


def _diagnose(loaded: Model, settings: Settings, results: list[_BlockEstimates], base: BasePoint,
              measure: Callable[[Probe], Estimate]) -> None:
    """What kind of bug each failing block looks like (diagnosis.py), kept
    with its estimates: read from what was measured, and, to say where the
    wrong elements are, probes within the drill-down's budget."""
    failing = [(r, block) for r, block in zip(results, _graded(results, settings.thresholds)) if block.grade == FAIL]
    if not failing:
        return
    from . import diagnosis, regularization
    from .model import held_arrays

    functions = [f for f in (loaded.loss, loaded.grad, loaded.loss_and_grad) if f is not None]
    held = {label: array for label, array in held_arrays(loaded).items() if label not in loaded.params}
    sizes = diagnosis.dimensions_of(functions, loaded.namespace, held, loaded.params)
    try:
        strength = regularization.find(loaded, "auto")[0]
    except Exception:  # (a hint's premise; the report stands without it)
        strength = None
    measured = {}
    for r, block in failing:
        plain = [None if k in r.along_ties or k >= len(r.plan.directions) else
                 np.reshape(r.plan.directions[k], r.plan.shape) for k in range(len(r.directions))]
        values = measured[r.plan.name] = diagnosis.values_of(block, plain)

        def locate(r=r, values=values):
            return diagnosis.confine(r.plan.name, r.plan.shape, values, measure, settings.thresholds,
                                     budget=settings.max_evals, seed=settings.seed)

        r.diagnosis = diagnosis.diagnose(
            block, values, params=loaded.params[r.plan.name], gradient=np.reshape(base.gradient[r.plan.name],
                                                                                   r.plan.shape),
            dimensions=sizes, strength=(strength.name, strength.value) if strength is not None else None,
            locate=locate if settings.max_evals else None)
    shown = [dataclasses.replace(block, diagnosis=r.diagnosis) for r, block in failing
             if r.diagnosis is not None and r.diagnosis.kind in ("ratio", "sign")]
    for r, block in failing:
        if r.diagnosis is None and shown:
            r.diagnosis = diagnosis.same_ratio(block, measured[r.plan.name], shown[0], sizes)


def _along_ties(dim):
    """A direction ties leave smooth, said so where it is graded."""
    said = "along the tied elements together (a direction every way of breaking the ties agrees on)"
    return dataclasses.replace(dim, message=f"{said}: {dim.message}" if dim.message else said)


def _precision(low_precision: dict[str, str], noise: Noise, blocks: list[BlockResult],
               method: str) -> tuple[list[str], list[str]]:
    """The warnings and notes about the model's precision, each fact once
    (not once per block): a loss computed in a narrow type (returned as
    one, or every value a float32 number) is one warning, naming the
    gradients returned narrow too; else those gradients are one note; and
    where the loss's rounding left values unverified, what to do, once,
    without advice the run already followed (--method complex-step)."""
    warnings: list[str] = []
    notes: list[str] = []
    narrow: dict[str, list[str]] = {}  # dtype -> the gradients returned in it
    for what, dtype in low_precision.items():
        if what != "loss":
            narrow.setdefault(dtype, []).append(what.removeprefix("gradient of "))
    returned = "; ".join(f"the gradient{'s' if len(names) > 1 else ''} of {', '.join(names)} "
                         f"{'were' if len(names) > 1 else 'was'} {dtype}" for dtype, names in narrow.items())
    if "loss" in low_precision:
        dtype = low_precision["loss"]
        warning = (f"the loss is computed in {dtype}: it carries about {_digits(dtype)} significant digits, so a "
                   "finite difference over a small step keeps few of them; error budgets account for it, but few "
                   "values can be verified to the notes' 1e-7: compute the loss in float64 when checking")
        note = None
    else:
        warning, note = _about_noise(noise, blocks)
    narrow_loss = "loss" in low_precision or noise.float32
    if returned:
        if narrow_loss:
            warning += f"; {returned} too, compared after conversion to float64"
        else:
            notes.append(f"{returned}; compared after conversion to float64")
    warnings += [warning] if warning else []
    notes += [note] if note else []
    from .verdict.grading import ROUNDING_LIMITS

    limited = any(d.grade == UNVERIFIED and d.message and ROUNDING_LIMITS in d.message
                  for b in blocks for d in b.dims + b.directions)
    if limited and not narrow_loss:  # (a narrow loss's warning says what to do)
        # The same words at every point (the noise measured is said with it):
        # _Phases.report says them once.
        warnings[:] = [w.replace(_NOISE_CAUSE, "") for w in warnings]
        also = "" if method == "complex-step" else ", or try --method complex-step"
        notes.append("the loss's own rounding left values unverified (float32 inside the model, or large terms "
                     f"cancelling, as a large constant offset?): compute the loss in float64, without large constant "
                     f"offsets{also}")
    return warnings, notes


# What may make a float64 loss noisy: said with the noise, or (where values
# are left unverified by it) once per model with what to do (_precision).
_NOISE_CAUSE = " (float32 inside the model, or large terms cancelling?)"


def _about_noise(noise: Noise, blocks: list[BlockResult]) -> tuple[str | None, str | None]:
    """A warning, or only a note, about the loss's rounding noise."""
    sigma = noise.sigma
    if noise.float32:
        # Always a warning, as for a float32 return value: the notes' advice
        # is to check in float64.
        # (The same words at every point, so that the model's report says it
        # once, _Phases.report; the noise measured is the report's loss_noise.)
        return (f"the loss computes in float32: every value it returned is a float32 number (rounded to about "
                f"{_digits('float32')} digits), though returned as float64; error budgets "
                "account for it, but few values can be verified to the notes' 1e-7: compute the loss in float64 "
                "when checking"), None
    if noise.rounding_scale == 0 or sigma <= NOISY_LOSS_ULPS * EPS * noise.rounding_scale:
        # (a loss exactly 0 wherever the table looked showed no noise: its
        # sigma is the floor, the subnormals' spacing, not a measurement)
        return None, None
    noisy = (f"the loss is noisy: it varies by about {sigma:.1e} ({sigma / max(noise.scale, 1e-300):.0e} relative) "
             f"between nearby points, far more than float64 rounding{_NOISE_CAUSE}")
    if any(d.grade == UNVERIFIED for b in blocks for d in b.dims + b.directions):
        return noisy + "; it leaves some values unverified (reasons above)", None
    # Noise relative to the loss is not noise relative to its terms (a loss
    # that is 0 at the point, large terms cancelling exactly to a few ulps):
    # while every value is verified it is only worth knowing.
    return None, noisy + "; every value was still verified within its error budget"


def _digits(dtype: str) -> int:
    return int(np.finfo(np.dtype(dtype)).precision)
