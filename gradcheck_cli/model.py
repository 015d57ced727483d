"""Load a model: import the target, find its functions, build float64 params.

This is the only module that imports user code. Every contract rule is
checked here, and a broken one raises :class:`ModelError` naming the
culprit (file, function, block, key, dtype) and what was expected.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import itertools
import math
import os
import site
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Iterable, Sequence, TypeAlias

import numpy as np

from .derivatives.hvp import HVP, HessianVectorProduct, requested
from .derivatives.scipy_conventions import derivative_of
from .errors import MAX_NAMES_LISTED, ModelError, StopSignal, UserCodeError, exception_text, listed
from .guard import doing
from .options import python_names
from .process_state import borrows_process, shielded
from .report_stream import leave_if_forked_copy
from .settings import HELD_DEPTH, HELD_ITEMS
from .structure import flatten, is_structured
from .values import assignment_text

# What params= (--params) may be: an .npz's path, or the arrays themselves
# (a dict of arrays, nested lists and dicts of them, or one array).
ParamsSource: TypeAlias = "str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any] | np.ndarray | None"
# What set= (--set) may be: {"REG": 0}, or ["REG=0", "KEEP=1.0"] as the command line gives it.
Assignments: TypeAlias = "Mapping[str, Any] | Iterable[str] | None"

# The block name used when the params are one array instead of a dict.
SINGLE_BLOCK = "params"

_module_counter = itertools.count()


@dataclass(frozen=True)
class Model:
    """A loaded model: its functions and float64 copies of its parameters."""

    name: str
    """The target as the user wrote it."""
    source: str | None
    """Path of the file defining it, for annotations."""
    loss: Callable | None
    """The model's ``loss(params)``, where it defines one."""
    grad: Callable | None
    """The model's ``grad(params)``, where it defines one."""
    loss_and_grad: Callable | None
    """The model's ``loss_and_grad(params)``, where it defines one."""
    params: dict[str, np.ndarray]
    """The parameters by block name: float64 copies, never handed to user code."""
    single_array: bool = False
    """The model takes one array, not a dict."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Facts the loading found worth a line of the report (a float32 block checked as a float64 copy...)."""
    source_line: int | None = None
    """Where annotations point in ``source``: grad's definition; a layer's ``layer(...)``."""
    namespace: Any = None
    """The imported module, for reading its constants (``--reg``)."""
    target: Any = None
    """The object a target's ``:ATTR`` names, for its attributes (``--set``, ``--reg``)."""
    data_file: str | None = None
    """``--data``: arrays set as module variables before the model is found."""
    structure: Any = None
    """Nested params (lists, nested dicts): their template (structure.py); None: flat."""
    imports: "OwnImports | None" = None
    """The modules that are the model's own, installed while it runs."""
    derivative: str = "gradient"
    """What the model's ``grad`` is: the gradient, or for a derivative
    reduced to the gradient check (derivatives/) the ``Jacobian``, the
    ``Hessian``, the ``Hessian-vector product``: what the report names."""


@dataclass
class OwnImports:
    """The modules a model's import brought in that belong to the model (its
    file, its sibling modules, its local packages) and the directory it
    imports from. They are in ``sys.modules`` only while the model's code
    runs (:func:`own_imports`), so two models with a same-named
    ``helpers.py`` each see their own, and nothing is left behind."""

    modules: dict[str, ModuleType]
    directory: str | None


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(getattr(site, "getsitepackages", lambda: [])())
    roots.add(getattr(site, "getusersitepackages", lambda: None)())
    roots.add(os.path.dirname(_PACKAGE_DIR))  # where gradcheck itself is installed from
    return tuple(os.path.realpath(r) + os.sep for r in roots if r)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_MODULE_PREFIX = "gradcheck_user_"  # the names model files are imported under


def _belongs_to_model(name: str, module: Any) -> bool:
    """A module of the user's own (re-importable per model), not a library's:
    a model file, or a Python source file outside the standard library,
    site-packages and gradcheck itself. Extension modules are never
    re-imported."""
    if name.startswith(_MODULE_PREFIX):
        return True
    if name == __package__ or name.startswith(__package__ + "."):
        return False
    try:
        # A namespace package's __path__ recomputes itself from its parent's,
        # and can raise when the parent is gone or odd.
        locations = list(getattr(module, "__path__", None) or [])
    except Exception:
        locations = []
    files = [f for f in [getattr(module, "__file__", None), *locations] if isinstance(f, str)]
    if not files or any(f.endswith((".so", ".pyd")) for f in files):
        return False
    roots = _library_roots()
    return not any(os.path.realpath(f).startswith(roots) for f in files)


@contextlib.contextmanager
def own_imports(imports: OwnImports | None):
    """``sys.modules`` as the model's code left it (and ``sys.path`` with its
    directory) while that code runs; afterwards both as they were.

    What the model's code adds that belongs to it (see _belongs_to_model),
    and whatever entry it replaces (a fresh import of a module the caller
    had imported, a module it shadows), joins its own modules, to be put
    back the next time; the caller's entries, and the package attributes
    that import rebinds, are restored.
    """
    if imports is None:
        yield
        return
    before = dict(sys.modules)
    path = list(sys.path)
    sys.modules.update(imports.modules)
    if imports.directory is not None and imports.directory not in sys.path:
        sys.path.insert(0, imports.directory)
    try:
        yield
    finally:
        _put_back_whatever_stops(imports, before, path)


def _put_back_whatever_stops(imports: OwnImports, before: dict[str, Any], path: list[str]) -> None:
    """``_put_back``, shielded from the --timeout alarm; and where a stop
    (the alarm, Ctrl-C) lands before the shield is up (entering this
    clean-up, entering ``shielded``), done again, then the stop raised: a
    stop there left a model's module in sys.modules (a tiny --timeout in
    CI). _put_back is idempotent."""
    stopped: BaseException | None = None
    while True:
        try:
            with shielded():
                _put_back(imports, before, path)
            break
        except (StopSignal, KeyboardInterrupt) as stop:
            stopped = stopped or stop
    if stopped is not None:
        raise stopped


def _put_back(imports: OwnImports, before: dict[str, Any], path: list[str]) -> None:
    """own_imports' ending: the model's entries taken out of sys.modules
    into ``imports``, the caller's put back."""
    # Decided for all before any is removed: a namespace package's path
    # is read through its parent's entry.
    taken = [(name, module) for name, module in list(sys.modules.items())
             if before.get(name) is not module
             and (name in before or name in imports.modules or not isinstance(module, ModuleType)
                  or _belongs_to_model(name, module))]
    for name, module in taken:
        imports.modules[name] = module
        del sys.modules[name]
    for name, module in before.items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
    for name, module in imports.modules.items():
        package, _, child = name.rpartition(".")
        parent = sys.modules.get(package)
        if parent is not None and getattr(parent, child, None) is module:
            previous = before.get(name)
            if previous is not None:
                setattr(parent, child, previous)
            else:
                delattr(parent, child)
    sys.path[:] = path


def _definition_line(fn: Callable | None, source: str | None = None) -> int | None:
    """The line of ``source`` the report points at for the model's gradient
    (annotations, JUnit): where ``fn`` is defined; for one of gradcheck's
    adapters, the user's code it stands for (its ``location()``: a
    layer()'s, the line that made it; a model object's loss adapter, the
    object's loss). None where that line is gradcheck's own, or not in
    ``source`` (a grad imported from another module: a line of that module
    is not one of ``source``)."""
    if fn is None:
        return None
    owner = fn if _ours(fn) else getattr(fn, "__self__", None)
    if owner is not None and _ours(owner):
        if source is None:  # (a layer() given to check(): the line that made it, of no file the report names)
            return None
        filename, line = owner.location() if hasattr(owner, "location") else (None, None)
    else:
        try:
            filename, line = inspect.getsourcefile(fn), inspect.getsourcelines(fn)[1]
        except (OSError, TypeError):
            return None
    if not filename or not line or _is_ours(filename):
        return None
    if source is not None and not _same_file(filename, source):
        return None
    return line


def _assigned_line(source: str | None, name: str | None) -> int | None:
    """The line of ``source`` that assigns the module-level ``name`` (the
    target object: ``net = TwoLayerNet(...)``, whose class another module
    defines), for the report to point at; None where it reads no such line."""
    if not source or not name:
        return None
    try:
        with open(source, encoding="utf-8") as stream:
            tree = ast.parse(stream.read(), filename=source)
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return node.lineno
    return None


def _is_ours(filename: str) -> bool:
    """A file of gradcheck's own package."""
    package = os.path.dirname(os.path.abspath(__file__))
    return os.path.abspath(filename).startswith(package + os.sep)


def _same_file(a: str, b: str) -> bool:
    return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def _split_target(target: str) -> tuple[str, str | None]:
    """'file.py:attr' -> ('file.py', 'attr'), keeping Windows drive letters
    intact; a target object's hvp (derivatives/hvp.py), 'file.py:net:hvp'
    -> ('file.py', 'net:hvp')."""
    head, sep, attr = target.rpartition(":")
    if sep and head and attr.isidentifier() and not (len(head) == 1 and head.isalpha()):
        if attr == HVP:
            inner, obj = _split_target(head)
            if obj is not None and not requested(obj)[1]:  # (one object, not an hvp of one)
                return inner, f"{obj}:{attr}"
        return head, attr
    return target, None


def _looks_like_path(module: str) -> bool:
    return module.endswith(".py") or os.sep in module or "/" in module or os.path.exists(module)


def _import_file(path: str):
    if not os.path.exists(path):
        raise ModelError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise ModelError(f"{path} is a directory; give a model file (.py) or a dotted module name")
    if not path.endswith(".py"):
        raise ModelError(f"{path} is not a Python file: a model file ends in .py")
    if not os.path.isfile(path):  # a FIFO or a device would block the import, or never end it
        raise ModelError(f"{path} is not a regular file; give a model file (.py) or a dotted module name")
    path = os.path.abspath(path)
    stem = os.path.splitext(os.path.basename(path))[0]
    module_name = f"{_MODULE_PREFIX}{next(_module_counter)}_{stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    doing(f"the import of {path}")
    try:
        sys.modules[module_name] = module  # dataclasses and pickling look the module up here
        with contextlib.redirect_stdout(sys.stderr):  # the model's prints stay off our stdout
            spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(module_name, None)
        raise _import_failure(path, exc) from None
    finally:
        leave_if_forked_copy()  # (os.fork() at import: only gradcheck's own process goes on)
    return module


def _import_dotted(name: str):
    # Imported afresh, so --set and the model's own state never reach a
    # module the caller imported; own_imports puts the caller's one back.
    sys.modules.pop(name, None)
    doing(f"the import of {name}")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise ModelError(
                f"no model file or module named {name!r}: give a path to a .py file or an importable dotted module"
            ) from None
        raise _import_failure(name, exc) from None
    except BaseException as exc:
        raise _import_failure(name, exc) from None


def _import_failure(where: str, exc: BaseException) -> BaseException:
    if isinstance(exc, (KeyboardInterrupt, StopSignal)):
        return exc
    if isinstance(exc, SyntaxError):
        line = f"{exc.filename}:{exc.lineno}" if exc.lineno else str(exc.filename or where)
        text = f"\n    {exc.text.strip()}" if exc.text else ""
        return ModelError(f"syntax error in {line}: {exc.msg}{text}")
    if isinstance(exc, SystemExit):
        return ModelError(
            f"{where} called sys.exit({exc.code!r}) while being imported; a model file must not exit "
            "on import (put script code under `if __name__ == '__main__':`)"
        )
    if isinstance(exc, ImportError):
        missing = f" (module {exc.name!r} is not installed or not on the path)" if exc.name else ""
        return UserCodeError(f"importing {where} failed: {exception_text(exc)}{missing}", exc)
    return UserCodeError(f"importing {where} raised {type(exc).__name__}: {exception_text(exc)}", exc)


def _describe(value: Any) -> str:
    return type(value).__name__


def _find_callable(obj: Any, name: str, where: str) -> Callable | None:
    value = getattr(obj, name, None)
    if value is not None and not callable(value):
        raise ModelError(f"{where}.{name} must be a function, but it is a {_describe(value)}")
    return value


def _call_init_params(init_params: Callable, seed: int, where: str):
    try:
        signature = inspect.signature(init_params)
    except (TypeError, ValueError):
        signature = None
    args: tuple = ()
    kwargs: dict = {}
    if signature is not None:
        parameters = list(signature.parameters.values())
        if "seed" in signature.parameters:
            kwargs = {"seed": seed}
        elif parameters and parameters[0].kind in (parameters[0].POSITIONAL_ONLY, parameters[0].POSITIONAL_OR_KEYWORD):
            args = (seed,)
    doing(f"{where}.init_params")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return init_params(*args, **kwargs)
    except (KeyboardInterrupt, StopSignal, ModelError):
        # (a ModelError: gradcheck's own adapter, a layer(), said what broke)
        raise
    except BaseException as exc:
        raise UserCodeError(f"{where}.init_params raised {type(exc).__name__}: {exception_text(exc)}", exc) from None
    finally:
        leave_if_forked_copy()


def _the_model_object(module: Any) -> str | None:
    """The one module-level object with a ``params`` dict and a ``loss``
    method, in a module that defines no loss, grad or loss_and_grad of its
    own; None otherwise (then the module itself is the model)."""
    if any(callable(getattr(module, name, None)) for name in ("loss", "grad", "loss_and_grad")):
        return None
    found = [name for name, value in vars(module).items()
             if not name.startswith("_") and not isinstance(value, (type, ModuleType))
             and isinstance(getattr(value, "params", None), Mapping) and callable(getattr(value, "loss", None))]
    return found[0] if len(found) == 1 else None


@contextlib.contextmanager
def handed_params(obj: Any, params: Any):
    """The object's ``params`` are ``params`` inside the block, its own again
    after (a model or layer object that computes from ``self.params``)."""
    if not hasattr(obj, "params"):
        yield
        return
    own = obj.params
    obj.params = params
    try:
        yield
    finally:
        obj.params = own


class _ObjectLoss:
    """A model object's ``loss(X, y) -> (loss, grads)`` over its own
    ``params`` (CS231n's classifiers) as ``loss_and_grad(params)``: the
    object's params are the ones handed over for the call, then its own
    again; its data are the module's variables named like loss's arguments,
    read when called (``reg = 0.05`` beside the object is what --reg and
    --set change)."""

    def __init__(self, obj: Any, loss: Callable, module: Any, names: list[str]):
        self.obj, self.loss, self.module, self.names = obj, loss, module, names
        self.__name__ = getattr(loss, "__name__", "loss")

    def __call__(self, params: Any):
        with handed_params(self.obj, params):
            return self.loss(**{name: getattr(self.module, name) for name in self.names})

    def holders(self) -> list:
        """The user's object and code this adapter calls (held_arrays)."""
        return [self.obj, self.loss]

    def location(self) -> tuple[str | None, int | None]:
        """Where the report points for this model: the object's loss."""
        try:
            return inspect.getsourcefile(self.loss), inspect.getsourcelines(self.loss)[1]
        except (OSError, TypeError):
            return None, None


def _model_object(obj: Any, loss: Callable, module: Any, where: str) -> "_ObjectLoss | None":
    """loss_and_grad for a model object (see _ObjectLoss), or None when the
    target is not one: no ``params`` dict, or a loss that takes params."""
    if not isinstance(getattr(obj, "params", None), Mapping):
        return None
    try:
        arguments = list(inspect.signature(loss).parameters.values())
    except (TypeError, ValueError):
        return None
    named = [a for a in arguments if a.kind in (a.POSITIONAL_OR_KEYWORD, a.KEYWORD_ONLY)]
    if not named or named[0].name in ("params", "p", "theta"):
        return None
    data = {a.name: getattr(module, a.name) for a in named if hasattr(module, a.name)}
    needed = [a.name for a in named if a.default is a.empty and a.name not in data]
    if needed:
        raise ModelError(f"{where}.loss takes {', '.join(a.name for a in named)} and uses its own params; give "
                         f"{', '.join(needed)} as module-level variables of the model file, next to the object, "
                         "or in --data FILE.npz")
    return _ObjectLoss(obj, loss, module, list(data))




def held_arrays(model: "Model") -> dict[str, np.ndarray]:
    """The arrays the model's code can read beside its arguments, by the
    name it reads them with: its module's variables (``X``,
    ``params['W']``), the attributes of objects it holds (``net.W``,
    ``net.cache['x']``, ``net.layers[0].W``), HELD_DEPTH steps deep; for a
    model given as functions, their globals, closures and bound objects; for gradcheck's adapters (a
    layer(), a model object's loss), the user's objects and functions they
    call, never the adapter's own state. Not the ``params`` of an object
    gradcheck hands params to: the ones its code reads are the handed
    ones. Which array a model reads instead of its params (once moving it
    is seen to move the loss), or changes between calls."""
    functions = [fn for fn in (model.loss, model.grad, model.loss_and_grad) if fn is not None]
    adapters = [a for fn in functions for a in (fn, getattr(fn, "__self__", None)) if _ours(a)]
    called = {id(a): (a.holders() if hasattr(a, "holders") else []) for a in adapters}
    handed = {id(thing) for things in called.values() for thing in things if not inspect.isroutine(thing)}
    if model.target is not None:
        handed.add(id(model.target))
    found: dict[int, tuple[str, np.ndarray]] = {}
    seen: set[int] = set()

    def visit(label: str, value: Any, depth: int) -> None:
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "biufc":
                found.setdefault(id(value), (label, value))
            return
        if depth == 0 or id(value) in seen:
            return
        seen.add(id(value))
        if _ours(value):  # (a layer() in a checks file: what it calls, not its own state)
            visit_calls(value.holders() if hasattr(value, "holders") else [])
        elif isinstance(value, Mapping):
            for key, item in itertools.islice(value.items(), HELD_ITEMS):
                visit(f"{label}[{key!r}]", item, depth - 1)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value[:HELD_ITEMS]):
                visit(f"{label}[{i}]", item, depth - 1)
        elif _is_plain_object(value):
            for key, item in itertools.islice(_own_attributes(value).items(), HELD_ITEMS):
                if not (key == "params" and id(value) in handed):
                    visit(f"{label}.{key}", item, depth - 1)

    def visit_calls(things: list) -> None:
        for thing in things:
            visit_code(thing) if inspect.isroutine(thing) else visit(type(thing).__name__, thing, HELD_DEPTH)

    def visit_namespace(names: Mapping) -> None:
        for name, value in list(names.items()):  # (every name: `from x import *` comes before the model's own)
            if not name.startswith("__"):
                visit(name, value, HELD_DEPTH)

    def visit_code(fn: Any) -> None:
        owner = getattr(fn, "__self__", None)
        for adapter in (fn, owner):
            if id(adapter) in called:
                visit_calls(called[id(adapter)])
                return
        if owner is not None and not isinstance(owner, ModuleType):
            visit(type(owner).__name__, owner, HELD_DEPTH)
        function = getattr(fn, "__func__", fn)
        names = getattr(function, "__globals__", None)
        if isinstance(names, dict) and not str(names.get("__name__", "")).startswith(__package__):
            visit_namespace(names)
        code = getattr(function, "__code__", None)
        for name, cell in zip(getattr(code, "co_freevars", ()), getattr(function, "__closure__", None) or ()):
            with contextlib.suppress(ValueError):  # an empty cell
                visit(name, cell.cell_contents, HELD_DEPTH)

    try:
        if model.namespace is not None:  # first: its names are the ones the model's code uses
            visit_namespace(_own_attributes(model.namespace))
        for fn in functions:
            visit_code(fn)
    except Exception:  # (a user object's attribute access is its own code: a message never fails on it)
        pass
    return dict(found.values())


def provider(model: "Model", hook: str) -> Any:
    """What provides ``hook`` (an attribute) for ``model``: its target (a
    model object; scipy's Derivative) or the adapter whose method is its
    grad (the hvp's reduction); None where neither has it. The hooks:
    ``objective`` and ``place`` (generic.objective_of), ``blocks_apart``
    and ``rows`` (pipeline._check_apart), ``judge(params, where)`` (a
    reduction whose truth is decided at the point it is checked at: a
    worker rebuilding it judges it at the parent's point, executors),
    ``checked`` (the user's function a derivative's reduction checks, which
    messages name)."""
    bound = getattr(model.grad or model.loss_and_grad, "__self__", None)
    for candidate in (model.target, bound):
        if candidate is not None and getattr(candidate, hook, None) is not None:
            return candidate
    return None


def _ours(value: Any) -> bool:
    """One of gradcheck's own objects (a layer(), a model object's loss
    adapter): its state is gradcheck's, not the model's."""
    return type(value).__module__.startswith(f"{__package__}.")


def _is_plain_object(value: Any) -> bool:
    """An object whose attributes are its state (a model, a layer, a
    namespace): not a module, class or function."""
    return hasattr(value, "__dict__") and not isinstance(value, (ModuleType, type)) and \
        not inspect.isroutine(value)


def copies_of(model: "Model", blocks: Mapping[str, np.ndarray]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Per block, the arrays the model holds (held_arrays) with exactly its
    values, by name: where a loss that ignores the block may read it instead."""
    held = held_arrays(model)
    return {name: [(label, array) for label, array in held.items()
                   if array.shape == block.shape and np.array_equal(array, block)]
            for name, block in blocks.items()}


def frozen_copies(params: dict[str, Any]) -> dict[str, np.ndarray]:
    """Read-only float64 copies in C order: the parameters a check works from.

    C order whatever the input's layout (Fortran, transposed, strided,
    memory-mapped): element k of a block is then element k of its flat
    view, so a nudge written through that view is the one the loss sees.
    """
    copies = {}
    for name, block in params.items():
        copies[name] = np.array(block, dtype=np.float64, order="C", copy=True)
        copies[name].setflags(write=False)
    return copies


def _as_float64_block(name: str, value: Any, origin: str, notes: list[str]) -> np.ndarray:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate (a name decoded from bytes with errors="surrogateescape")
        # cannot be printed, written to JSON or to JUnit XML.
        raise ModelError(f"parameter block {ascii(name)} from {origin} has a name that is not valid text: "
                         f"{exc.reason} ({ascii(name[exc.start:exc.end])} at position {exc.start}); "
                         "name blocks with ordinary strings") from None
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ModelError(f"parameter block {name!r} from {origin} is not an array: {exc}") from None
    kind = array.dtype.kind
    if kind not in "fiu":
        what = {"b": "boolean", "c": "complex", "O": "object", "U": "string", "S": "bytes"}.get(kind, str(array.dtype))
        raise ModelError(
            f"parameter block {name!r} from {origin} has {what} dtype ({array.dtype}); "
            "parameters must be real numbers (float64 ideally)"
        )
    if array.size == 0:
        raise ModelError(f"parameter block {name!r} from {origin} is empty (shape {array.shape}); nothing to check")
    if kind in "iu":
        # Refused, not converted: checked as a float64 copy, an index, count
        # or label the loss casts or indexes with is piecewise constant there,
        # so a gradient of zeros (or any) "passes", and a jittered point is no
        # valid input; a weight that only looks integer is one edit away.
        raise ModelError(
            f"parameter block {name!r} from {origin} is an integer array ({array.dtype}): gradients are checked "
            "for real-valued parameters only. If it is a weight, give it as floats (np.asarray(..., dtype=float), "
            "np.arange(6.0)); if it is an index, a count or a label, keep it out of the params (a module-level "
            "variable, or --data FILE.npz)"
        )
    if array.dtype.itemsize < 8:
        notes.append(
            f"block {name!r} was {array.dtype}; it is checked as a float64 copy "
            f"(in {array.dtype} a correct gradient can show relative errors near 1e-2)"
        )
    block = frozen_copies({name: array})[name]
    if not np.all(np.isfinite(block)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(block))[0])
        raise ModelError(f"parameter block {name!r} from {origin} has a non-finite value {block[bad]} at index {list(bad)}")
    return block


def build_params(raw: Any, origin: str) -> tuple[dict[str, np.ndarray], bool, list[str], Any]:
    """Validated float64 copies of ``raw`` (a dict of arrays, one array, or
    lists and nested dicts of arrays: structure.py).

    Returns the blocks, whether the model takes a single array, notes on
    conversions made (low-precision input; integer blocks are refused), and
    the template of nested params (None where they are flat).
    """
    notes: list[str] = []
    if is_structured(raw):
        flat, template = flatten(raw)
        blocks = {name: _as_float64_block(name, value, origin, notes) for name, value in flat.items()}
        return blocks, False, notes, template
    if isinstance(raw, Mapping):
        if not raw:
            raise ModelError(f"the params from {origin} are an empty dict; there is nothing to check")
        blocks = {}
        for key, value in raw.items():
            if not isinstance(key, str):
                raise ModelError(f"the params from {origin} have a non-string key {key!r}; block names must be strings")
            blocks[key] = _as_float64_block(key, value, origin, notes)
        return blocks, False, notes, None
    if isinstance(raw, (int, float, np.number)) and not isinstance(raw, bool):
        raise ModelError(
            f"the params from {origin} are a bare number ({raw!r}); use a one-element array, "
            "e.g. np.array([1.0]), so the gradient has a shape"
        )
    if isinstance(raw, (np.ndarray, list, tuple)):
        return {SINGLE_BLOCK: _as_float64_block(SINGLE_BLOCK, raw, origin, notes)}, True, notes, None
    raise ModelError(f"the params from {origin} must be a dict of arrays or one array, not a {_describe(raw)}")


def _read_npz(path: str, what: str) -> dict[str, np.ndarray]:
    """The arrays of an .npz file by name, or a ModelError naming ``what``
    (``"params file"``, ``"--data"``) and the file."""
    if not os.path.exists(path):
        raise ModelError(f"{what} not found: {path}")
    if not os.path.isfile(path):  # a FIFO would block the read
        raise ModelError(f"{what} {path} is not a regular file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):  # an .npy: np.load gave the array itself
                raise ModelError(f"{what} {path} holds a single array; save the blocks by name with np.savez")
            return {key: data[key] for key in data.files}
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"cannot read {what} {path}: {exception_text(exc)} (expected an .npz file written by "
                         "np.savez)") from None


def params_from_file(path: str) -> Any:
    """The params an .npz holds for functions that define none: its arrays
    by name, or the one array of a file of one unnamed array."""
    arrays = _read_npz(path, "params file")
    if len(arrays) == 1 and next(iter(arrays)) in _ONE_ARRAY_KEYS:
        return next(iter(arrays.values()))
    return arrays


# The names gradcheck reads a model from in its module: --data's arrays
# are the model's data, never one of these.
_MODEL_NAMES = ("loss", "grad", "loss_and_grad", "init_params", "params")


def _is_data(value: Any) -> bool:
    """A value a --data array may stand in for: nothing yet, a number, a
    string, an array or anything numpy reads as one (a list, a DataFrame)."""
    return value is None or isinstance(value, (int, float, complex, str, bytes, list, tuple, np.ndarray, np.generic)) \
        or hasattr(type(value), "__array__")


def _replaced_by_data(module: Any, where: str, name: str, attr: str | None) -> str | None:
    """What a --data array called ``name`` would replace that is not the
    model's data (a name gradcheck reads the model from: its functions,
    params, the target object; or a function, module, class or object of
    the model's), said for a message; None where it may be set."""
    current = getattr(module, name, None)
    if name not in _MODEL_NAMES and name != attr and _is_data(current):
        return None
    role = "the model object gradcheck checks" if name == attr else \
        "the parameters gradcheck checks; --params FILE.npz gives parameters" if name == "params" else None
    if current is None:
        return f"the name gradcheck reads {where}'s {name} from" + (f" ({role})" if role else "")
    kind = "module" if isinstance(current, ModuleType) else _describe(current) + (
        "" if type(current).__module__ in ("builtins", "numpy") else " object")
    return f"{where}'s {name} (a {kind}" + (f": {role})" if role else ")")


def _load_arrays(path: str, option: str) -> dict[str, np.ndarray]:
    """--data's arrays by name: each must be able to be a variable."""
    arrays = _read_npz(path, option)
    bad = [key for key in arrays if not key.isidentifier()]
    if bad:
        raise ModelError(f"{option} {path}: {listed(bad)} cannot be variable names")
    return arrays


def _same_shapes(path: str, origin: str, from_file: Mapping[str, np.ndarray], own: Mapping[str, Any],
                 what: str = "params file ") -> None:
    """A ModelError naming the file (``what`` and ``path``), each block whose array there has
    another shape than the model's own, and both shapes: the model's
    functions are written for its own."""
    def shape(value: Any) -> tuple | None:
        try:
            return np.shape(value)
        except ValueError:  # a ragged list: build_params names it
            return None

    wrong = [(name, from_file[name].shape, shape(value)) for name, value in own.items()
             if shape(value) is not None and shape(value) != from_file[name].shape]
    if wrong:
        said = "; ".join(f"block {name!r} of shape {there}, where {origin} has {mine}"
                         for name, there, mine in wrong[:MAX_NAMES_LISTED])
        more = f" (and {len(wrong) - MAX_NAMES_LISTED} more)" if len(wrong) > MAX_NAMES_LISTED else ""
        raise ModelError(f"{what}{path} has {said}{more}: the model's functions are written for its shapes")


# The keys of an .npz holding one unnamed array: np.savez(f, x)'s, and
# the one --save-params writes for a model that takes a single array.
_ONE_ARRAY_KEYS = ("arr_0", SINGLE_BLOCK)


def from_functions(
    *,
    name: str = "<functions>",
    loss: Callable | None = None,
    grad: Callable | None = None,
    loss_and_grad: Callable | None = None,
    params: Any = None,
    source: str | None = None,
) -> Model:
    """A Model from Python objects, validated like a model file."""
    for label, fn in (("loss", loss), ("grad", grad), ("loss_and_grad", loss_and_grad)):
        if fn is not None and not callable(fn):
            raise ModelError(f"{name}.{label} must be a function, but it is a {_describe(fn)}")
    _require_functions(name, loss, grad, loss_and_grad)
    if params is None:
        raise ModelError(f"no parameters given for {name}")
    blocks, single, notes, template = build_params(params, name)
    return Model(name, source, loss, grad, loss_and_grad, blocks, single, tuple(notes),
                 _definition_line(grad or loss_and_grad, source), structure=template)


def _require_functions(where: str, loss, grad, loss_and_grad) -> None:
    if loss_and_grad is not None or (loss is not None and grad is not None):
        return
    if loss is not None:
        raise ModelError(f"{where} defines loss but no grad: define grad(params) -> dict, or loss_and_grad(params)")
    if grad is not None:
        raise ModelError(f"{where} defines grad but no loss: define loss(params) -> float, or loss_and_grad(params)")
    raise ModelError(
        f"{where} defines neither loss and grad nor loss_and_grad: "
        "a model provides loss(params) -> float and grad(params) -> dict"
    )


def _parse_value(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word: a string


def _coerce(name: str, current: Any, value: Any, text: str, where: str) -> Any:
    """``value`` as the type of the constant it replaces, or a ModelError."""
    def refuse(kind: str) -> ModelError:
        return ModelError(f"--set {name}={text}: {where} has {name} = {current!r}, a {type(current).__name__}; "
                          f"{text!r} is {kind}")

    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise refuse("not True or False")
    if isinstance(current, (int, float, np.number)) and not isinstance(current, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise refuse("not a number")
        if isinstance(current, (int, np.integer)):
            if not math.isfinite(value) or float(value) != int(value):
                raise refuse("not a whole number")
            return type(current)(int(value))
        return type(current)(value)
    if isinstance(current, str):
        return text if not isinstance(value, str) else value
    if current is None or isinstance(value, type(current)):
        return value
    raise refuse(f"a {type(value).__name__}")


def apply_overrides(module: Any, where: str, overrides: dict[str, str], target: Any = None) -> None:
    """Set the model's constants (``--set KEEP=1.0``) before anything runs: an
    attribute of the target object (``model.py:net``) where it has one (that
    is what its methods read), else a module-level name."""
    for name, text in overrides.items():
        holder = target if target is not None and name.isidentifier() and _has_own(target, name) else module
        if not name.isidentifier() or not hasattr(holder, name):
            constants = sorted(k for k, v in vars(module).items()
                               if not k.startswith("_") and isinstance(v, (bool, int, float, str)))
            also = ""
            if target is not None:
                own = sorted(k for k, v in _own_attributes(target).items()
                             if not k.startswith("_") and isinstance(v, (bool, int, float, str)))
                also = f"; its target object's: {', '.join(own) or 'none'}"
            kind = "module-level name or target attribute" if target is not None else "module-level name"
            raise ModelError(f"--set {name}: {where} has no {kind} {name!r} "
                             f"(its constants: {', '.join(constants) or 'none'}{also})")
        setattr(holder, name, _coerce(name, getattr(holder, name), _parse_value(text), text, where))


def _own_attributes(obj: Any) -> dict:
    try:
        return vars(obj)
    except TypeError:  # __slots__ and the like
        return {}


def _has_own(obj: Any, name: str) -> bool:
    return name in _own_attributes(obj)


def parse_assignments(items: Any) -> dict[str, str]:
    """What ``--set`` (``set=``) assigns, as texts read like the command
    line's: ``['KEEP=1.0', 'REG=0']`` (or one such string) -> ``{'KEEP':
    '1.0', 'REG': '0'}``; a mapping ``{'REG': 0}`` likewise, a value that is
    not a string standing for itself (its repr, which reads back as it)."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        result = {}
        for name, value in items.items():
            if not isinstance(name, str) or not name.strip():
                raise ModelError(f"--set {name!r}: a name must be a non-empty string")
            result[name.strip()] = assignment_text(value)
        return result
    if isinstance(items, (str, bytes)):
        items = [items]
    if not isinstance(items, Iterable):
        raise ModelError(f"--set {items!r}: expected NAME=VALUE strings or a mapping of names to values")
    result = {}
    for item in items:
        if not isinstance(item, str):
            raise ModelError(f"--set {item!r}: expected NAME=VALUE strings or a mapping of names to values")
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise ModelError(f"--set {item!r}: expected NAME=VALUE, e.g. --set REG=0")
        result[name.strip()] = text.strip()
    return result


@python_names
@borrows_process
def load_model(target: str, *, params: ParamsSource = None, seed: int = 0, set: Assignments = None,
               data: str | os.PathLike[str] | None = None) -> Model:
    """Import ``target`` (``file.py``, ``pkg.module``, either with ``:ATTR``) as a Model.

    Parameters come from ``params`` (``--params``): a path (str or
    os.PathLike) to an .npz file whose keys are block names, or the arrays
    themselves (a dict of arrays, or one array), checked against the
    model's own blocks and shapes where it defines any; else from
    ``init_params(seed)`` / ``init_params()``, else a module-level
    ``params``. ``seed`` (``--seed``) is ``init_params``' seed. ``set`` (``--set``): the model's constants to set first,
    ``{"REG": 0}`` or ``["REG=0"]``. ``data`` (``--data``): the path of an
    .npz whose arrays become module variables of the same names first (a
    model object's ``X``, ``y``). ``params_file``, ``overrides`` and
    ``data_file`` are the deprecated names of ``params``, ``set`` and
    ``data``.
    """
    overrides = parse_assignments(set)
    data_file = os.fspath(data) if data is not None else None
    params_file = os.fspath(params) if isinstance(params, (str, os.PathLike)) else None
    given = None if params is None or params_file is not None else params
    module_part, attr = _split_target(target)
    is_file = _looks_like_path(module_part)
    # A model imports its neighbours: a file's directory, or (a dotted
    # module) the working directory, is on the path while its code runs.
    # The directory of the file's real path, as `python linkdir/model.py`
    # puts on sys.path: a link to a model imports the model's siblings.
    directory = os.path.dirname(os.path.realpath(module_part)) if is_file else os.getcwd()
    imports = OwnImports({}, directory)
    # Files named relative to the working directory are found there even if
    # the model's import changes directory.
    files = {name: os.path.abspath(name) for name in (params_file, data_file) if name is not None}
    with own_imports(imports):
        model = _load(target, module_part, attr, is_file, imports, params_file, seed, overrides, data_file, files,
                      given)
    return dataclasses.replace(model, data_file=data_file) if data_file is not None else model


def _load(target: str, module_part: str, attr: str | None, is_file: bool, imports: OwnImports,
          params_file: str | None, seed: int, overrides: dict[str, str] | None, data_file: str | None,
          files: dict[str, str], given: Any = None) -> Model:
    if is_file:
        module = _import_file(module_part)
        where = os.path.basename(module_part)
    else:
        module = _import_dotted(module_part)
        where = module_part
    source = getattr(module, "__file__", None)
    # FILE:hvp, FILE:OBJ:hvp: the model's Hessian-vector product, checked
    # as a model of its own over the model's blocks (derivatives/hvp.py).
    attr, of_hvp = requested(attr)
    if attr is None:
        attr = _the_model_object(module)  # a file that only builds one (net = TwoLayerNet(...))
    if data_file is not None:
        for name, value in _load_arrays(files[data_file], "--data").items():
            replaced = _replaced_by_data(module, where, name, attr)
            if replaced is not None:
                raise ModelError(f"--data {data_file} has an array {name!r}, which would replace {replaced}; "
                                 "rename the array")
            setattr(module, name, value)
    obj = module
    if attr is not None:
        if not hasattr(module, attr):
            public = sorted(n for n in vars(module) if not n.startswith("_"))
            raise ModelError(f"{where} has no attribute {attr!r} (it has: {', '.join(public) or 'nothing public'})")
        obj = getattr(module, attr)
    if overrides:
        apply_overrides(module, where, overrides, obj if attr is not None else None)
    # scipy.optimize's conventions (fun, jac, x0): the derivative named
    # (or jac, the only one) as a model object of gradcheck's own.
    derivative = derivative_of(module, attr, where)
    if derivative is not None:
        if given is not None or params_file is not None:
            raise ModelError(f"{where} is in scipy.optimize's conventions: its point is its x0, so params= "
                             "(--params) is not taken; set x0 in the file")
        obj = derivative
        attr = attr or derivative.kind
    if attr is not None:
        where = f"{where}:{attr}"

    loss = _find_callable(obj, "loss", where)
    grad = _find_callable(obj, "grad", where)
    loss_and_grad = _find_callable(obj, "loss_and_grad", where)
    if attr is not None and loss is not None and grad is None and loss_and_grad is None:
        adapted = _model_object(obj, loss, module, where)
        if adapted is not None:
            loss, loss_and_grad = None, adapted
    if attr is None and loss is None and grad is None and loss_and_grad is None:
        from .layers import Layer

        layers = [name for name, value in vars(module).items() if isinstance(value, Layer)]
        if layers:
            # A checks file: each layer(...) is a model of its own (the command line checks them all).
            raise ModelError(f"{where} is a checks file: it assigns the layers {', '.join(layers)}, each a model of "
                             f"its own; check one as '{target}:{layers[0]}', or each with "
                             f"check_layers({target!r}) (as gradcheck {target} does)")
    _require_functions(where, loss, grad, loss_and_grad)

    init_params = _find_callable(obj, "init_params", where)
    own = None
    own_origin = None
    if init_params is not None:
        own = _call_init_params(init_params, seed, where)
        own_origin = f"{where}.init_params"
    elif getattr(obj, "params", None) is not None:
        own = getattr(obj, "params")
        own_origin = f"{where}.params"

    template = None
    if given is not None:
        # params= arrays with a target: the model's blocks (where it defines
        # its own, the same names and shapes), at other values.
        if own is not None:
            mine = flatten(own)[0] if is_structured(own) else own
            theirs = flatten(given)[0] if is_structured(given) else given
            if isinstance(mine, Mapping) != isinstance(theirs, Mapping) or (
                    isinstance(mine, Mapping) and sorted(map(str, mine)) != sorted(map(str, theirs))):
                def kind(value: Any) -> str:
                    return f"the block(s) {listed(value)}" if isinstance(value, Mapping) else "one array"

                raise ModelError(f"the params= arrays are {kind(theirs)}, but {own_origin} has {kind(mine)}: give "
                                 "the model's own blocks")
            origin = own_origin or where
            if isinstance(mine, Mapping):
                _same_shapes("arrays", origin, {k: np.asarray(v) for k, v in theirs.items()}, mine,
                             what="the params= ")
            else:
                _same_shapes("arrays", origin, {"params": np.asarray(theirs)}, {"params": mine}, what="the params= ")
        blocks, single, notes, template = build_params(given, "params=")
    elif params_file is not None:
        from_file = _read_npz(files[params_file], "params file")
        if own is not None and is_structured(own):
            # Nested params: the file holds their blocks by path (as --save-params writes them).
            own, template = flatten(own)
        if isinstance(own, Mapping):
            missing = [k for k in own if k not in from_file]
            extra = [k for k in from_file if k not in own]
            if missing:
                raise ModelError(f"params file {params_file} is missing block(s) {listed(missing)} that {own_origin} defines")
            if extra:
                raise ModelError(f"params file {params_file} has block(s) {listed(extra)} that {own_origin} does not define")
            _same_shapes(params_file, own_origin, from_file, own)
        one_array = own is None and len(from_file) == 1 and next(iter(from_file)) in _ONE_ARRAY_KEYS
        if one_array:
            # The model defines no params to compare with: a file of one
            # unnamed array (np.savez(f, x), or --save-params of such a model)
            # is that array, not a dict of one block named 'arr_0'.
            blocks, single, notes, _ = build_params(next(iter(from_file.values())), params_file)
            notes.append(f"{params_file} holds one unnamed array ({next(iter(from_file))!r}): the model is given "
                         "that array; save named blocks (np.savez(f, W=W, b=b)) to give it a dict")
        elif own is not None and not isinstance(own, Mapping):
            # A model that takes one array: the file holds that one array
            # (--save-params writes it under "params").
            if len(from_file) != 1:
                raise ModelError(f"params file {params_file} has {len(from_file)} arrays "
                                 f"({listed(from_file)}), but {own_origin} is one array: "
                                 "save just that one")
            _same_shapes(params_file, own_origin, from_file, {next(iter(from_file)): own})
            blocks, single, notes, _ = build_params(next(iter(from_file.values())), params_file)
        else:
            blocks, single, notes, _ = build_params(from_file, params_file)
    elif own is not None:
        blocks, single, notes, template = build_params(own, own_origin)
    else:
        raise ModelError(
            f"{where} has no parameters: define init_params(seed) returning a dict of arrays, "
            "or a module-level dict `params`, or pass --params FILE.npz"
        )
    if derivative is not None:
        notes += derivative.notes  # (what its first calls found: an asymmetric hess)
    what = derivative.derivative if derivative is not None else "gradient"
    model = Model(target, source, loss, grad, loss_and_grad, blocks, single, tuple(notes),
                  _definition_line(grad or loss_and_grad, source) or _assigned_line(source, attr),
                  namespace=module, imports=imports,
                  target=obj if attr is not None else None, structure=template, derivative=what)
    return _hvp_model(model, obj, where, seed) if of_hvp else model


def _hvp_model(model: Model, obj: Any, where: str, seed: int) -> Model:
    """The model's ``hvp`` as a model of its own (derivatives/hvp.py): its
    blocks, data and target object, with the reduction's loss and grad."""
    product = _find_callable(obj, HVP, where)
    if product is None:
        raise ModelError(f"{where} defines no hvp(params, v) to check as {where}:{HVP} (its gradient is checked "
                         f"as {where})")
    where = f"{where}:{HVP}"
    reduction = HessianVectorProduct(product, model.grad, model.loss_and_grad, model.params,
                                     single_array=model.single_array, structure=model.structure, seed=seed,
                                     where=where, loss=model.loss)
    reduction.model = model
    reduction.judge(model.params, "the start point")
    truth = "sum over blocks of <grad(params), v> (grad agrees with the loss's differences)" \
        if reduction.grad_is_truth else "the loss's five-point slope along v (grad is not the loss's gradient)"
    note = (f"hvp is checked as the gradient of {truth} for a seeded Gaussian v (--seed {seed}) in every "
            f"block: element [i] of a block is (H v)[i]")
    return dataclasses.replace(model, loss=reduction.loss, grad=reduction.grad, loss_and_grad=None,
                               notes=(*model.notes, note, *reduction.notes),
                               derivative=HessianVectorProduct.derivative,
                               source_line=_definition_line(reduction.grad, model.source) or model.source_line)
