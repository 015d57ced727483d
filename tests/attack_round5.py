"""Fifth adversarial round (issue 23, commit 6604c65): the guard rule, the
retreat rule and the tie probe. Same interface as tests/attack_round3.py:

    CASES: list[Case]; case.make(seed) -> (loss, grad, params)

Sections:

- r5-clipbranch: PPO's clipped surrogate -mean(min(r A, clip(r, 1-e, 1+e) A)),
              r = pi(a|s) / pi_old(a|s), a softmax policy linear in W, W_old
              = the start point (r = 1 everywhere, as at every PPO update's
              first gradient step). The clip is the objective itself, not a
              guard keeping a value off its domain's edge; gradcheck counts
              every clip as a guard, so the burn-in takes back each step that
              carries a ratio out of [1-e, 1+e]. Bug 'noclip': the backward
              ignores the clipping (dL/dr = -A/n for every sample) -- exact
              while no ratio is outside, wrong wherever one is (after the
              first few PPO steps).
- r5-tiespan: round 3's max-pool backward (window == max) * dout at exact
              ties, at 128 windows (2 images x 4 channels x 8x8): each jittered
              sample breaks the ties a new way and the span grows past
              TIE_SAMPLES, so ties.py gives up ("too many ways to break the
              ties to tell") and nothing is checked along them; off the ties
              (the generic point) the mask is right.
- r5-guardtol: round 4's CORRECT guarded BCE (tests/attack_round4.py
              bce_guard, unclipped backward) with the guard at 2e-3: a guard
              like 1e-3's, but outside GUARD_TOLERANCE, so the burn-in
              requires its site to flip and confirms a failure where the
              guard is active (outside the model's domain, loss.valid).
- r5-tolbranch: real branches at a constant within 1e-3 of 0 (taken for a
              guard): a Huber loss with delta = 1e-3 written with np.where
              (|r| <= delta); an epsilon-insensitive regression loss with
              eps = 1e-4. The data are half exactly realisable, so near the
              fit (loss.elsewhere) half of the residuals are inside the
              tube. Bug 'l1': the backward uses the outer branch's gradient
              everywhere (delta sign(r); sign(r)): exact while no residual
              is inside the tube, which the burn-in never enters (each step
              that would is taken back as "newly saturates").
              Control 'huber-d1e-2': the same with delta = 1e-2 (not a
              guard).

Truth (independent of gradcheck): tests/attack_round3.py's truth() -- the loss
in 50-digit mpmath (loss.reference), one-sided coordinate and directional
brackets, at the start point and at nearby valid points (jitters, 20 Adam
steps with the case's own grad, loss.elsewhere).

    python tests/attack_round5.py --truth [--seeds 3] [--only NAME]
    python tests/attack_round5.py [--seeds 3] [--only NAME]   # gradcheck verdicts
"""

from __future__ import annotations

import sys

import numpy as np

try:
    from tests.evidence_models import Case, _f64, _pair
    from tests.attack_round3 import NPX, _model, script
    from tests.attack_round4 import cost, generic_state
    from tests.attack_round3 import pool_ties
    from tests.attack_round4 import bce_guard
except ImportError:  # run as a script from tests/
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from tests.evidence_models import Case, _f64, _pair
    from tests.attack_round3 import NPX, _model, script
    from tests.attack_round4 import cost, generic_state
    from tests.attack_round3 import pool_ties
    from tests.attack_round4 import bce_guard


def _rng(tag: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([9900 + tag, seed])


def _is_np(o) -> bool:
    return o is NPX


def _minimum(o, a, b):
    if _is_np(o):
        return np.minimum(a, b)
    return np.frompyfunc(min, 2, 1)(a, b)


def _lse_rows(z, o):
    """log-sum-exp per row (numpy: max-shifted)."""
    if _is_np(o):
        m = z.max(axis=1, keepdims=True)
        return (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return o.log(o.exp(z).sum(axis=1))


# ---------------------------------------------------------------------------
# r5-clipbranch: PPO's clipped surrogate

def ppo(seed, n=40, d=4, K=3, eps=0.2, bug=None):
    r = _rng(1, seed)
    X = r.standard_normal((n, d))
    a = r.integers(0, K, n)
    A = r.standard_normal(n)
    W0 = 0.5 * r.standard_normal((d, K))
    rows = np.arange(n)
    lp0 = (X @ W0)[rows, a] - _lse_rows(X @ W0, NPX)

    def ratio(p, o):
        z = X @ p["W"]
        lp = z[rows, a] - _lse_rows(z, o)
        return o.exp(lp - lp0)

    def expr(p, o):
        rt = ratio(p, o)
        surr = _minimum(o, rt * A, o.clip(rt, 1 - eps, 1 + eps) * A)
        return -np.sum(surr) / n

    def loss_np(p):
        rt = ratio(p, NPX)
        surr = np.minimum(rt * A, np.clip(rt, 1 - eps, 1 + eps) * A)  # the usual one-line PPO objective
        return -np.mean(surr)

    def grad(p):
        W = _f64(p, "W")
        z = X @ W
        P = np.exp(z - z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        rt = ratio({"W": W}, NPX)
        keep = ~(((rt > 1 + eps) & (A > 0)) | ((rt < 1 - eps) & (A < 0)))
        if bug == "noclip":
            keep = np.ones(n, bool)
        dl = -(keep * A * rt) / n
        G = -P
        G[rows, a] += 1.0
        return {"W": X.T @ (dl[:, None] * G)}

    def elsewhere(params, rng):
        return [{"W": params["W"] + 0.5 * rng.standard_normal(params["W"].shape)} for _ in range(2)]

    loss, grad_, params = _model(expr, grad, {"W": W0}, loss_np=loss_np, lr=0.05, elsewhere=elsewhere)
    loss.clipped = lambda p: int(np.sum((ratio(p, NPX) > 1 + eps) | (ratio(p, NPX) < 1 - eps)))
    return loss, grad_, params


# ---------------------------------------------------------------------------
# r5-tolbranch: Huber with delta = 1e-3, epsilon-insensitive with eps = 1e-4

def robust(seed, n=31, d=3, kind="huber", delta=1e-3, bug=None):
    r = _rng(2, seed)
    X = r.standard_normal((n, d))
    wstar = r.standard_normal(d)
    y = X @ wstar
    y[: n // 2] += 2.0 * r.standard_normal(n // 2)  # half outliers, half exactly on the line
    params = {"w": 0.5 * r.standard_normal(d), "b": np.zeros(1)}

    def res(p):
        return X @ p["w"] + p["b"][0] - y

    def expr(p, o):
        rr = res(p)
        if _is_np(o):
            ab = np.abs(rr)
            if kind == "huber":
                return np.mean(np.where(ab <= delta, 0.5 * rr * rr, delta * (ab - 0.5 * delta)))
            return np.mean(np.where(ab > delta, ab - delta, 0.0))
        f = (lambda v: v * v / 2 if abs(v) <= delta else delta * (abs(v) - delta / 2)) if kind == "huber" else \
            (lambda v: abs(v) - delta if abs(v) > delta else 0 * v)
        return np.sum(np.frompyfunc(f, 1, 1)(rr)) / n

    def grad(p):
        rr = res({k: _f64(p, k) for k in p})
        inside = np.abs(rr) <= delta
        if kind == "huber":
            e = np.where(inside, rr, delta * np.sign(rr))
            if bug == "l1":
                e = delta * np.sign(rr)
        else:
            e = np.where(inside, 0.0, np.sign(rr))
            if bug == "l1":
                e = np.sign(rr)
        e = e / n
        return {"w": X.T @ e, "b": np.array([e.sum()])}

    def elsewhere(params, rng):
        # near the robust fit: the exact half's residuals ~1e-4 * delta-scale, inside the tube
        return [{"w": wstar + 0.1 * delta * rng.standard_normal(d), "b": 0.1 * delta * rng.standard_normal(1)}
                for _ in range(2)]

    loss, grad_, params_ = _model(expr, grad, params, elsewhere=elsewhere, floor=1e-12)
    loss.inside = lambda p: int(np.sum(np.abs(res(p)) <= delta))
    return loss, grad_, params_


CASES: list[Case] = [
    *_pair("ppo-clip", "r5-clipbranch", ppo, "PPO clipped surrogate, r = 1 at the start (W_old = W)",
           [("noclip", "backward ignores the clip (dL/dr = -A/n for every sample)")]),
    *_pair("huber-d1e-3", "r5-tolbranch", robust, "Huber, delta = 1e-3 (np.where(|r| <= delta))",
           [("l1", "backward delta*sign(r) everywhere (the quadratic zone forgotten)")], kind="huber"),
    *_pair("epsins-1e-4", "r5-tolbranch", robust, "epsilon-insensitive, eps = 1e-4 (np.where(|r| > eps))",
           [("l1", "backward sign(r) everywhere (the dead zone forgotten)")], kind="epsins", delta=1e-4),
    # round 3's max-pool at exact ties (integer images, 2x2 windows, stride 2), at a size where the tie
    # span grows by one every jittered sample: 128 windows, 2 images x 4 channels x 8x8
    *_pair("pool-ties-128", "r5-tiespan", pool_ties, "max-pool, argmax backward, 128 windows of integer pixels",
           [("eqmask", "(window == max) * dout: every tied maximum gets all of dout")], n=2, c=4, hw=8),
    # round 4's correct BCE (unclipped backward, exact wherever the guard is inactive) with its guard at
    # 2e-3: just past GUARD_TOLERANCE, so the guard is a site the burn-in must flip
    *_pair("bce-maxmin-2e-3", "r5-guardtol", bce_guard, "BCE, p kept in [2e-3, 1-2e-3] by np.minimum(np.maximum(.))",
           [("half", "negatives' gradient halved")], how="maxmin", eps=2e-3),
    *_pair("bce-where-2e-3", "r5-guardtol", bce_guard, "BCE, p kept in [2e-3, 1-2e-3] by two np.where",
           [("half", "negatives' gradient halved")], how="where", eps=2e-3),
    *_pair("huber-d1e-2", "r5-tolbranch", robust, "CONTROL: Huber, delta = 1e-2 (not a guard)",
           [("l1", "backward delta*sign(r) everywhere")], kind="huber", delta=1e-2),
]

assert len({c.name for c in CASES}) == len(CASES)


def _cost_column(case, seeds) -> str:
    if "--cost" not in sys.argv or not case.correct:
        return ""
    return "  cost auto/off " + " ".join(f"{a}/{b}={a / b:.2f}x" for a, b in cost(case, seeds))


def _state_line(case, seed) -> str:
    return f"generic point: {generic_state(case, seed)}" if "--state" in sys.argv else ""


if __name__ == "__main__":
    script(CASES, extra=_cost_column, on_wrong=_state_line)
