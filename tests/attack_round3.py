"""Third adversarial round (issue 23): wrong gradients that are exactly
right at the start point a check would pick, and correct models that a
warm-up can push out of their valid inputs. Same interface as
tests/evidence_models.py:

    CASES: list[Case]; case.make(seed) -> (loss, grad, params)

Classes (``section``; issue 23's list):

- c1-hidden:   multiclass/binary SVM hinge computed where a ufunc tracker
               can't see it (np.vectorize, .tolist() loops), W ~ 1e-4: every
               margin active, so a backward ignoring the mask is exact there.
- c2-smallsite: the same bug with 6 hinge terms, features ~1e-3 (Adam's capped
               steps can't reach the margins) beside a second loss head that
               falls 90 % on its own.
- c3-relu-loop: one ReLU line serving two layers; the all-on layer's mask is
               ignored in the buggy backward.
- c4-preact:   tanh/sigmoid derivative from the pre-activation, 1e-4 init.
- c5-global:   grad reads the start params (closure) or caches activations.
- c6-biasreg:  a regularization term on bias gradients (zero at zero biases).
- c7-l1:       L1 over .tolist() with an off-by-one at w = 0 (sparse start).
- c8-pool:     max-pool backward (window == max) * dout at exact ties.
- c9-big:      one of 30,730 CIFAR-size SVM gradients 1 % off (slow: ~10 s;
               ``Case.section == "c9-big"`` lets a test skip it).
- c10-domain:  CORRECT models whose valid inputs a warm-up can leave (clipped
               BCE with the unclipped backward, log/sqrt of a variance that may
               turn negative, a loss raising ValueError outside its domain).
- c11-vanish:  other terms that vanish at an init: ReZero gate alpha = 0,
               LoRA B = 0, batchnorm gamma = 1 / beta = 0.

Truth (independent of gradcheck): ``loss.reference(params_mp)`` is the loss in
50-digit mpmath arithmetic (the same data and constants). ``truth_at`` takes,
for every element, the one-sided derivatives (relative step 1e-20) and, for a
few random +-1 directions, the one-sided directional derivatives, and measures
how far the case's grad lies OUTSIDE those brackets (at a smooth point the
bracket is a point: ordinary relative error; at a kink any subgradient passes
coordinate- and direction-wise, so sign(0) = +1 for |w| is right, and a
max-pool sending dout to two tied maxima is wrong along their sum).
``truth`` evaluates that at make(seed)'s point AND at nearby generic points:
two seeded jitters at each block's own scale (all-zero blocks at their
peers'), a point after 20 Adam steps with the case's own grad, and the case's
``loss.elsewhere(params, rng)`` (parameters at a trained model's scale, where
margins/units are mixed). Points outside ``loss.valid`` (nan loss, a clip
saturating, a ValueError) are skipped and counted. The ``c9-big`` cases carry
``loss.truth(params)``, a vectorised float64 gradient that ``--truth`` first
validates against mpmath on a small instance of the same code at several
points.

    python tests/attack_round3.py --truth [--seeds 3] [--only NAME]
    python tests/attack_round3.py [--seeds 3] [--only NAME]   # gradcheck verdicts
"""

from __future__ import annotations

import math
import sys
import time
from functools import partial
from typing import Callable

import numpy as np

try:
    from tests.evidence_models import DPS, REL_STEP, Case, _f64, _pair
    from tests.attack_false_fails import NPX, _ops
except ImportError:  # run as a script from tests/
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from tests.evidence_models import DPS, REL_STEP, Case, _f64, _pair
    from tests.attack_false_fails import NPX, _ops


def _rng(tag: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([9700 + tag, seed])


def _model(expr, grad, params, loss_np=None, valid=None, elsewhere=None, lr=None, floor=0.0, truth=None):
    """(loss, grad, params). loss.reference: ``expr`` on mpmath object
    arrays; loss_np: the numpy loss when it is written differently (hidden
    from a tracker); valid(p) -> bool: the model's own domain (default: a
    finite loss); elsewhere(params, rng) -> [params]: generic points for the
    truth; lr: the truth's Adam step (default 0.1 x the params' rms)."""

    def loss(p):
        return float(loss_np(p) if loss_np is not None else expr(p, NPX))

    loss.reference = lambda p: expr(p, _ops())
    loss.floor = float(floor)
    loss.valid = valid
    loss.elsewhere = elsewhere
    loss.lr = lr
    if truth is not None:
        loss.truth = truth

    def grad_(p):
        return {k: np.array(v, dtype=np.float64) for k, v in grad(p).items()}

    return loss, grad_, {k: np.array(v, dtype=np.float64) for k, v in params.items()}


def _trained(scales):
    """elsewhere(): each block drawn at a trained model's scale."""
    def elsewhere(params, rng):
        return [{k: scales.get(k, 0.3) * rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(2)]
    return elsewhere


# ---------------------------------------------------------------------------
# 1. hinge hidden from the tracker (np.vectorize / .tolist()), W ~ 1e-4

_HINGE = np.vectorize(lambda m: m if m > 0 else 0.0, otypes=[np.float64])


def svm_hidden(seed, n=16, d=5, c=4, std=1e-4, reg=1e-3, how="vectorize", sq=False, bias=False, bug=None):
    """CS231n multiclass SVM (scores X W + b, margins s_j - s_y + 1), the
    hinge applied inside np.vectorize or over margins.tolist() in Python
    floats. Bug 'nomask': dW sums X over every j != y (the margin > 0 test
    forgotten); at W ~ 1e-4 every margin is ~1 > 0."""
    r = _rng(1, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    rows = np.arange(n)
    off = np.arange(c)[None, :] != y[:, None]
    params = {"W": std * r.standard_normal((d, c))}
    if bias:
        params["b"] = np.zeros(c)

    def margins(p):
        s = X @ p["W"] + (p["b"] if bias else 0.0)
        return (s - s[rows, y][:, None] + 1.0)[off]

    def expr(p, o):
        h = o.maximum0(margins(p))
        return np.sum(h * h if sq else h) / n + 0.5 * reg * np.sum(p["W"] * p["W"])

    def loss_np(p):
        m = margins(p)
        if how == "vectorize":
            h = _HINGE(m)
            tot = float(np.sum(h * h if sq else h))
        else:
            tot = 0.0
            for v in m.tolist():
                if v > 0:
                    tot += v * v if sq else v
        return tot / n + 0.5 * reg * float(np.sum(p["W"] ** 2))

    def grad(p):
        W = _f64(p, "W")
        s = X @ W + (_f64(p, "b") if bias else 0.0)
        m = s - s[rows, y][:, None] + 1.0
        act = off.copy() if bug == "nomask" else (off & (m > 0))
        coef = act * (2.0 * m if sq else 1.0)
        coef[rows, y] = -coef.sum(axis=1)
        out = {"W": X.T @ coef / n + reg * W}
        if bias:
            out["b"] = coef.sum(axis=0) / n
        return out

    return _model(expr, grad, params, loss_np=loss_np, lr=0.05, elsewhere=_trained({"W": 0.5, "b": 0.5}))


def binary_hinge_hidden(seed, n=20, d=4, std=1e-4, reg=1e-2, bug=None):
    """Binary soft-margin SVM: mean max(0, 1 - y (x.w + b)) over .tolist(),
    w ~ 1e-4, b = 0. Bug 'nomask': every sample contributes -y x."""
    r = _rng(2, seed)
    X = r.standard_normal((n, d))
    yv = np.where(r.standard_normal(n) + X @ r.standard_normal(d) > 0, 1.0, -1.0)

    def expr(p, o):
        m = 1.0 - yv * (X @ p["w"] + p["b"][0])
        return np.sum(o.maximum0(m)) / n + 0.5 * reg * np.sum(p["w"] * p["w"])

    def loss_np(p):
        m = 1.0 - yv * (X @ p["w"] + p["b"][0])
        return sum(v for v in m.tolist() if v > 0) / n + 0.5 * reg * float(np.sum(p["w"] ** 2))

    def grad(p):
        w, b = _f64(p, "w"), _f64(p, "b")
        m = 1.0 - yv * (X @ w + b[0])
        act = np.ones(n) if bug == "nomask" else (m > 0).astype(float)
        e = -act * yv / n
        return {"w": X.T @ e + reg * w, "b": np.array([e.sum()])}

    return _model(expr, grad, {"w": std * r.standard_normal(d), "b": np.zeros(1)}, loss_np=loss_np, lr=0.05,
                  elsewhere=_trained({"w": 0.7, "b": 0.5}))


# ---------------------------------------------------------------------------
# 2. the same bug at a small site (6 terms), features ~1e-3, beside a head

def small_site(seed, kind="svm", xscale=1e-3, std=1e-4, head=True, bug=None):
    """Six hinge terms on features of scale 1e-3 (kind 'svm': N=3 samples x 2
    wrong classes over .tolist(); 'triplet': 6 triplets max(0, |fa-fp|^2 -
    |fa-fn|^2 + 0.2), f = x E, in np.vectorize; 'binary': 6 samples), plus a
    ridge-regression head V (zero init, targets ~10) whose loss is ~100x the
    hinge's and falls 90 % alone. Bug 'nomask': the hinge's mask ignored."""
    r = _rng(3, seed)
    m_head, k_head = 40, 5
    A = r.standard_normal((m_head, k_head))
    t = A @ (3.0 * r.standard_normal(k_head)) + 0.1 * r.standard_normal(m_head)
    params = {}
    if kind == "svm":
        n, d, c = 3, 4, 3
        X = xscale * r.standard_normal((n, d))
        y = np.array([0, 1, 2])
        rows = np.arange(n)
        off = np.arange(c)[None, :] != y[:, None]
        params["W"] = std * r.standard_normal((d, c))

        def hinge_args(p):
            s = X @ p["W"]
            return (s - s[rows, y][:, None] + 1.0)[off]

        def hinge_grad(p, mask_on):
            W = _f64(p, "W")
            s = X @ W
            m = s - s[rows, y][:, None] + 1.0
            act = off.copy() if not mask_on else (off & (m > 0))
            coef = act.astype(float)
            coef[rows, y] = -coef.sum(axis=1)
            return {"W": X.T @ coef / n}
        trained = {"W": 2.0 / xscale}
    elif kind == "triplet":
        n, d, k = 6, 4, 3
        Xa, Xp, Xn = (xscale * r.standard_normal((n, d)) for _ in range(3))
        params["E"] = std * r.standard_normal((d, k))
        Dp, Dn = Xa - Xp, Xa - Xn

        def hinge_args(p):
            fp, fn = Dp @ p["E"], Dn @ p["E"]
            return np.sum(fp * fp, axis=1) - np.sum(fn * fn, axis=1) + 0.2

        def hinge_grad(p, mask_on):
            E = _f64(p, "E")
            m = hinge_args({"E": E})
            act = np.ones(n) if not mask_on else (m > 0).astype(float)
            gE = 2.0 * (Dp.T @ (act[:, None] * (Dp @ E)) - Dn.T @ (act[:, None] * (Dn @ E)))
            return {"E": gE / n}
        trained = {"E": 0.5 / xscale}
    else:  # binary
        n, d = 6, 4
        X = xscale * r.standard_normal((n, d))
        yv = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
        params["w"] = std * r.standard_normal(d)

        def hinge_args(p):
            return 1.0 - yv * (X @ p["w"])

        def hinge_grad(p, mask_on):
            w = _f64(p, "w")
            m = 1.0 - yv * (X @ w)
            act = np.ones(n) if not mask_on else (m > 0).astype(float)
            return {"w": X.T @ (-act * yv) / n}
        trained = {"w": 1.0 / xscale}
    if head:
        params["V"] = np.zeros(k_head)
        trained["V"] = 3.0

    def head_loss(p):
        res = A @ p["V"] - t
        return 0.5 * np.sum(res * res) / m_head

    def expr(p, o):
        return np.sum(o.maximum0(hinge_args(p))) / n + (head_loss(p) if head else 0.0)

    def loss_np(p):
        h = hinge_args(p)
        tot = float(np.sum(_HINGE(h))) if kind == "triplet" else sum(v for v in h.tolist() if v > 0)
        return tot / n + (float(head_loss(p)) if head else 0.0)

    def grad(p):
        out = hinge_grad(p, bug != "nomask")
        if head:
            out["V"] = A.T @ (A @ _f64(p, "V") - t) / m_head
        return out

    return _model(expr, grad, params, loss_np=loss_np, lr=0.05, elsewhere=_trained(trained))


# ---------------------------------------------------------------------------
# 3. one ReLU line serving two layers

def relu_loop(seed, n=12, d=4, h=6, o=2, nlay=2, bias=False, bug=None):
    """for W in layers: a = np.maximum(0, a @ W (+ b)); first layer mixed
    signs, the later ones all-on (positive weights on nonnegative inputs,
    plus a 0.1 bias). Bug 'mask2': the backward skips the last layer's ReLU
    mask (exact at the start: every unit of that layer is on)."""
    r = _rng(4, seed)
    X = r.standard_normal((n, d))
    T = r.standard_normal((n, o))
    params = {"W0": 0.5 * r.standard_normal((d, h))}
    for i in range(1, nlay):
        params[f"W{i}"] = 0.3 * np.abs(r.standard_normal((h, h))) + 0.05
    if bias:
        params["b0"] = np.zeros(h)
        for i in range(1, nlay):
            params[f"b{i}"] = np.full(h, 0.1)
    params["V"] = 0.5 * r.standard_normal((h, o))

    def layers(p):
        return [(p[f"W{i}"], p[f"b{i}"] if bias else 0.0) for i in range(nlay)]

    def expr(p, op):
        a = X
        for W, b in layers(p):
            a = op.maximum0(a @ W + b)
        res = a @ p["V"] - T
        return 0.5 * np.sum(res * res) / n

    def loss_np(p):
        a = X
        for W, b in layers(p):
            a = np.maximum(0, a @ W + b)
        res = a @ p["V"] - T
        return 0.5 * float(np.sum(res * res)) / n

    def grad(p):
        pf = {k: _f64(p, k) for k in p}
        acts, zs, a = [X], [], X
        for i in range(nlay):
            z = a @ pf[f"W{i}"] + (pf[f"b{i}"] if bias else 0.0)
            a = np.maximum(0, z)
            zs.append(z)
            acts.append(a)
        dout = (a @ pf["V"] - T) / n
        g = {"V": acts[-1].T @ dout}
        da = dout @ pf["V"].T
        for i in reversed(range(nlay)):
            dz = da if (bug == "mask2" and i == nlay - 1) else da * (zs[i] > 0)
            g[f"W{i}"] = acts[i].T @ dz
            if bias:
                g[f"b{i}"] = dz.sum(axis=0)
            da = dz @ pf[f"W{i}"].T
        return g

    trained = {k: 0.5 for k in params}
    return _model(expr, grad, params, loss_np=loss_np, elsewhere=_trained(trained))


# ---------------------------------------------------------------------------
# 4. activation derivative from the pre-activation, 1e-4 init

def preact(seed, n=20, d=4, h=6, o=3, std=1e-4, act="tanh", depth=1, bug=None):
    """MLP with tanh (or sigmoid) hidden layers, linear output, MSE; all
    weights ~1e-4, zero biases: a near-linear start. Bugs: 'z2' tanh' =
    1 - z**2 (pre-activation) [sigmoid: 0.25 (1 - (z/2)**2), the tanh
    identity taken at z]; 'nosq' tanh' = 1 - a."""
    r = _rng(5, seed)
    X = r.standard_normal((n, d))
    T = r.standard_normal((n, o))
    dims = [d] + [h] * depth
    params = {}
    for i in range(depth):
        params[f"W{i}"] = std * r.standard_normal((dims[i], dims[i + 1]))
        params[f"b{i}"] = np.zeros(dims[i + 1])
    params["V"] = std * r.standard_normal((h, o))

    def f(z, op):
        return op.tanh(z) if act == "tanh" else op.sigmoid(z)

    def expr(p, op):
        a = X
        for i in range(depth):
            a = f(a @ p[f"W{i}"] + p[f"b{i}"], op)
        res = a @ p["V"] - T
        return 0.5 * np.sum(res * res) / n

    def deriv(z, a):
        if act == "tanh":
            return {"z2": 1 - z ** 2, "nosq": 1 - a}.get(bug, 1 - a ** 2)
        return 0.25 * (1 - (z / 2) ** 2) if bug == "z2" else a * (1 - a)

    def grad(p):
        pf = {k: _f64(p, k) for k in p}
        acts, zs, a = [X], [], X
        for i in range(depth):
            z = a @ pf[f"W{i}"] + pf[f"b{i}"]
            a = np.tanh(z) if act == "tanh" else 1 / (1 + np.exp(-z))
            zs.append(z)
            acts.append(a)
        dout = (a @ pf["V"] - T) / n
        g = {"V": acts[-1].T @ dout}
        da = dout @ pf["V"].T
        for i in reversed(range(depth)):
            dz = da * deriv(zs[i], acts[i + 1])
            g[f"W{i}"] = acts[i].T @ dz
            g[f"b{i}"] = dz.sum(axis=0)
            da = dz @ pf[f"W{i}"].T
        return g

    trained = {k: (1.0 / math.sqrt(d) if k.startswith("W") else 0.5) for k in params}
    return _model(expr, grad, params, elsewhere=_trained(trained))


# ---------------------------------------------------------------------------
# 5. grad reads the start params (closure) instead of its argument

def global_params(seed, n=20, d=4, h=5, c=3, bug=None):
    """Softmax classifier on a tanh hidden layer (all blocks nonzero). Bugs:
    'all' grad computes at the params captured at make() (a module global);
    'W2' only dW1's backprop through W2 uses the captured W2; 'cache' the
    hidden activations are computed at the first call and reused."""
    r = _rng(6, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    rows = np.arange(n)
    P0 = {"W1": 0.5 * r.standard_normal((d, h)), "b1": 0.1 * r.standard_normal(h),
          "W2": 0.5 * r.standard_normal((h, c)), "b2": 0.1 * r.standard_normal(c)}
    START = {k: v.copy() for k, v in P0.items()}
    cache = {}

    def expr(p, o):
        hh = o.tanh(X @ p["W1"] + p["b1"])
        s = hh @ p["W2"] + p["b2"]
        s = s - s.max(axis=1, keepdims=True)
        return np.mean(o.log(o.exp(s).sum(axis=1)) - s[rows, y])

    def grad(p):
        pf = START if bug == "all" else {k: _f64(p, k) for k in p}
        if bug == "cache":
            if "H" not in cache:
                cache["H"] = np.tanh(X @ pf["W1"] + pf["b1"])
            hh = cache["H"]
        else:
            hh = np.tanh(X @ pf["W1"] + pf["b1"])
        s = hh @ pf["W2"] + pf["b2"]
        e = np.exp(s - s.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        P[rows, y] -= 1
        P /= n
        W2b = START["W2"] if bug == "W2" else pf["W2"]
        dz = (P @ W2b.T) * (1 - hh ** 2)
        return {"W1": X.T @ dz, "b1": dz.sum(axis=0), "W2": hh.T @ P, "b2": P.sum(axis=0)}

    return _model(expr, grad, P0)


# ---------------------------------------------------------------------------
# 6. regularization added to a bias gradient (zero at zero biases)

def bias_reg(seed, kind="softmax", n=24, d=5, h=8, c=3, reg=0.1, bug=None):
    """Loss = data + 0.5 reg |W|^2 (weights only), biases initialised to 0.
    Bug 'breg': db += reg * b as well (exactly 0 at b = 0). kind: 'softmax'
    (linear), 'mlp' (ReLU hidden layer, both biases), 'bn' (batchnorm beta,
    gamma, tanh, linear head; bug adds reg*beta and reg*(gamma-1)... only
    reg*beta)."""
    r = _rng(7, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    rows = np.arange(n)
    if kind == "softmax":
        params = {"W": 0.3 * r.standard_normal((d, c)), "b": np.zeros(c)}
    elif kind == "mlp":
        params = {"W1": 0.5 * r.standard_normal((d, h)), "b1": np.zeros(h),
                  "W2": 0.5 * r.standard_normal((h, c)), "b2": np.zeros(c)}
    else:
        params = {"W1": 0.5 * r.standard_normal((d, h)), "gamma": np.ones(h), "beta": np.zeros(h),
                  "W2": 0.5 * r.standard_normal((h, c))}
    wkeys = [k for k in params if k.startswith("W")]

    def logits(p, o):
        if kind == "softmax":
            return X @ p["W"] + p["b"]
        if kind == "mlp":
            return o.maximum0(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        z = X @ p["W1"]
        mu = z.sum(axis=0) / n
        zc = z - mu
        var = (zc * zc).sum(axis=0) / n
        xh = zc / o.sqrt(var + 1e-5)
        return o.tanh(p["gamma"] * xh + p["beta"]) @ p["W2"]

    def expr(p, o):
        s = logits(p, o)
        s = s - s.max(axis=1, keepdims=True)
        return np.mean(o.log(o.exp(s).sum(axis=1)) - s[rows, y]) + 0.5 * reg * sum(np.sum(p[k] * p[k]) for k in wkeys)

    def grad(p):
        pf = {k: _f64(p, k) for k in p}
        g = {}
        if kind == "softmax":
            s = X @ pf["W"] + pf["b"]
        elif kind == "mlp":
            z1 = X @ pf["W1"] + pf["b1"]
            a1 = np.maximum(0, z1)
            s = a1 @ pf["W2"] + pf["b2"]
        else:
            z = X @ pf["W1"]
            mu = z.mean(axis=0)
            var = z.var(axis=0)
            inv = 1 / np.sqrt(var + 1e-5)
            xh = (z - mu) * inv
            a = np.tanh(pf["gamma"] * xh + pf["beta"])
            s = a @ pf["W2"]
        e = np.exp(s - s.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        P[rows, y] -= 1
        P /= n
        if kind == "softmax":
            g = {"W": X.T @ P, "b": P.sum(axis=0)}
        elif kind == "mlp":
            da = (P @ pf["W2"].T) * (z1 > 0)
            g = {"W1": X.T @ da, "b1": da.sum(axis=0), "W2": a1.T @ P, "b2": P.sum(axis=0)}
        else:
            dy = (P @ pf["W2"].T) * (1 - a ** 2)
            dxh = dy * pf["gamma"]
            dz = inv * (dxh - dxh.mean(axis=0) - xh * (dxh * xh).mean(axis=0))
            g = {"W1": X.T @ dz, "gamma": (dy * xh).sum(axis=0), "beta": dy.sum(axis=0), "W2": a.T @ P}
        for k in wkeys:
            g[k] = g[k] + reg * pf[k]
        if bug == "breg":
            for k in params:
                if k.startswith("b"):
                    g[k] = g[k] + reg * pf[k]
        return g

    return _model(expr, grad, params)


# ---------------------------------------------------------------------------
# 7. L1 over .tolist() with an off-by-one at w = 0

def l1_list(seed, m=30, d=12, lam=0.3, sign0=0.0, bug=None):
    """0.5/m |A w - b|^2 + lam * sum(abs(v) for v in w.tolist()) at a sparse
    w (w[0] = 0, 2/3 exact zeros, the others positive). Correct: data +
    lam*sign(w) with sign(0) = ``sign0`` (0, or nnfs' +1: both subgradients).
    Bugs: 'skip0' the L1 loop runs range(1, d) (right while w[0] = 0);
    'prev' element i takes the sign of w[i-1] (>= 0 counted +1; right while
    every nonzero is positive)."""
    r = _rng(8, seed)
    A = r.standard_normal((m, d))
    b = r.standard_normal(m)
    w = np.zeros(d)
    nz = r.choice(np.arange(1, d), d // 3, replace=False)
    w[nz] = np.abs(r.standard_normal(nz.size)) + 0.2

    def data(p):
        res = A @ p["w"] - b
        return 0.5 * np.sum(res * res) / m

    def expr(p, o):
        return data(p) + lam * np.sum(o.abs(p["w"]))

    def loss_np(p):
        return float(data(p)) + lam * sum(abs(v) for v in p["w"].tolist())

    def grad(p):
        wv = _f64(p, "w")
        g = A.T @ (A @ wv - b) / m
        wl = wv.tolist()
        l1 = [0.0] * d
        for i in range(1 if bug == "skip0" else 0, d):
            v = wl[i - 1] if bug == "prev" else wl[i]
            if bug == "prev":
                l1[i] = 1.0 if v >= 0 else -1.0
            else:
                l1[i] = 1.0 if v > 0 else (-1.0 if v < 0 else sign0)
        return {"w": g + lam * np.array(l1)}

    return _model(expr, grad, {"w": w}, loss_np=loss_np)


# ---------------------------------------------------------------------------
# 8. max-pool backward at exact ties

def _windows(hw, k, stride):
    out = (hw - k) // stride + 1
    idx = [[(i * stride + a) * hw + j * stride + bb for a in range(k) for bb in range(k)]
           for i in range(out) for j in range(out)]
    return np.array(idx), out


def pool_ties(seed, n=2, c=2, hw=6, k=2, stride=2, levels=3, mode="argmax", bug=None):
    """loss = sum(dout * maxpool(x)) on integer-valued x (many tied windows).
    Correct: dout to the first maximum ('argmax') or split equally among the
    tied maxima ('tieavg'); both subgradients. Bug 'eqmask': (window == max)
    * dout, each tied maximum gets all of dout."""
    r = _rng(9, seed)
    x = r.integers(0, levels, (n, c, hw, hw)).astype(float)
    idx, out = _windows(hw, k, stride)
    dout = r.standard_normal((n, c, idx.shape[0]))

    def expr(p, o):
        win = p["x"].reshape(n, c, hw * hw)[:, :, idx]
        return np.sum(dout * win.max(axis=-1))

    def grad(p):
        win = _f64(p, "x").reshape(n, c, hw * hw)[:, :, idx]
        eq = win == win.max(axis=-1, keepdims=True)
        if bug == "eqmask":
            mask = eq.astype(float)
        elif mode == "tieavg":
            mask = eq / eq.sum(axis=-1, keepdims=True)
        else:
            mask = np.zeros_like(win)
            np.put_along_axis(mask, win.argmax(axis=-1)[..., None], 1.0, axis=-1)
        g = np.zeros((n, c, hw * hw))
        for wi in range(idx.shape[0]):
            g[:, :, idx[wi]] += mask[:, :, wi, :] * dout[:, :, wi, None]
        return {"x": g.reshape(n, c, hw, hw)}

    model = _model(expr, grad, {"x": x})
    model[0].limit = _first_index_piece
    return model


def _first_index_piece(params):
    """A point just off the ties on the side where an earlier (row-major)
    element is larger: there the first-maximum (np.argmax) choice is the
    gradient of the adjacent piece, a limiting gradient (valid where
    overlapping windows of mixed-sign dout make directional brackets too
    strict)."""
    return {k: v - 1e-9 * np.arange(v.size).reshape(v.shape) / v.size for k, v in params.items()}


def conv_relu_pool(seed, n=2, hw=6, f=2, k=3, bug=None):
    """Integer images (0..2) through a valid 3x3 conv with integer-valued
    filters in {-1, 0, 1} (the params), ReLU, 2x2 max-pool: tied activations
    (zeros after the ReLU, equal integers). loss = sum(dout * pooled).
    Correct: argmax + (z > 0); bug 'eqmask' in the pool's backward."""
    r = _rng(10, seed)
    X = r.integers(0, 3, (n, hw, hw)).astype(float)
    W = r.integers(-1, 2, (f, k, k)).astype(float)
    W[:, 1, 1] = 1.0
    co = hw - k + 1
    cols = np.array([[X[i, a:a + k, bb:bb + k].ravel() for a in range(co) for bb in range(co)] for i in range(n)])
    idx, po = _windows(co, 2, 2)
    dout = r.standard_normal((n, f, idx.shape[0]))

    def expr(p, o):
        z = np.einsum("npk,fk->nfp", cols, p["W"].reshape(f, k * k))
        a = o.maximum0(z)
        return np.sum(dout * a[:, :, idx].max(axis=-1))

    def grad(p):
        Wf = _f64(p, "W").reshape(f, k * k)
        z = np.einsum("npk,fk->nfp", cols, Wf)
        a = np.maximum(0, z)
        win = a[:, :, idx]
        if bug == "eqmask":
            mask = (win == win.max(axis=-1, keepdims=True)).astype(float)
        else:
            mask = np.zeros_like(win)
            np.put_along_axis(mask, win.argmax(axis=-1)[..., None], 1.0, axis=-1)
        da = np.zeros_like(a)
        for wi in range(idx.shape[0]):
            da[:, :, idx[wi]] += mask[:, :, wi, :] * dout[:, :, wi, None]
        dz = da * (z > 0)
        return {"W": np.einsum("nfp,npk->fk", dz, cols).reshape(f, k, k)}

    return _model(expr, grad, {"W": W})


# ---------------------------------------------------------------------------
# 9. CIFAR-size SVM: one of 30,730 gradients 1 % off (loss.truth)

def cifar_svm(seed, n=200, d=3073, c=10, std=1e-4, reg=50.0, bug=None):
    """CS231n's linear SVM at the notebook's size: X = uint8-like pixels
    minus 127.5 with a bias column of ones (D = 3073), W = 1e-4 randn, loss
    mean hinge + reg |W|^2 (reg = 50, as the notebook's gradient check).
    Bugs: 'one1pct' one element of dW (a nonzero one) x1.01; 'bias1pct' the
    bias row (10 elements) x1.01."""
    r = _rng(11, seed)
    X = np.hstack([r.integers(0, 256, (n, d - 1)) - 127.5, np.ones((n, 1))])
    y = r.integers(0, c, n)
    rows = np.arange(n)
    W = std * r.standard_normal((d, c))
    off = np.arange(c)[None, :] != y[:, None]

    def expr(p, o):
        s = X @ p["W"]
        return np.sum(o.maximum0((s - s[rows, y][:, None] + 1.0)[off])) / n + reg * np.sum(p["W"] * p["W"])

    def truth(p):
        Wv = np.asarray(p["W"], dtype=float)
        s = X @ Wv
        m = s - s[rows, y][:, None] + 1.0
        coef = (off & (m > 0)).astype(float)
        coef[rows, y] = -coef.sum(axis=1)
        return {"W": X.T @ coef / n + 2 * reg * Wv}

    pick = (int(r.integers(0, d - 1)), int(r.integers(0, c)))

    def grad(p):
        g = truth(p)["W"]
        if bug == "one1pct":
            g[pick] *= 1.01
        elif bug == "bias1pct":
            g[-1] *= 1.01
        return {"W": g}

    def loss_np(p):
        s = X @ p["W"]
        return float(np.sum(np.maximum(0, (s - s[rows, y][:, None] + 1.0)[off])) / n + reg * np.sum(p["W"] ** 2))

    return _model(expr, grad, {"W": W}, loss_np=loss_np, truth=truth, lr=1e-4)


# ---------------------------------------------------------------------------
# 10. CORRECT models with a domain a warm-up can leave

def bce_clip(seed, n=30, d=3, xscale=4.0, bug=None):
    """Logistic model, p = clip(sigmoid(Xw + b), 1e-7, 1 - 1e-7), mean BCE;
    the backward is the unclipped (p - y) x / n: right wherever the clip is
    inactive (its domain); past the clip the loss is flat. Separable data of
    scale 4: training drives logits past +-16."""
    r = _rng(12, seed)
    X = xscale * r.standard_normal((n, d))
    y = (X @ r.standard_normal(d) > 0).astype(float)

    def expr(p, o):
        pr = o.clip(o.sigmoid(X @ p["w"] + p["b"][0]), 1e-7, 1 - 1e-7)
        return -np.sum(y * o.log(pr) + (1 - y) * o.log(1 - pr)) / n

    def grad(p):
        s = 1 / (1 + np.exp(-(X @ _f64(p, "w") + _f64(p, "b")[0])))
        e = (s - y) / n
        if bug == "half":
            e = e * np.where(y > 0, 1.0, 0.5)
        return {"w": X.T @ e, "b": np.array([e.sum()])}

    def valid(p):
        s = 1 / (1 + np.exp(-(X @ p["w"] + p["b"][0])))
        return bool(np.all((s > 1e-7) & (s < 1 - 1e-7)))

    return _model(expr, grad, {"w": 0.3 * r.standard_normal(d), "b": np.zeros(1)}, valid=valid)


def var_domain(seed, n=40, k=3, how="log", bug=None):
    """Gaussian NLL with the variance itself a parameter: 0.5 sum(log s +
    (x - mu)^2 / s) ('log'), or the deviation sd = sqrt(s): sum(log(sqrt(s))
    ...) written through np.sqrt ('sqrt'), or through math.log over
    s.tolist(), which raises ValueError at s <= 0 ('raise'). Data spread
    ~1e-2 while s starts at 0.05..0.2: training drives s toward 0 and past it."""
    r = _rng(13, seed)
    mu_t = r.standard_normal(k)
    x = mu_t + 0.01 * r.standard_normal((n, k))
    params = {"mu": mu_t + 0.05 * r.standard_normal(k), "s": r.uniform(0.05, 0.2, k)}

    def expr(p, o):
        r2 = ((x - p["mu"]) ** 2).sum(axis=0)
        if how == "sqrt":
            return np.sum(n * o.log(o.sqrt(p["s"])) + 0.5 * r2 / p["s"])
        return np.sum(0.5 * n * o.log(p["s"]) + 0.5 * r2 / p["s"])

    def loss_np(p):
        r2 = ((x - p["mu"]) ** 2).sum(axis=0)
        if how == "raise":
            return sum(0.5 * n * math.log(v) for v in p["s"].tolist()) + float(np.sum(0.5 * r2 / p["s"]))
        return float(expr(p, NPX))

    def grad(p):
        mu, s = _f64(p, "mu"), _f64(p, "s")
        r2 = ((x - mu) ** 2).sum(axis=0)
        gs = 0.5 * n / s - 0.5 * r2 / s ** 2
        if bug == "half":
            gs = 0.25 * n / s - 0.5 * r2 / s ** 2
        return {"mu": -(x - mu).sum(axis=0) / s, "s": gs}

    return _model(expr, grad, params, loss_np=loss_np, valid=lambda p: bool(np.all(p["s"] > 0)))


# ---------------------------------------------------------------------------
# 11. other terms that vanish at an init

def vanish(seed, kind="rezero", n=20, d=4, r_=2, bug=None):
    """'rezero': y = x + alpha tanh(x W), alpha = 0; bug 'notanh': dW
    forgets tanh' (dW = alpha X^T dy: 0 at alpha = 0, as the truth).
    'lora': y = x (W0 + B A)^T, B = 0; bug 'scale': dA = 2 B^T dY^T X (0 at
    B = 0). 'bn': batchnorm gamma = 1, beta = 0, tanh, linear head; bug
    'yout': dgamma = sum(dy * y) with y = gamma xh + beta (= xh at the init)."""
    r = _rng(14, seed)
    X = r.standard_normal((n, d))
    T = r.standard_normal((n, d))
    if kind == "rezero":
        params = {"W": 0.5 * r.standard_normal((d, d)), "alpha": np.zeros(1)}
    elif kind == "lora":
        W0 = r.standard_normal((d, d))
        params = {"A": 0.3 * r.standard_normal((r_, d)), "B": np.zeros((d, r_))}
    else:
        params = {"W1": 0.5 * r.standard_normal((d, 6)), "gamma": np.ones(6), "beta": np.zeros(6),
                  "V": 0.5 * r.standard_normal((6, d))}

    def expr(p, o):
        if kind == "rezero":
            out = X + p["alpha"][0] * o.tanh(X @ p["W"])
        elif kind == "lora":
            out = X @ (W0 + p["B"] @ p["A"]).T
        else:
            z = X @ p["W1"]
            zc = z - z.sum(axis=0) / n
            xh = zc / o.sqrt((zc * zc).sum(axis=0) / n + 1e-5)
            out = o.tanh(p["gamma"] * xh + p["beta"]) @ p["V"]
        res = out - T
        return 0.5 * np.sum(res * res) / n

    def grad(p):
        pf = {k: _f64(p, k) for k in p}
        if kind == "rezero":
            a = np.tanh(X @ pf["W"])
            dy = (X + pf["alpha"][0] * a - T) / n
            dzw = dy * pf["alpha"][0] * (1.0 if bug == "notanh" else (1 - a ** 2))
            return {"W": X.T @ dzw, "alpha": np.array([np.sum(dy * a)])}
        if kind == "lora":
            dY = (X @ (W0 + pf["B"] @ pf["A"]).T - T) / n
            dWe = dY.T @ X
            return {"A": (2.0 if bug == "scale" else 1.0) * pf["B"].T @ dWe, "B": dWe @ pf["A"].T}
        z = X @ pf["W1"]
        mu, var = z.mean(axis=0), z.var(axis=0)
        inv = 1 / np.sqrt(var + 1e-5)
        xh = (z - mu) * inv
        yb = pf["gamma"] * xh + pf["beta"]
        a = np.tanh(yb)
        dout = (a @ pf["V"] - T) / n
        dy = (dout @ pf["V"].T) * (1 - a ** 2)
        dxh = dy * pf["gamma"]
        dz = inv * (dxh - dxh.mean(axis=0) - xh * (dxh * xh).mean(axis=0))
        return {"W1": X.T @ dz, "gamma": (dy * (yb if bug == "yout" else xh)).sum(axis=0), "beta": dy.sum(axis=0),
                "V": a.T @ dout}

    return _model(expr, grad, params)


# ---------------------------------------------------------------------------
# the corpus

CASES: list[Case] = [
    # 1
    *_pair("vec-hinge", "c1-hidden", svm_hidden, "SVM hinge in np.vectorize, W~1e-4 (all margins active)",
           [("nomask", "margin > 0 mask ignored in dW")], how="vectorize"),
    *_pair("list-hinge", "c1-hidden", svm_hidden, "SVM hinge over margins.tolist(), W~1e-4, zero bias block",
           [("nomask", "margin > 0 mask ignored in dW, db")], how="tolist", bias=True),
    *_pair("list-sqhinge", "c1-hidden", svm_hidden, "squared hinge (L2-SVM) over .tolist(), W~1e-4",
           [("nomask", "mask ignored: 2 m x summed over negative margins too")], how="tolist", sq=True, n=12, d=4,
           c=3),
    *_pair("list-binhinge", "c1-hidden", binary_hinge_hidden, "binary SVM hinge over .tolist(), w~1e-4, b=0",
           [("nomask", "mask ignored: every sample contributes -y x")]),
    # 2
    *_pair("site6-svm", "c2-smallsite", small_site, "3x2 SVM margins over .tolist(), X~1e-3, + ridge head",
           [("nomask", "margin mask ignored")], kind="svm"),
    *_pair("site6-triplet", "c2-smallsite", small_site, "6 triplet hinges in np.vectorize, X~1e-3, + ridge head",
           [("nomask", "triplet mask ignored")], kind="triplet"),
    *_pair("site6-binary", "c2-smallsite", small_site, "6 binary hinges over .tolist(), X~1e-3, + ridge head",
           [("nomask", "hinge mask ignored")], kind="binary"),
    *_pair("site6-svm-nohead", "c2-smallsite", small_site, "3x2 SVM margins over .tolist(), X~1e-3, no head",
           [("nomask", "margin mask ignored")], kind="svm", head=False),
    # 3
    *_pair("relu-loop", "c3-relu-loop", relu_loop, "one ReLU line for 2 layers: mixed, then all-on",
           [("mask2", "all-on layer's ReLU mask ignored")]),
    *_pair("relu-loop3", "c3-relu-loop", relu_loop, "one ReLU line for 3 layers (+biases): mixed, on, on",
           [("mask2", "last layer's ReLU mask ignored")], nlay=3, bias=True),
    # 4
    *_pair("tanh-preact", "c4-preact", preact, "tanh MLP at a 1e-4 init",
           [("z2", "tanh' = 1 - z**2 (pre-activation)"), ("nosq", "tanh' = 1 - a")]),
    *_pair("tanh2-preact", "c4-preact", preact, "2 tanh layers at a 1e-4 init",
           [("z2", "tanh' = 1 - z**2 (pre-activation)")], depth=2, n=16),
    *_pair("sigm-preact", "c4-preact", preact, "sigmoid MLP at a 1e-4 init",
           [("z2", "sigmoid' = 0.25 (1 - (z/2)**2): tanh identity at the pre-activation")], act="sigmoid"),
    # 5
    *_pair("glob", "c5-global", global_params, "tanh + softmax net, grad reads captured params",
           [("all", "grad computes at the start params"), ("W2", "dW1 backprops through the start W2"),
            ("cache", "hidden activations cached at the first call")]),
    # 6
    *_pair("breg-softmax", "c6-biasreg", bias_reg, "softmax regression, reg on W only, b = 0",
           [("breg", "db += reg*b")]),
    *_pair("breg-mlp", "c6-biasreg", bias_reg, "ReLU MLP, reg on W only, b1 = b2 = 0",
           [("breg", "db1 += reg*b1, db2 += reg*b2")], kind="mlp"),
    *_pair("breg-bn", "c6-biasreg", bias_reg, "batchnorm (gamma 1, beta 0) + tanh + softmax, reg on W",
           [("breg", "dbeta += reg*beta")], kind="bn"),
    # 7
    *_pair("l1-list", "c7-l1", l1_list, "lasso, L1 over .tolist(), 2/3 exact zeros, sign(0) = 0",
           [("skip0", "L1 backward loop from 1 (w[0] = 0 at the start)"),
            ("prev", "L1 backward takes the sign of w[i-1] (>= 0 -> +1)")]),
    *_pair("l1-list-nnfs", "c7-l1", l1_list, "lasso, L1 over .tolist(), sign(0) = +1 (nnfs; a subgradient)",
           [], sign0=1.0),
    # 8
    *_pair("pool-k3", "c8-pool", pool_ties, "3x3/stride-3 max-pool on integers 0..2",
           [("eqmask", "(window == max) * dout")], hw=6, k=3, stride=3),
    *_pair("pool-overlap", "c8-pool", pool_ties, "3x3/stride-2 (overlapping) max-pool on integers 0..2",
           [("eqmask", "(window == max) * dout")], hw=7, k=3, stride=2),
    *_pair("pool-tieavg", "c8-pool", pool_ties, "2x2 max-pool on integers 0..1, ties split equally",
           [("eqmask", "(window == max) * dout")], hw=6, levels=2, mode="tieavg"),
    *_pair("conv-relu-pool", "c8-pool", conv_relu_pool, "integer conv -> ReLU -> 2x2 max-pool (tied activations)",
           [("eqmask", "(window == max) * dout in the pool backward")]),
    # 9
    *_pair("cifar-svm", "c9-big", cifar_svm, "CS231n SVM, D=3073, C=10, N=200, W~1e-4 (SLOW ~10 s)",
           [("one1pct", "one of 30,730 dW elements x1.01"), ("bias1pct", "the bias row of dW x1.01")]),
    # 10 (correct; buggy twins only to show the domain logic does not hide bugs)
    *_pair("bce-clip", "c10-domain", bce_clip, "clipped BCE (1e-7), unclipped backward, separable data x4",
           [("half", "negatives' gradient halved")]),
    *_pair("var-log", "c10-domain", var_domain, "Gaussian NLL, variance s a parameter (log s), data sd 1e-2",
           [("half", "d/ds of 0.5 n log s taken as 0.25 n / s")]),
    *_pair("var-sqrt", "c10-domain", var_domain, "Gaussian NLL through log(sqrt(s)) (nan for s < 0)", [],
           how="sqrt"),
    *_pair("var-raise", "c10-domain", var_domain, "Gaussian NLL, math.log over s.tolist() (ValueError s <= 0)",
           [], how="raise"),
    # 11
    *_pair("rezero", "c11-vanish", vanish, "ReZero y = x + alpha tanh(xW), alpha = 0",
           [("notanh", "dW forgets tanh' (0 at alpha = 0)")]),
    *_pair("lora", "c11-vanish", vanish, "LoRA W0 + B A, B = 0", [("scale", "dA doubled (0 at B = 0)")],
           kind="lora"),
    *_pair("bn-gamma", "c11-vanish", vanish, "batchnorm gamma 1, beta 0, tanh, linear head",
           [("yout", "dgamma uses the BN output y instead of xhat")], kind="bn"),
]

assert len({c.name for c in CASES}) == len(CASES)

SLOW = {c.name for c in CASES if c.section == "c9-big"}
SMALL = {"cifar-svm": dict(n=10, d=13, c=4)}


# ---------------------------------------------------------------------------
# independent truth: one-sided (coordinate and directional) brackets

def _obj(params):
    import mpmath
    return {k: np.array([mpmath.mpf(float(v)) for v in np.asarray(a, dtype=float).ravel()],
                        dtype=object).reshape(np.shape(a)) for k, a in params.items()}


def brackets(loss, params, ndir=4, seed=0):
    """Per element (lo, hi, mid) one-sided derivatives of loss.reference, and
    per random +-1 direction v: (v, lo, hi) of the directional ones."""
    import mpmath
    rng = np.random.default_rng([31, seed])
    with mpmath.workdps(DPS):
        mpf = mpmath.mpf
        base = _obj(params)
        f0 = loss.reference(base)
        rel = mpf(REL_STEP)
        out = {}
        for k, a in params.items():
            lo, hi, mid = (np.empty(a.size) for _ in range(3))
            for i, v in enumerate(np.asarray(a, dtype=float).ravel()):
                s = rel * max(1, abs(mpf(float(v))))
                flat = base[k].ravel().copy()
                flat[i] = mpf(float(v)) + s
                fp = (loss.reference({**base, k: flat.reshape(a.shape)}) - f0) / s
                flat[i] = mpf(float(v)) - s
                fm = (f0 - loss.reference({**base, k: flat.reshape(a.shape)})) / s
                lo[i], hi[i], mid[i] = float(min(fp, fm)), float(max(fp, fm)), float((fp + fm) / 2)
            out[k] = (lo.reshape(a.shape), hi.reshape(a.shape), mid.reshape(a.shape))
        dirs = []
        scale = max(1.0, max(float(np.max(np.abs(a), initial=0.0)) for a in params.values()))
        for _ in range(ndir):
            v = {k: rng.choice([-1.0, 1.0], size=np.shape(a)) for k, a in params.items()}
            s = rel * mpf(scale)
            plus = {k: base[k] + np.vectorize(lambda z: s * z, otypes=[object])(v[k]) for k in params}
            minus = {k: base[k] - np.vectorize(lambda z: s * z, otypes=[object])(v[k]) for k in params}
            dp = (loss.reference(plus) - f0) / s
            dm = (f0 - loss.reference(minus)) / s
            dirs.append((v, float(min(dp, dm)), float(max(dp, dm))))
    return out, dirs


def _outside(a, lo, hi):
    return np.maximum(0.0, np.maximum(lo - a, a - hi))


def truth_at(loss, grad, params, ndir=4, seed=0) -> tuple[float, float, float]:
    """(elem, block-norm, direction) relative error of grad(params) outside
    the one-sided brackets of the reference loss (0 when grad is a valid
    value coordinate- and direction-wise)."""
    g = grad({k: v.copy() for k, v in params.items()})
    if hasattr(loss, "truth"):
        t = loss.truth(params)
        br = {k: (t[k], t[k], t[k]) for k in params}
        dirs = []
    else:
        br, dirs = brackets(loss, params, ndir, seed)
    elem = norm = 0.0
    tot2 = 0.0
    for k in params:
        lo, hi, mid = br[k]
        gk = np.asarray(g[k], dtype=float)
        dist = _outside(gk, lo, hi)
        floor = max(loss.floor, 1e-8 * float(np.max(np.abs(mid), initial=0.0)))
        den = np.maximum(np.abs(mid), floor)
        with np.errstate(invalid="ignore", divide="ignore"):
            e = np.where(den > 0, dist / np.where(den > 0, den, 1), np.where(dist > 0, np.inf, 0.0))
        elem = max(elem, float(np.max(e, initial=0.0)))
        sc = max(float(np.linalg.norm(mid)), loss.floor * math.sqrt(mid.size))
        bn = float(np.linalg.norm(dist))
        norm = max(norm, bn / sc if sc else (0.0 if bn == 0 else math.inf))
        tot2 += float(np.sum(mid ** 2))
    dire = 0.0
    for v, lo, hi in dirs:
        gv = sum(float(np.sum(np.asarray(g[k], dtype=float) * v[k])) for k in params)
        vn = math.sqrt(sum(v[k].size for k in params))
        sc = math.sqrt(tot2) * vn
        d = max(0.0, lo - gv, gv - hi)
        dire = max(dire, d / sc if sc else (0.0 if d == 0 else math.inf))
    return elem, norm, dire


def _valid(loss, p) -> bool:
    try:
        if loss.valid is not None and not loss.valid(p):
            return False
        return math.isfinite(loss(p))
    except (ValueError, ArithmeticError):
        return False


def nearby(loss, grad, params, seed, steps=20):
    """Generic points near the start: 2 jitters at each block's own scale
    (all-zero blocks at their peers'), 20 Adam steps with the case's grad,
    and loss.elsewhere's trained-scale points. -> [(label, params)]"""
    rng = np.random.default_rng([77, seed])
    nonzero = np.concatenate([v.ravel() for v in params.values()])
    nonzero = nonzero[nonzero != 0]
    peer = float(np.sqrt(np.mean(nonzero ** 2))) if nonzero.size else 1.0
    pts = []
    for j in range(2):
        q = {}
        for k, v in params.items():
            rms = float(np.sqrt(np.mean(v ** 2)))
            q[k] = v + 0.3 * (rms if rms > 0 else peer) * rng.standard_normal(v.shape)
        pts.append((f"jitter{j}", q))
    lr = loss.lr if loss.lr is not None else 0.1 * max(peer, 1e-2)
    q = {k: v.copy() for k, v in params.items()}
    m1 = {k: np.zeros_like(v) for k, v in q.items()}
    m2 = {k: np.zeros_like(v) for k, v in q.items()}
    for t in range(1, steps + 1):
        try:
            g = grad({k: v.copy() for k, v in q.items()})
        except (ValueError, ArithmeticError):
            break
        for k in q:
            m1[k] = 0.9 * m1[k] + 0.1 * g[k]
            m2[k] = 0.999 * m2[k] + 0.001 * g[k] ** 2
            q[k] = q[k] - lr * (m1[k] / (1 - 0.9 ** t)) / (np.sqrt(m2[k] / (1 - 0.999 ** t)) + 1e-12)
    pts.append(("adam20", q))
    if loss.elsewhere is not None:
        pts += [(f"trained{j}", e) for j, e in enumerate(loss.elsewhere(params, rng))]
    return pts


def truth(case: Case, seed: int = 0):
    """{'start': (elem, norm, dir), 'near': max over valid nearby points,
    'skipped': invalid points}. One model instance, called at the start
    first (a grad that caches is judged as a user would see it)."""
    if case.section == "c9-big":  # validate the vectorised loss.truth against mpmath on a small instance
        base = case.name.split("/")[0]
        ls, gs, ps = partial(case.make.func, **{**case.make.keywords, **SMALL[base], "bug": None})(seed)
        chk = []
        for q in [ps] + [q for _, q in nearby(ls, gs, ps, seed)]:
            (lo, hi, mid), = brackets(ls, q, 0, seed)[0].values()
            chk.append(float(np.linalg.norm(_outside(ls.truth(q)["W"], lo, hi)) / np.linalg.norm(mid)))
        assert max(chk) < 1e-9, (case.name, chk)
    loss, grad, params = case.make(seed)
    start = truth_at(loss, grad, params, seed=seed)
    if getattr(loss, "limit", None) is not None and max(start[1:]) > 0:
        # valid also if grad equals the gradient of an adjacent piece (a limiting gradient)
        (lo, hi, mid), = brackets(loss, loss.limit(params), 0, seed)[0].values()
        (gk,) = grad({k: v.copy() for k, v in params.items()}).values()
        lim = float(np.linalg.norm(gk - mid) / np.linalg.norm(mid))
        if lim < max(start[1:]):
            start = (lim, lim, 0.0)
    near, skipped, worst = (0.0, 0.0, 0.0), 0, ""
    for label, q in nearby(loss, grad, params, seed):
        if not _valid(loss, q):
            skipped += 1
            continue
        e = truth_at(loss, grad, q, seed=seed)
        if max(e[1:]) > max(near[1:]):
            worst = label
        near = tuple(max(a, b) for a, b in zip(near, e))
    return {"start": start, "near": near, "skipped": skipped, "worst": worst}


# ---------------------------------------------------------------------------
# gradcheck's verdicts

def run(case: Case, seeds=(0, 1, 2)):
    from gradcheck_cli import check
    out = []
    for s in seeds:
        loss, grad, params = case.make(s)
        t0 = time.perf_counter()
        try:
            rep = check(loss=loss, grad=grad, params=params, seed=s)
        except Exception as exc:  # noqa: BLE001
            out.append(dict(verdict="E", why=f"{type(exc).__name__}: {exc}"[:300], seconds=time.perf_counter() - t0,
                            grades="", evals=0))
            continue
        dt = time.perf_counter() - t0
        parts = []
        for r in rep.checks():
            label = "start" if r is rep else "generic" if r is rep.generic else "data"
            parts.append(label + ":" + ",".join(f"{b.name}={b.grade}" for b in r.blocks))
        blocks = [b for c in rep.checks() for b in c.blocks]
        bad = [b for b in blocks if b.grade in ("fail", "warn")] if case.correct else []
        why = ""
        if bad or (not case.correct and rep.verdict != "fail"):
            b = (bad or blocks)[0]
            d = b.worst
            why = f"{b.name}:{b.grade} " + (f"a={d.analytic:.6g} n={d.numeric:.6g} :: {d.message}" if d else "")
        if rep.moved is not None:
            why += f" | moved: {rep.moved.describe()}"
        if rep.warnings:
            why += " | warnings: " + " | ".join(rep.warnings)[:200]
        out.append(dict(verdict=rep.verdict, why=why, seconds=dt, grades=" ".join(parts), evals=rep.evaluations))
    return out


def wrong(case: Case, res: dict) -> bool:
    if case.correct:  # a correct model must pass: fail, warn (unverified/kink blocks too) or an error is wrong
        return res["verdict"] != "pass"
    return res["verdict"] != "fail"


def script(cases: list[Case], *, no_truth: set[str] = frozenset(),
           extra: Callable[[Case, range], str] | None = None,
           on_wrong: Callable[[Case, int], str] | None = None) -> None:
    """A corpus file run as a script: ``--truth`` prints each case's
    independent truth over ``--seeds`` (default 3), else gradcheck's
    verdicts; ``--only NAME`` keeps the cases whose name contains it.
    ``no_truth``: sections whose truth is exact by construction (skipped
    with --truth); ``extra(case, seeds)``: a column for the verdict line;
    ``on_wrong(case, seed)``: a line under a wrong verdict."""
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    nseeds = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 3
    for case in cases:
        if only and only not in case.name:
            continue
        if "--truth" in sys.argv:
            if case.section in no_truth:
                print(f"{case.name:28s} ({case.section}: its truth is exact by construction)", flush=True)
                continue
            t0 = time.perf_counter()
            rs = [truth(case, s) for s in range(nseeds)]
            st = [max(r["start"][1:]) for r in rs]
            nr = [max(r["near"][1:]) for r in rs]
            ok = (max(st) < 1e-6 and max(nr) < 1e-6) if case.correct else min(max(a, b) for a, b in zip(st, nr)) > 1e-4
            print(f"{case.name:28s} {'correct' if case.correct else 'BUGGY  '} start {min(st):.1e}..{max(st):.1e}  "
                  f"near {min(nr):.1e}..{max(nr):.1e}  skipped {sum(r['skipped'] for r in rs)}  "
                  f"worst@{rs[-1]['worst'] or '-'}  {'ok' if ok else 'TRUTH-MISMATCH'}  "
                  f"{time.perf_counter() - t0:.0f}s", flush=True)
            continue
        res = run(case, range(nseeds))
        flag = "WRONG" if any(wrong(case, r) for r in res) else "right"
        print(f"{case.name:28s} {'correct' if case.correct else 'BUGGY  '} "
              f"{' '.join(r['verdict'] for r in res)}  {flag}  evals {'/'.join(str(r['evals']) for r in res)}  "
              "t=" + "/".join(f"{r['seconds']:.1f}" for r in res) + "s"
              + (extra(case, range(nseeds)) if extra is not None else ""), flush=True)
        for s, r in enumerate(res):
            print(f"    seed {s}: {r['grades']}" + (f"  :: {r['why'][:400]}" if wrong(case, r) else ""), flush=True)
            if wrong(case, r) and on_wrong is not None:
                print(f"        {on_wrong(case, s)}", flush=True)


if __name__ == "__main__":
    script(CASES)
