"""Evidence corpus: small numpy models that attack assumptions in how a
gradient value is judged, each as a correct model and buggy twins.

Sections (see each model's ``note``):

- ``noise``: the loss's rounding is not one number; it differs per block.
- ``analytic``: the analytic gradient is not exact (float32 backward,
  thousands of Python-float loop terms, a least-squares solution where the
  exact gradient is ~1e-16 and the analytic value is round-off).
- ``c1``: losses that are only C1 at the point (Huber/smooth-L1 residuals at
  +-delta, ELU fed zero padding): truncation is not O(h^2)/O(h^4) there.
- ``scale``: a step scaled by |x| is not a step scaled to the loss (UTM
  coordinates ~5e6 m, a frequency times a 1000 s record).
- ``kink``: a kink excuses only what it explains (argmax feeding only a
  logging dict, a narrow smooth bump, leaky ReLU units near their kink, a
  fast sine).
- ``naive``: students' loop code (CS231n-style naive two-layer net and
  multiclass SVM with a zero bias block).

``make(seed)`` builds the model for that seed (data and parameters are
drawn from a generator seeded by the case and the seed; deterministic).
The returned ``loss`` carries two attributes used only by :func:`verify`:

- ``loss.reference(params_mp)``: the same loss evaluated on object arrays
  of mpmath numbers (50 digits), with the data and constants exactly the
  float64 values the numpy loss uses; for the scipy Huber model an
  independent piecewise reimplementation.
- ``loss.floor``: the gradient's natural scale where its exact value is
  ~0 (least-squares solutions), else 0.

Truth is established without gradcheck: :func:`verify` differentiates
``loss.reference`` by central differences in 50-digit arithmetic with a
relative step of 1e-20 (truncation ~1e-40, rounding ~1e-30; at a C1 point
the one-sided curvature jump costs O(step) = 1e-20) and returns the max
over elements of |g - t| / max(|t|, floor, 1e-8 * max|t| of the block).

    python tests/evidence_models.py            # table at seed 0
    python tests/evidence_models.py --seeds 5  # min/max over seeds 0..4
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from functools import partial
from types import SimpleNamespace
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str  # short, unique
    section: str  # noise, analytic, c1, scale, kink, naive
    correct: bool
    make: Callable[[int], tuple]  # seed -> (loss(params) -> float, grad(params) -> dict, params)
    note: str  # what it attacks, one line


# ---------------------------------------------------------------------------
# numpy / mpmath namespaces: a loss written once against `o` runs in both

def _np_huber(delta, r):
    import scipy.special
    return scipy.special.huber(delta, r)


NP = SimpleNamespace(
    exp=np.exp, log=np.log, sin=np.sin, cos=np.cos, sqrt=np.sqrt, tanh=np.tanh, expm1=np.expm1,
    softplus=lambda m: np.logaddexp(0.0, m), huber=_np_huber,
)

_MP = None
DPS = 50
REL_STEP = 1e-20


def _mp_ops():
    global _MP
    if _MP is None:
        import mpmath
        mp = mpmath.mp

        def huber(d, r):  # scipy.special.huber's definition, written out
            return r * r / 2 if abs(r) <= d else d * (abs(r) - d / 2)

        u = lambda f: np.frompyfunc(f, 1, 1)  # noqa: E731
        _MP = SimpleNamespace(
            exp=u(mp.exp), log=u(mp.log), sin=u(mp.sin), cos=u(mp.cos), sqrt=u(mp.sqrt), tanh=u(mp.tanh),
            expm1=u(mp.expm1), softplus=u(lambda m: mp.log1p(mp.exp(m))),
            huber=np.frompyfunc(lambda d, r: huber(mpmath.mpf(d), r), 2, 1),
        )
    return _MP


def _model(expr, grad, params, floor=0.0):
    """(loss, grad, params) with loss.reference / loss.floor for verify()."""

    def loss(p):
        return float(expr(p, NP))

    loss.reference = lambda p: expr(p, _mp_ops())
    loss.floor = float(floor)

    def grad_(p):
        return {k: np.array(v, dtype=np.float64) for k, v in grad(p).items()}

    return loss, grad_, {k: np.array(v, dtype=np.float64) for k, v in params.items()}


def _rng(tag: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([tag, seed])


def _f64(p, k):
    return np.asarray(p[k], dtype=np.float64)


# ---------------------------------------------------------------------------
# 1. noise: the rounding differs per block

def expanded_square(seed, n=6, lo=1e4, hi=1e5, gap=1.0, m=30, d=3, lam=1e-3, bug=None):
    """sum(x**2 - 2 x mu + mu**2) with x ~ lo..hi (noise ~ eps x^2 per term)
    beside a small ridge regression w whose rounding is ~eps*|f|."""
    r = _rng(11, seed)
    x = r.uniform(lo, hi, n)
    mu = x + gap * r.standard_normal(n)
    A = r.standard_normal((m, d))
    wt = r.standard_normal(d)
    b = A @ wt + 0.3 * r.standard_normal(m)
    w = wt + 0.3 * r.standard_normal(d)

    def expr(p, o):
        x, mu, w = p["x"], p["mu"], p["w"]
        res = A @ w - b
        return np.sum(x**2 - 2 * x * mu + mu**2) + 0.5 * np.mean(res**2) + 0.5 * lam * np.sum(w**2)

    def grad(p):
        x, mu, w = _f64(p, "x"), _f64(p, "mu"), _f64(p, "w")
        res = A @ w - b
        gw = A.T @ res / (m - 1 if bug == "N-1" else m)
        if bug != "reg":
            gw = gw + lam * w
        return {"x": 2 * (x - mu), "mu": 2 * (mu - x), "w": gw}

    return _model(expr, grad, {"x": x, "mu": mu, "w": w})


def sine_phase(seed, k=2, n=2000, tmax=1e3, m=30, d=3, lam=1e-4, bug=None):
    """sum(sin(omega t + phi)) over a long record (rounding of omega*t ~
    eps*1e4 per term) beside a small ridge regression block."""
    r = _rng(12, seed)
    t = np.linspace(0.0, tmax, n)
    omega = r.uniform(0.5, 3.0, k)
    phi = r.uniform(-np.pi, np.pi, k)
    A = r.standard_normal((m, d))
    b = A @ r.standard_normal(d) + 0.3 * r.standard_normal(m)
    w = r.standard_normal(d)

    def expr(p, o):
        omega, phi, w = p["omega"], p["phi"], p["w"]
        res = A @ w - b
        return (np.sum(o.sin(omega[:, None] * t + phi[:, None])) + 0.5 * np.mean(res**2)
                + 0.5 * lam * np.sum(w**2))

    def grad(p):
        omega, phi, w = _f64(p, "omega"), _f64(p, "phi"), _f64(p, "w")
        c = np.cos(omega[:, None] * t + phi[:, None])
        res = A @ w - b
        gw = A.T @ res / (m - 1 if bug == "N-1" else m)
        if bug != "reg":
            gw = gw + lam * w
        return {"omega": (c * t).sum(axis=1), "phi": c.sum(axis=1), "w": gw}

    return _model(expr, grad, {"omega": omega, "phi": phi, "w": w})


# ---------------------------------------------------------------------------
# 2. analytic: the analytic value is not exact

def f32_logreg(seed, n=60, d=8, lam=1e-3, bug=None):
    """float64 logistic regression whose backward computes in float32."""
    r = _rng(21, seed)
    X = r.standard_normal((n, d))
    y = (X @ r.standard_normal(d) + 0.5 * r.standard_normal(n) > 0).astype(float)
    params = {"w": 0.5 * r.standard_normal(d), "b": np.array([0.1])}

    def expr(p, o):
        m = X @ p["w"] + p["b"][0]
        return np.mean(o.softplus(m) - y * m) + lam * np.sum(p["w"] ** 2)

    def grad(p):
        X32, w, b = X.astype(np.float32), p["w"].astype(np.float32), p["b"].astype(np.float32)
        s = np.float32(1) / (np.float32(1) + np.exp(-(X32 @ w + b[0])))
        e = (s - y.astype(np.float32)) / np.float32(n)
        gw = X32.T @ e + np.float32(lam if bug == "reg" else 2 * lam) * w
        return {"w": gw.astype(np.float64), "b": np.array([e.sum()], dtype=np.float64)}

    return _model(expr, grad, params)


def f32_mlp(seed, n=40, d=6, h=10, lam=2e-3, bug=None):
    """float64 tanh MLP regression whose backward computes in float32."""
    r = _rng(22, seed)
    X = r.standard_normal((n, d))
    y = np.sin(X[:, 0]) + 0.1 * r.standard_normal(n)
    params = {"W1": 0.5 * r.standard_normal((d, h)), "b1": 0.1 * r.standard_normal(h),
              "w2": 0.5 * r.standard_normal(h)}

    def expr(p, o):
        hid = o.tanh(X @ p["W1"] + p["b1"])
        return 0.5 * np.mean((hid @ p["w2"] - y) ** 2) + 0.5 * lam * np.sum(p["W1"] ** 2)

    def grad(p):
        f = np.float32
        X32, W1, b1, w2 = X.astype(f), p["W1"].astype(f), p["b1"].astype(f), p["w2"].astype(f)
        hid = np.tanh(X32 @ W1 + b1)
        e = (hid @ w2 - y.astype(f)) / f(n)
        dz = np.outer(e, w2) * (f(1) - hid**2)
        gW1 = X32.T @ dz + (f(0) if bug == "reg" else f(lam)) * W1
        return {"W1": gW1.astype(float), "b1": dz.sum(axis=0).astype(float), "w2": (hid.T @ e).astype(float)}

    return _model(expr, grad, params)


def loop_logreg(seed, n=3000, d=3, bug=None):
    """Logistic regression whose gradient is accumulated term by term in
    Python floats (math.exp) over n examples."""
    r = _rng(23, seed)
    X = r.standard_normal((n, d))
    y = np.where(X @ r.standard_normal(d) + r.standard_normal(n) > 0, 1.0, -1.0)
    params = {"w": 0.3 * r.standard_normal(d), "b": np.array([0.2])}
    Xl, yl = X.tolist(), y.tolist()

    def expr(p, o):
        return np.mean(o.softplus(-y * (X @ p["w"] + p["b"][0])))

    def grad(p):
        w = [float(v) for v in p["w"]]
        b = float(p["b"][0])
        gw, gb = [0.0] * d, 0.0
        for i in range(n - 1 if bug == "range" else n):
            xi, yi = Xl[i], yl[i]
            m = yi * (sum(xi[k] * w[k] for k in range(d)) + b)
            s = -yi / (1.0 + math.exp(m))
            for k in range(d):
                gw[k] += s * xi[k]
            gb += s
        return {"w": np.array(gw) / n, "b": np.array([gb / n])}

    return _model(expr, grad, params)


def loop_poisson(seed, n=2000, d=2, bug=None):
    """Poisson regression, gradient summed in a Python loop."""
    r = _rng(24, seed)
    X = 0.5 * r.standard_normal((n, d))
    wt = r.standard_normal(d)
    y = r.poisson(np.exp(X @ wt + 0.5)).astype(float)
    params = {"w": wt + 0.1 * r.standard_normal(d), "b": np.array([0.4])}
    Xl, yl = X.tolist(), y.tolist()

    def expr(p, o):
        eta = X @ p["w"] + p["b"][0]
        return np.mean(o.exp(eta) - y * eta)

    def grad(p):
        w = [float(v) for v in p["w"]]
        b = float(p["b"][0])
        gw, gb = [0.0] * d, 0.0
        for i in range(n):
            xi = Xl[i]
            s = math.exp(sum(xi[k] * w[k] for k in range(d)) + b) - yl[i]
            for k in range(d):
                gw[k] += s * xi[k]
            gb += s
        div = n - 1 if bug == "N-1" else n
        return {"w": np.array(gw) / div, "b": np.array([gb / div])}

    return _model(expr, grad, params)


def loop_gauss(seed, n=5000, bug=None):
    """Gaussian negative log-likelihood of n values ~1e3 near its optimum:
    the Python-loop gradient sums large terms that nearly cancel."""
    r = _rng(25, seed)
    x = 1000.0 + 2.0 * r.standard_normal(n)
    params = {"m": np.array([x.mean() + 0.01]), "log_s": np.array([math.log(x.std()) + 0.01])}
    xl = x.tolist()

    def expr(p, o):
        s = o.exp(p["log_s"][0])
        return np.mean(0.5 * ((x - p["m"][0]) / s) ** 2) + p["log_s"][0]

    def grad(p):
        m, ls = float(p["m"][0]), float(p["log_s"][0])
        inv = math.exp(-2 * ls)
        gm, gs = 0.0, 0.0
        for i in range(1 if bug == "range" else 0, n):
            dx = xl[i] - m
            gm -= dx * inv
            gs += 1.0 - dx * dx * inv
        return {"m": np.array([gm / n]), "log_s": np.array([gs / n])}

    return _model(expr, grad, params)


def _floor(A, res, m):
    """Natural scale of a least-squares gradient: its terms' size."""
    return float(np.max(np.abs(A).T @ np.abs(res)) / m)


def lstsq_linreg(seed, m=40, d=4, bug=None):
    """Linear regression with intercept at its lstsq solution: the exact
    gradient is ~1e-16, the analytic value is round-off."""
    r = _rng(26, seed)
    X = r.standard_normal((m, d))
    X = X - X.mean(axis=0) + 0.02 * r.standard_normal(d)  # nearly centered columns
    y = X @ r.standard_normal(d) + 1.5 + 0.3 * r.standard_normal(m)
    sol = np.linalg.lstsq(np.hstack([X, np.ones((m, 1))]), y, rcond=None)[0]
    w, b = sol[:d], sol[d:]

    def expr(p, o):
        return 0.5 * np.mean((X @ p["w"] + p["b"][0] - y) ** 2)

    def grad(p):
        res = X @ p["w"] + p["b"][0] - y
        res_w = X @ p["w"] - y if bug == "nobias" else res  # forgot the bias in the backward's residual
        return {"w": X.T @ res_w / m, "b": np.array([res.mean()])}

    return _model(expr, grad, {"w": w, "b": b}, floor=_floor(np.hstack([X, np.ones((m, 1))]), X @ w + b - y, m))


def lstsq_ridge(seed, m=50, d=6, lam=1e-3, bug=None):
    """Ridge regression at its solution (lstsq on the augmented system)."""
    r = _rng(27, seed)
    X = r.standard_normal((m, d))
    y = X @ r.standard_normal(d) + 0.3 * r.standard_normal(m)
    A = np.vstack([X / np.sqrt(m), np.sqrt(lam) * np.eye(d)])
    w = np.linalg.lstsq(A, np.concatenate([y / np.sqrt(m), np.zeros(d)]), rcond=None)[0]

    def expr(p, o):
        return 0.5 * np.mean((X @ p["w"] - y) ** 2) + 0.5 * lam * np.sum(p["w"] ** 2)

    def grad(p):
        res = X @ p["w"] - y
        return {"w": X.T @ res / m + (2 if bug == "reg2" else 1) * lam * p["w"]}

    return _model(expr, grad, {"w": w}, floor=_floor(X, X @ w - y, m))


def lstsq_poly(seed, m=40, deg=5, bug=None):
    """Weighted polynomial fit (ill-conditioned Vandermonde) at its solution."""
    r = _rng(28, seed)
    t = np.sort(r.uniform(0, 3, m))
    V = np.vander(t, deg + 1, increasing=True)
    y = np.cos(t) + 0.1 * r.standard_normal(m)
    wt = 1.0 + 0.05 * r.uniform(-1, 1, m)  # sample weights
    sw = np.sqrt(wt)
    c = np.linalg.lstsq(V * sw[:, None], y * sw, rcond=None)[0]

    def expr(p, o):
        return 0.5 * np.mean(wt * (V @ p["c"] - y) ** 2)

    def grad(p):
        res = V @ p["c"] - y
        return {"c": V.T @ (res if bug == "noweights" else wt * res) / m}

    return _model(expr, grad, {"c": c}, floor=_floor(V, wt * (V @ c - y), m))


# ---------------------------------------------------------------------------
# 3. c1: the loss is only C1 at the point

def huber(seed, impl="scipy", n=30, d=4, delta=1.0, bug=None):
    """Huber / smooth-L1 regression with residuals exactly at, within 1e-9
    of, just inside and just beyond +-delta (the curvature jump)."""
    r = _rng(31, seed)
    A = r.standard_normal((n, d))
    w = r.standard_normal(d)
    b = np.array([0.3])
    sgn = np.where(r.uniform(size=n) < 0.5, -1.0, 1.0)
    kind = np.arange(n) % 5
    mag = np.select([kind == 0, kind == 1, kind == 2, kind == 3],
                    [np.ones(n), 1 + 1e-9 * r.uniform(-1, 1, n), r.uniform(0.2, 0.95, n),
                     r.uniform(1.001, 1.03, n)], r.uniform(1.05, 2.0, n))
    y = A @ w + b[0] - sgn * delta * mag
    beta = delta

    def expr(p, o):
        res = A @ p["w"] + p["b"][0] - y
        if impl == "scipy":
            terms = o.huber(delta, res)
        elif impl == "numpy":
            a = np.abs(res)
            terms = np.where(a <= delta, 0.5 * res**2, delta * (a - 0.5 * delta))
        else:  # smooth-L1 (torch's), beta
            a = np.abs(res)
            terms = np.where(a < beta, 0.5 * res**2 / beta, a - 0.5 * beta)
        return np.mean(terms)

    def grad(p):
        res = A @ p["w"] + p["b"][0] - y
        if impl == "smoothl1":
            psi = np.clip(res if bug == "beta" else res / beta, -1.0, 1.0)
        else:
            psi = res if bug == "noclip" else np.clip(res, -delta, delta)
        div = n - 1 if bug == "N-1" else n
        return {"w": A.T @ psi / div, "b": np.array([psi.sum() / div])}

    return _model(expr, grad, {"w": w, "b": b})


def elu_pad(seed, n=10, pad=3, d=4, h=6, lam=1e-3, bug=None):
    """ELU (alpha=1, C1 at 0) layer fed zero-padded rows with a zero bias:
    the padded pre-activations sit exactly at 0 where ELU'' jumps."""
    r = _rng(32, seed)
    X = r.standard_normal((n, d))
    X[n - pad:] = 0.0
    y = r.standard_normal(n)
    params = {"W": 0.7 * r.standard_normal((d, h)), "b": np.zeros(h), "v": r.standard_normal(h)}
    real = (np.arange(n) < n - pad).astype(float)[:, None]

    def expr(p, o):
        z = X @ p["W"] + p["b"]
        a = np.where(z > 0, z, o.expm1(z))
        return 0.5 * np.mean((a @ p["v"] - y) ** 2) + 0.5 * lam * np.sum(p["W"] ** 2)

    def grad(p):
        W, b, v = _f64(p, "W"), _f64(p, "b"), _f64(p, "v")
        z = X @ W + b
        a = np.where(z > 0, z, np.expm1(z))
        e = (a @ v - y) / n
        dz = np.outer(e, v) * np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0)))
        if bug == "padmask":  # padding "can't matter": masked out of the backward
            dz = dz * real
        gW = X.T @ dz + (0.0 if bug == "reg" else lam) * W
        return {"W": gW, "b": dz.sum(axis=0), "v": a.T @ e}

    return _model(expr, grad, params)


# ---------------------------------------------------------------------------
# 4. scale: a step scaled by |x| is not a step scaled to the loss

def stations(seed, k=4, bug=None):
    """Station positions in UTM metres (~5e5 E, ~5e6 N) spread over 50 m,
    fitted to measured pairwise distances plus a range-bias block c."""
    r = _rng(41, seed)
    true = np.array([5.0e5, 5.0e6]) + r.uniform(0, 50, (k, 2))
    I, J = np.triu_indices(k, 1)
    dist = np.sqrt(((true[I] - true[J]) ** 2).sum(axis=1))
    d = dist + 0.05 * r.standard_normal(len(I))
    params = {"P": true + 0.5 * r.standard_normal((k, 2)), "c": np.array([0.1])}

    def expr(p, o):
        P = p["P"]
        diff = P[I] - P[J]
        res = o.sqrt(np.sum(diff**2, axis=1)) + p["c"][0] - d
        return np.sum(res**2)

    def grad(p):
        P = _f64(p, "P")
        diff = P[I] - P[J]
        L = np.sqrt(np.sum(diff**2, axis=1))
        res = L + p["c"][0] - d
        u = diff / (d if bug == "measured" else L)[:, None]  # unit vector from the measured distance
        g = np.zeros_like(P)
        np.add.at(g, I, 2 * res[:, None] * u)
        np.add.at(g, J, -2 * res[:, None] * u)
        if bug == "sign1":  # the reference station's easting handled separately, sign slipped
            g[0, 0] = -g[0, 0]
        return {"P": g, "c": np.array([2 * res.sum()])}

    return _model(expr, grad, params)


def frequency(seed, n=2000, T=1000.0, bug=None):
    """A*sin(2 pi f t + phi) fitted over a record t up to T seconds: the
    step in f is scaled by |f|, the loss varies on 1/(2 pi T)."""
    r = _rng(42, seed)
    t = np.linspace(0.0, T, n)
    f0, A0, ph0 = r.uniform(0.5, 3.0), r.uniform(0.9, 1.2), r.uniform(0.005, 0.03)
    y = A0 * np.sin(2 * np.pi * f0 * t + ph0) + 0.1 * r.standard_normal(n)
    params = {"f": np.array([f0 + 2e-6 * r.standard_normal()]), "A": np.array([A0 * 1.02]),
              "phi": np.array([ph0])}
    two_pi = 2 * np.pi

    def expr(p, o):
        return np.mean((p["A"][0] * o.sin(two_pi * p["f"][0] * t + p["phi"][0]) - y) ** 2)

    def grad(p):
        f, A, ph = float(p["f"][0]), float(p["A"][0]), float(p["phi"][0])
        arg = two_pi * f * t + ph
        s = np.sin(arg)
        e = 2 * (A * s - y) / n
        c_f = np.cos(two_pi * f * t if bug == "nophi" else arg)  # backward recomputes the argument
        gf = np.sum(e * (1.0 if bug == "noA" else A) * c_f * two_pi * t)
        return {"f": np.array([gf]), "A": np.array([np.sum(e * s)]), "phi": np.array([np.sum(e * A * np.cos(arg))])}

    return _model(expr, grad, params)


# ---------------------------------------------------------------------------
# 5. kink: a kink excuses only what it explains

STATS: dict = {}


def argmax_stats(seed, n=34, d=5, c=4, lam=1e-3, ties=12, bug=None):
    """Smooth softmax regression; an argmax (its top two scores tied in
    `ties` examples, so probes flip it) feeds only a logging dict, never the loss."""
    r = _rng(51, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    W = 0.5 * r.standard_normal((d, c))
    b = 0.1 * r.standard_normal(c)
    s0 = X[0] @ W + b
    top = np.argsort(s0)[::-1]
    b[top[1]] += s0[top[0]] - s0[top[1]]  # example 0's two best classes tie ...
    for i in range(1, ties):  # ... and so do those of examples 1..ties-1 (moved along W's column difference)
        s = X[i] @ W + b
        c1, c2 = np.argsort(s)[::-1][:2]
        u = W[:, c1] - W[:, c2]
        X[i] -= (s[c1] - s[c2]) / (u @ u) * u
    rows = np.arange(n)

    def expr(p, o):
        s = X @ p["W"] + p["b"]
        STATS["pred"] = np.argmax(s, axis=1)  # logging only
        STATS["acc"] = float(np.mean(STATS["pred"] == y))
        s = s - s.max(axis=1, keepdims=True)
        e = o.exp(s)
        logp = s - o.log(e.sum(axis=1, keepdims=True))
        return -np.mean(logp[rows, y]) + 0.5 * lam * np.sum(p["W"] ** 2)

    def grad(p):
        s = X @ p["W"] + p["b"]
        e = np.exp(s - s.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        P[rows, y] -= 1
        gW = X.T @ P / n + (0.0 if bug == "reg" else lam) * p["W"]
        gb = P.sum(axis=0) / (n - 1 if bug == "N-1" else n)
        return {"W": gW, "b": gb}

    return _model(expr, grad, {"W": W, "b": b})


def bump(seed, k=6, width=0.01, spread=(0.3, 300.0), bug=None):
    """sum(s * exp(-((x - c)/0.01)**2)) with centers c from 0.3 to 300:
    the |x|-scaled step is up to a third of the bump's width."""
    r = _rng(52, seed)
    c = np.geomspace(*spread, k) * r.choice([-1.0, 1.0], k)
    x = c + width * r.uniform(-1.5, 1.5, k)
    params = {"x": x, "s": r.uniform(0.5, 2.0, k)}
    wb = width * {"2pct": 1.02, "0.2pct": 1.002}.get(bug, 1.0)  # backward's copy of the constant went stale

    def expr(p, o):
        u = (p["x"] - c) / width
        return np.sum(p["s"] * o.exp(-u**2))

    def grad(p):
        u = (p["x"] - c) / wb
        g = np.exp(-u**2)
        return {"x": p["s"] * g * (-2 * u / wb), "s": np.exp(-((p["x"] - c) / width) ** 2)}

    return _model(expr, grad, params)


def relu_near(seed, n=30, d=5, h=8, c=3, lam=1e-5, slope=0.01, bug=None):
    """Leaky-ReLU two-layer softmax net with half the hidden units having one
    pre-activation within 1e-8 of its kink."""
    r = _rng(53, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    W1 = 0.5 * r.standard_normal((d, h))
    b1 = 0.1 * r.standard_normal(h)
    for j in range(h // 2):
        b1[j] = -(X[j % n] @ W1[:, j]) + 1e-8 * (1 if j % 2 else -1)
    params = {"W1": W1, "b1": b1, "W2": 0.5 * r.standard_normal((h, c)), "b2": np.zeros(c) + 0.05}
    rows = np.arange(n)

    def expr(p, o):
        z = X @ p["W1"] + p["b1"]
        a = np.where(z > 0, z, slope * z)
        s = a @ p["W2"] + p["b2"]
        s = s - s.max(axis=1, keepdims=True)
        logp = s - o.log(o.exp(s).sum(axis=1, keepdims=True))
        return -np.mean(logp[rows, y]) + lam * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))

    def grad(p):
        W1, b1, W2, b2 = (_f64(p, k) for k in ("W1", "b1", "W2", "b2"))
        z = X @ W1 + b1
        a = np.where(z > 0, z, slope * z)
        s = a @ W2 + b2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        P[rows, y] -= 1
        P /= n
        dz = (P @ W2.T) * np.where(z > 0, 1.0, 0.0 if bug == "leak" else slope)
        return {"W1": X.T @ dz + (0.0 if bug == "reg" else 2 * lam) * W1, "b1": dz.sum(axis=0),
                "W2": a.T @ P + (0.0 if bug == "reg2" else 2 * lam) * W2,
                "b2": P.sum(axis=0) * (n / (n - 1) if bug == "N-1" else 1.0)}

    return _model(expr, grad, params)


def fast_sine(seed, k=5, freq=1e3, lam=0.05, bug=None):
    """sum(a sin(1e3 x)) + 0.5 lam |x|^2 with |x| from 0.5 to 200: at large
    |x| the |x|-scaled step spans radians and looks like a kink."""
    r = _rng(54, seed)
    x = np.geomspace(0.5, 200.0, k) * r.choice([-1.0, 1.0], k) + r.uniform(0, 0.01, k)
    params = {"x": x, "a": r.uniform(0.5, 1.5, k)}

    def expr(p, o):
        return np.sum(p["a"] * o.sin(freq * p["x"])) + 0.5 * lam * np.sum(p["x"] ** 2)

    def grad(p):
        x, a = _f64(p, "x"), _f64(p, "a")
        return {"x": freq * a * np.cos(freq * x) + (0.0 if bug == "reg" else lam) * x, "a": np.sin(freq * x)}

    return _model(expr, grad, params)


# ---------------------------------------------------------------------------
# 6. naive: students' loop code

def naive_net(seed, n=5, d=4, h=10, c=3, std=0.1, xscale=10.0, reg=0.05, bug=None):
    """CS231n's toy two-layer net (affine-ReLU-affine-softmax), forward and
    backward written as a Python loop over examples."""
    r = _rng(61, seed)
    X = xscale * r.standard_normal((n, d))
    y = r.integers(0, c, n)
    params = {"W1": std * r.standard_normal((d, h)), "b1": std * r.standard_normal(h),
              "W2": std * r.standard_normal((h, c)), "b2": std * r.standard_normal(c)}

    def expr(p, o):
        W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
        loss = 0.0
        for i in range(n):
            z = X[i].dot(W1) + b1
            hid = np.maximum(0, z)
            s = hid.dot(W2) + b2
            s = s - np.max(s)
            ex = o.exp(s)
            loss = loss - (s[y[i]] - o.log(np.sum(ex)))
        return loss / n + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

    def grad(p):
        W1, b1, W2, b2 = (_f64(p, k) for k in ("W1", "b1", "W2", "b2"))
        dW1, db1, dW2, db2 = (np.zeros_like(v) for v in (W1, b1, W2, b2))
        for i in range(n):
            z = X[i].dot(W1) + b1
            hid = np.maximum(0, z)
            s = hid.dot(W2) + b2
            s = s - np.max(s)
            prob = np.exp(s) / np.sum(np.exp(s))
            ds = prob.copy()
            ds[y[i]] -= 1
            dW2 += np.outer(hid, ds)
            db2 += ds
            dz = W2.dot(ds)
            if bug != "nomask":
                dz = dz * (z > 0)
            dW1 += np.outer(X[i], dz)
            db1 += dz
        div = 1.0 if bug == "noN" else n
        k = 1.0 if bug == "reg1" else 2.0
        return {"W1": dW1 / div + k * reg * W1, "b1": db1 / div, "W2": dW2 / div + k * reg * W2, "b2": db2 / div}

    return _model(expr, grad, params)


def naive_svm(seed, n=8, d=10, c=4, std=0.3, reg=1e-3, bug=None):
    """CS231n's svm_loss_naive with a bias block initialised to zeros."""
    r = _rng(62, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    params = {"W": std * r.standard_normal((d, c)), "b": np.zeros(c)}

    def expr(p, o):
        W, b = p["W"], p["b"]
        loss = 0.0
        for i in range(n):
            scores = X[i].dot(W) + b
            correct = scores[y[i]]
            for j in range(c):
                if j == y[i]:
                    continue
                margin = scores[j] - correct + 1
                if margin > 0:
                    loss = loss + margin
        return loss / n + reg * np.sum(W * W)

    def grad(p):
        W, b = _f64(p, "W"), _f64(p, "b")
        dW, db = np.zeros_like(W), np.zeros_like(b)
        for i in range(n):
            scores = X[i].dot(W) + b
            correct = scores[y[i]]
            for j in range(c):
                if j == y[i]:
                    continue
                margin = scores[j] - correct + 1
                if margin > 0 or bug == "nomask":
                    dW[:, j] += X[i]
                    dW[:, y[i]] -= X[i]
                    db[j] += 1
                    db[y[i]] -= 1
        div = 1.0 if bug == "noN" else n
        return {"W": dW / div + (1.0 if bug == "reg1" else 2.0) * reg * W, "b": db / div}

    return _model(expr, grad, params)


# ---------------------------------------------------------------------------
# the corpus

def _pair(name, section, fn, note, bugs, **kw):
    """The correct model and one buggy twin per (bug, description)."""
    out = [Case(name, section, True, partial(fn, **kw), note)]
    for bug, what in bugs:
        out.append(Case(f"{name}/{bug}", section, False, partial(fn, bug=bug, **kw), f"BUG {what}"))
    return out


CASES: list[Case] = [
    # 1. noise
    *_pair("expsq-a", "noise", expanded_square,
           "expanded square, x~1e4..1e5 (noise eps*x^2 per term) beside a quiet ridge block w",
           [("N-1", "w's data term divided by N-1 (N=30): 3.4%"), ("reg", "w's ridge term lam=1e-3 dropped")],
           n=6, lo=1e4, hi=1e5, gap=1.0, m=30, d=3),
    *_pair("expsq-b", "noise", expanded_square,
           "expanded square, x~1e5..1e6, |x-mu|~0.05 beside a quiet ridge block w",
           [("reg", "w's ridge term lam=3e-4 dropped")],
           n=20, lo=1e5, hi=1e6, gap=0.05, m=50, d=5, lam=3e-4),
    *_pair("sinph-a", "noise", sine_phase,
           "sum sin(omega t + phi), t to 1e3, beside a quiet ridge block w",
           [("reg", "w's ridge term lam=1e-4 dropped")], k=2, n=2000, tmax=1e3),
    *_pair("sinph-b", "noise", sine_phase,
           "sum sin(omega t + phi), t to 1e4 (args ~3e4), beside a quiet ridge block w",
           [("N-1", "w's data term divided by N-1 (N=40): 2.5%")], k=1, n=4000, tmax=1e4, m=40, d=2),
    # 2. analytic
    *_pair("f32-logreg", "analytic", f32_logreg, "float64 logistic loss, backward in float32",
           [("reg", "ridge gradient lam*w instead of 2*lam*w (lam=1e-3)")]),
    *_pair("f32-mlp", "analytic", f32_mlp, "float64 tanh MLP, backward in float32",
           [("reg", "W1's ridge term lam=2e-3 dropped")]),
    *_pair("loop-logreg", "analytic", loop_logreg, "logistic gradient summed over 3000 Python-float terms",
           [("range", "loop runs range(N-1): last example dropped")], n=3000),
    *_pair("loop-poisson", "analytic", loop_poisson, "Poisson gradient summed over 2000 Python-float terms",
           [("N-1", "divided by N-1 (N=2000): 5e-4")], n=2000),
    *_pair("loop-gauss", "analytic", loop_gauss,
           "Gaussian NLL of 5000 values ~1e3 near its optimum: loop sums terms that cancel",
           [("range", "loop starts at 1: first value dropped")], n=5000),
    *_pair("lstsq-lin", "analytic", lstsq_linreg, "linear regression at its lstsq solution: exact grad ~1e-16",
           [("nobias", "backward's residual forgets the intercept (w grad off by b*mean(X))")]),
    *_pair("lstsq-ridge", "analytic", lstsq_ridge, "ridge regression at its solution: exact grad ~1e-16",
           [("reg2", "ridge gradient 2*lam*w for 0.5*lam*|w|^2 (lam=1e-3)")]),
    *_pair("lstsq-poly", "analytic", lstsq_poly, "weighted degree-5 polynomial fit at its solution (cond ~1e4)",
           [("noweights", "backward forgets the sample weights (1 +- 5%)")]),
    # 3. c1
    *_pair("huber-scipy", "c1", huber, "scipy.special.huber, residuals at / 1e-9 from / just past +-delta",
           [("noclip", "forgot np.clip: residuals 1-3% past delta keep slope r")], impl="scipy", n=30, d=4),
    *_pair("huber-scipy-b", "c1", huber, "scipy.special.huber, 200 residuals, 1 in 5 exactly at +-delta",
           [("N-1", "mean's gradient divided by N-1 (N=200): 0.5%")], impl="scipy", n=200, d=5),
    *_pair("huber-np", "c1", huber, "numpy Huber (np.where), residuals at / near +-delta, delta=0.5",
           [("N-1", "mean's gradient divided by N-1 (N=50): 2%")], impl="numpy", n=50, d=6, delta=0.5),
    *_pair("smoothl1", "c1", huber, "smooth-L1 (beta=0.98), residuals at / near +-beta",
           [("beta", "quadratic region's slope not divided by beta=0.98: 2%")], impl="smoothl1", n=40, d=3,
           delta=0.98),
    *_pair("elu-a", "c1", elu_pad, "ELU fed 3 zero-padded rows, zero bias: pre-activations exactly 0",
           [("padmask", "backward masks out the padded rows"), ("reg", "W's ridge term lam=1e-3 dropped")],
           n=10, pad=3),
    *_pair("elu-b", "c1", elu_pad, "ELU fed 6 zero-padded rows of 16, zero bias",
           [("reg", "W's ridge term lam=1e-3 dropped")], n=16, pad=6, d=5, h=8),
    # 4. scale
    *_pair("utm-4", "scale", stations, "4 stations at UTM ~5e6 m within 50 m, metre-scale distance loss",
           [("measured", "unit vector divided by the measured, not the computed, distance")], k=4),
    *_pair("utm-7", "scale", stations, "7 stations at UTM ~5e6 m within 50 m, plus a range-bias block",
           [("sign1", "one element (station 0 easting) with its sign flipped"),
            ("measured", "unit vector divided by the measured, not the computed, distance")], k=7),
    *_pair("freq-a", "scale", frequency, "A sin(2 pi f t + phi), t to 1000 s, f ~0.5..3 Hz",
           [("nophi", "backward's cos for f recomputes the argument without phi (~0.005..0.03)")]),
    *_pair("freq-b", "scale", frequency, "A sin(2 pi f t + phi), t to 300 s, 1500 samples",
           [("noA", "f's gradient forgets the amplitude A (~1)")], n=1500, T=300.0),
    # 5. kink
    *_pair("argmax-a", "kink", argmax_stats, "smooth softmax; a tied argmax feeds only a stats dict",
           [("N-1", "b's gradient divided by N-1 (N=34): 3%"), ("reg", "W's ridge term lam=1e-3 dropped")]),
    *_pair("argmax-b", "kink", argmax_stats, "smooth softmax (bigger); a tied argmax feeds only a stats dict",
           [("N-1", "b's gradient divided by N-1 (N=60): 1.7%"), ("reg", "W's ridge term lam=1e-4 dropped")],
           n=60, d=8, c=5, lam=1e-4, ties=30),
    *_pair("bump-a", "kink", bump, "6 bumps of width 0.01 at |c| 0.3..300",
           [("2pct", "backward's width constant 2% off")]),
    *_pair("bump-b", "kink", bump, "10 bumps of width 0.01 at |c| 1..1000",
           [("2pct", "backward's width constant 2% off"), ("0.2pct", "backward's width constant 0.2% off")],
           k=10, spread=(1.0, 1000.0)),
    *_pair("relu-a", "kink", relu_near, "leaky-ReLU net, 4 of 8 units with an element 1e-8 from the kink",
           [("leak", "backward uses the plain ReLU mask (slope 0.01 forgotten)"),
            ("reg", "W1's ridge term lam=1e-5 dropped (W1's probes cross the kinks)"),
            ("reg2", "W2's ridge term lam=1e-5 dropped")]),
    *_pair("relu-b", "kink", relu_near, "leaky-ReLU net (bigger), units near their kink",
           [("N-1", "b2's gradient scaled N/(N-1) (N=40): 2.6%"), ("leak", "plain ReLU mask in the backward"),
            ("reg", "W1's ridge term lam=3e-5 dropped")], n=40, d=6, h=12, c=4, lam=3e-5),
    *_pair("fastsin-a", "kink", fast_sine, "sum a sin(1e3 x), |x| 0.5..200: coarse step looks like a kink",
           [("reg", "ridge term lam=0.05 dropped")]),
    *_pair("fastsin-b", "kink", fast_sine, "sum a sin(1e3 x), 8 coordinates, |x| 0.5..200",
           [("reg", "ridge term lam=0.01 dropped")], k=8, lam=0.01),
    *_pair("fastsin-c", "kink", fast_sine, "sum a sin(1e3 x), 6 coordinates, |x| 0.5..200, weak ridge",
           [("reg", "ridge term lam=1e-3 dropped")], k=6, lam=1e-3),
    # 6. naive
    *_pair("net-toy", "naive", naive_net, "CS231n toy two-layer net (N=5, X*10), loop over examples",
           [("nomask", "ReLU mask missing in the backward"), ("reg1", "reg*W instead of 2*reg*W (reg=0.05)")]),
    *_pair("net-b", "naive", naive_net, "loop two-layer net, N=8, D=6, H=12, C=4",
           [("noN", "gradients not divided by N")], n=8, d=6, h=12, c=4, std=0.3, xscale=1.0, reg=1e-3),
    *_pair("svm-a", "naive", naive_svm, "svm_loss_naive, W plus a zero bias block",
           [("nomask", "margin>0 mask missing"), ("reg1", "reg*W instead of 2*reg*W (reg=1e-3)")]),
    *_pair("svm-b", "naive", naive_svm, "svm_loss_naive, N=10, D=12, C=5, zero bias",
           [("noN", "gradients not divided by N")], n=10, d=12, c=5),
]

assert len({c.name for c in CASES}) == len(CASES)


# ---------------------------------------------------------------------------
# independent truth

def reference_gradient(loss, params) -> dict:
    """d loss.reference / d params by central differences in 50-digit arithmetic."""
    import mpmath
    with mpmath.workdps(DPS):
        mpf = mpmath.mpf
        base = {k: np.array([mpf(float(v)) for v in a.ravel()], dtype=object).reshape(a.shape)
                for k, a in params.items()}
        rel = mpf(REL_STEP)
        out = {}
        for k, a in params.items():
            g = np.empty(a.size)
            for i, v in enumerate(a.ravel()):
                s = rel * max(1, abs(mpf(float(v))))
                flat = base[k].ravel().copy()
                flat[i] = mpf(float(v)) + s
                plus = loss.reference({**base, k: flat.reshape(a.shape)})
                flat[i] = mpf(float(v)) - s
                minus = loss.reference({**base, k: flat.reshape(a.shape)})
                g[i] = float((plus - minus) / (2 * s))
            out[k] = g.reshape(a.shape)
    return out


def errors(case: Case, seed: int = 0) -> tuple[float, float]:
    """(max elementwise relative error, max over blocks of the normwise one)
    of the case's grad against the independent derivative."""
    loss, grad, params = case.make(seed)
    copies = {k: v.copy() for k, v in params.items()}
    g = grad(copies)
    t = reference_gradient(loss, params)
    elem, norm = 0.0, 0.0
    for k in params:
        gk, tk = np.asarray(g[k], dtype=float).ravel(), t[k].ravel()
        floor = max(loss.floor, 1e-8 * float(np.max(np.abs(tk), initial=0.0)))
        den = np.maximum(np.abs(tk), floor)
        diff = np.abs(gk - tk)
        with np.errstate(invalid="ignore", divide="ignore"):
            e = np.where(den > 0, diff / np.where(den > 0, den, 1), np.where(diff > 0, np.inf, 0.0))
        elem = max(elem, float(np.max(e, initial=0.0)))
        scale = max(float(np.linalg.norm(tk)), loss.floor * math.sqrt(tk.size))
        norm = max(norm, float(np.linalg.norm(gk - tk)) / scale if scale else (0.0 if not diff.any() else math.inf))
    return elem, norm


def verify(case: Case, seed: int = 0) -> float:
    """Max relative error of the case's grad versus the independent derivative at make(seed)'s params."""
    return errors(case, seed)[0]


def _selftest(seeds: int) -> None:
    started = time.perf_counter()
    header = ["case", "section", "truth", "max rel err (elem)", "max rel err (block norm)", "s", "note"]
    rows, suspicious = [], []
    for case in CASES:
        t0 = time.perf_counter()
        errs = [errors(case, s) for s in range(seeds)]
        elem = [e for e, _ in errs]
        norm = [n for _, n in errs]
        fmt = (lambda v: f"{max(v):.1e}") if seeds == 1 else (lambda v: f"{min(v):.1e}..{max(v):.1e}")
        rows.append([case.name, case.section, "correct" if case.correct else "buggy", fmt(elem), fmt(norm),
                     f"{time.perf_counter() - t0:.1f}", case.note])
        if case.correct and max(norm) > 1e-5 or not case.correct and min(norm) < 1e-5:
            suspicious.append(case.name)
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print("\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]))
    print("\nelem: max over elements of |g - t| / max(|t|, floor, 1e-8 max|t| of the block); block norm: max over "
          "blocks of |g - t| / max(|t|, floor sqrt(size)); t = 50-digit central differences of the reference loss; "
          "s: seconds")
    print(f"\n{len(CASES)} cases ({sum(c.correct for c in CASES)} correct, {sum(not c.correct for c in CASES)} buggy), "
          f"seeds 0..{seeds - 1}, {time.perf_counter() - started:.0f} s")
    print("correct with block error > 1e-5 or buggy with block error < 1e-5: " + (", ".join(suspicious) or "none"))


if __name__ == "__main__":
    n_seeds = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 1
    _selftest(n_seeds)
