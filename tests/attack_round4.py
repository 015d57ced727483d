"""Fourth adversarial round (issue 23, commit bc9eafa): the generic point's
own assumptions. Same interface as tests/attack_round3.py:

    CASES: list[Case]; case.make(seed) -> (loss, grad, params)

Sections:

- g1-guard:  CORRECT logistic models whose probability is kept off 0 and 1
             by np.maximum/np.minimum or np.where instead of np.clip (the
             round-3 bce-clip model, same unclipped backward). The burn-in
             does not know these as guards: their sites are one-sided at
             the start, so it *requires* them to flip, drives the model into
             the guard, and fails the backward there.
- g2-stop:   the c1-hidden hinge bug (mask ignored; hinge over .tolist(),
             W ~ 1e-4: exact where every margin is active) beside a second,
             unrelated head whose parameter has a domain (a Bernoulli rate q
             in log q, log(1 - q); a variance s in log s). That head leaves
             its domain first; "left the domain" ends the WHOLE burn-in at the
             last clean point, where every margin is still active.
- g3-cost:   CORRECT smooth models; --truth checks them, the verdict mode
             prints evaluations with warmup auto vs off.

Truth (independent of gradcheck): tests/attack_round3.py's truth(): the
loss in 50-digit mpmath (loss.reference), one-sided coordinate and
directional brackets, at the start point and at nearby valid points
(jitters, 20 Adam steps with the case's grad, loss.elsewhere). loss.valid
marks the model's own domain (the guard inactive; q in (0, 1); s > 0).

    python tests/attack_round4.py --truth [--seeds 3] [--only NAME]
    python tests/attack_round4.py [--seeds 3] [--only NAME]   # gradcheck verdicts
"""

from __future__ import annotations

import sys

import numpy as np

try:
    from tests.evidence_models import Case, _f64, _pair
    from tests.attack_round3 import NPX, _model, script
except ImportError:  # run as a script from tests/
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from tests.evidence_models import Case, _f64, _pair
    from tests.attack_round3 import NPX, _model, script


def _rng(tag: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([9800 + tag, seed])


def _sig(z):
    return 1 / (1 + np.exp(-z))


# ---------------------------------------------------------------------------
# g1. a guard written as np.maximum/np.minimum or np.where

def bce_guard(seed, n=30, d=3, xscale=4.0, how="maxmin", eps=1e-7, bug=None):
    """Logistic model, p = sigmoid(Xw + b) kept in [eps, 1 - eps] by
    np.minimum(np.maximum(p, eps), 1 - eps) ('maxmin') or two np.where
    ('where'); mean BCE. The backward is the unclipped (p - y) x / n: exact
    wherever the guard is inactive (the model's domain, loss.valid). Separable
    data of scale 4 (round 3's bce-clip). Bug 'half': negatives' gradient
    halved."""
    r = _rng(1, seed)
    X = xscale * r.standard_normal((n, d))
    y = (X @ r.standard_normal(d) > 0).astype(float)

    def guard(s, o):
        if o is NPX:
            if how == "clip":
                return np.clip(s, eps, 1 - eps)
            if how == "maxmin":
                return np.minimum(np.maximum(s, eps), 1 - eps)
            return np.where(s < eps, eps, np.where(s > 1 - eps, 1 - eps, s))
        return o.clip(s, eps, 1 - eps)  # the same function, in mpmath

    def expr(p, o):
        pr = guard(o.sigmoid(X @ p["w"] + p["b"][0]), o)
        return -np.sum(y * o.log(pr) + (1 - y) * o.log(1 - pr)) / n

    def grad(p):
        s = _sig(X @ _f64(p, "w") + _f64(p, "b")[0])
        e = (s - y) / n
        if bug == "half":
            e = e * np.where(y > 0, 1.0, 0.5)
        return {"w": X.T @ e, "b": np.array([e.sum()])}

    def valid(p):
        s = _sig(X @ p["w"] + p["b"][0])
        return bool(np.all((s > eps) & (s < 1 - eps)))

    return _model(expr, grad, {"w": 0.3 * r.standard_normal(d), "b": np.zeros(1)}, valid=valid)


# ---------------------------------------------------------------------------
# g2. a second head leaves its domain first and ends the burn-in

def hinge_plus_head(seed, n=16, d=5, c=4, std=1e-4, reg=1e-3, head="rate", bug=None):
    """CS231n SVM (X W, margins s_j - s_y + 1, hinge over margins.tolist() in
    Python floats), W ~ 1e-4: every margin active. Beside it an unrelated
    head: 'rate' -- a Bernoulli rate q (3 of them, observed rate 1 %, q
    starting at 0.05) in -mean(K log q + (M - K) log(1 - q)); 'var' -- a
    Gaussian NLL with the variance s itself a parameter (data sd 0.01, s
    starting at 0.03). Bug 'nomask': dW sums X over every j != y (the
    margin > 0 test forgotten; exact while every margin is active)."""
    r = _rng(2, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    rows = np.arange(n)
    off = np.arange(c)[None, :] != y[:, None]
    M = 200
    K = np.full(3, 0.01 * M)
    xs = 0.01 * r.standard_normal((50, 3)) + r.standard_normal(3)
    params = {"W": std * r.standard_normal((d, c))}
    Z = 8.0 * r.standard_normal((30, 3))
    yz = (Z @ r.standard_normal(3) > 0).astype(float)
    if head == "rate":
        params["q"] = np.full(3, 0.05)
    elif head == "clip":
        params["v"] = 0.3 * r.standard_normal(3)
    else:
        params["mu"] = xs.mean(axis=0) + 0.005 * r.standard_normal(3)
        params["s"] = np.full(3, 0.03)

    def margins(W):
        s = X @ W
        return (s - s[rows, y][:, None] + 1.0)[off]

    def head_expr(p, o):
        if head == "rate":
            return -np.sum(K * o.log(p["q"]) + (M - K) * o.log(1 - p["q"])) / M
        if head == "clip":
            pr = o.clip(o.sigmoid(Z @ p["v"]), 1e-7, 1 - 1e-7)
            return -np.sum(yz * o.log(pr) + (1 - yz) * o.log(1 - pr)) / len(yz)
        r2 = ((xs - p["mu"]) ** 2).sum(axis=0)
        return np.sum(0.5 * 50 * o.log(p["s"]) + 0.5 * r2 / p["s"])

    def expr(p, o):
        return np.sum(o.maximum0(margins(p["W"]))) / n + 0.5 * reg * np.sum(p["W"] * p["W"]) + head_expr(p, o)

    def loss_np(p):
        tot = 0.0
        for v in margins(p["W"]).tolist():
            if v > 0:
                tot += v
        return tot / n + 0.5 * reg * float(np.sum(p["W"] ** 2)) + float(head_expr(p, NPX))

    def grad(p):
        W = _f64(p, "W")
        s = X @ W
        m = s - s[rows, y][:, None] + 1.0
        act = off.copy() if bug == "nomask" else (off & (m > 0))
        coef = act.astype(float)
        coef[rows, y] = -coef.sum(axis=1)
        out = {"W": X.T @ coef / n + reg * W}
        if head == "rate":
            q = _f64(p, "q")
            out["q"] = -(K / q - (M - K) / (1 - q)) / M
        elif head == "clip":
            out["v"] = Z.T @ (_sig(Z @ _f64(p, "v")) - yz) / len(yz)
        else:
            mu, sv = _f64(p, "mu"), _f64(p, "s")
            r2 = ((xs - mu) ** 2).sum(axis=0)
            out["mu"] = -(xs - mu).sum(axis=0) / sv
            out["s"] = 0.5 * 50 / sv - 0.5 * r2 / sv ** 2
        return out

    def valid(p):
        if head == "clip":
            pz = _sig(Z @ p["v"])
            return bool(np.all((pz > 1e-7) & (pz < 1 - 1e-7)))
        return bool(np.all((p["q"] > 0) & (p["q"] < 1))) if head == "rate" else bool(np.all(p["s"] > 0))

    def elsewhere(params, rng):
        out = []
        for _ in range(2):
            e = {"W": 0.5 * rng.standard_normal((d, c))}
            if head == "rate":
                e["q"] = rng.uniform(0.01, 0.2, 3)
            elif head == "clip":
                e["v"] = 0.3 * rng.standard_normal(3)
            else:
                e["mu"] = params["mu"] + 0.01 * rng.standard_normal(3)
                e["s"] = rng.uniform(1e-4, 0.03, 3)
            out.append(e)
        return out

    loss, grad_, params_ = _model(expr, grad, params, loss_np=loss_np, valid=valid, lr=0.05, elsewhere=elsewhere)
    loss.margins = lambda p: margins(np.asarray(p["W"], dtype=float))
    return loss, grad_, params_


# ---------------------------------------------------------------------------
# g3. cost on correct smooth models

def smooth(seed, kind="quad", d=3, bug=None):
    """'quad': 0.5 (w - t)' A (w - t), A SPD (3 elements); 'poisson': Poisson
    regression exp(Xw + b) - y (Xw + b), X of scale 0.3; 'near-linear': c.w +
    1e-6 |w|^2 (its curvature shows nowhere near: the burn-in runs all 40
    steps, growing every rate 2^20-fold). Bug 'half': the gradient's last
    element halved."""
    r = _rng(3, seed)
    if kind == "quad":
        A = r.standard_normal((d, d))
        A = A @ A.T + np.eye(d)
        t = r.standard_normal(d)
        params = {"w": r.standard_normal(d)}

        def expr(p, o):
            e = p["w"] - t
            return 0.5 * (e @ A @ e)

        def g(p):
            return {"w": A @ (_f64(p, "w") - t)}
    elif kind == "poisson":
        X = 0.3 * r.standard_normal((40, d))
        yv = r.poisson(2.0, 40)
        params = {"w": 0.1 * r.standard_normal(d), "b": np.zeros(1)}

        def expr(p, o):
            z = X @ p["w"] + p["b"][0]
            return np.sum(o.exp(z) - yv * z)

        def g(p):
            z = X @ _f64(p, "w") + _f64(p, "b")[0]
            e = np.exp(z) - yv
            return {"w": X.T @ e, "b": np.array([e.sum()])}
    else:
        cvec = r.standard_normal(d)
        params = {"w": r.standard_normal(d)}

        def expr(p, o):
            return np.sum(cvec * p["w"]) + 1e-6 * np.sum(p["w"] * p["w"])

        def g(p):
            return {"w": cvec + 2e-6 * _f64(p, "w")}

    def grad(p):
        out = g(p)
        if bug == "half":
            out["w"] = out["w"].copy()
            out["w"][-1] *= 0.5
        return out

    return _model(expr, grad, params)


CASES: list[Case] = [
    *_pair("bce-maxmin", "g1-guard", bce_guard, "BCE, p kept in [1e-7, 1-1e-7] by np.minimum(np.maximum(.))",
           [("half", "negatives' gradient halved")], how="maxmin"),
    *_pair("bce-where", "g1-guard", bce_guard, "BCE, p kept in [1e-7, 1-1e-7] by two np.where",
           [("half", "negatives' gradient halved")], how="where"),
    *_pair("bce-maxmin4", "g1-guard", bce_guard, "BCE, p kept in [1e-4, 1-1e-4] by np.minimum(np.maximum(.))",
           [("half", "negatives' gradient halved")], how="maxmin", eps=1e-4),
    *_pair("bce-where4", "g1-guard", bce_guard, "BCE, p kept in [1e-4, 1-1e-4] by two np.where",
           [("half", "negatives' gradient halved")], how="where", eps=1e-4),
    # control: the same guard as np.clip, which the burn-in knows (expected right)
    *_pair("bce-clip4", "g1-guard", bce_guard, "CONTROL: BCE, p kept in [1e-4, 1-1e-4] by np.clip",
           [("half", "negatives' gradient halved")], how="clip", eps=1e-4),
    *_pair("hinge+rate", "g2-stop", hinge_plus_head, "hidden hinge (tolist), W~1e-4, + Bernoulli-rate head q",
           [("nomask", "dW ignores the margin > 0 mask")], head="rate"),
    *_pair("hinge+var", "g2-stop", hinge_plus_head, "hidden hinge (tolist), W~1e-4, + Gaussian variance head s",
           [("nomask", "dW ignores the margin > 0 mask")], head="var"),
    *_pair("hinge+clip", "g2-stop", hinge_plus_head, "hidden hinge (tolist), W~1e-4, + clipped-BCE head (np.clip)",
           [("nomask", "dW ignores the margin > 0 mask")], head="clip"),
    *_pair("quad", "g3-cost", smooth, "SPD quadratic, 3 elements", [("half", "last element halved")], kind="quad"),
    *_pair("poisson", "g3-cost", smooth, "Poisson regression, 3 + 1 elements", [("half", "last w halved")],
           kind="poisson"),
    *_pair("near-linear", "g3-cost", smooth, "c.w + 1e-6 |w|^2", [("half", "last element halved")],
           kind="near-linear"),
]

assert len({c.name for c in CASES}) == len(CASES)


def cost(case: Case, seeds=(0, 1, 2)):
    """Evaluations at defaults and with warmup='off'."""
    from gradcheck_cli import check
    out = []
    for s in seeds:
        loss, grad, params = case.make(s)
        on = check(loss=loss, grad=grad, params=params, seed=s)
        off = check(loss=loss, grad=grad, params=params, seed=s, warmup="off")
        out.append((on.evaluations, off.evaluations))
    return out


def generic_state(case: Case, seed: int) -> str:
    """Where the default check's generic point lies, by the case's own measure."""
    import os
    import tempfile
    from gradcheck_cli import check
    loss, grad, params = case.make(seed)
    path = os.path.join(tempfile.mkdtemp(), "gp.npz")
    rep = check(loss=loss, grad=grad, params=params, seed=seed, save_params=path)
    gp = {k: v for k, v in np.load(path).items()}
    bits = [f"valid={loss.valid(gp) if loss.valid else True}"]
    if hasattr(loss, "margins"):
        bits.append(f"inactive margins {int(np.sum(loss.margins(gp) <= 0))}/{loss.margins(gp).size}")
    for attr in ("clipped", "inside"):  # round 5's measures
        if hasattr(loss, attr):
            bits.append(f"{attr} at start {getattr(loss, attr)(params)}, at generic point {getattr(loss, attr)(gp)}")
    if rep.moved is not None:
        bits.append(rep.moved.describe()[:200])
    return "; ".join(bits)


def _cost_column(case, seeds) -> str:
    if case.section != "g3-cost" or not case.correct:
        return ""
    return "  cost auto/off " + " ".join(f"{a}/{b}={a / b:.2f}x" for a, b in cost(case, seeds))


def _state_line(case, seed) -> str:
    return f"generic point: {generic_state(case, seed)}" if case.section in ("g1-guard", "g2-stop") else ""


if __name__ == "__main__":
    script(CASES, extra=_cost_column, on_wrong=_state_line)
