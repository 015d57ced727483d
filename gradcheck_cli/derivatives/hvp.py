"""A params-dict model's Hessian-vector product, checked by reduction to
its gradient check (issue 27, section 2).

A model (``loss``/``grad`` or ``loss_and_grad``, its params from
``init_params(seed)``, ``params`` or ``--params``) may also define
``hvp(params, v)``: v has the structure of params, and so has the result,
H v. It is checked as a model of its own, named ``FILE:hvp`` (or
``FILE:OBJ:hvp`` for a target object's): ``gradcheck FILE`` checks the
gradient and then the hvp, as it checks a checks file's layers.

The reduction: the blocks are the params' blocks; v is a seeded Gaussian
per block (drawn from (--seed, the block's name, HESSP_DIRECTION_STREAM),
so a worker rebuilding the model draws the same v), and

    loss(y) = sum_b <grad(y)_b, v_b>,    grad(y) = hvp(y, v).

The gradient of that loss is H^T v = H v (a Hessian is symmetric), so the
gradient check's coordinates of y check (H v)_i element by element, its
random directions check it along them, and a wrong element is located per
block ("block W, element [i, j]") with the budgets, the Taylor test and
the diagnosis unchanged. The reduced loss calls the model's own grad, so
the kink tracker sees grad's masks (``z > 0``): a ReLU net's second
derivative, 0 almost everywhere and undefined at the kink, is judged as a
first derivative is at a kink (crossings reported, not failed).

The truth is the loss's Hessian (hessian_truth.py, as for scipy's hess):
grad's differences measure it only where grad is the loss's gradient.
Judged against them alone, a right hvp beside a grad missing a factor
failed and an hvp wrong as grad was (both without an L2 term) passed. So
at every point the reduction is placed at (the start point; the generic
point, ``place``, and a worker's rebuilt model there, ``judge``) grad is
compared with the loss's central differences along seeded Gaussian
directions through every block, there and 1e-4 away, within what each
difference resolves. Where it agrees the loss is as above; once it does
not, at every point after, the loss is the loss's five-point slope along
v, whose gradient is H v up to step^4 (its step HESS_FUN_STEP at the
elements' scales, shrunk at a domain's wall), and the report says so in
notes; ``FILE``'s own check fails as ever. The objective (the burn-in)
then descends the loss with its own central differences (2n calls a
step), not with a grad that is another function's gradient.

Kinks, where the loss's slope is the truth: the slope is taken from the
points whose kink decisions are the point's own (the loss at the point
itself is evaluated, tracked, for its decisions): the central stencil,
else the one-sided one on the side that takes them (on a ReLU's kink, the
side its mask, and so hvp's, takes), so the tracker reports the
crossings at the point as it reports grad's masks. Known limit: kinks
through the point on both sides along v (two units exactly at 0 with v
of opposite signs) leave no side; the central stencil is used and the
values it mixes may be judged against the two sides' average (the start
point of tests/test_hvp.py's ReLU net, with a wrong grad, passes with
one value unverified).

What it assumes: the Hessian is symmetric, which it is wherever the loss
is twice differentiable. A model whose grad is linear in params (H v
constant) gives a reduced loss that is linear too: still checked, with a
curvature-free Taylor test.

Every call of grad and hvp is handed copies of the point (the user may
overwrite them), and hvp a fresh copy of v (gradcheck's own is
read-only). Results are read back along the params' structure (flat
dict, nested dicts and lists, one array) and refused by name: a missing
block, a wrong shape, a non-dict, a scalar, a non-finite element.

A reduced loss that stands still at every width of the noise tables is
constant there (grad piecewise constant: H v = 0, a piecewise-linear
model's), not a loss that ignores its params nor one quantised coarser
than the tables: the pipeline gives it an ulp's noise (noise.constant),
so an hvp claiming H v != 0 there fails. grad's non-finite values inside
the reduced loss are the loss's (a step past log's edge: a smaller
step), never a refusal. ``--reg`` does not apply (Report.derivative is
not "gradient"): the reduction's loss has no regularization term.

The generic point of the reduction is its objective's (generic.py,
objective_of): ``objective`` (the user's model, set by model.py, with
the loss's differences as its gradient where grad is not the loss's) is
jittered and burnt in, and ``place`` (the same blocks, grad judged
there) puts the reduction there. (Its own loss, sum_b <grad_b, v_b>,
is no objective: a linear term REG <y, v> has no minimum.)

Held in an adversarial pass (right verdicts; tests/test_hvp.py has the
first ones): logistic regression right, and wrong without the sigmoid's
derivative, without the L2 term's hvp, without b's share of the scores'
change (each failing in exactly its blocks); a ReLU/softmax net parked
on its kink (passes, the two kinked elements "ok" as subgradients, the
crossings reported at the ReLU's line) and one missing the backward
pass's dependence on W2 (fails in W1, b1, off the kinks); one wrong
element of a 10 x 6 block found by drilling down a direction, with the
"row 7, column 4" hint; sum(relu(X w)) (H = 0) with hvp 0 (warn: every
value exactly 0) and with Gauss-Newton's term (fails); a linear loss
with hvp 0 and v (warn, fail); x log x and -sum log x + c x near 0 right
and scaled (pass, fail); a tanh net's exact hvp (pass) and Gauss-Newton's
(fails), a float32 product (pass); a single-array model, list params with
loss_and_grad, nested dicts and lists with --data and --set; a CS231n
object whose loss(X, y) uses self.params beside an hvp(params, v) method
(FILE:net:hvp, --set of its attribute); an hvp reading the module's
params instead of its argument (passes at the start, fails at the
generic point); workers (--jobs 2) draw the same v (identical JSON).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import zlib
from collections.abc import Mapping
from typing import Any, Callable

import numpy as np

from ..errors import ModelError, StopSignal, UserCodeError, exception_text, listed
from ..settings import HESS_FUN_STEP, HESSP_DIRECTION_STREAM
from ..structure import read_gradient, unflatten
from .. import kinks
from . import hessian_truth

# The suffix of a target naming a model's Hessian-vector product.
HVP = "hvp"
# What a module defines to be a params-dict model (the hvp's objective).
_MODEL_FUNCTIONS = ("loss", "grad", "loss_and_grad")


def requested(attr: str | None) -> tuple[str | None, bool]:
    """The target's own attribute, and whether its hvp is what is checked:
    ``hvp`` -> (None, True), ``net:hvp`` -> ("net", True), ``net`` ->
    ("net", False)."""
    if attr == HVP:
        return None, True
    if attr is not None and attr.endswith(":" + HVP):
        return attr[: -len(HVP) - 1], True
    return attr, False


def declared(path: str, attr: str | None = None) -> bool:
    """Whether the model file at ``path`` (its target object ``attr``, where
    given) defines an hvp, read from its source (nothing is imported): a
    module-level ``hvp`` beside the model's functions, or an ``hvp``
    method of a class the file defines whose instance is the target (the
    one module-level object of such a class, where no attribute is named)."""
    try:
        with open(path, encoding="utf-8") as stream:
            tree = ast.parse(stream.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return False
    bound: set[str] = set()
    with_hvp: set[str] = set()  # classes of the file that define hvp
    instances: dict[str, str] = {}  # module-level name -> the class it is an instance of
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            bound.add(node.name)
        elif isinstance(node, ast.ClassDef):
            if any(isinstance(item, ast.FunctionDef) and item.name == HVP for item in node.body):
                with_hvp.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            bound.update(names)
            call = node.value
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name):
                instances.update({name: call.func.id for name in names})
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    if attr is not None:
        return instances.get(attr) in with_hvp
    if bound & set(_MODEL_FUNCTIONS):
        return HVP in bound
    objects = [name for name, cls in instances.items() if cls in with_hvp]
    return len(objects) == 1


def direction(seed: int, blocks: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """v: a standard Gaussian per block, seeded by (seed, the block's name,
    HESSP_DIRECTION_STREAM) as sampling's directions are, so adding a
    block leaves the others' v alone; read-only (handed as copies)."""
    v = {}
    for name, block in blocks.items():
        rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8")), HESSP_DIRECTION_STREAM])
        v[name] = rng.standard_normal(block.shape)
        v[name].flags.writeable = False
    return v


def _joined(blocks: Mapping[str, Any]) -> np.ndarray:
    """Blocks by name as one vector, in the params' order."""
    return np.concatenate([np.ravel(block) for block in blocks.values()])


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__}"


class HessianVectorProduct:
    """A model's ``hvp`` as a model: ``loss`` and ``grad`` of the
    reduction in the module's note, over the model's own blocks."""

    derivative = "Hessian-vector product"  # (what the report names, Report.derivative)

    def __init__(self, product: Callable, gradient: Callable | None, loss_and_grad: Callable | None,
                 blocks: Mapping[str, np.ndarray], *, single_array: bool, structure: Any, seed: int, where: str,
                 loss: Callable | None = None):
        self.where = where
        self.checked = product
        self.gradient = gradient
        self.loss_and_grad = loss_and_grad
        self.user_loss = loss
        self.shapes = {name: block.shape for name, block in blocks.items()}
        self.single_array = single_array
        self.structure = structure
        self.seed = seed
        self.v = direction(seed, blocks)
        self.v_flat = _joined(self.v)
        # The user's model (set by model.py once it is built): the
        # objective whose generic point is the reduction's (``objective``).
        self.model: Any = None
        # Whether grad's differences are the truth for H v
        # (hessian_truth, as for scipy's hess): until grad is seen not to
        # be the loss's gradient at a point placed, after which the loss's
        # own slope along v is, at every point; that slope's step, fixed at
        # the point placed while the check differences around it.
        self.grad_is_truth = True
        self.slope_step = HESS_FUN_STEP
        self.notes: list[str] = []
        self._check_signature()

    def _check_signature(self) -> None:
        try:
            inspect.signature(self.checked).bind(None, None)
        except TypeError:
            raise ModelError(f"{self.where}: {_name(self.checked)} must take (params, v), the point and the "
                             f"vector, but its signature is {inspect.signature(self.checked)}") from None
        except ValueError:  # (a builtin without a signature: its first call says)
            pass

    @property
    def objective(self) -> Any:
        """The model this is a derivative of, descended to the generic
        point: the user's, or, where grad is not its loss's gradient, its
        loss with the loss's own central differences as gradient (the
        user's grad would descend another function)."""
        if self.grad_is_truth or self.model is None:
            return self.model

        # (plain functions, not this adapter's methods: a model whose grad
        # is a method of an adapter with ``place`` is a derivative, and this
        # one is the objective itself; model.provider)
        def loss(params: Any) -> Any:
            return self._loss(params)

        def grad(params: Any) -> Any:
            return self._loss_gradient(params)

        return dataclasses.replace(self.model, loss=loss, grad=grad, loss_and_grad=None)

    def place(self, params: Any) -> Any:
        """The objective's point for this reduction's: the same blocks (by
        name, as a model's params), where grad is judged again as H v's truth."""
        self.judge(params, "the generic point")
        return params

    # -- H v's truth (hessian_truth) ----------------------------------------------

    def judge(self, blocks: Mapping[str, np.ndarray], where: str) -> None:
        """At a point the reduction is placed at: whether grad is still the
        loss's gradient there (compared with the loss's central differences
        along seeded directions through every block, at the point and near
        it); once it is not, the loss's slope along v is H v's truth at
        every point, its step set where it is placed."""
        if self.user_loss is None and self.loss_and_grad is None:
            return
        x = _joined(blocks)
        if self.grad_is_truth:
            comparisons = hessian_truth.compare(self._loss_value, self._gradient_vector, x, where, self.seed)
            if hessian_truth.jac_is_gradient(comparisons):
                return
            self.grad_is_truth = False
            self.notes.append(hessian_truth.note(comparisons, "H v", gradient="grad", function="the loss",
                                                  checked="the model's own check"))
        step = hessian_truth.slope_step(self._loss_value, x, self.v_flat, self._sided_slope)
        # (none inside the loss's domain: the check says where it is not finite)
        self.slope_step = step if step is not None else HESS_FUN_STEP

    def _vector(self, params: Any) -> np.ndarray:
        """A point in the params' structure as one vector (tracked where its blocks are)."""
        return _joined(self._flat(params))

    def _blocks(self, x: np.ndarray) -> Any:
        """One vector as a point in the params' structure (copies)."""
        blocks, start = {}, 0
        for name, shape in self.shapes.items():
            size = int(np.prod(shape, dtype=np.int64))
            blocks[name] = x[start:start + size].reshape(shape).copy()
            start += size
        return self._structured(blocks)

    def _loss(self, params: Any) -> Any:
        """The user's loss at a copy of ``params``."""
        if self.user_loss is not None:
            return self._call(self.user_loss, _name(self.user_loss), self._copies(params))
        return self._call(self.loss_and_grad, _name(self.loss_and_grad), self._copies(params))[0]

    def _loss_value(self, x: np.ndarray) -> Any:
        return self._loss(self._blocks(x))

    def _gradient_vector(self, x: np.ndarray) -> np.ndarray:
        return _joined(self._gradient_at(self._blocks(x)))

    def _slope(self, params: Any) -> Any:
        """The loss's five-point slope along v, from the points whose kink
        decisions are the point's own: central where all are, else one-sided
        on the side that is (a point on a ReLU's kink: the side its masks,
        and so hvp's, take; the loss at the point itself is evaluated for
        its decisions, which the kink tracker then sees, as it sees grad's
        masks in the other reduction). The points are tracked here whether
        or not the evaluation is, so the loss is one function either way."""
        return self._sided_slope(self._vector(params), self.slope_step)

    def _sided_slope(self, x: np.ndarray, step: float) -> Any:
        """``_slope`` at a point as one vector, at ``step``."""
        found: dict[int, tuple[Any, kinks.Trace]] = {}

        def at(j: int) -> tuple[Any, kinks.Trace]:
            if j not in found:
                with kinks.beside() as trace:
                    point = (x + j * step * self.v_flat).view(kinks.TrackedArray)
                    found[j] = self._loss_value(point), trace
            return found[j]

        own = at(0)[1]

        def holds(side: int) -> bool:
            return all(kinks.compare_traces(own, at(j)[1]) is None for j, _ in hessian_truth.STENCILS[side])

        # (kinks on both sides within the stencil: the central one, and the
        # tracker sees the crossings its points make as the point moves)
        side = next((side for side in (0, 1, -1) if holds(side)), 0)
        return hessian_truth.stencil_slope(lambda j: at(j)[0], step, side)

    def _loss_gradient(self, params: Any) -> Any:
        """The loss's gradient by its central differences (the objective's
        where grad is not the loss's)."""
        gradient = hessian_truth.fun_gradient(lambda x: float(np.real(self._loss_value(x))), self._vector(params))
        return self._blocks(gradient)

    # -- what the report points at ------------------------------------------

    def location(self) -> tuple[str | None, int | None]:
        """hvp's definition (annotations, JUnit)."""
        try:
            return inspect.getsourcefile(self.checked), inspect.getsourcelines(self.checked)[1]
        except (OSError, TypeError):
            return None, None

    def holders(self) -> list:
        """The user's functions this adapter calls (model.held_arrays)."""
        return [fn for fn in (self.checked, self.gradient, self.loss_and_grad) if fn is not None]

    # -- the structure ---------------------------------------------------------

    def _structured(self, blocks: Mapping[str, Any]) -> Any:
        """``blocks`` in the params' own structure."""
        if self.single_array:
            return next(iter(blocks.values()))
        if self.structure is not None:
            return unflatten(self.structure, blocks)
        return dict(blocks)

    def _flat(self, params: Any) -> dict[str, Any]:
        """The blocks of a point handed in the params' structure."""
        if self.single_array:
            return {next(iter(self.shapes)): params}
        if self.structure is not None:
            return read_gradient(self.structure, params, "params")
        return dict(params)

    def _copies(self, params: Any) -> Any:
        # .copy(), not np.copy: a tracked view stays tracked, so grad's masks are seen.
        return self._structured({name: block.copy() for name, block in self._flat(params).items()})

    def _read(self, result: Any, label: str, what: str, inner: bool) -> dict[str, np.ndarray]:
        """``label``'s result (grad's or hvp's: ``what`` it is) by block,
        refused by name. ``inner``: grad's, inside the reduction's loss,
        where a complex step's complex values are the loss's, and so is a
        non-finite value (a point where the model is undefined, which the
        check treats as the loss's own: a smaller step, the burn-in's end)."""
        where = label  # (the command line names the model: FILE:hvp)
        said = f"it returns {what} with the params' structure"
        if result is None:
            raise ModelError(f"{where} returned None; {said} (is a return missing?)")
        if self.single_array:
            if isinstance(result, Mapping) or np.ndim(result) == 0:
                raise ModelError(f"{where} returned {_kind(result)}, but the params are one array of shape "
                                 f"{next(iter(self.shapes.values()))}; {said}")
            found = {next(iter(self.shapes)): result}
        elif self.structure is not None:
            found = read_gradient(self.structure, result, where)
        else:
            if not isinstance(result, Mapping):
                raise ModelError(f"{where} returned {_kind(result)}; {said}: a dict with the blocks "
                                 f"{listed(self.shapes)}")
            found = self._keys(result, where, said)
        blocks = {}
        for name, value in found.items():
            blocks[name] = self._block(name, value, where, inner)
        return blocks

    def _keys(self, result: Mapping, where: str, said: str) -> dict[str, Any]:
        """Each block's value: under its name, or 'd' + its name (dW1 for
        W1, as the gradient check reads backprop code's keys)."""
        names = list(self.shapes)
        if all(name in result for name in names):
            extra = [k for k in result if k not in self.shapes]
            if extra:
                raise ModelError(f"{where} returned block(s) {listed(extra)} that the params do not have "
                                 f"(params: {listed(names)})")
            return {name: result[name] for name in names}
        if all(f"d{name}" in result for name in names):
            return {name: result[f"d{name}"] for name in names}
        missing = [name for name in names if name not in result]
        raise ModelError(f"{where} returned no block {listed(missing)} (its keys: {listed(result) or 'none'}); "
                         f"{said}")

    def _block(self, name: str, value: Any, where: str, inner: bool) -> np.ndarray:
        expected = self.shapes[name]
        if value is None:
            raise ModelError(f"{where} returned None for block {name!r} (is a return missing?)")
        try:
            array = np.asarray(value)
        except Exception as exc:
            raise ModelError(f"{where}[{name!r}] is not an array: {exception_text(exc)}") from None
        if array.dtype.kind not in ("fiuc" if inner else "fiu"):
            raise ModelError(f"{where}[{name!r}] has dtype {array.dtype}; its elements must be real numbers")
        if array.shape != expected:
            hint = " (transposed?)" if len(expected) == 2 and array.shape == expected[::-1] else \
                " (a matrix: hvp returns the product H v, not H)" if array.shape == expected * 2 else ""
            raise ModelError(f"{where}[{name!r}] has shape {array.shape}, but params[{name!r}] has shape "
                             f"{expected}{hint}")
        if not inner and not np.all(np.isfinite(array)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
            raise ModelError(f"{where}[{name!r}] has a non-finite value {array[bad]} at index {list(bad)}")
        return array

    # -- calling the user's code ---------------------------------------------------

    def _call(self, fn: Callable, label: str, *arguments: Any) -> Any:
        try:
            return fn(*arguments)
        except (KeyboardInterrupt, StopSignal, ModelError):
            raise
        except Exception as exc:
            raise UserCodeError(f"{label} raised {type(exc).__name__}: {exception_text(exc)}",
                                exc) from None

    def _gradient_at(self, params: Any) -> dict[str, np.ndarray]:
        if self.gradient is not None:
            label = _name(self.gradient)
            result = self._call(self.gradient, label, self._copies(params))
        else:
            label = f"{_name(self.loss_and_grad)}'s gradient"
            pair = self._call(self.loss_and_grad, _name(self.loss_and_grad), self._copies(params))
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise ModelError(f"{_name(self.loss_and_grad)} must return a pair (loss, grad), but "
                                 f"it returned {_kind(pair)}")
            result = pair[1]
        return self._read(result, label, "the gradient", inner=True)

    # -- the model contract --------------------------------------------------------

    def loss(self, params: Any) -> Any:
        """sum_b <grad(params)_b, v_b>, or where grad is not the loss's
        gradient the loss's slope along v: either's gradient is H v."""
        if not self.grad_is_truth:
            return self._slope(params)
        gradient = self._gradient_at(params)
        total = 0.0
        for name, v in self.v.items():
            total = total + np.sum(gradient[name] * v)
        return total

    def grad(self, params: Any) -> Any:
        """hvp(params, v), read back in the params' structure."""
        label = _name(self.checked)
        v = self._structured({name: v.copy() for name, v in self.v.items()})
        result = self._call(self.checked, label, self._copies(params), v)
        return self._structured(self._read(result, label, "H v", inner=False))
