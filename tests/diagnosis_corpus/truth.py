"""The independent truth about the diagnosis corpus: no gradcheck here.

``facts(module)`` computes, in float64, the full central-difference gradient
of every element of every block (h = 1e-6 * max(1, |x|)) and the model's
analytic gradient, and says of each block what is true of their
disagreement:

- ``right``: every element agrees (relative error < RIGHT_TOL, relative to
  max(|analytic|, |numeric|, floor), floor = FLOOR_SHARE * max(1, |loss|):
  the round-off of a central difference is about eps * |loss| / h);
- ``zero``: the analytic gradient is exactly 0 in every element, the loss moves;
- ``ratio``: analytic = c * numeric in every element, c constant, not 0, 1, -1
  (the value of c, else None);
- ``sign``: analytic = -numeric in every element;
- ``transpose``: a square, non-symmetric block, analytic = numeric.T;
- ``param``: analytic - numeric = c * the block's own values, c != 0 (c, else None);
- ``wrong_rows`` / ``wrong_cols`` / ``wrong_elements``: where the wrong
  elements are, and ``confined``: the ways (``"rows"``, ``"cols"``,
  ``"elements"``) in which they lie in 1..3 rows / columns / elements of
  the block while some other row / column / element is right.

``kinds`` collects the diagnosis kinds that are true of a wrong block.
``generic_point(module)`` is a seeded point well away from init_params(0),
for the models whose bug only shows away from the start point.
"""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np

H_RELATIVE = 1e-6
RIGHT_TOL = 1e-6  # an element is right within this relative error
KIND_TOL = 1e-5  # a kind's identity (a = c n, a = n.T, ...) holds within this relative error
FLOOR_SHARE = 1e-3  # the floor of the relative errors, times max(1, |loss|)
CONFINED_MAX = 3

_counter = itertools.count()


def load(path) -> object:
    """Import a corpus file by path, as a fresh module."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"_diagnosis_corpus_{next(_counter)}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_point(module) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=np.float64) for k, v in module.init_params(seed=0).items()}


def generic_point(module, seed: int = 12345) -> dict[str, np.ndarray]:
    """init_params(0) moved by a seeded normal jitter of 0.5 * max(1, RMS)
    per block: far from the start point, every element off any special
    value (a zero bias, an all-active ReLU)."""
    rng = np.random.default_rng(seed)
    point = {}
    for name, value in start_point(module).items():
        rms = float(np.sqrt(np.mean(value**2))) if value.size else 0.0
        point[name] = value + 0.5 * max(1.0, rms) * rng.standard_normal(value.shape)
    return point


def _copy(params):
    return {k: v.copy() for k, v in params.items()}


def loss_value(module, params) -> float:
    if hasattr(module, "loss"):
        return float(module.loss(_copy(params)))
    return float(module.loss_and_grad(_copy(params))[0])


def analytic(module, params) -> dict[str, np.ndarray]:
    if hasattr(module, "grad"):
        grads = module.grad(_copy(params))
    else:
        grads = module.loss_and_grad(_copy(params))[1]
    return {k: np.array(v, dtype=np.float64) for k, v in grads.items()}


def numeric(module, params) -> dict[str, np.ndarray]:
    """Central differences of every element of every block."""
    out = {}
    for name, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            h = H_RELATIVE * max(1.0, abs(value[idx]))
            plus, minus = _copy(params), _copy(params)
            plus[name][idx] += h
            minus[name][idx] -= h
            g[idx] = (loss_value(module, plus) - loss_value(module, minus)) / (
                plus[name][idx] - minus[name][idx])
        out[name] = g
    return out


def _agree(x, y, floor, tol):
    """Elementwise: x and y agree within tol, relative to max(|x|, |y|, floor)."""
    scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), floor)
    return np.abs(x - y) <= tol * scale


def _fit(x, basis):
    """The c that makes c * basis closest to x (least squares), or None."""
    denom = float(np.sum(basis * basis))
    return float(np.sum(x * basis)) / denom if denom > 0 else None


def block_facts(a: np.ndarray, n: np.ndarray, p: np.ndarray, floor: float) -> dict:
    assert a.shape == n.shape == p.shape, (a.shape, n.shape, p.shape)
    right_mask = _agree(a, n, floor, RIGHT_TOL)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    rel = np.abs(a - n) / scale
    right = bool(right_mask.all())
    f = {
        "right": right,
        "max_rel_err": float(rel.max()) if rel.size else 0.0,
        "zero": False, "ratio": None, "sign": False, "transpose": False, "param": None,
        "wrong_rows": [], "wrong_cols": [], "wrong_elements": [], "confined": [],
    }
    wrong = [tuple(int(i) for i in idx) for idx in zip(*np.nonzero(~right_mask))]
    f["wrong_elements"] = wrong
    if right:
        f["kinds"] = set()
        return f

    # zero: analytic exactly 0 everywhere, where the loss moves
    f["zero"] = bool(np.all(a == 0) and np.any(np.abs(n) > RIGHT_TOL * floor))
    # ratio: a = c n, c a constant not 0, 1, -1
    c = _fit(a, n)
    if c is not None and abs(c) > 1e-3 and abs(c - 1) > 1e-3 and abs(c + 1) > 1e-3:
        if np.all(_agree(a, c * n, floor, KIND_TOL)):
            f["ratio"] = c
    # sign: a = -n
    f["sign"] = bool(np.all(_agree(a, -n, floor, KIND_TOL)))
    # transpose: square, the truth not symmetric, a = n.T
    if a.ndim == 2 and a.shape[0] == a.shape[1] and a.shape[0] > 1:
        symmetric = bool(np.all(_agree(n, n.T, floor, KIND_TOL)))
        f["transpose"] = (not symmetric) and bool(np.all(_agree(a, n.T, floor, KIND_TOL)))
    # param: a - n = c p, c != 0
    d = a - n
    cp = _fit(d, p)
    if cp is not None and abs(cp) > 1e-9:
        pscale = np.maximum(scale, np.abs(cp * p))
        if np.all(np.abs(d - cp * p) <= KIND_TOL * pscale):
            f["param"] = cp
    # confined: where the wrong elements are
    if a.ndim == 2:
        rows = sorted({i for i, _ in wrong})
        cols = sorted({j for _, j in wrong})
        f["wrong_rows"], f["wrong_cols"] = rows, cols
        if len(rows) <= CONFINED_MAX and len(rows) < a.shape[0]:
            f["confined"].append("rows")
        if len(cols) <= CONFINED_MAX and len(cols) < a.shape[1]:
            f["confined"].append("cols")
    if len(wrong) <= CONFINED_MAX and len(wrong) < a.size:
        f["confined"].append("elements")

    kinds = set()
    if f["zero"]:
        kinds.add("zero")
    if f["ratio"] is not None:
        kinds.add("ratio")
    if f["sign"]:
        kinds.add("sign")
    if f["transpose"]:
        kinds.add("transpose")
    if f["param"] is not None:
        kinds.add("param")
    if f["confined"]:
        kinds.add("confined")
    f["kinds"] = kinds
    return f


def facts(module, params: dict[str, np.ndarray] | None = None) -> dict[str, dict]:
    """What is true of each block's analytic gradient at ``params``
    (default: init_params(seed=0))."""
    if params is None:
        params = start_point(module)
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    L = loss_value(module, params)
    assert np.isfinite(L), L
    floor = FLOOR_SHARE * max(1.0, abs(L))
    a = analytic(module, params)
    n = numeric(module, params)
    assert set(a) == set(params), (sorted(a), sorted(params))
    out = {}
    for name in params:
        out[name] = block_facts(a[name], n[name], params[name], floor)
        out[name]["analytic"] = a[name]
        out[name]["numeric"] = n[name]
    return out
