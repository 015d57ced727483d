"""The only place that calls user code.

Every call: reseed numpy's global RNG and Python's ``random`` (so dropout
draws the same mask at x+h and x-h), call, validate the result (a finite
scalar loss; a gradient with the params' keys and shapes), verify the
parameters were not modified, count it, and record the kink trace.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import sys
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from . import kinks
from .errors import (
    GradcheckError,
    MethodError,
    ModelError,
    NondeterminismError,
    ParamsModifiedError,
    StopSignal,
    UserCodeError,
    exception_text,
    listed,
    user_line,
)
from .guard import doing
from .report_stream import leave_if_forked_copy
from .model import SINGLE_BLOCK, Model, held_arrays, own_imports, provider
from .structure import read_gradient, unflatten
from .settings import EPS, NONDETERMINISM_ULPS


@dataclass(frozen=True)
class LossEval:
    """One loss evaluation: its value (possibly non-finite) and kink trace."""

    value: float
    trace: list | None


@dataclass(frozen=True)
class BasePoint:
    """Loss, kink trace and analytic gradient at the unperturbed parameters."""

    loss: float
    trace: list | None
    gradient: dict[str, np.ndarray]
    ties: bool = False  # a kink operation was decided by a tie here (kinks.Trace): winners flip on every probe


def index_label(block: str, shape: tuple, flat_index: int) -> str:
    index = np.unravel_index(flat_index, shape) if shape else ()
    return f"{block}[{', '.join(str(int(i)) for i in index)}]"


def _first_difference(a: np.ndarray, b: np.ndarray) -> tuple[tuple[int, ...], float, float]:
    where = np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b))))
    index = tuple(int(i) for i in where[0]) if len(where) else ()
    return index, float(a[index]), float(b[index])


class Evaluator:
    """Calls a model's functions at points near its parameters.

    Use as a context manager: inside it, the model's own modules are the
    ones ``import`` finds (:func:`~gradcheck_cli.model.own_imports`), and
    anything the model prints goes to stderr so that stdout stays a clean
    report. Every call reseeds numpy's and Python's global RNGs; giving the
    caller's state back is the entry point's job
    (:func:`~gradcheck_cli.process_state.borrows_process`).
    """

    def __init__(self, model: Model, *, seed: int, track_kinks: bool = True):
        self.model = model
        self.seed = seed
        self.track_kinks = track_kinks
        self.evaluations = 0
        self.low_precision: dict[str, str] = {}  # what -> dtype, e.g. "loss" -> "float32"
        # Warnings the model raised (numpy's "overflow encountered in exp"...),
        # with counts. Captured, because with tracking numpy attributes them to
        # gradcheck's own line; they are reported instead.
        self.model_warnings: dict[str, int] = {}
        self.last_warnings: list[type] = []  # categories the latest call warned with
        # Seconds of untracked loss calls: what --jobs auto plans with.
        self.loss_times: list[float] = []
        self._pristine = model.params
        # C order, so that reshape(-1) below is a view: a nudge written into
        # it must reach the array the model is handed.
        self._work = {name: np.array(block, order="C", copy=True) for name, block in model.params.items()}
        # User code gets read-only views: an in-place write raises at the line
        # that writes, so no call needs its blocks compared afterwards (work
        # proportional to the block, on every call). Code that only needs
        # writable buffers (Cython memoryviews) gets writable ones instead,
        # with every call verified, once that is seen (_writable_needed).
        self._scratch: np.ndarray | None = None  # for loss_along's displacements, a chunk at a time
        self._moved: str | None = None  # a block loss_along left moved (restored when another call needs it)
        self._rms: dict[str, float] = {}
        self._views: dict[bool, dict[str, np.ndarray]] = {}  # tracked? -> read-only views handed to the model
        self._record_ties = False  # the start point's trace says whether kink operations were tied
        self.last_trace: list | None = None  # the trace of the last traced `at`
        self.ignored_keys: set[str] = set()  # gradient keys beside the blocks' dW1-style keys (dZ1, dA1)
        self.read_only = True
        self._refused_at: str | None = None  # where user code first wrote into a read-only block
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> "Evaluator":
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(own_imports(self.model.imports))
        self._stack.enter_context(contextlib.redirect_stdout(sys.stderr))
        self._stack.enter_context(_descriptor_1_to_stderr())
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.close()

    @contextlib.contextmanager
    def tracking(self, on: bool):
        """Loss calls inside the block are winner-tracked or not (training and
        untracked first estimates turn it off for a while)."""
        saved, self.track_kinks = self.track_kinks, on
        try:
            yield
        finally:
            self.track_kinks = saved

    # -- calling ---------------------------------------------------------

    def _arguments(self, tracked: bool, replace: dict[str, np.ndarray] | None = None,
                   read_only: bool | None = None) -> Any:
        read_only = self.read_only if read_only is None else read_only

        def wrap(block: np.ndarray) -> np.ndarray:
            if not (tracked or read_only):
                return block  # writable and untracked: the array itself, no view per call
            view = kinks.track(block) if tracked else block.view()
            if read_only:
                view.flags.writeable = False
            return view

        if read_only and not replace:
            # The same views every call (the work blocks stay the same arrays;
            # only their contents change), in a fresh dict the model may
            # change as it likes: per-call work does not grow with the
            # number of blocks.
            views = self._views.get(tracked)
            if views is None:
                views = self._views[tracked] = {name: wrap(block) for name, block in self._work.items()}
            if self.model.structure is not None:
                return unflatten(self.model.structure, views)
            return views[SINGLE_BLOCK] if self.model.single_array else dict(views)
        blocks = self._work if not replace else {**self._work, **replace}
        if self.model.single_array:
            return wrap(blocks[SINGLE_BLOCK])
        if self.model.structure is not None:
            return unflatten(self.model.structure, {name: wrap(block) for name, block in blocks.items()})
        return {name: wrap(block) for name, block in blocks.items()}

    def _call(self, fn: Callable, label: str, where: str, tracked: bool, replace: dict | None = None):
        _seed_numpy(self.seed)
        _seed_python(self.seed)
        self.evaluations += 1
        doing(label, where)
        caught: list = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if tracked:
                    with kinks.recording(ties=self._record_ties) as trace:
                        result = fn(self._arguments(True, replace))
                else:
                    trace = None
                    result = fn(self._arguments(False, replace))
            leave_if_forked_copy()  # (a loss that forks: only gradcheck's own process goes on)
        except (KeyboardInterrupt, StopSignal):
            self._restore_all()
            raise
        except ModelError:
            # gradcheck's own adapters (layers.py, a model object's loss)
            # name a broken contract themselves: passed on as they said it.
            self._restore_all()
            raise
        except BaseException as exc:
            if self.read_only and isinstance(exc, ValueError) and "read-only" in exception_text(exc):
                # Nothing was written (it could not be): the point stands as it is.
                return self._writable_needed(fn, label, where, tracked, replace, exc)
            self._restore_all()
            kind = "called sys.exit()" if isinstance(exc, SystemExit) else \
                f"raised {type(exc).__name__}: {exception_text(exc)}"
            raise UserCodeError(f"{label} {kind} {where}", exc) from None
        finally:
            for w in caught:
                text = f"{w.category.__name__}: {w.message}"
                self.model_warnings[text] = self.model_warnings.get(text, 0) + 1
            self.last_warnings = [w.category for w in caught]
        return result, trace

    def _writable_needed(self, fn: Callable, label: str, where: str, tracked: bool, replace: dict | None,
                         refused: ValueError):
        """User code refused a read-only parameter array: it writes into it,
        or only asks for a writable buffer (Cython's typed memoryviews do).
        From here on it gets writable arrays and every call is verified
        after it (the callers do): a write is then named with its block and
        element, and the line that wrote, from this first refusal."""
        self.read_only = False
        self._refused_at = user_line(refused)
        self.evaluations -= 1  # the same call, made again
        return self._call(fn, label, where, tracked, replace)

    def _restore_all(self) -> None:
        for name, block in self._work.items():
            np.copyto(block, self._pristine[name])
        self._moved = None

    def verify_all(self, label: str | None = None) -> None:
        """Every block as it was (after a run of evaluations that each
        verified only the block they perturbed)."""
        self._verify_unchanged(label or self._loss_label)

    def _verify_unchanged(self, label: str, only: str | None = None) -> None:
        self._settle()
        for name, block in self._work.items():
            if only is not None and name != only:
                continue
            # The arrays handed are the same every call (the views, made
            # once; the block itself where writable ones are needed): one
            # reshaped in place (W.shape = (6,)) would reach the next call so.
            expected = self._pristine[name].shape
            handed = (block, *(views[name] for views in self._views.values()))
            reshaped = next((array.shape for array in handed if array.shape != expected), None)
            if reshaped is not None:
                block.shape = expected  # (C order: it takes its shape back in place)
                self._views.clear()
                self._restore_all()
                raise ParamsModifiedError(
                    f"{label} reshaped params[{name!r}] in place, from {expected} to {reshaped}. gradcheck hands "
                    f"{label} the point to evaluate and needs it as handed; reshape a copy or a view instead "
                    f"(W = W.reshape({', '.join(map(str, reshaped))}), not W.shape = ...)."
                )
            if not np.array_equal(block, self._pristine[name]):
                index, new, old = _first_difference(block, self._pristine[name])
                self._restore_all()
                raise ParamsModifiedError(
                    f"{label} modified params[{name!r}] in place: element {list(index)} changed from {old!r} to "
                    f"{new!r}. gradcheck hands {label} the point to evaluate and needs it unchanged; "
                    "copy an array before changing it (e.g. W = W.copy())." + self._where_written()
                )

    def _where_written(self) -> str:
        return f" The write: {self._refused_at}." if self._refused_at else ""

    @property
    def _loss_label(self) -> str:
        return "loss" if self.model.loss is not None else "loss_and_grad"

    @property
    def _grad_label(self) -> str:
        """The user's function that gives the gradient: grad, or for a
        derivative reduced to the gradient check (derivatives/) the one it
        checks (hessp, hess, jac, hvp), not gradcheck's wrapper."""
        adapter = provider(self.model, "checked")  # (derivatives/: the user's function it checks)
        name = getattr(getattr(adapter, "checked", None), "__name__", None)
        if self.model.derivative != "gradient" and name:
            return f"{name} (the {self.model.derivative} checked)"
        return "grad" if self.model.grad is not None else "loss_and_grad"

    def _call_loss(self, where: str, replace: dict | None = None) -> tuple[Any, list | None, Any]:
        """The raw loss, its kink trace, and (from loss_and_grad) the unvalidated gradient."""
        fn = self.model.loss or self.model.loss_and_grad
        tracked = self.track_kinks
        started = time.perf_counter()
        result, trace = self._call(fn, self._loss_label, where, tracked=tracked, replace=replace)
        if not tracked and len(self.loss_times) < 64:  # a sample is all --jobs auto needs
            self.loss_times.append(time.perf_counter() - started)
        gradient = None
        if self.model.loss is None:
            result, gradient = self._split_pair(result)
        return result, trace, gradient

    def _evaluate_loss(self, where: str) -> tuple[LossEval, Any]:
        """The validated loss (and, from loss_and_grad, the unvalidated gradient)."""
        result, trace, gradient = self._call_loss(where)
        return LossEval(self._loss_value(result, self._loss_label), trace), gradient

    def loss(self, block: str | None = None, index: int | None = None, value: float = 0.0) -> LossEval:
        """The loss with element ``index`` (flat) of ``params[block]`` set to
        ``value``; with no block, the loss at the parameters themselves."""
        self._settle()
        if block is None:
            result, _ = self._evaluate_loss("at the starting point")
            self._verify_unchanged(self._loss_label)
            return result
        flat = self._work[block].reshape(-1)
        where = f"at {index_label(block, self._work[block].shape, index)} = {float(value)!r}"
        flat[index] = value
        expected = flat[index].copy()
        try:
            result = self._perturbed(block, where, lambda: flat[index] == expected)
        finally:
            flat[index] = self._pristine[block].reshape(-1)[index]
        if not self.read_only:
            # Writable blocks: the rest of this one now; the others once,
            # after the probes (verify_all): a change there is caught all
            # the same, and the check discarded. (Read-only ones cannot have
            # changed: a write raised.)
            self._verify_unchanged(self._loss_label, only=block)
        return result

    def loss_along(self, block: str, direction: np.ndarray, step: float,
                   weights: np.ndarray | None = None) -> tuple[LossEval, float | None]:
        """The loss with ``params[block]`` moved to x + step * direction, and,
        given ``weights`` (the analytic gradient), weights . (point - x) over
        the displacement realised in floating point.

        The point is built in the block handed to the model, and the
        displacement a chunk at a time in one small scratch buffer: no
        block-sized allocation per point, so a check of 1e7 parameters needs
        a few copies of the block, not one per stencil point."""
        if self._moved != block:
            self._settle()
        target, x = self._work[block], self._pristine[block]
        v = direction.reshape(target.shape)
        self._moved = None  # while the point is being built, the block is neither x nor the point
        np.multiply(v, step, out=target)
        target += x  # fl(x + fl(step * v)), as x + step * v computes it
        point, start = target.reshape(-1), x.reshape(-1)  # views: both are C order
        moved = None
        if weights is not None:
            g = weights.reshape(-1)
            moved = 0.0
            for part, scratch in self._chunks(point.size):
                np.subtract(point[part], start[part], out=scratch)
                scratch *= g[part]
                # Pairwise within a chunk, then in order: the same on every machine.
                moved += float(np.sum(scratch))

        def unchanged() -> bool:
            flat_v = v.reshape(-1)
            for part, scratch in self._chunks(point.size):
                np.multiply(flat_v[part], step, out=scratch)
                scratch += start[part]
                if not np.array_equal(point[part], scratch):
                    return False
            return True

        result = self._perturbed(block, f"with {block} moved along a random direction", unchanged)
        # Left moved: the next point along a direction overwrites it whole,
        # and anything else restores it first (_settle): one pass over the
        # block less per point. (User code that raised restored it already.)
        self._moved = block
        return result, moved

    def _chunks(self, size: int):
        """(slice, scratch of its length) covering ``size`` flat elements."""
        if self._scratch is None or self._scratch.size < min(SCRATCH_CHUNK, size):
            self._scratch = np.empty(min(SCRATCH_CHUNK, max(size, 1)))
        for begin in range(0, size, SCRATCH_CHUNK):
            end = min(begin + SCRATCH_CHUNK, size)
            yield slice(begin, end), self._scratch[:end - begin]

    def _settle(self) -> None:
        """The block loss_along left moved back at x."""
        if self._moved is not None:
            np.copyto(self._work[self._moved], self._pristine[self._moved])
            self._moved = None

    def block_rms(self, block: str) -> float:
        """The root mean square of a block's values (cached: a pass over the block)."""
        if block not in self._rms:
            self._rms[block] = float(np.sqrt(np.mean(np.square(self._pristine[block]))))
        return self._rms[block]

    def _perturbed(self, block: str, where: str, unchanged: Callable[[], bool]) -> LossEval:
        """The loss at the point now in the work blocks (``block`` moved)."""
        result, _ = self._evaluate_loss(where)
        if not self.read_only and not unchanged():
            raise ParamsModifiedError(
                f"{self._loss_label} modified params[{block!r}] in place while evaluating {where}; "
                "gradcheck needs the point it hands over unchanged: copy an array before changing it "
                "(e.g. W = W.copy())." + self._where_written()
            )
        return result

    def loss_complex(self, block: str, index: int | None, step: float, direction: np.ndarray | None = None) -> complex:
        """The loss with an imaginary step i*step in ``params[block]`` (element
        ``index``, or along ``direction``), for the complex-step method.

        Raises MethodError when the model cannot carry complex numbers through.
        """
        self._settle()
        z = self._work[block].astype(np.complex128, order="C")
        if index is not None:
            z.reshape(-1)[index] += 1j * step
            where = f"with an imaginary step in {index_label(block, z.shape, index)}"
        else:
            z += 1j * step * direction.reshape(z.shape)
            where = f"with an imaginary step along a random direction of {block}"
        expected = z.copy()
        try:
            result, trace, _ = self._call_loss(where, replace={block: z})
        except UserCodeError as exc:
            if isinstance(exc.original, (TypeError, ValueError)):
                raise MethodError(
                    f"{exc.args[0]}: the model does not accept complex parameters, so --method complex-step "
                    f"cannot be used; use --method central or five-point\n{exc.user_traceback}"
                ) from None
            raise
        if not np.array_equal(z, expected):
            raise ParamsModifiedError(f"{self._loss_label} modified params[{block!r}] in place {where}")
        # The other blocks are verified once, after the probes (verify_all).
        for event in trace or ():
            if event.op.endswith("of complex values"):
                raise MethodError(
                    f"{event.op.split()[0]}() at {event.filename}:{event.lineno} is not analytic on complex "
                    "numbers (abs returns the modulus), so --method complex-step cannot differentiate through it; "
                    "use --method central or five-point"
                )
        if any(issubclass(c, _COMPLEX_WARNING) for c in self.last_warnings):
            raise MethodError(
                f"{self._loss_label} discarded the imaginary part of a complex value (numpy warned: casting complex "
                "values to real), so --method complex-step cannot be used; use --method central or five-point"
            )
        value = np.asarray(result)
        if value.size != 1 or value.dtype.kind not in "fiuc":
            self._loss_value(result, self._loss_label)  # raises the ordinary contract error
        if value.dtype.kind != "c":
            raise MethodError(
                f"{self._loss_label} returned a real {value.dtype} for complex parameters: the imaginary part was "
                "dropped (float(), .real, astype(float) or a float array assigned into), so --method "
                "complex-step cannot be used; use --method central or five-point"
            )
        return complex(value.reshape(()))

    def at(self, params: dict[str, np.ndarray], *, traced: bool = False,
           gradient_only: bool = False, loss_only: bool = False) -> tuple[float, dict[str, np.ndarray]]:
        """Loss and validated gradient at another point (for training and
        the noise tables): one call of loss_and_grad, or one of loss and one
        of grad. The gradient is empty when the loss is not finite there.
        ``traced``: the loss call is winner-tracked, ties included, and its
        trace left in ``last_trace`` (the warm-up watches kink outcomes
        change). ``gradient_only``: a model with its own grad is not asked
        for the loss (returned as nan); ``loss_only``: nor for the gradient
        (returned empty)."""
        self._settle()
        saved = self._pristine
        self._pristine = {name: np.asarray(params[name], dtype=np.float64) for name in saved}
        try:
            for name, block in self._work.items():
                np.copyto(block, self._pristine[name])
            if gradient_only and self.model.grad is not None:
                gradient, _ = self._call(self.model.grad, "grad", "at another point", tracked=False)
                self._verify_unchanged("grad")
                return float("nan"), self._gradient_value(gradient, "grad")
            self._record_ties = traced
            try:
                with self.tracking(traced and self.track_kinks):  # training itself needs no kink traces
                    result, gradient = self._evaluate_loss("during training")
            finally:
                self._record_ties = False
            self.last_trace = result.trace
            self._verify_unchanged(self._loss_label)
            if not np.isfinite(result.value) or loss_only:
                return result.value, {}
            if self.model.grad is not None:
                gradient, _ = self._call(self.model.grad, "grad", "during training", tracked=False)
                self._verify_unchanged("grad")
                return result.value, self._gradient_value(gradient, "grad")
            return result.value, self._gradient_value(gradient, "loss_and_grad's gradient")
        finally:
            self._pristine = saved
            for name, block in self._work.items():
                np.copyto(block, saved[name])

    def _at_start(self, keep: bool = True) -> tuple[LossEval, dict[str, np.ndarray]]:
        """Loss and validated gradient at the parameters: one call of
        loss_and_grad, or one of loss and one of grad. ``keep``: the gradient
        is copied (the model may reuse its buffers); a gradient only compared
        at once need not be."""
        where = "at the starting point"
        self._settle()
        loss, gradient = self._evaluate_loss(where)
        self._verify_unchanged(self._loss_label)
        if not np.isfinite(loss.value):
            # Checked before the gradient: a nan loss explains a nan gradient.
            raise ModelError(
                f"{self._loss_label} is {loss.value} {where}, so no derivative can be measured. "
                "If the model has a softmax, shift the scores by their max before exp "
                "(exp(s - s.max(axis=1, keepdims=True))): without it exp overflows to inf and log(0) gives nan."
                + (" numpy warned: " + "; ".join(self.model_warnings) + "." if self.model_warnings else "")
            )
        if self.model.grad is not None:
            gradient, _ = self._call(self.model.grad, "grad", where, tracked=False)
            self._verify_unchanged("grad")
            return loss, self._gradient_value(gradient, "grad", keep)
        return loss, self._gradient_value(gradient, "loss_and_grad's gradient", keep)

    def base_point(self, repeat: bool = True) -> BasePoint:
        """Loss and gradient at the parameters, each evaluated twice to prove
        that reseeding makes them deterministic (``repeat=False``: once, where
        the same model proved it already)."""
        self._record_ties = True
        try:
            first, gradient = self._at_start()
        finally:
            self._record_ties = False
        if not repeat:
            return BasePoint(first.value, first.trace, gradient,
                             ties=bool(first.trace is not None and first.trace.tied))
        with self.tracking(False):  # the trace is the first call's; this one only repeats the values
            second, again = self._at_start(keep=False)
        differed = self._difference(first.value, second.value, gradient, again)
        if differed is not None:
            raise NondeterminismError(
                f"{differed}, although numpy's global random state and Python's `random` were reseeded before "
                f"each call. {self._why_calls_differ()}"
            )
        return BasePoint(first.value, first.trace, gradient, ties=bool(first.trace is not None and first.trace.tied))

    def _difference(self, a: float, b: float, gradient: dict[str, np.ndarray],
                    again: dict[str, np.ndarray]) -> str | None:
        """What two calls at the starting point returned differently, beyond
        NONDETERMINISM_ULPS (a parallel BLAS sums in its own order); None
        where nothing did."""
        if not (a == b or abs(a - b) <= NONDETERMINISM_ULPS * EPS * max(abs(a), abs(b))):
            return (f"{self._loss_label} is nondeterministic: two calls at the starting point returned {a!r} and "
                    f"{b!r} (difference {abs(a - b):.3g})")
        label = self._grad_label
        for name in gradient:
            g, h = gradient[name], again[name]
            if np.array_equal(g, h):
                continue  # the usual case, in one pass and no temporaries
            tolerance = NONDETERMINISM_ULPS * EPS * max(float(np.max(np.abs(g))), float(np.max(np.abs(h))))
            if not np.allclose(g, h, rtol=0, atol=tolerance):
                index, x, y = _first_difference(g, h)
                return (f"{label} is nondeterministic: two calls at the starting point gave {name}{list(index)} = "
                        f"{x!r} and then {y!r}")
        return None

    def _why_calls_differ(self) -> str:
        """Why two calls at one point differ: the arrays the model keeps
        between calls (its module's, its objects', --data's; held_arrays)
        that one more call changes, named; else what reseeding cannot
        reach, a generator of the model's own."""
        held = held_arrays(self.model)
        before = {label: _digest(array) for label, array in held.items()}
        with contextlib.suppress(GradcheckError), self.tracking(False):
            self._at_start(keep=False)  # (one that breaks now has still shown what it changes)
        changed = [label for label, array in held.items() if _digest(array) != before[label]]
        if not changed:
            return _NONDETERMINISM_HINT
        return (f"Each call changes {listed(changed)} in place, which the model keeps between calls, so the next "
                "call sees other data: compute from a copy (X = X * 2, not X *= 2); where a backward accumulates "
                "into it (grads['W'] += ..., reset by a zero_grad() between steps), reset it at the start of each "
                "call, since gradcheck calls it many times at one step.")

    # -- validating results -----------------------------------------------

    def _split_pair(self, result: Any) -> tuple[Any, Any]:
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            got = f"a {type(result).__name__}" + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else "")
            raise ModelError(f"loss_and_grad must return a pair (loss, grad), but it returned {got}")
        return result[0], result[1]

    def _loss_value(self, result: Any, label: str) -> float:
        if result is None:
            raise ModelError(f"{label} returned None; it must return the loss as a float (is a `return` missing?)")
        if isinstance(result, (bool, np.bool_)):
            raise ModelError(f"{label} returned a boolean ({result!r}); it must return the loss as a float")
        if isinstance(result, (int, float)):
            return float(result)
        if isinstance(result, (np.ndarray, np.generic)):
            array = np.asarray(result)  # a plain ndarray, also for a tracked result
            if array.size != 1:
                raise ModelError(
                    f"{label} returned an array of shape {array.shape}; the loss must be a scalar "
                    "(sum or average the per-example losses)"
                )
            if array.dtype.kind not in "fiu":
                raise ModelError(f"{label} returned a {array.dtype} value; the loss must be a real number")
            if array.dtype.kind == "f" and array.dtype.itemsize < 8:
                self.low_precision["loss"] = str(array.dtype)
            return float(array.reshape(()))
        raise ModelError(f"{label} returned a {type(result).__name__} ({result!r:.60}); it must return the loss as a float")

    def _gradient_value(self, result: Any, label: str, keep: bool = True) -> dict[str, np.ndarray]:
        if result is None:
            raise ModelError(f"{label} returned None; it must return the gradient (is a `return` missing?)")
        if self.model.structure is not None:
            found = read_gradient(self.model.structure, result, label)
            return {name: self._gradient_block(name, found[name], label, keep) for name in self._pristine}
        if self.model.single_array:
            if isinstance(result, Mapping):
                raise ModelError(f"{label} returned a dict, but the params are a single array: return an array of the same shape")
            return {SINGLE_BLOCK: self._gradient_block(SINGLE_BLOCK, result, label, keep)}
        if not isinstance(result, Mapping):
            raise ModelError(
                f"{label} returned {_kind(result)}; it must return a dict with the same keys as params "
                f"({listed(self._pristine)})"
            )
        keys = self._gradient_keys(result, label)
        return {name: self._gradient_block(name, result[key], label, keep) for name, key in keys.items()}

    def _gradient_keys(self, result: Mapping, label: str) -> dict[str, Any]:
        """Which key of the gradient holds each block's: the block's name, or
        ``"d" + name`` (dW1 for W1, as backprop code names them; other keys
        there, dZ1 and dA1, are the activations' and are left out, noted)."""
        names = list(self._pristine)
        missing = [k for k in names if k not in result]
        if not missing:
            extra = [k for k in result if k not in self._pristine]
            if extra:
                raise ModelError(f"{label} returned block(s) {listed(extra)} that params does not "
                                 f"have (params: {listed(names)})")
            return {name: name for name in names}
        prefixed = {name: f"d{name}" for name in names}
        if all(isinstance(key, str) and key in result for key in prefixed.values()):
            others = sorted(str(k) for k in result if k not in prefixed.values())
            if others:
                self.ignored_keys.update(others)
            return prefixed
        given = listed(result)
        raise ModelError(f"{label} returned no gradient for block(s) {listed(missing)}: its keys are "
                         f"{given or 'none'}, the params' {listed(names)}; a block's gradient is "
                         "under its own name, or 'd' + its name (dW1 for W1)")

    def _gradient_block(self, name: str, value: Any, label: str, keep: bool = True) -> np.ndarray:
        expected = self._pristine[name].shape
        if value is None:
            raise ModelError(f"{label} returned None for {name!r} (is a return missing?)")
        try:
            array = np.asarray(value)
        except Exception as exc:
            raise ModelError(f"{label}[{name!r}] is not an array: {exc}") from None
        if array.dtype.kind not in "fiu":
            raise ModelError(f"{label}[{name!r}] has dtype {array.dtype}; gradients must be real numbers")
        if array.shape != expected:
            raise ModelError(f"{label}[{name!r}] has shape {array.shape}, but params[{name!r}] has shape {expected}")
        if array.dtype.kind == "f" and array.dtype.itemsize < 8:
            self.low_precision[f"gradient of {name!r}"] = str(array.dtype)
        block = np.array(array, dtype=np.float64, copy=True) if keep else np.asarray(array, dtype=np.float64)
        if not np.all(np.isfinite(block)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(block))[0])
            raise ModelError(f"{label}[{name!r}] has a non-finite value {block[bad]} at index {list(bad)}")
        return block


def _digest(array: np.ndarray) -> bytes:
    """A fingerprint of an array's shape and contents: whether a call
    changed it, without a copy of what may be a whole data set."""
    contents = np.ascontiguousarray(array)
    digest = hashlib.blake2b(str(contents.shape).encode())
    digest.update(contents.data)
    return digest.digest()


def _kind(value: Any) -> str:
    """What a returned value is, in the user's terms: an array of a tracked
    parameter is still just an array to them."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


@contextlib.contextmanager
def _descriptor_1_to_stderr():
    """Point file descriptor 1 at stderr while user code may run: output that
    bypasses sys.stdout (C extensions, os.write, worker processes started
    meanwhile, which inherit it) must not land in a JSON report either."""
    try:
        sys.__stdout__.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    except (OSError, AttributeError, ValueError):  # no real descriptors (embedded, closed)
        yield
        return
    try:
        yield
    finally:
        try:
            sys.__stdout__.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 1)
        os.close(saved)


# The global RNGs' own seeding functions, held from import: a model that
# replaces np.random.seed (or random.seed) changes what it calls, not how
# gradcheck reseeds the generators every call.
_seed_numpy = np.random.seed
_seed_python = random.seed

# loss_along computes the realised displacement this many elements at a
# time: 512 kB of scratch (cache-sized: no block-sized buffer, and faster
# than whole-block passes).
SCRATCH_CHUNK = 1 << 16

_COMPLEX_WARNING = getattr(getattr(np, "exceptions", np), "ComplexWarning", Warning)

_NONDETERMINISM_HINT = (
    "A np.random.Generator made outside the function (rng = np.random.default_rng() at module level) "
    "is not reset: create it inside the function from a fixed seed, or use np.random.* functions, "
    "which gradcheck reseeds. Or the function keeps other state between calls: a cache (one keyed by "
    "id(x) returns another point's value, as Python reuses ids), a counter."
)
