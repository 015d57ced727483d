"""Attack corpus: WRONG gradients aimed at the rewritten verdict code's
assumptions (budgets with the analytic side's rounding, noise measured
moving every block, the Taylor test's 'consistent'/'subgradient' calls),
each next to its correct twin. Same interface as tests/evidence_models.py:
``make(seed) -> (loss, grad, params)``; ``loss.reference`` evaluates the
loss on 50-digit mpmath arrays where the model has one.

    python tests/attack_false_passes.py            # truth table, seed 0
    python tests/attack_false_passes.py --seeds 5
"""

from __future__ import annotations

import math
import sys

import numpy as np

try:
    from tests.evidence_models import NP, Case, _f64, _model, _pair, _rng, errors
except ImportError:  # run as a script from tests/
    sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.dirname(__file__)))
    from tests.evidence_models import NP, Case, _f64, _model, _pair, _rng, errors


def _softmax_nll(s, y, o):
    s = s - s.max(axis=1, keepdims=True)
    return -(s[np.arange(len(y)), y] - o.log(o.exp(s).sum(axis=1)))


# ---------------------------------------------------------------------------
# A. float32 backward, features of very different scales

def f32_scaled(seed, n=80, d=6, big=1e4, lam=1e-3, bug=None):
    """Logistic regression, float64 loss, float32 backward; feature 0 is in
    units 'big' times the others (unstandardised data). The float32 floor
    of the analytic rounding is EPS32 * rms(block): set by the big element,
    far above the small elements' own float32 rounding."""
    r = _rng(101, seed)
    X = r.standard_normal((n, d))
    X[:, 0] *= big
    wt = r.standard_normal(d)
    wt[0] /= big
    y = (X @ wt + 0.5 * r.standard_normal(n) > 0).astype(float)
    w = wt + 0.3 * r.standard_normal(d)
    w[0] = wt[0] * 1.3

    def expr(p, o):
        m = X @ p["w"]
        return np.mean(o.softplus(m) - y * m) + lam * np.sum(p["w"][1:] ** 2)

    def grad(p):
        f = np.float32
        X32, w32 = X.astype(f), p["w"].astype(f)
        s = f(1) / (f(1) + np.exp(-(X32 @ w32)))
        e = (s - y.astype(f)) / f(n)
        g = X32.T @ e
        reg = f(2 * lam) * w32
        reg[0] = 0
        if bug == "reg":
            reg = reg / f(2)
        elif bug == "regbig":
            reg = f(2 * lam) * w32  # regularises the unpenalised w[0] too
        return {"w": (g + reg).astype(np.float64)}

    return _model(expr, grad, {"w": w})


# ---------------------------------------------------------------------------
# B. a quiet block beside a very noisy one

def noisy_side(seed, n=6, mag=3e3, m=60, d=6, c=4, lam=1e-4, bug=None):
    """sum(x^2 - 2 x mu + mu^2) with x ~ mag (rounding ~eps mag^2 per term)
    beside a softmax classifier W (d x c) with a small ridge."""
    r = _rng(102, seed)
    x = mag * r.uniform(1, 3, n)
    mu = x + r.standard_normal(n)
    X = r.standard_normal((m, d))
    y = r.integers(0, c, m)
    W = 0.5 * r.standard_normal((d, c))

    def expr(p, o):
        x, mu, W = p["x"], p["mu"], p["W"]
        return (np.sum(x**2 - 2 * x * mu + mu**2) + np.mean(_softmax_nll(X @ W, y, o))
                + 0.5 * lam * np.sum(W**2))

    def grad(p):
        x, mu, W = _f64(p, "x"), _f64(p, "mu"), _f64(p, "W")
        s = X @ W
        e = np.exp(s - s.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        P[np.arange(m), y] -= 1
        gW = X.T @ P / (m - 1 if bug == "N-1" else m)
        if bug != "reg":
            gW = gW + lam * W
        if bug == "col":
            gW[:, 0] *= 1.003
        if bug == "one":  # one element of dW 3% off (coordinates sample 10 of d*c)
            gW[1, 2] *= 1.03
        gx = 2 * (x - mu)
        if bug == "xbug":
            gx = gx * 1.001
        if bug == "xoff":  # the quadratic's gradient with an offset of 1e-3 of its largest element
            gx = gx + 1e-3 * np.max(np.abs(gx))
        return {"x": gx, "mu": 2 * (mu - x), "W": gW}

    return _model(expr, grad, {"x": x, "mu": mu, "W": W})


# ---------------------------------------------------------------------------
# C. ReLU units near (not at) the kink, backward gives 1/2 there

def relu_half(seed, n=20, d=5, h=8, c=3, near=1e-7, lam=1e-4, band=1e-6, bug=None):
    """Two-layer ReLU softmax net; half the hidden units have one example's
    pre-activation `near` from 0 (either side). The bug: a 'subgradient'
    0.5 for |z| < band, which is wrong at z != 0."""
    r = _rng(103, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    W1 = 0.5 * r.standard_normal((d, h))
    b1 = 0.1 * r.standard_normal(h)
    for j in range(h // 2):
        b1[j] = -(X[j] @ W1[:, j]) + near * (1 if j % 2 else -1)
    params = {"W1": W1, "b1": b1, "W2": 0.5 * r.standard_normal((h, c)), "b2": np.zeros(c)}

    def expr(p, o):
        z = X @ p["W1"] + p["b1"]
        a = np.maximum(z, 0)
        return np.mean(_softmax_nll(a @ p["W2"] + p["b2"], y, o)) + 0.5 * lam * (
            np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))

    def grad(p):
        W1, b1, W2, b2 = (_f64(p, k) for k in ("W1", "b1", "W2", "b2"))
        z = X @ W1 + b1
        a = np.maximum(z, 0)
        s = a @ W2 + b2
        e = np.exp(s - s.max(axis=1, keepdims=True))
        P = e / e.sum(axis=1, keepdims=True)
        P[np.arange(n), y] -= 1
        P /= n
        mask = (z > 0).astype(float)
        if bug == "half":
            mask[np.abs(z) < band] = 0.5
        dz = (P @ W2.T) * mask
        return {"W1": X.T @ dz + lam * W1, "b1": dz.sum(axis=0), "W2": a.T @ P + lam * W2, "b2": P.sum(axis=0)}

    return _model(expr, grad, params)


# ---------------------------------------------------------------------------
# D. max pooling at ties (integer-valued input): the x == max mask

def maxpool_ties(seed, n=2, c=2, hw=8, levels=4, bug=None):
    """A 2x2/stride-2 max-pool layer checked on integer-valued input (a
    low-contrast uint8-like image: many windows with tied maxima), loss =
    sum(dout * pool(x)). The bug (a classic of CS231n's
    max_pool_backward_naive): the gradient goes to every element equal to
    the window's max, so a tied window passes dout to each of its maxima --
    not a subgradient of max (its subgradients sum to dout). The correct
    twin sends it to the first maximum (argmax)."""
    r = _rng(104, seed)
    x = r.integers(0, levels, (n, c, hw, hw)).astype(float)
    dout = r.standard_normal((n, c, hw // 2, hw // 2))

    def windows(x):
        return x.reshape(n, c, hw // 2, 2, hw // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, hw // 2, hw // 2, 4)

    def expr(p, o):
        return np.sum(dout * windows(p["x"]).max(axis=-1))

    def grad(p):
        win = windows(_f64(p, "x"))
        if bug == "eqmask":
            mask = (win == win.max(axis=-1, keepdims=True)).astype(float)
        else:
            mask = np.zeros_like(win)
            np.put_along_axis(mask, win.argmax(axis=-1)[..., None], 1.0, axis=-1)
        g = mask * dout[..., None]
        g = g.reshape(n, c, hw // 2, hw // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, hw, hw)
        return {"x": g}

    return _model(expr, grad, {"x": x})


# ---------------------------------------------------------------------------
# E. a sparse lasso point: L1 kinks at the zero coordinates

def lasso_sparse(seed, m=40, d=60, active=4, lam=0.5, bug=None):
    """0.5/m |A w - b|^2 + lam |w|_1 at a sparse w (most coordinates exactly
    0, as after a proximal step). Analytic: data gradient + lam sign(w) (a
    valid subgradient). The bug is in the data gradient (N-1 normalisation),
    wrong at the active coordinates; along a direction the zero
    coordinates' kinks make a bracket wide enough to swallow it."""
    r = _rng(105, seed)
    A = r.standard_normal((m, d))
    wt = np.zeros(d)
    wt[:active] = r.uniform(1, 2, active) * r.choice([-1, 1], active)
    b = A @ wt + 0.1 * r.standard_normal(m)
    w = np.zeros(d)
    w[:active] = wt[:active] + 0.2 * r.standard_normal(active)

    def expr(p, o):
        res = A @ p["w"] - b
        return 0.5 * np.sum(res * res) / m + lam * np.sum(np.abs(p["w"]))

    def grad(p):
        w = _f64(p, "w")
        g = A.T @ (A @ w - b) / (m - 1 if bug == "N-1" else m)
        if bug == "x2":
            g[:active] *= 1.02
        return {"w": g + lam * np.sign(w)}

    return _model(expr, grad, {"w": w})


# ---------------------------------------------------------------------------
# F. CS231n / CS224n-style layers at realistic sizes

def batchnorm(seed, n=32, d=20, eps=1e-5, bug=None):
    """Affine -> batchnorm (train mode) -> sum(dout * out), the CS231n
    layer, checked on its inputs x, gamma, beta. Bugs: the backward uses
    sqrt(var) without eps (rel. ~eps/var); dgamma uses x - mu unnormalised
    for one feature... see notes."""
    r = _rng(106, seed)
    x = r.standard_normal((n, d)) * r.uniform(0.5, 3, d) + r.uniform(-2, 2, d)
    gamma = r.uniform(0.5, 1.5, d)
    beta = r.standard_normal(d) * 0.1
    dout = r.standard_normal((n, d))

    def expr(p, o):
        x, g, b = p["x"], p["gamma"], p["beta"]
        mu = x.sum(axis=0) / n
        xc = x - mu
        var = (xc * xc).sum(axis=0) / n
        xh = xc / o.sqrt(var + eps)
        return np.sum(dout * (g * xh + b))

    def grad(p):
        x, g = _f64(p, "x"), _f64(p, "gamma")
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc * xc).mean(axis=0)
        std = np.sqrt(var + (0.0 if bug == "noeps" else eps))
        xh = xc / std
        dgamma = np.sum(dout * xh, axis=0)
        dbeta = dout.sum(axis=0)
        dxh = dout * g
        if bug == "nomean":  # forgot the d mu / dx path through var (the 'simplified' formula missing a term)
            dx = (dxh - dxh.mean(axis=0)) / std
        else:
            dx = (dxh - dxh.mean(axis=0) - xh * (dxh * xh).mean(axis=0)) / std
        return {"x": dx, "gamma": dgamma, "beta": dbeta}

    return _model(expr, grad, {"x": x, "gamma": gamma, "beta": beta})


def word2vec_neg(seed, vocab=50, dim=10, k=10, bug=None):
    """CS224n negSamplingLossAndGradient: center vector v_c, outside vectors
    U (vocab x dim), k negatives drawn with replacement (duplicates among
    them, and possibly the outside word). Bug: gradOutsideVecs[neg] -= ...
    with fancy-index assignment, so a negative drawn twice counts once."""
    r = _rng(107, seed)
    U = 0.3 * r.standard_normal((vocab, dim))
    vc = 0.3 * r.standard_normal(dim)
    o_idx = int(r.integers(vocab))
    freq = np.arange(1, vocab + 1, dtype=float) ** -0.75
    neg = r.choice(vocab, size=k, p=freq / freq.sum())
    while len(set(neg.tolist())) == k:  # make sure there is a duplicate (common at k=10 with skewed noise)
        neg = r.choice(vocab, size=k, p=freq / freq.sum())

    def expr(p, o):
        U, vc = p["U"], p["vc"]
        pos = U[o_idx] @ vc
        negs = U[neg] @ vc
        return -o.log(1 / (1 + o.exp(-pos))) - np.sum(o.log(1 / (1 + o.exp(negs))))

    def grad(p):
        U, vc = _f64(p, "U"), _f64(p, "vc")
        sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
        pos = U[o_idx] @ vc
        negs = U[neg] @ vc
        gvc = -(1 - sig(pos)) * U[o_idx] + (sig(negs)[:, None] * U[neg]).sum(axis=0)
        gU = np.zeros_like(U)
        gU[o_idx] += -(1 - sig(pos)) * vc
        if bug == "assign":
            gU[neg] += sig(negs)[:, None] * vc  # buffered: a duplicate index is added once
        else:
            np.add.at(gU, neg, sig(negs)[:, None] * vc)
        return {"U": gU, "vc": gvc}

    return _model(expr, grad, {"U": U, "vc": vc})


def rnn_bptt(seed, T=30, d=4, h=12, scale=0.35, trunc=8, bug=None):
    """Vanilla tanh RNN, loss on the last hidden state only. Bug: BPTT
    truncated to the last `trunc` steps (a common 'optimisation' left in a
    gradient that claims to be exact): the missing terms decay like
    |Wh|^trunc."""
    r = _rng(108, seed)
    X = r.standard_normal((T, d))
    Wx = 0.5 * r.standard_normal((d, h))
    Wh = scale * r.standard_normal((h, h)) / math.sqrt(h)
    b = 0.1 * r.standard_normal(h)
    target = r.standard_normal(h)

    def run(Wx, Wh, b, o):
        hs = [np.zeros(h)]
        for t in range(T):
            hs.append(o.tanh(X[t] @ Wx + hs[-1] @ Wh + b))
        return hs

    def expr(p, o):
        hs = run(p["Wx"], p["Wh"], p["b"], o)
        e = hs[-1] - target
        return 0.5 * np.sum(e * e)

    def grad(p):
        Wx, Wh, b = (_f64(p, k) for k in ("Wx", "Wh", "b"))
        hs = run(Wx, Wh, b, NP)
        dh = hs[-1] - target
        gWx, gWh, gb = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
        first = T - trunc if bug == "trunc" else 0
        for t in range(T - 1, first - 1, -1):
            dz = dh * (1 - hs[t + 1] ** 2)
            gWx += np.outer(X[t], dz)
            gWh += np.outer(hs[t], dz)
            gb += dz
            dh = Wh @ dz
        return {"Wx": gWx, "Wh": gWh, "b": gb}

    return _model(expr, grad, {"Wx": Wx, "Wh": Wh, "b": b})


def conv_stride(seed, n=2, c=3, hw=9, f=3, stride=2, pad=0, nf=4, bug=None):
    """Naive conv forward (stride 2, 9x9 input, 3x3 filter: (9-3)/2 = 3 ->
    4x4 output), sum(dout * out). Bug: the backward's dw loop skips the last
    output column (range(out - 1)) -- a classic off-by-one."""
    r = _rng(109, seed)
    x = r.standard_normal((n, c, hw, hw))
    w = 0.3 * r.standard_normal((nf, c, f, f))
    bb = 0.1 * r.standard_normal(nf)
    out = (hw + 2 * pad - f) // stride + 1
    dout = r.standard_normal((n, nf, out, out))

    def conv(x, w, bb):
        y = np.zeros((n, nf, out, out), dtype=object if x.dtype == object else float)
        for i in range(out):
            for j in range(out):
                patch = x[:, :, i * stride:i * stride + f, j * stride:j * stride + f]
                y[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + bb
        return y

    def expr(p, o):
        return np.sum(dout * conv(p["x"], p["w"], p["b"]))

    def grad(p):
        x, w = _f64(p, "x"), _f64(p, "w")
        dx, dw = np.zeros_like(x), np.zeros_like(w)
        for i in range(out):
            for j in range(out - 1 if bug == "lastcol" else out):
                patch = x[:, :, i * stride:i * stride + f, j * stride:j * stride + f]
                dw += np.tensordot(dout[:, :, i, j], patch, axes=([0], [0]))
            for j in range(out):
                dx[:, :, i * stride:i * stride + f, j * stride:j * stride + f] += np.tensordot(
                    dout[:, :, i, j], w, axes=([1], [0]))
        return {"x": dx, "w": dw, "b": dout.sum(axis=(0, 2, 3))}

    return _model(expr, grad, {"x": x, "w": w, "b": bb})


CASES: list[Case] = [
    *_pair("f32scale", "analytic", f32_scaled, "float32 backward, feature 0 x1e4 (unstandardised)",
           [("reg", "ridge gradient lam*w instead of 2*lam*w (lam=3e-5)")], lam=3e-5),
    *_pair("f32scale-b", "analytic", f32_scaled, "float32 backward, feature 0 x1e5 (dollars beside ratios)",
           [("reg", "ridge gradient lam*w instead of 2*lam*w (lam=3e-4)")], big=1e5, lam=3e-4),
    *_pair("noisyside", "noise", noisy_side, "softmax W beside an expanded square of x ~3e3..9e3",
           [("reg", "W's ridge lam=1e-4 dropped"), ("N-1", "divided by N-1 (N=60)"),
            ("col", "column 0 of dW scaled by 1.003"), ("xbug", "the noisy block's own gradient x1.001"),
            ("xoff", "the noisy block's gradient offset by 1e-3 of its largest element")]),
    *_pair("noisyside-big", "noise", noisy_side, "1000-element softmax W beside an expanded square of x ~3e4",
           [("one", "one element of dW 3% off (coordinates sample 10 of 1000)")], mag=3e4, d=40, c=25, m=200),
    *_pair("maxpool-ties", "kink", maxpool_ties, "2x2 max-pool on integer input 0..3 (tied windows)",
           [("eqmask", "gradient to every element equal to the max (tied maxima each get dout)")]),
    *_pair("lasso", "kink", lasso_sparse, "lasso at a sparse point (56 of 60 coordinates exactly 0)",
           [("N-1", "data gradient divided by m-1 (m=40): 2.5%"), ("x2", "active coordinates' gradient x1.02")]),
    *_pair("batchnorm", "cs231n", batchnorm, "batchnorm train-mode backward, N=32, D=20",
           [("noeps", "backward uses sqrt(var), forward sqrt(var + 1e-5)"),
            ("nomean", "dx drops the xh * mean(dxh * xh) term")]),
    *_pair("w2v-neg", "cs224n", word2vec_neg, "word2vec negative sampling, K=10 negatives with a duplicate",
           [("assign", "gU[neg] += ... (buffered fancy index: a duplicated negative counted once)")]),
    *_pair("rnn", "cs231n", rnn_bptt, "tanh RNN, T=30, loss on the last state",
           [("trunc", "BPTT truncated to the last 8 steps")]),
    *_pair("conv", "cs231n", conv_stride, "naive conv, stride 2, 9x9 input, 3x3 filters",
           [("lastcol", "dw skips the last output column")]),
    *_pair("relu-half", "kink", relu_half, "ReLU net, 4 of 8 units 1e-7 from the kink",
           [("half", "backward uses 0.5 for |z| < 1e-6 (units are 1e-7 from 0, not at it)")]),
]
assert len({c.name for c in CASES}) == len(CASES)


def _selftest(seeds: int) -> None:
    for case in CASES:
        if sum(v.size for v in case.make(0)[2].values()) > 300:
            print(f"{case.name:32s} skipped: over 300 parameters (50-digit differences too slow)")
            continue
        errs = [errors(case, s) for s in range(seeds)]
        print(f"{case.name:32s} {'correct' if case.correct else 'BUGGY  '} elem {max(e for e, _ in errs):.1e} "
              f"norm {min(n for _, n in errs):.1e}..{max(n for _, n in errs):.1e}  {case.note}", flush=True)


if __name__ == "__main__":
    _selftest(int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 1)
