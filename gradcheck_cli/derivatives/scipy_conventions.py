"""scipy.optimize's conventions, checked as they are, with no wrapper.

A target (a model file or module) that defines ``fun(x, *args)``,
``jac(x, *args)`` and ``x0`` (optionally ``args``, ``hess(x, *args)``,
``hessp(x, p, *args)``) is what ``minimize`` or ``least_squares`` is
handed. Each derivative it defines is a model of its own, named
``FILE:jac``, ``FILE:hess``, ``FILE:hessp`` (the command line expands a
file into them, as it does a checks file's layers), and each is checked
by reduction to the gradient check: a scalar function of blocks whose
gradient is that derivative, so the noise budgets, the Taylor test, kink
tracking, the drill-down and the diagnosis judge it unchanged.

The reductions (n variables, m residuals):

- ``jac`` of a scalar ``fun``: block ``x`` = x0, loss ``fun(x)``, grad
  ``jac(x)``. Nothing else.
- a vector function ``F`` (R^n -> R^m) and its Jacobian ``J`` (m x n):
  block ``J`` of shape (m, n), every row a point of its own (all x0 at
  the start), loss ``sum_r F(X[r])[r]``, grad row r ``J(X[r])[r]``. The
  gradient of that loss is the Jacobian itself, row r taken at row r's
  point; so the report's blocks, elements and "worst at [r, c]" read as
  the Jacobian's row r, column c, and the diagnosis's "confined to a few
  columns" names a wrong Jacobian column. Calls of ``F`` are shared by the
  rows at one point within a call (at the start point a coordinate probe
  costs two calls of ``F``, not m); once rows differ (random directions,
  the generic point) a loss costs m calls.

  * ``jac`` of a vector ``fun`` (least_squares): F = fun, J = jac.
  * ``hess``: F = jac, J = hess (row r of the Hessian is jac_r's
    gradient; no symmetry assumed).
  * ``hessp``: F = jac, J row r = ``hessp(x, e_r)`` (H e_r is row r of a
    symmetric H: a true Hessian is), and a block ``Hv`` for one seeded
    Gaussian direction v: loss ``jac(y) . v``, grad ``hessp(y, v)``, so a
    hessp that is right only on coordinate vectors fails there.

The truth for ``hess`` and ``hessp`` is the differences of ``jac``, whose
rounding the noise measurement sees as the loss's own. They are only as
right as jac: check ``FILE:jac`` beside them (the command line does).
``hess`` is also measured for symmetry at x0 (HESS_SYMMETRY_RTOL, a note
in the report): a row check alone cannot see a transposed ``hess`` of a
``jac`` that is itself not a gradient, but then ``FILE:jac`` fails.

Shapes are refused by name at the first call (x0 not 1-d, ``jac`` of
shape (n, 1), a ``hess`` not n x n, ``hessp`` returning a matrix, a
``hess`` beside a vector ``fun``) and at every call after.

Done (first slice of issue 27, section 1): the above for module-level
``fun``/``jac``/``x0``; ``gradcheck FILE`` checks each derivative.

Next:
- a target object (``FILE:problem`` with the functions as attributes):
  choosing its derivative needs a target syntax (``_split_target`` takes
  an identifier only);
- ``params=``/``--params`` as another x0 (refused now, by name);
- ``jac=True`` (fun returns (f, g)), a LinearOperator ``hess`` (a sparse one
  is made dense);
- the cost for large n or m: the (m, n) block calls F once per distinct
  row; sample rows (directions plus the rows a failing direction drills
  into) instead of all of them;
- words: the renderers say "gradient of J" (GitHub annotations, the
  text report's columns); a model's kind (Jacobian, Hessian, Hessian-vector
  product) on the Report would let them say what was checked;
- the JSON/JUnit documents and docs/json.md: the blocks already carry
  row and column in ``index``; say so there;
- section 2 (``hvp`` of params-dict models) and 3 (``gradcheck taylor``);
  a ``check_derivatives(path)`` like ``check_layers`` and the pytest
  fixture; docs/ pages (with the nav) and the README.

Known wrong verdicts (adversarial pass, 2026-12-06). Each is an xfail
(strict) test in tests/test_scipy_conventions.py asserting the right
verdict, the truth from mpmath; most important first:

- A right ``hess``/``hessp`` FAILS near the edge of a domain
  (``x log x`` with x0 = [1e-7, 2]): the generic point's burn-in descends
  the reduced loss sum_r jac_r(X[r]), which is no objective and here has
  no minimum (sum log x); it drives row 0's point to x ~ 3e-10, where the
  relative step h * max(1, |x|) leaves log's domain and the nan fails the
  element. Assumption: descending the reduction's loss is harmless.
  (``FILE:jac`` passes at the same x0.)
- A wrong Hessian row PASSES beside a far larger row (sum exp(x) at
  x0 = [20, -20, 0.5], H[1, 1] doubled): the rows are summed into one loss
  whose rounding (e^20 eps) is in every row's budget, and the H block is
  judged at one scale, so row 1 (e^-20) is "zero within round-off", though
  jac_1's own differences resolve it to 1e-10. Assumption: the rows of one
  block share a scale.
- The same for least_squares: a residual weighted 1e12 beside others
  hides a Jacobian row 1 wrong by a factor 2 (passes; at 1e9 it fails).
- The same for the scalar ``jac``: x = [1e-8, 1e8, 1] in different units,
  element 1 of the gradient (3e-8, beside 3e8) wrong by 2/3 passes; its
  own central difference (step h * |x1|) resolves it. Assumption: x is one
  block with one scale.
- A ``jac``/``hess``/``fun`` that overwrites its x is refused (exit 2,
  "grad modified params['x']" / "loss modified params['H']", names the
  user never wrote), but scipy hands them np.copy(x) ("the user may
  overwrite it") and minimize runs it. Assumption: the functions leave
  their argument alone; hand them copies (rows of H/J are views).
- n = 1 with a float ``jac`` or ``hess`` is refused ("returned shape ()...
  ravel it"); scipy takes atleast_1d(jac) and atleast_2d(hess).
  Assumption: shapes compare exactly.
- A sparse least_squares ``jac`` (csr_matrix; trf/dogbox take it) is
  refused as "jac returned shape ()": only hess is densified.
- Location: a ``hessp`` wrong in its output element 3 for p = e_1
  (M = H + e_3 e_1^T) is reported at H[1, 3] ("row 1, column 3"), while
  the Hv block beside it says "element 3": block H holds hessp(x, e_r) as
  row r, i.e. H's columns. (test_a_hessp_that_is_wrong_fails_in_the_rows_it_gets_wrong
  asserts the transposed {(1, 3)} and changes with the fix.)

Held in that pass (right verdicts): Rosenbrock-like scaled x with a
correct jac/hess/hessp (x = [1e-8, 1e8, 1]); sum exp(x) at [50, -50, 0.5]
right; a 1.01 error in H[2, 2] beside a 1e6 diagonal (fails, located);
log-barrier Hessians at [1e-3..1e-4, 1, 10..100] with a doubled H[2, 2]
(fail, located) and right at [0.5, 1, 2]; x log x right down to x0 = 1e-5;
a units mismatch (gradient 1e4 vs 1e-3) with one element wrong (fails);
least-squares weights up to 1e9 (fails, row located); a huge constant
residual offset (unverified, with the right hint); m < n (2 x 4) right and
wrong in one element (located); x0 as a list of ints, fun returning a 0-d
array, jac/hess/hessp returning lists; jac = sign(x) + x with a kink at 0
(jac passes, hess passes with the kinked element unverified); a jac that
is no gradient with hess its Jacobian's transpose (jac fails, hess fails
with the symmetry note); log(a) residuals (least_squares) right.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any, Callable

import numpy as np

from ..errors import ModelError, UserCodeError, exception_text
from ..settings import DEFAULT_SEED, HESS_SYMMETRY_RTOL, HESSP_DIRECTION_STREAM

# What a target in these conventions defines, and the derivatives checked,
# in the order the command line checks them.
REQUIRED = ("fun", "jac", "x0")
DERIVATIVES = ("jac", "hess", "hessp")


def follows(obj: Any) -> bool:
    """Whether ``obj`` (a model's module) is in scipy.optimize's
    conventions: ``fun`` and ``x0``, and a ``jac`` (a model's own
    ``loss``/``grad``/``loss_and_grad`` take precedence)."""
    if any(callable(getattr(obj, name, None)) for name in ("loss", "grad", "loss_and_grad")):
        return False
    return callable(getattr(obj, "fun", None)) and hasattr(obj, "x0") and hasattr(obj, "jac")


def defined(obj: Any) -> list[str]:
    """The derivatives ``obj`` defines, in DERIVATIVES' order."""
    return [name for name in DERIVATIVES if getattr(obj, name, None) is not None]


def declared(path: str) -> list[str]:
    """The derivatives a file in these conventions defines, read from its
    source (nothing is imported): names bound at module level (a def, an
    assignment, an import as); none for a file that is not in them."""
    try:
        with open(path, encoding="utf-8") as stream:
            tree = ast.parse(stream.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return []
    bound: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        bound.add(name.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    if bound & {"loss", "grad", "loss_and_grad"} or not set(REQUIRED) <= bound:
        return []
    return [name for name in DERIVATIVES if name in bound]


def derivative_of(module: Any, attr: str | None, where: str) -> "Derivative | None":
    """The model for one derivative of ``module`` when it is in these
    conventions: ``attr`` names it (``jac``, ``hess``, ``hessp``), or
    None where the module defines only ``jac``. None for a module that is
    not in these conventions, or an ``attr`` that is no derivative."""
    if not follows(module):
        return None
    if attr is not None and attr not in DERIVATIVES:
        return None
    have = defined(module)
    if attr is None:
        if len(have) > 1:
            raise ModelError(f"{where} is in scipy.optimize's conventions and defines {', '.join(have)}, each "
                             f"checked as a model of its own: check one as '{where}:{have[0]}' (gradcheck "
                             f"{where} checks them all)")
        attr = "jac"
    if attr not in have:
        raise ModelError(f"{where} defines no {attr} (it defines {', '.join(have)})")
    return Derivative(module, attr, where)


def _name(fn: Any) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


def _shape(value: Any) -> tuple:
    return tuple(np.shape(value))


class Derivative:
    """One derivative of a problem in scipy.optimize's conventions as a
    model: ``init_params``, ``loss`` and ``grad`` (what a target object
    provides; see the module's note for the reductions)."""

    def __init__(self, owner: Any, kind: str, where: str):
        self.owner, self.kind, self.where = owner, kind, where
        self.fun: Callable = owner.fun
        self.jac: Callable = self._function("jac")
        self.checked: Callable = self._function(kind)
        args = getattr(owner, "args", ())
        # (scipy's rule: a single non-tuple argument is the one argument)
        self.args: tuple = args if isinstance(args, tuple) else (args,)
        self.n = self.m = 0
        self.vector = False
        self.direction: np.ndarray | None = None
        self.notes: list[str] = []

    def _function(self, name: str) -> Callable:
        value = getattr(self.owner, name)
        if not callable(value):
            extra = " (jac=True, '2-point' and the like are options of scipy's, not derivatives to check)" \
                if name == "jac" else ""
            raise ModelError(f"{self.where}: {name} must be a function, but it is a {type(value).__name__}{extra}")
        return value

    # -- what the report points at ------------------------------------------

    def location(self) -> tuple[str | None, int | None]:
        """The checked function's definition (annotations, JUnit)."""
        try:
            return inspect.getsourcefile(self.checked), inspect.getsourcelines(self.checked)[1]
        except (OSError, TypeError):
            return None, None

    def holders(self) -> list:
        """The user's functions this adapter calls (model.held_arrays)."""
        return [fn for fn in (self.fun, self.jac, self.checked)]

    # -- the first call: shapes, and the blocks --------------------------------

    def _first(self, fn: Callable, *arguments: Any) -> Any:
        try:
            return fn(*arguments, *self.args)
        except ModelError:
            raise
        except Exception as exc:
            raise UserCodeError(f"{self.where}: {_name(fn)} raised {type(exc).__name__}: {exception_text(exc)} at "
                                "its first call, at x0", exc) from None

    def init_params(self, seed: int = DEFAULT_SEED) -> dict[str, np.ndarray]:
        """The blocks at x0, after one call of each function there, which
        fixes n, m and whether fun is scalar; shapes refused by name."""
        x0 = np.atleast_1d(np.asarray(getattr(self.owner, "x0")))
        if x0.ndim != 1:
            raise ModelError(f"{self.where}: x0 has shape {x0.shape}; scipy.optimize's x0 is a 1-d array of "
                             "the n variables")
        if x0.dtype.kind not in "fiu":
            raise ModelError(f"{self.where}: x0 has dtype {x0.dtype}; the variables must be real numbers")
        x0 = np.array(x0, dtype=np.float64)
        self.n = n = x0.size
        f0 = np.asarray(self._first(self.fun, x0.copy()))
        if f0.ndim > 1:
            raise ModelError(f"{self.where}: fun returned shape {f0.shape}; it returns a scalar (minimize) or a "
                             "1-d array of residuals (least_squares)")
        jac0 = self._first(self.jac, x0.copy())
        # A one-element fun beside a gradient of shape (n,) is minimize's
        # scalar (scipy takes size-1 results), not a residual.
        self.vector = f0.ndim == 1 and not (f0.size == 1 and np.shape(jac0) == (n,))
        self.m = f0.size if self.vector else 1
        self._jacobian(jac0, "x0")
        if self.kind != "jac" and self.vector:
            raise ModelError(f"{self.where}: {self.kind} is for a scalar fun, but fun returns {self.m} residuals "
                             "(least_squares takes jac only)")
        rows = np.tile(x0, (n, 1))
        if self.kind == "jac":
            if not self.vector:
                return {"x": x0}
            return {"J": np.tile(x0, (self.m, 1))}
        if self.kind == "hess":
            hess = self._hessian(self._first(self.checked, x0.copy()))
            asymmetry = np.abs(hess - hess.T)
            scale = np.max(np.abs(hess))
            if np.max(asymmetry) > HESS_SYMMETRY_RTOL * scale:
                i, j = np.unravel_index(int(np.argmax(asymmetry)), asymmetry.shape)
                self.notes.append(f"hess is not symmetric at x0: H[{i}, {j}] = {hess[i, j]:.6g} but H[{j}, {i}] = "
                                  f"{hess[j, i]:.6g} (a Hessian is); the rows are checked against jac's differences")
            return {"H": rows}
        rng = np.random.default_rng([seed, HESSP_DIRECTION_STREAM])
        self.direction = rng.standard_normal(n)
        self.direction.flags.writeable = False  # (handed to hessp as a copy)
        self._product(self._first(self.checked, x0.copy(), self.direction.copy()), "v")
        return {"H": rows, "Hv": x0.copy()}

    # -- shapes, at every call ------------------------------------------------------

    def _jacobian(self, value: Any, label: str) -> np.ndarray:
        array = np.asarray(value)
        n, m = self.n, self.m
        expected = (m, n) if self.vector else (n,)
        if array.shape != expected:
            if self.vector:
                hint = " (transposed? it is m x n, one row per residual)" if array.shape == (n, m) else ""
                what = f"the {m} x {n} Jacobian of the residuals, shape {expected}{hint}"
            else:
                hint = "; ravel it" if array.size == n else ""
                what = f"the gradient of a scalar fun, shape {expected}{hint}"
            raise ModelError(f"{self.where}: {_name(self.jac)} returned shape {array.shape} at {label}; it returns "
                             f"{what}")
        return array

    def _hessian(self, value: Any) -> np.ndarray:
        if hasattr(value, "toarray"):  # a scipy.sparse matrix
            value = value.toarray()
        array = np.asarray(value)
        if array.shape != (self.n, self.n):
            raise ModelError(f"{self.where}: {_name(self.checked)} returned shape {array.shape}; it returns the "
                             f"Hessian, n x n with n = {self.n} variables, shape {(self.n, self.n)}")
        return array

    def _product(self, value: Any, label: str) -> np.ndarray:
        array = np.asarray(value)
        if array.shape != (self.n,):
            what = "a matrix" if array.ndim == 2 else f"shape {array.shape}"
            raise ModelError(f"{self.where}: {_name(self.checked)} returned {what} for p = {label}; it returns the "
                             f"product H p, shape {(self.n,)} (hess returns the matrix)")
        return array

    def _residuals(self, value: Any) -> Any:
        shape = _shape(value)
        expected = (self.m,) if self.kind == "jac" else (self.n,)
        if shape != expected:
            fn = self.fun if self.kind == "jac" else self.jac
            raise ModelError(f"{self.where}: {_name(fn)} returned shape {shape}, but it returned {expected} at x0")
        return value

    # -- the model contract ------------------------------------------------------------

    def _rows_function(self) -> Callable:
        """F of the (rows, n) block: fun for least_squares' jac, else jac."""
        return self.fun if self.kind == "jac" else self.jac

    def loss(self, params: dict[str, Any]) -> Any:
        if self.kind == "jac" and not self.vector:
            return self.fun(params["x"], *self.args)
        block = params["J"] if self.kind == "jac" else params["H"]
        function = self._rows_function()
        outputs: dict[bytes, Any] = {}  # one call per distinct row (see the module's note)
        total = 0.0
        for r in range(block.shape[0]):
            row = block[r]
            key = np.asarray(row).tobytes()
            if key not in outputs:
                outputs[key] = self._residuals(function(row, *self.args))
            total = total + outputs[key][r]
        if self.kind == "hessp":
            total = total + self._residuals(self.jac(params["Hv"], *self.args)) @ self.direction
        return total

    def grad(self, params: dict[str, Any]) -> dict[str, np.ndarray]:
        if self.kind == "jac" and not self.vector:
            return {"x": self._jacobian(self.jac(params["x"], *self.args), "the point checked")}
        name = "J" if self.kind == "jac" else "H"
        block = params[name]
        rows = np.empty(block.shape)
        found: dict[bytes, np.ndarray] = {}
        for r in range(block.shape[0]):
            row = block[r]
            if self.kind == "hessp":
                unit = np.zeros(self.n)
                unit[r] = 1.0
                rows[r] = self._product(self.checked(row, unit, *self.args), f"e_{r}")
                continue
            key = np.asarray(row).tobytes()
            if key not in found:
                value = self.checked(row, *self.args)
                found[key] = self._jacobian(value, f"row {r}'s point") if self.kind == "jac" else \
                    self._hessian(value)
            rows[r] = found[key][r]
        gradient = {name: rows}
        if self.kind == "hessp":
            gradient["Hv"] = self._product(self.checked(params["Hv"], self.direction.copy(), *self.args), "v")
        return gradient
