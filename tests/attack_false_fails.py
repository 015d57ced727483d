"""Attack corpus: CORRECT models built to break the assumptions of the
rewritten verdict code (commits 5b52e48, 6edbbaf), each with a buggy twin
where natural. Same interface as tests/evidence_models.py:

    CASES: list[Case]; case.make(seed) -> (loss, grad, params)

``loss.reference(params_mp)`` is the loss in 50-digit mpmath arithmetic on
object arrays (the *intended* real-valued function: where the numpy loss
rounds an intermediate to float32/float16 on purpose, the reference does
not, and the note says so). ``loss.floor`` as in evidence_models.

Truth: ``python tests/attack_false_fails.py --truth`` differentiates
``loss.reference`` with evidence_models.reference_gradient (50-digit central
differences, relative step 1e-20) and prints the max elementwise / blockwise
relative error of each case's grad. ``python tests/attack_false_fails.py``
runs gradcheck's default check at seeds 0-4 and prints the verdicts.

Findings at default settings (seeds 0-9 where stated; truth as above):
- mixreg32 (float32-summed L2 penalty in a float64 loss): fail 10/10, and
  10/10 or 7-9/10 for other (wscale, lam). The 1e-6 noise table sees the
  float32 staircase (4e-8), the x100 narrower one does not move the float32
  penalty at all (2e-16), and _loss_noise_from takes the narrow pair's
  level; the Taylor test then steps below the float32 quantum and sees the
  penalty's slope vanish ("wrong", order 1.0).
- mixdata32 (residuals formed in float32): fail 3/10, numeric exactly 0 at
  steps below a float32 ulp; f16loss: fail 2/10 (else unverified).
- packed-utm (one element n*x0 - sum(x) ~ ulp(2e8) rounding in a packed
  theta): fail 6/10 -- the block's median gradient noise ignores it.
- x2sin (x^2 sin(k/x) at 0): fail 2/10, Taylor "wrong" on an oscillating e(eps).
- smallvar, rarecat (positive parameter < 1e-5 in a log): fail 5/5, the
  absolute step 1e-5 leaves the domain ("the loss is nan ..."; not new).
- huge-1e300/reg (buggy): OverflowError in numeric._refine (log10 of inf).
"""

from __future__ import annotations

import math
import sys
import time
from types import SimpleNamespace

import numpy as np

try:
    from tests.evidence_models import NP, Case, _f64, _mp_ops, _pair, errors
except ImportError:  # run as a script from tests/
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from tests.evidence_models import NP, Case, _f64, _mp_ops, _pair, errors


def _rng(tag: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([9000 + tag, seed])


def _ops():
    """mpmath namespace (evidence_models' plus a few more)."""
    import mpmath
    base = _mp_ops()
    u = lambda f: np.frompyfunc(f, 1, 1)  # noqa: E731
    extra = dict(vars(base))
    extra.update(abs=u(abs), cosh=u(mpmath.cosh), log1p=u(mpmath.log1p), sigmoid=u(lambda z: 1 / (1 + mpmath.exp(-z))),
                 clip=lambda z, lo, hi: np.frompyfunc(lambda v: min(max(v, mpmath.mpf(lo)), mpmath.mpf(hi)), 1, 1)(z),
                 maximum0=u(lambda v: v if v > 0 else 0 * v), mpf=mpmath.mpf)
    return SimpleNamespace(**extra)


NPX = SimpleNamespace(**vars(NP), abs=np.abs, log1p=np.log1p, sigmoid=lambda z: 1 / (1 + np.exp(-z)),
                      clip=np.clip, maximum0=lambda v: np.maximum(v, 0.0), mpf=float)


def _model(expr, grad, params, floor=0.0, loss_np=None):
    """(loss, grad, params); loss.reference evaluates ``expr`` in mpmath.
    ``loss_np`` (optional) is the numpy loss when it differs from
    expr(p, NPX) (float32/float16 intermediates)."""

    def loss(p):
        return float(loss_np(p) if loss_np is not None else expr(p, NPX))

    loss.reference = lambda p: expr(p, _ops())
    loss.floor = float(floor)

    def grad_(p):
        return {k: np.array(v, dtype=np.float64) for k, v in grad(p).items()}

    return loss, grad_, {k: np.array(v, dtype=np.float64) for k, v in params.items()}


# ---------------------------------------------------------------------------
# A. quantised pieces inside a float64 loss (noise tables narrowed x100)

def mixed_reg32(seed, n=40, d=6, c=3, lam=5e-3, wscale=3.0, bug=None):
    """float64 softmax regression + L2 penalty summed in float32
    (np.sum(W.astype(float32)**2)): the loss values are no float32 numbers,
    the penalty is a float32 staircase."""
    r = _rng(1, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    W = wscale * r.standard_normal((d, c))
    b = 0.1 * r.standard_normal(c)
    rows = np.arange(n)

    def expr(p, o):
        s = X @ p["W"] + p["b"]
        s = s - s.max(axis=1, keepdims=True)
        lse = o.log(o.exp(s).sum(axis=1))
        return np.mean(lse - s[rows, y]) + lam * np.sum(p["W"] ** 2)

    def loss_np(p):
        s = X @ p["W"] + p["b"]
        s = s - s.max(axis=1, keepdims=True)
        lse = np.log(np.exp(s).sum(axis=1))
        return np.mean(lse - s[rows, y]) + lam * float(np.sum(np.square(p["W"].astype(np.float32))))

    def grad(p):
        W, b = _f64(p, "W"), _f64(p, "b")
        s = X @ W + b
        e = np.exp(s - s.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        P[rows, y] -= 1
        return {"W": X.T @ P / n + (1.0 if bug == "reg1" else 2.0) * lam * W, "b": P.sum(axis=0) / n}

    return _model(expr, grad, {"W": W, "b": b}, loss_np=loss_np)


def mixed_data32(seed, n=200, d=5, bug=None):
    """Linear regression whose residuals are formed in float32 (data stored
    as float32: X32 @ w.astype(float32)) and squared/summed in float64;
    the backward is float64 throughout."""
    r = _rng(2, seed)
    X = r.standard_normal((n, d)).astype(np.float32).astype(np.float64)
    y = (X @ r.standard_normal(d) + 0.5 * r.standard_normal(n)).astype(np.float32).astype(np.float64)
    w = r.standard_normal(d)

    def expr(p, o):
        res = X @ p["w"] - y
        return 0.5 * np.mean(res ** 2)

    def loss_np(p):
        res32 = X.astype(np.float32) @ p["w"].astype(np.float32) - y.astype(np.float32)
        res = res32.astype(np.float64)
        return 0.5 * np.mean(res ** 2)

    def grad(p):
        res = X @ _f64(p, "w") - y
        return {"w": X.T @ res / (n - 1 if bug == "N-1" else n)}

    return _model(expr, grad, {"w": w}, loss_np=loss_np)


def f16_loss(seed, n=50, d=4, bug=None):
    """Logistic regression whose loss is evaluated in float16 (a
    mixed-precision forward), the gradient in float64."""
    r = _rng(3, seed)
    X = r.standard_normal((n, d))
    y = (X @ r.standard_normal(d) + 0.3 * r.standard_normal(n) > 0).astype(float)
    w = 0.5 * r.standard_normal(d)

    def expr(p, o):
        m = X @ p["w"]
        return np.mean(o.softplus(m) - y * m)

    def loss_np(p):
        f = np.float16
        m = X.astype(f) @ p["w"].astype(f)
        return float(np.mean(np.logaddexp(f(0), m) - y.astype(f) * m, dtype=f))

    def grad(p):
        m = X @ _f64(p, "w")
        s = 1 / (1 + np.exp(-m))
        return {"w": X.T @ (s - y) / (n - 1 if bug == "N-1" else n)}

    return _model(expr, grad, {"w": w}, loss_np=loss_np)


# ---------------------------------------------------------------------------
# B. one element of a block rounds far more than the block's median

def packed_theta(seed, n=400, k=8, lam=1e-2, bug=None):
    """scipy-style packed parameter vector theta = [x0, a_1..a_k]: x0 a
    location at UTM easting ~5e5 m near its optimum, gradient from
    sufficient statistics (n*x0 - sum(x)); a_j small ridge weights. Only
    x0's gradient rounds at ~ulp(n*x0) = ulp(2e8) = 3e-8."""
    r = _rng(4, seed)
    xs = 5.0e5 + 3.0 * r.standard_normal(n)
    S = float(np.sum(xs))
    A = r.standard_normal((60, k))
    t = A @ r.standard_normal(k) + 0.2 * r.standard_normal(60)
    theta = np.concatenate([[xs.mean() + 1e-4 * r.uniform(1, 2)], 0.5 * r.standard_normal(k)])  # grad 0.04..0.08

    def expr(p, o):
        th = p["theta"]
        x0, a = th[0], th[1:]
        res = A @ a - t
        return 0.5 * np.sum((x0 - xs) ** 2) + 0.5 * np.mean(res ** 2) + 0.5 * lam * np.sum(a ** 2)

    def grad(p):
        th = _f64(p, "theta")
        x0, a = th[0], th[1:]
        res = A @ a - t
        ga = A.T @ res / 60 + (0.0 if bug == "reg" else lam) * a
        return {"theta": np.concatenate([[n * x0 - S], ga])}

    return _model(expr, grad, {"theta": theta})


def packed_loopsum(seed, n=4000, k=12, bug=None):
    """Packed theta = [m, w_1..w_k]: m's gradient is a Python-float loop over
    n terms of size ~1e3 that cancel (a Gaussian mean near its optimum,
    values ~1e4 +- 1e3); the w's gradients are exact."""
    r = _rng(5, seed)
    xs = 1.0e4 + 1.0e3 * r.standard_normal(n)
    xl = xs.tolist()
    A = r.standard_normal((50, k))
    t = A @ r.standard_normal(k)
    theta = np.concatenate([[float(np.mean(xs)) + 1e-7], 0.3 * r.standard_normal(k)])

    def expr(p, o):
        th = p["theta"]
        return 0.5 * np.sum((th[0] - xs) ** 2) / n + 0.5 * np.mean((A @ th[1:] - t) ** 2)

    def grad(p):
        th = _f64(p, "theta")
        m = float(th[0])
        gm = 0.0
        for v in xl:
            gm += m - v
        res = A @ th[1:] - t
        gw = A.T @ res / (49 if bug == "N-1" else 50)
        return {"theta": np.concatenate([[gm / n], gw])}

    return _model(expr, grad, {"theta": theta})


# ---------------------------------------------------------------------------
# C. noise measured along one all-block direction

def pair_diff(seed, c=3e3, K=1.0, m=30, d=3, lam=1e-3, bug=None):
    """Two scalar blocks a, b entering one expanded square of their
    difference, K*((a-b)^2 - 2(a-b)c + c^2) (rounding ~eps*K*c^2), beside a
    quiet ridge block w. The noise direction moves a and b by the same
    amount: where their signs agree, a-b does not move and that noise is
    never seen."""
    r = _rng(6, seed)
    a = np.array([0.5 + 0.1 * r.standard_normal()])
    b = np.array([a[0] * 1.0])  # same magnitude: same step scale
    b = np.array([-0.4 + 0.1 * r.standard_normal()])
    A = r.standard_normal((m, d))
    t = A @ r.standard_normal(d) + 0.3 * r.standard_normal(m)
    w = r.standard_normal(d)

    def expr(p, o):
        u = p["a"][0] - p["b"][0]
        res = A @ p["w"] - t
        return K * (u * u - 2 * u * c + c * c) + 0.5 * np.mean(res ** 2) + 0.5 * lam * np.sum(p["w"] ** 2)

    def grad(p):
        u = float(p["a"][0] - p["b"][0])
        gu = K * (2 * u - 2 * c)
        res = A @ _f64(p, "w") - t
        gw = A.T @ res / m + (0.0 if bug == "reg" else lam) * _f64(p, "w")
        return {"a": np.array([gu]), "b": np.array([-gu]), "w": gw}

    return _model(expr, grad, {"a": a, "b": b, "w": w})


# ---------------------------------------------------------------------------
# D. scale: a loss feature narrower than the smallest Taylor step

def unix_pulse(seed, n=400, width=5e-3, fs=2000.0, bug=None):
    """A Gaussian pulse at Unix time t0 ~1.7e9 s (width 5 ms, sampled at
    2 kHz) fitted by amplitude A, arrival t0 and baseline c: the relative
    step 1e-5 * |t0| is 1.7e4 s, six tenfold Taylor steps end at 0.17 s."""
    r = _rng(7, seed)
    T0 = 1.7e9 + float(r.integers(0, 10 ** 6))
    t = T0 + (np.arange(n) - n / 2) / fs
    A0, c0 = 1.0 + 0.2 * r.uniform(), 0.05
    y = A0 * np.exp(-((t - T0) / width) ** 2) + c0 + 0.02 * r.standard_normal(n)
    params = {"t0": np.array([T0 + 4e-4 * r.uniform(-1, 1)]), "A": np.array([A0 * 0.97]), "c": np.array([c0])}
    wb = width * (1.02 if bug == "width" else 1.0)

    def expr(p, o):
        u = (t - p["t0"][0]) / width
        return 0.5 * np.mean((p["A"][0] * o.exp(-u * u) + p["c"][0] - y) ** 2)

    def grad(p):
        t0, Aa, c = float(p["t0"][0]), float(p["A"][0]), float(p["c"][0])
        u = (t - t0) / width
        g = np.exp(-u * u)
        e = (Aa * g + c - y) / n
        ub = (t - t0) / wb
        return {"t0": np.array([np.sum(e * Aa * g * 2 * ub / wb)]), "A": np.array([np.sum(e * g)]),
                "c": np.array([np.sum(e)])}

    return _model(expr, grad, params)


def steep_sigmoid(seed, temp=1e-11, n=20, bug=None):
    """A gate sigmoid(x/T) with T = 1e-11 (an annealed hard threshold) at x
    within a few T of 0, times a smooth term; the gate is smooth, but
    narrower than the smallest step any stencil takes (1e-9)."""
    r = _rng(8, seed)
    x = np.array([temp * r.uniform(-2, 2)])
    v = r.standard_normal(n)
    w = r.standard_normal(n)

    def expr(p, o):
        g = o.sigmoid(p["x"][0] / o.mpf(temp)) if o is not NPX else 1 / (1 + np.exp(-p["x"][0] / temp))
        return g * np.sum(p["w"] * v) + 0.5 * np.sum(p["w"] ** 2)

    def grad(p):
        x0 = float(p["x"][0])
        g = 1 / (1 + np.exp(-x0 / temp))
        s = float(np.sum(p["w"] * v))
        gx = g * (1 - g) / temp * s
        return {"x": np.array([gx if bug != "half" else gx / 2]), "w": g * v + (0 if bug == "reg" else 1) * p["w"]}

    return _model(expr, grad, {"x": x, "w": w})


# ---------------------------------------------------------------------------
# E. kinks at a tiny distance: the Taylor test sees only the outer slopes

def tiny_clip(seed, eps_clip=1e-10, n=12, bug=None):
    """A clipped residual, clip(x - s, -c, c) with c = 1e-10 (an input
    perturbation budget), at x - s inside (-c, c): derivative 1 there, 0
    outside; both kinks closer than the step floor."""
    r = _rng(9, seed)
    s = r.standard_normal()
    x = np.array([s + eps_clip * r.uniform(-0.5, 0.5)])
    v = r.standard_normal(n)
    w = r.standard_normal(n)

    def expr(p, o):
        z = o.clip(np.array([p["x"][0] - s], dtype=object if o is not NPX else float), -eps_clip, eps_clip)[0]
        return 1e9 * z * np.sum(p["w"] * v) + 0.5 * np.sum(p["w"] ** 2)

    def grad(p):
        x0 = float(p["x"][0])
        z = min(max(x0 - s, -eps_clip), eps_clip)
        inside = 1.0 if -eps_clip < x0 - s < eps_clip else 0.0
        return {"x": np.array([1e9 * inside * float(np.sum(p["w"] * v)) * (1 if bug != "sign" else -1)]),
                "w": 1e9 * z * v + p["w"]}

    return _model(expr, grad, {"x": x, "w": w})


# ---------------------------------------------------------------------------
# F. a positive parameter closer to its domain edge than the absolute step

def small_variance(seed, n=30, v0=2e-6, bug=None):
    """Gaussian NLL parametrised by the variance v (not log v) of precise
    measurements, v ~ 2e-6: the step 1e-5 * max(1, |v|) leaves the domain."""
    r = _rng(10, seed)
    y = 3.0 + math.sqrt(v0) * r.standard_normal(n)
    params = {"mu": np.array([3.0 + 1e-4 * r.standard_normal()]), "v": np.array([v0 * r.uniform(0.8, 1.25)])}

    def expr(p, o):
        mu, v = p["mu"][0], p["v"][0]
        return 0.5 * n * o.log(np.array([v]))[0] + 0.5 * np.sum((y - mu) ** 2) / v

    def grad(p):
        mu, v = float(p["mu"][0]), float(p["v"][0])
        ss = float(np.sum((y - mu) ** 2))
        return {"mu": np.array([-np.sum(y - mu) / v]),
                "v": np.array([0.5 * (n - (1 if bug == "N-1" else 0)) / v - 0.5 * ss / v ** 2])}

    return _model(expr, grad, params)


def rare_category(seed, k=6, bug=None):
    """Categorical MLE with probabilities as parameters (softmax-free):
    -sum(c * log p) + penalty (sum p - 1)^2; one rare class p ~ 3e-6."""
    r = _rng(11, seed)
    c = r.integers(50, 500, k).astype(float)
    c[0] = 1.0
    p0 = c / c.sum()
    p0[0] = 3e-6 * r.uniform(0.8, 1.2)
    lam = 10.0

    def expr(p, o):
        q = p["p"]
        return -np.sum(c * o.log(q)) / c.sum() + lam * (np.sum(q) - 1) ** 2

    def grad(p):
        q = _f64(p, "p")
        return {"p": -c / q / c.sum() + (lam if bug == "lam" else 2 * lam) * (np.sum(q) - 1)}

    return _model(expr, grad, {"p": p0})


# ---------------------------------------------------------------------------
# G. float32 backward whose values are not float32 numbers (a float64 term added)

def f32_back_reg64(seed, n=64, d=40, h=60, lam=1e-3, bug=None):
    """tanh MLP, loss in float64; backward in float32 (X32 @ ...) with the
    weight decay lam*W added in float64 afterwards, so the gradient values
    are no float32 numbers (no float32 floor); 2400+ weights of rms ~1.5,
    so the noise table moves each by <1 float32 ulp."""
    r = _rng(12, seed)
    X = r.standard_normal((n, d))
    y = np.sin(X[:, 0]) + 0.1 * r.standard_normal(n)
    params = {"W1": 1.5 * r.standard_normal((d, h)) / math.sqrt(d) * 6, "w2": 0.5 * r.standard_normal(h)}

    def expr(p, o):
        hid = o.tanh(X @ p["W1"] / 6)
        return 0.5 * np.mean((hid @ p["w2"] - y) ** 2) + 0.5 * lam * np.sum(p["W1"] ** 2)

    def grad(p):
        f = np.float32
        X32, W1, w2 = X.astype(f), p["W1"].astype(f), p["w2"].astype(f)
        hid = np.tanh(X32 @ W1 / f(6))
        e = (hid @ w2 - y.astype(f)) / f(n)
        dz = np.outer(e, w2) * (f(1) - hid ** 2) / f(6)
        gW1 = (X32.T @ dz).astype(np.float64) + (0.0 if bug == "reg" else lam) * _f64(p, "W1")
        return {"W1": gW1, "w2": (hid.T @ e).astype(np.float64)}

    return _model(expr, grad, params)


# ---------------------------------------------------------------------------
# H. differentiable, not C1: e(eps) oscillates on every step

def x2sin(seed, n=8, bug=None):
    """x^2 sin(k/x) (0 at 0) at x = 0, k ~ 1..3: derivative 0 there, the
    one-sided slopes eps*sin(k/eps) oscillate at every scale."""
    r = _rng(13, seed)
    k = float(r.uniform(1, 3))
    v = r.standard_normal(n)

    def expr(p, o):
        x = p["x"][0]
        s = (x * x * o.sin(np.array([k / x]))[0]) if x != 0 else 0 * x
        return s + 0.5 * np.sum((p["w"] - v) ** 2)

    def grad(p):
        x = float(p["x"][0])
        gx = 0.0 if x == 0 else 2 * x * math.sin(k / x) - k * math.cos(k / x)
        return {"x": np.array([gx]), "w": _f64(p, "w") - v * (1.02 if bug == "scale" else 1.0)}

    return _model(expr, grad, {"x": np.array([0.0]), "w": v + r.standard_normal(n)})


# ---------------------------------------------------------------------------
# I. loss scales near the float64 limits

def tiny_likelihood(seed, n=60, d=3, scale_log=-700.0, bug=None):
    """A raw likelihood exp(-NLL) (no log), NLL ~ 700..745: the loss is a
    (sub)normal number ~1e-304..1e-323."""
    r = _rng(14, seed)
    X = r.standard_normal((n, d))
    y = X @ r.standard_normal(d) + 0.5 * r.standard_normal(n)
    w = r.standard_normal(d) * 0.3
    res0 = X @ w - y
    off = -scale_log - 0.5 * float(np.sum(res0 ** 2))

    def expr(p, o):
        res = X @ p["w"] - y
        return o.exp(np.array([-(0.5 * np.sum(res ** 2) + off)]))[0]

    def grad(p):
        res = X @ _f64(p, "w") - y
        L = math.exp(-(0.5 * float(np.sum(res ** 2)) + off))
        return {"w": -L * (X.T @ res) * (1.01 if bug == "scale" else 1.0)}

    return _model(expr, grad, {"w": w})


def huge_scale(seed, n=40, d=4, s=1e300, bug=None):
    """A ridge regression loss times 1e300."""
    r = _rng(15, seed)
    X = r.standard_normal((n, d))
    y = X @ r.standard_normal(d)
    w = r.standard_normal(d)

    def expr(p, o):
        res = X @ p["w"] - y
        return s * (0.5 * np.mean(res ** 2) + 1e-3 * np.sum(p["w"] ** 2))

    def grad(p):
        res = X @ _f64(p, "w") - y
        return {"w": s * (X.T @ res / n + (1e-3 if bug == "reg" else 2e-3) * _f64(p, "w"))}

    return _model(expr, grad, {"w": w})


# ---------------------------------------------------------------------------
# J. CS231n-style layers at odd points

def batchnorm_const(seed, N=16, D=5, bn_eps=1e-5, bug=None):
    """Batchnorm (train mode) + linear readout + MSE; one input feature is
    constant over the batch plus 1e-4 wiggle at offset 1e3 (var << eps)."""
    r = _rng(16, seed)
    X = r.standard_normal((N, D))
    X[:, 0] = 1e3 + 1e-4 * r.standard_normal(N)
    y = r.standard_normal(N)
    params = {"gamma": 1 + 0.1 * r.standard_normal(D), "beta": 0.1 * r.standard_normal(D),
              "v": r.standard_normal(D)}

    def bn_expr(p, o):
        mu = X.mean(axis=0) if o is NPX else np.sum(np.array(X, dtype=object) * o.mpf(1), axis=0) / N
        Xo = X if o is NPX else np.array(X, dtype=object) * o.mpf(1)
        xc = Xo - mu
        var = np.sum(xc * xc, axis=0) / N
        inv = 1 / o.sqrt(var + bn_eps)
        xhat = xc * inv
        out = xhat * p["gamma"] + p["beta"]
        return 0.5 * np.mean((out @ p["v"] - y) ** 2)

    def grad(p):
        mu = X.mean(axis=0)
        xc = X - mu
        var = np.mean(xc ** 2, axis=0)
        inv = 1 / np.sqrt(var + bn_eps)
        xhat = xc * inv
        out = xhat * p["gamma"] + p["beta"]
        e = (out @ p["v"] - y) / N
        dout = np.outer(e, p["v"])
        return {"gamma": np.sum(dout * xhat, axis=0), "beta": dout.sum(axis=0) * (N / (N - 1) if bug == "N-1" else 1),
                "v": out.T @ e}

    return _model(bn_expr, grad, params)


def rnn_saturated(seed, T=6, D=3, H=5, scale=6.0, bug=None):
    """Vanilla tanh RNN (CS231n rnn_step_backward: dtanh = 1 - next_h**2)
    with large weights: several units saturated (tanh'(z) ~ 1e-10)."""
    r = _rng(17, seed)
    xs = r.standard_normal((T, D))
    y = r.standard_normal(H)
    params = {"Wx": scale * r.standard_normal((D, H)), "Wh": 0.5 * r.standard_normal((H, H)),
              "b": scale * r.standard_normal(H)}

    def expr(p, o):
        h = np.zeros(H) if o is NPX else np.array([o.mpf(0)] * H, dtype=object)
        for t in range(T):
            h = o.tanh(xs[t] @ p["Wx"] + h @ p["Wh"] + p["b"])
        return 0.5 * np.sum((h - y) ** 2)

    def grad(p):
        Wx, Wh, b = _f64(p, "Wx"), _f64(p, "Wh"), _f64(p, "b")
        hs = [np.zeros(H)]
        for t in range(T):
            hs.append(np.tanh(xs[t] @ Wx + hs[-1] @ Wh + b))
        dh = hs[-1] - y
        dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
        for t in reversed(range(T)):
            dz = dh * (1 - hs[t + 1] ** 2)
            dWx += np.outer(xs[t], dz)
            dWh += np.outer(hs[t], dz)
            db += dz
            dh = dz @ Wh.T
        return {"Wx": dWx, "Wh": dWh if bug != "noWh" else dWh * 0.98, "b": db}

    return _model(expr, grad, params)


def word2vec_sgns(seed, V=30, D=8, K=5, scale=3.0, bug=None):
    """Skip-gram negative sampling (CS224n), one centre word, K negatives,
    large embeddings (|u.v| up to ~20: sigmoid saturated)."""
    r = _rng(18, seed)
    params = {"vc": scale * r.standard_normal(D) / math.sqrt(D) * 3, "U": scale * r.standard_normal((V, D)) / math.sqrt(D) * 3}
    o_idx = 0
    neg = r.choice(np.arange(1, V), K, replace=False)

    def expr(p, o):
        vc, U = p["vc"], p["U"]
        s_o = U[o_idx] @ vc
        s_n = U[neg] @ vc
        return -o.log(o.sigmoid(np.array([s_o])))[0] - np.sum(o.log(o.sigmoid(-s_n)))

    def grad(p):
        vc, U = _f64(p, "vc"), _f64(p, "U")
        sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
        s_o = U[o_idx] @ vc
        s_n = U[neg] @ vc
        go = sig(s_o) - 1
        gn = sig(s_n)
        gvc = go * U[o_idx] + gn @ U[neg]
        gU = np.zeros_like(U)
        gU[o_idx] += go * vc
        np.add.at(gU, neg, np.outer(gn, vc) * (0.99 if bug == "neg" else 1.0))
        return {"vc": gvc, "U": gU}

    return _model(expr, grad, params)


# ---------------------------------------------------------------------------
# K. elementwise float32 term in a float64 gradient (no float32 floor, table
#    moves each element by < 1 float32 ulp)

def logcosh_f32_opt(seed, m=200, d=400, lam=0.05, off=3e-3, bug=None):
    """Least squares + lam*sum(log cosh w) at (near) its optimum; the
    backward's penalty term lam*tanh(w) is computed in float32 (per
    element), the data term in float64. At the optimum the two cancel, so
    the float32 rounding of lam*tanh(w) (~lam*6e-8) is most of each value;
    ``loss.floor`` is the penalty term's size (the gradient's natural scale)."""
    r = _rng(19, seed)
    A = r.standard_normal((m, d)) / math.sqrt(m)
    b = A @ (2.0 * r.standard_normal(d)) + 0.1 * r.standard_normal(m)
    w = np.zeros(d)
    H = A.T @ A
    for _ in range(60):  # Newton (float64) to the optimum
        g = A.T @ (A @ w - b) + lam * np.tanh(w)
        w = w - np.linalg.solve(H + lam * np.diag(1 - np.tanh(w) ** 2), g)
    w = w + off * r.standard_normal(d)  # a little off the optimum: values ~1e-2, penalty terms ~lam

    def expr(p, o):
        res = A @ p["w"] - b
        return 0.5 * np.sum(res ** 2) + lam * np.sum(o.log(o.cosh(p["w"])) if o is not NPX else
                                                      np.logaddexp(p["w"], -p["w"]) - math.log(2))

    def grad(p):
        ww = _f64(p, "w")
        pen = (np.float32(lam) * np.tanh(ww.astype(np.float32))).astype(np.float64)
        return {"w": A.T @ (A @ ww - b) + (0.5 if bug == "half" else 1.0) * pen}

    return _model(expr, grad, {"w": w}, floor=lam * float(np.max(np.abs(np.tanh(w)))))


def lasso_sparse(seed, m=40, d=30, lam=0.3, bug=None):
    """Lasso 0.5|Ax-b|^2 + lam|x|_1 at its (ISTA) solution: most x exactly 0;
    gradient A^T r + lam*sign(x) (sign(0) = 0, a valid subgradient there)."""
    r = _rng(20, seed)
    A = r.standard_normal((m, d)) / math.sqrt(m)
    xt = np.zeros(d)
    xt[:5] = 3 * r.standard_normal(5)
    b = A @ xt + 0.05 * r.standard_normal(m)
    L = np.linalg.norm(A, 2) ** 2
    x = np.zeros(d)
    for _ in range(3000):
        z = x - A.T @ (A @ x - b) / L
        x = np.sign(z) * np.maximum(np.abs(z) - lam / L, 0.0)

    def expr(p, o):
        res = A @ p["x"] - b
        return 0.5 * np.sum(res ** 2) + lam * np.sum(o.abs(p["x"]))

    def grad(p):
        xx = _f64(p, "x")
        return {"x": A.T @ (A @ xx - b) + (0.9 if bug == "lam" else 1.0) * lam * np.sign(xx)}

    return _model(expr, grad, {"x": x})


CASES: list[Case] = [
    *_pair("mixreg32", "quant", mixed_reg32, "float64 softmax + L2 penalty summed in float32",
           [("reg1", "penalty gradient lam*W instead of 2*lam*W (lam=5e-3)")]),
    *_pair("mixdata32", "quant", mixed_data32, "float64 MSE of residuals formed in float32 (float32 data)",
           [("N-1", "divided by N-1 (N=200)")]),
    *_pair("f16loss", "quant", f16_loss, "logistic loss evaluated in float16, float64 gradient",
           [("N-1", "divided by N-1 (N=50)")]),
    *_pair("packed-utm", "median", packed_theta, "packed theta, x0~5e5 grad n*x0-sum(x), 8 small ridge weights",
           [("reg", "ridge term dropped (lam=1e-2)")]),
    *_pair("packed-loop", "median", packed_loopsum, "packed theta, m's grad a 4000-term Python loop that cancels",
           [("N-1", "w's data term over N-1 (N=50)")]),
    *_pair("pairdiff", "noise", pair_diff, "scalar blocks a, b in an expanded square of a-b (c=3e3)",
           [("reg", "w's ridge term dropped (lam=1e-3)")]),
    *_pair("unixpulse", "scale", unix_pulse, "Gaussian pulse (5 ms) at Unix time t0 ~1.7e9 s",
           [("width", "backward's width constant 2% off")]),
    *_pair("steepsig", "scale", steep_sigmoid, "sigmoid(x/1e-11) gate at x within 2e-11 of 0",
           [("half", "x's gradient halved"), ("reg", "w's ridge term dropped")]),
    *_pair("tinyclip", "kink", tiny_clip, "clip(x - s, +-1e-10) inside the clip range",
           [("sign", "x's gradient sign flipped")]),
    *_pair("smallvar", "domain", small_variance, "Gaussian NLL in the variance v ~2e-6 (not log v)",
           [("N-1", "v's log term n/2v with n-1")]),
    *_pair("rarecat", "domain", rare_category, "categorical NLL in raw probabilities, one p ~3e-6",
           [("lam", "penalty gradient lam instead of 2 lam")]),
    *_pair("f32back-reg64", "analytic", f32_back_reg64, "float32 backward + float64 weight decay, 2400 weights",
           [("reg", "weight decay lam=1e-3 dropped")]),
    *_pair("x2sin", "oscill", x2sin, "x^2 sin(k/x) at x = 0 (derivative 0, not C1)",
           [("scale", "w's gradient 2% off")]),
    *_pair("tinylik-300", "lscale", tiny_likelihood, "raw likelihood exp(-NLL) ~1e-304",
           [("scale", "1% off")], scale_log=-700.0),
    *_pair("tinylik-320", "lscale", tiny_likelihood, "raw likelihood exp(-NLL) ~1e-319 (subnormal)",
           [("scale", "1% off")], scale_log=-735.0),
    *_pair("huge-1e300", "lscale", huge_scale, "ridge loss times 1e300", [("reg", "ridge gradient halved")]),
    *_pair("bn-const", "cs231n", batchnorm_const, "batchnorm with a near-constant feature at 1e3 (var << eps)",
           [("N-1", "beta gradient scaled N/(N-1)")]),
    *_pair("rnn-sat", "cs231n", rnn_saturated, "tanh RNN, large weights, saturated units",
           [("noWh", "Wh gradient 2% off")]),
    *_pair("w2v-sat", "cs224n", word2vec_sgns, "skip-gram negative sampling, saturated sigmoids",
           [("neg", "negatives' U gradient 1% off")]),
    *_pair("logcosh32-opt", "analytic", logcosh_f32_opt, "LS + log-cosh penalty at optimum, penalty grad in float32",
           [("half", "penalty gradient halved")]),
    *_pair("lasso", "kink", lasso_sparse, "Lasso at its ISTA solution, most x exactly 0",
           [("lam", "lam 10% off in the gradient")]),
]

assert len({c.name for c in CASES}) == len(CASES)


def run(case, seeds=range(5)):
    from gradcheck_cli import check
    out = []
    for s in seeds:
        loss, grad, params = case.make(s)
        t0 = time.perf_counter()
        try:
            rep = check(loss=loss, grad=grad, params=params, seed=s)
        except Exception as exc:  # noqa: BLE001
            out.append(("E", f"{type(exc).__name__}: {exc}"[:200], 0.0))
            continue
        dt = time.perf_counter() - t0
        blocks = [b for c in rep.checks() for b in c.blocks]
        bad = [b for b in blocks if b.grade in ("fail", "warn")]
        why = ""
        if bad:
            b = bad[0]
            dims = [d for d in (*b.dims, *b.directions) if d.grade == b.grade]
            d = dims[0] if dims else b.worst
            why = (f"{b.name}:{b.grade} idx={d.index} dir={d.direction} a={d.analytic:.9g} n={d.numeric:.9g} "
                   f"ro={d.roundoff:.1e} aro={d.analytic_roundoff:.1e} tr={d.truncation} :: {d.message}")
        out.append((rep.verdict[0], why, dt))
    return out


if __name__ == "__main__":
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    truth = "--truth" in sys.argv
    for case in CASES:
        if only and only not in case.name:
            continue
        if truth:
            errs = [errors(case, s) for s in range(5)]
            print(f"{case.name:24s} {'correct' if case.correct else 'buggy  '} elem {max(e for e, _ in errs):.1e} "
                  f"norm {min(n for _, n in errs):.1e}..{max(n for _, n in errs):.1e}", flush=True)
            continue
        res = run(case)
        print(f"{case.name:24s} {'correct' if case.correct else 'buggy  '} "
              f"{''.join(v for v, _, _ in res)}  t={max(t for _, _, t in res):.2f}s", flush=True)
        for s, (v, why, _) in enumerate(res):
            if why and ((case.correct and v in 'fw') or (not case.correct and v != 'f')) or v == 'E':
                print(f"    seed {s}: {why}")
