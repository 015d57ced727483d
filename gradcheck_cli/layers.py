"""Layers: a forward/backward pair checked like a model.

The course's daily check is a layer's: ``affine_forward(x, w, b) -> (out,
cache)`` against ``affine_backward(dout, cache) -> (dx, dw, db)``. A layer
becomes a model: its float array inputs are the parameter blocks (the input
``x`` included: its gradient is half the backward pass), a seeded random
upstream gradient ``dout`` is drawn for each output, and

    loss(inputs) = sum_k <out_k, dout_k>,   grad(inputs) = backward(*douts, cache)

since the gradient of that scalar is exactly what backward computes. The
check is then the model check: kink tracking, error budgets, grading,
drill-down and the report are the same.

Conventions:
- CS231n: ``forward(**inputs)`` returns ``(out, cache)`` or several outputs
  and the cache last (an LSTM step's ``next_h, next_c, cache``);
  ``backward(*douts, cache)`` returns the gradients of the array inputs, in
  their order (one array where there is one input);
- a loss layer: ``forward(**inputs)`` returns ``(loss, dx)`` and there is no
  backward (``softmax_loss(x, y)``);
- a layer object (numpy-from-scratch libraries): ``obj.forward(X)``
  returns the output, ``obj.backward(dY)`` returns dX and leaves the
  parameters' gradients in ``obj.grads`` (or ``obj.gradients``), keyed like
  ``obj.params`` (or ``dW`` for ``W``). Its params are blocks too, handed
  to it for each call (its own given back after).
Inputs that are not float arrays (labels, ``conv_param``, ``mode``) are
passed through, a fresh copy each call (a batchnorm's running averages are
updated in place: never in the caller's dict). A tuple of ints is a shape,
filled with seeded standard-normal values, unless forward's default for
that argument is a setting's (an int, a string, a tuple of ints:
``pool=(2, 2)``, ``stride=1``): then it is a setting like its default, and
passes through.

Everything a call hands the layer is its own: the array inputs and the
upstream gradients are fresh copies each call, since layer code writes
into them as a network lets it (an in-place ReLU; CS231n's ``dx = dout;
dx[x <= 0] = 0``), and a write must not reach the next call.
"""

from __future__ import annotations

import copy
import inspect
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .errors import ModelError, UserCodeError, exception_text, listed
from .model import _is_ours, handed_params
from .options import handed_on
from .settings import DEFAULT_SEED
from .values import CHECK

if TYPE_CHECKING:
    from .report import Report


def _is_shape(value: Any) -> bool:
    return isinstance(value, tuple) and all(isinstance(n, (int, np.integer)) and n > 0 for n in value)


def _is_float_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _settings(forward: Callable) -> set[str]:
    """forward's arguments whose default is a setting's (an int, a string,
    a tuple of ints: ``pool=(2, 2)``, ``stride=1``, ``mode="train"``): a
    tuple of ints given for one is a setting like it, not a shape. An
    input's default, where it has one, is None, a float or an array."""
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: every tuple of ints is a shape
        return set()
    return {p.name for p in parameters if isinstance(p.default, (int, np.integer, str))
            or (isinstance(p.default, tuple) and all(isinstance(n, (int, np.integer)) for n in p.default))}


class Layer:
    """A forward/backward pair with its inputs, as a model: ``init_params``,
    ``loss`` and ``grad`` (what a target object provides)."""

    def __init__(self, forward: Callable, backward: Callable | None = None, **inputs: Any):
        self.obj = None
        if backward is None and callable(getattr(forward, "forward", None)) and \
                callable(getattr(forward, "backward", None)):
            # A layer object: its methods, and its params dict (if any) as blocks.
            self.obj = forward
            own = getattr(forward, "params", None)
            self.own = {k: v for k, v in own.items()} if isinstance(own, dict) else {}
            forward, backward = forward.forward, forward.backward
        if not callable(forward):
            raise ModelError(f"layer: forward must be a function, not a {type(forward).__name__}")
        if backward is not None and not callable(backward):
            raise ModelError(f"layer: backward must be a function, not a {type(backward).__name__}")
        if not inputs:
            raise ModelError(f"layer {_name(forward)}: give its inputs, e.g. x=np.ones((4, 5)) or x=(4, 5)")
        self.forward, self.backward, self.inputs = forward, backward, inputs
        self.name = _name(forward)
        self._bind_check()
        settings = _settings(forward)
        self.arrays = [k for k, v in inputs.items() if (_is_shape(v) and k not in settings) or _is_float_array(v)]
        # How each tuple of ints was read, for messages where a reading breaks the layer.
        self.shapes = [k for k in self.arrays if _is_shape(inputs[k])]
        self.settings = [k for k, v in inputs.items() if _is_shape(v) and k in settings]
        if self.obj is not None:
            clash = [k for k in self.own if k in inputs]
            if clash:
                raise ModelError(f"layer {self.name}: its params {', '.join(clash)} have the names of inputs")
            self.name = type(self.obj).__name__
        if not self.arrays and not getattr(self, "own", None):
            raise ModelError(f"layer {self.name}: none of its inputs ({', '.join(inputs)}) is a float array or a "
                             "shape: there is nothing to differentiate")
        self.douts: list[np.ndarray] | None = None
        self.made_at = _caller()

    def location(self) -> tuple[str | None, int | None]:
        """Where the report points for this layer (annotations, JUnit): the
        user's line that made it (``affine = layer(...)`` in a checks
        file), never gradcheck's adapter."""
        return self.made_at

    def _bind_check(self) -> None:
        try:
            inspect.signature(self.forward).bind(**self.inputs)
        except TypeError as exc:
            raise ModelError(f"layer {self.name}: its inputs do not fit {self.name}'s arguments: {exc}") from None
        except ValueError:  # builtins without a signature: called as given
            pass

    # -- the model contract ------------------------------------------------------

    def init_params(self, seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        """The float inputs (shapes drawn from ``seed``), and the upstream
        gradients drawn for the outputs of one forward call there."""
        rng = np.random.default_rng([seed, 0x1A7E5])
        params = {}
        for name in self.arrays:
            value = self.inputs[name]
            params[name] = rng.standard_normal(value) if _is_shape(value) else np.array(value, dtype=np.float64)
        if self.obj is not None:
            params.update({k: np.array(v, dtype=np.float64) for k, v in self.own.items()})
        # The first call, made here for every layer (a loss layer too): where
        # it breaks, a tuple of ints read as a shape may be the cause, said so.
        try:
            result = self._forward(params)
        except ModelError:
            raise
        except Exception as exc:
            raise UserCodeError(f"{self.name} raised {type(exc).__name__}: {exception_text(exc)} at its first "
                                f"call{self._tuples_read()}", exc) from None
        if self.backward is not None:
            outputs, _ = self._split(result)
            self.douts = [rng.standard_normal(np.shape(out)) for out in outputs]
            for dout in self.douts:
                dout.flags.writeable = False  # handed to backward as copies (_douts)
        return params

    def holders(self) -> list:
        """The user's object and functions this layer calls
        (model.held_arrays): what a message names."""
        return [thing for thing in (self.obj, self.forward, self.backward) if thing is not None]

    def _douts(self) -> list[np.ndarray]:
        """The upstream gradients for one backward call: its own copies."""
        return [dout.copy() for dout in self.douts]

    def _tuples_read(self, shapes: bool = True, settings: bool = True) -> str:
        """How the tuples of ints were read (as shapes; as settings, where
        forward's default for the argument is an int or a tuple of ints),
        for a failure that may owe to it, and how to say otherwise: those
        read as ``shapes``, as ``settings``, or both."""
        shapes, settings = self.shapes if shapes else [], self.settings if settings else []
        said = "; ".join(f"read as {what}: {', '.join(f'{k}={self.inputs[k]!r}' for k in names)}"
                         for what, names in (("shapes and filled with random values", shapes),
                                             ("settings, as forward's defaults for them are", settings)) if names)
        ways = [f"an input as an array ({k}=rng.standard_normal({self.inputs[k]!r}))" for k in settings[-1:]]
        ways += [f"a value that is no input as a list ({k}={list(self.inputs[k])})" for k in shapes[-1:]]
        return f"; {said} (give {' and '.join(ways)})" if said else ""

    def loss(self, params: dict[str, np.ndarray]):
        result = self._forward(params)
        if self.backward is None:
            return self._loss_pair(result)[0]
        outputs, _ = self._split(result)
        return sum(np.sum(out * dout) for out, dout in zip(outputs, self.douts))

    def grad(self, params: dict[str, np.ndarray]) -> dict[str, Any]:
        if self.obj is not None:
            return self._object_grad(params)
        result = self._forward(params)
        if self.backward is None:
            gradients = self._loss_pair(result)[1]
            where = f"{self.name}'s second result"
        else:
            _, cache = self._split(result)
            gradients = self.backward(*self._douts(), cache)
            where = f"{_name(self.backward)}"
        if len(self.arrays) == 1 and not isinstance(gradients, (tuple, list)):
            gradients = (gradients,)
        if not isinstance(gradients, (tuple, list)):
            raise ModelError(f"{where} returned a {type(gradients).__name__}; it must return the gradients of "
                             f"{', '.join(self.arrays)} (in that order), one per array input"
                             + (self._tuples_read(settings=False) if isinstance(gradients, np.ndarray) else ""))
        if len(gradients) != len(self.arrays):
            raise ModelError(f"{where} returned {len(gradients)} gradient{'s' if len(gradients) != 1 else ''}, but "
                             f"{self.name} has {len(self.arrays)} array input{'s' if len(self.arrays) != 1 else ''} "
                             f"({', '.join(self.arrays)}): one per input, in that order"
                             + self._tuples_read(shapes=len(gradients) < len(self.arrays),
                                                 settings=len(gradients) > len(self.arrays)))
        missing = [name for name, g in zip(self.arrays, gradients) if g is None]
        if missing:
            raise ModelError(f"{where} returned None for the gradient of {', '.join(missing)}")
        for name, g in zip(self.arrays, gradients):
            expected = np.shape(params[name])
            if np.shape(g) != expected:
                raise ModelError(f"{where} returned a gradient of shape {np.shape(g)} for {name}, whose shape is "
                                 f"{expected} (the gradient of an input has the input's shape)")
        return dict(zip(self.arrays, gradients))

    # -- helpers -----------------------------------------------------------------

    def _call_forward(self, params: dict[str, np.ndarray]):
        """forward on copies of the array inputs (``copy()`` keeps a tracked
        array tracked), with the pass-through values copied afresh."""
        inputs = {k: v.copy() for k, v in params.items() if k in self.arrays}
        return self.forward(**inputs, **{k: copy.deepcopy(v) for k, v in self.inputs.items() if k not in params})

    def _forward(self, params: dict[str, np.ndarray]):
        if self.obj is None:
            return self._call_forward(params)
        with handed_params(self.obj, {k: params[k] for k in self.own}):
            out = self._call_forward(params)
        return (*out, None) if isinstance(out, tuple) else (out, None)  # outputs, and no cache

    def _object_grad(self, params: dict[str, np.ndarray]) -> dict[str, Any]:
        with handed_params(self.obj, {k: params[k] for k in self.own}):
            self._call_forward(params)
            dx = self.backward(*self._douts())
            grads = getattr(self.obj, "grads", None)
            if grads is None:
                grads = getattr(self.obj, "gradients", None)
        where = f"{self.name}.backward"
        gradients = dx if isinstance(dx, (tuple, list)) else (dx,)
        if len(gradients) != len(self.arrays) or any(g is None for g in gradients):
            raise ModelError(f"{where} returned {_describe(dx)}; it must return the gradient of its input "
                             f"{', '.join(self.arrays)}")
        found = dict(zip(self.arrays, gradients))
        if self.own:
            if not isinstance(grads, Mapping):
                raise ModelError(f"{where} left no dict of its params' gradients in {self.name}.grads (or "
                                 f".gradients); found {_describe(grads)}")
            for key in self.own:
                value = grads.get(key, grads.get(f"d{key}"))
                if value is None:
                    raise ModelError(f"{self.name}.grads has no gradient for its param {key!r} (keys: "
                                     f"{listed(grads) or 'none'})")
                found[key] = np.array(value, copy=True)  # the object overwrites its grads on the next call
        return found

    def _split(self, result) -> tuple[list, Any]:
        if not (isinstance(result, tuple) and len(result) >= 2):
            raise ModelError(f"{self.name} returned a {type(result).__name__}; with a backward it must return "
                             "(out, cache), or several outputs and the cache last")
        return list(result[:-1]), result[-1]

    def _loss_pair(self, result) -> tuple[Any, Any]:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ModelError(f"{self.name} has no backward, so it must return (loss, gradient), not a "
                             f"{type(result).__name__}")
        return result


def _describe(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"{len(value)} values"
    return "None" if value is None else f"a {type(value).__name__}"


def _caller() -> tuple[str | None, int | None]:
    """The file and line of the first frame outside gradcheck's package: the
    user's ``layer(...)`` call (its first line, for one spread over several)."""
    frame = sys._getframe(1)
    while frame is not None:
        if not _is_ours(frame.f_code.co_filename):
            return frame.f_code.co_filename, frame.f_lineno
        frame = frame.f_back
    return None, None


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def layer(forward: Callable, backward: Callable | None = None, **inputs: Any) -> Layer:
    """A layer to check: assign it in a checks file (``affine = layer(
    affine_forward, affine_backward, x=(4, 5), w=(5, 3), b=(3,))``) and run
    ``gradcheck FILE`` (or :func:`check_layers`); or pass it to :func:`check`.

    ``forward(**inputs)`` returns ``(out, cache)`` (or several outputs, the
    cache last; or ``(loss, dx)`` for a loss layer with no ``backward``);
    ``backward(*douts, cache)`` returns the gradients of the array inputs,
    in their order. ``forward`` may instead be a layer object with
    ``forward`` and ``backward`` methods (``backward`` None). ``inputs``
    name forward's arguments: float arrays and shapes (a tuple of ints,
    filled with seeded values) are the blocks checked; anything else
    passes through (the conventions: :mod:`gradcheck_cli.layers`)."""
    return Layer(forward, backward, **inputs)


def check_layer(forward: Callable, backward: Callable | None = None, *, inputs: dict[str, Any] | None = None,
                **options: Any) -> Report:
    """Check a layer's backward against its forward (the conventions: :mod:`gradcheck_cli.layers`).

    ``forward`` and ``backward`` are as for :func:`layer` (``backward``
    None: a loss layer, or a layer object with both methods). ``inputs``
    maps forward's argument names to arrays, shapes or pass-through values;
    ``options`` are :func:`~gradcheck_cli.check`'s (the command line's
    option names). Returns the Report, one block per float input.
    """
    from .pipeline import check

    options = handed_on("check_layer", options, check, CHECK)  # (said once, naming this function)
    return check(Layer(forward, backward, **(inputs or {})), **options)


def check_layers(path: str | os.PathLike[str], **options: Any) -> dict[str, Report]:
    """Check every layer the checks file at ``path`` assigns (``affine =
    layer(...)``), as ``gradcheck FILE`` does: each is a model of its own,
    checked as the target ``"FILE:name"`` with ``options`` (:func:`~gradcheck_cli.check`'s),
    and has a report of its own.

    Returns the reports by layer name, in the file's order. (Not one
    Report: check() returns one model's, and the layers are several;
    ``check("FILE:name")`` checks one.) A ``timeout`` bounds the whole call,
    as the command line's ``--timeout`` bounds its run; ``save_params``
    writes one model's parameters, so it needs a file of one layer. Raises
    :class:`~gradcheck_cli.errors.ModelError` for a file that assigns no
    layer, and whatever :func:`~gradcheck_cli.check` raises for a layer
    (the first unusable layer ends the call).
    """
    from .each import check_each
    from .pipeline import check

    # Said once, naming this function (not once per layer, naming check()).
    options = handed_on("check_layers", options, check, CHECK)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"{path}: no such file (check_layers() takes a checks file: name = layer(...) lines)")
    names = declared(path)
    if not names:
        raise ModelError(f"{path} assigns no layer(...): check a model file with check()")
    return check_each(path, names, options, "layers")


def declared(path: str) -> list[str]:
    """The module-level names a checks file assigns from ``layer(...)``
    calls, read from its source (nothing is imported); none for a file that
    defines a model's own loss, grad or loss_and_grad."""
    import ast

    try:
        with open(path, encoding="utf-8") as stream:
            tree = ast.parse(stream.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return []
    if any(isinstance(node, ast.FunctionDef) and node.name in ("loss", "grad", "loss_and_grad")
           for node in tree.body):
        return []
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called == "layer":
                names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names
