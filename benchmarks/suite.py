"""The detection suite: correct models and models with one known bug each.

Every model is (name, params, loss, grad, wrong_blocks): wrong_blocks is
empty for a correct model and names the blocks a bug makes wrong. Bugs are
the ones people write: a missing bias gradient, a missing 1/N, a transposed
gradient, a forgotten ReLU mask, derivatives from the wrong quantity,
gradients that drop repeated indices, a single wrong element in a large
block, truncated backpropagation through time, and so on. Sizes are those
of a check people actually run: hundreds to a few thousand parameters, a
few examples (fewer examples, fewer kinks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np


@dataclass
class Model:
    name: str
    params: dict
    loss: Callable
    grad: Callable
    wrong: set = field(default_factory=set)  # blocks a bug makes wrong; empty: correct
    # Constants the functions read when called, as a model file's module
    # holds them: where gradcheck --reg auto looks for a regularization strength.
    constants: Any = None

    @property
    def correct(self) -> bool:
        return not self.wrong

    @property
    def size(self) -> int:
        return sum(v.size for v in self.params.values())


# -- activations: (forward, derivative from z) -------------------------------------

def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


ACTIVATIONS = {
    "relu": (lambda z: np.maximum(0, z), lambda z: (z > 0).astype(float)),
    "leaky": (lambda z: np.where(z > 0, z, 0.1 * z), lambda z: np.where(z > 0, 1.0, 0.1)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z))),
    "hardtanh": (lambda z: np.clip(z, -1, 1), lambda z: ((z >= -1) & (z <= 1)).astype(float)),
    "softsign": (lambda z: z / (1 + np.abs(z)), lambda z: 1 / (1 + np.abs(z)) ** 2),
}

# Bugs in an activation's derivative (the forward pass stays right).
WRONG_DERIVATIVES = {
    "no_relu_mask": lambda z: np.ones_like(z),
    "leaky_no_leak": lambda z: (z > 0).astype(float),
    "tanh_not_squared": lambda z: 1 - np.tanh(z),
    "sigmoid_preact": lambda z: z * (1 - z),
    "softsign_misprint": lambda z: np.sign(z) / (1 + z) ** 2,
}


def _data(seed, n, d, c):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, size=n), rng.uniform(-0.5, 0.5, size=(n, c))


def mlp(name, *, widths, act="relu", head="softmax", n=8, reg=0.05, scale=1.0, weight_scale=0.5,
        x_scale=1.0, dropout=None, bug=None, seed=0, zero_init=False) -> Model:
    """An MLP: affine - act - ... - affine - (softmax | svm | mse), with L2,
    scaled by `scale`, optionally with dropout and one injected bug."""
    X, y, T = _data(seed, n, widths[0], widths[-1])
    X = X * x_scale
    rng = np.random.default_rng(seed + 100)
    params = {}
    for i, (a, b) in enumerate(zip(widths, widths[1:]), 1):
        params[f"W{i}"] = np.zeros((a, b)) if zero_init else weight_scale * rng.standard_normal((a, b)) / np.sqrt(a)
        params[f"b{i}"] = np.zeros(b) if zero_init else 0.1 * rng.standard_normal(b)
    depth = len(widths) - 1
    constants = SimpleNamespace(reg=reg)
    f, df = ACTIVATIONS[act]
    wrong_df = WRONG_DERIVATIVES.get(bug, df)

    def forward(p):
        hs, zs, masks = [X], [], []
        for i in range(1, depth):
            z = hs[-1] @ p[f"W{i}"] + p[f"b{i}"]
            h = f(z)
            mask = (np.random.rand(*h.shape) < dropout) / dropout if dropout else np.ones_like(h)
            zs.append(z)
            masks.append(mask)
            hs.append(h * mask)
        scores = hs[-1] @ p[f"W{depth}"] + p[f"b{depth}"]
        return hs, zs, masks, scores

    def head_loss(scores):
        if head == "softmax":
            shifted = scores - scores.max(axis=1, keepdims=True)
            probs = np.exp(shifted)
            probs /= probs.sum(axis=1, keepdims=True)
            dscores = probs.copy()
            dscores[np.arange(n), y] -= 1
            return -np.mean(np.log(probs[np.arange(n), y])), dscores / n
        if head == "svm":
            correct = scores[np.arange(n), y][:, None]
            margins = np.maximum(0, scores - correct + 1)
            margins[np.arange(n), y] = 0
            if bug == "svm_no_mask":
                active = np.ones_like(margins)
            elif bug == "svm_margin0":
                active = (scores - correct > 0).astype(float)
            else:
                active = (margins > 0).astype(float)
            active[np.arange(n), y] = 0
            active[np.arange(n), y] = -active.sum(axis=1)
            return margins.sum() / n, active / n
        diff = scores - T
        return 0.5 * np.sum(diff**2) / n, diff / n

    def loss(p):
        *_, scores = forward(p)
        data, _ = head_loss(scores)
        return scale * (data + constants.reg * sum(np.sum(p[f"W{i}"] ** 2) for i in range(1, depth + 1)))

    def grad(p):
        hs, zs, masks, scores = forward(p)
        _, dscores = head_loss(scores)
        g = {}
        up = dscores
        for i in range(depth, 0, -1):
            d_w = up if not (bug == "no_1_over_n" and i == depth) else up * n
            g[f"W{i}"] = hs[i - 1].T @ d_w + (1 if bug == "reg_factor" else 2) * constants.reg * p[f"W{i}"]
            g[f"b{i}"] = up.sum(axis=0)
            if i > 1:
                dh = up @ p[f"W{i}"].T
                if bug != "dropout_backward":
                    dh = dh * masks[i - 2]
                up = dh * wrong_df(zs[i - 2])
        if bug == "no_bias":
            g[f"b{depth}"] = np.zeros_like(g[f"b{depth}"])
        if bug == "first_bias_sign":
            g["b1"] = -g["b1"]
        if bug == "transposed":
            g[f"W{depth}"] = g[f"W{depth}"].T
        if bug == "sparse_element":
            g["W1"][3, 7] *= 3.0
        return {k: scale * v for k, v in g.items()}

    wrong = set()
    if bug is not None:
        wrong = {
            "no_bias": {f"b{depth}"}, "no_1_over_n": {f"W{depth}"}, "transposed": {f"W{depth}"},
            "reg_factor": {f"W{i}" for i in range(1, depth + 1)}, "first_bias_sign": {"b1"},
            "sparse_element": {"W1"}, "svm_no_mask": {f"W{depth}", f"b{depth}"},
            "svm_margin0": {f"W{depth}", f"b{depth}"},
        }.get(bug, {f"W{i}" for i in range(1, depth)} | {f"b{i}" for i in range(1, depth)})
    return Model(name, params, loss, grad, wrong, constants)


def embedding(name, *, bug=None, vocab=60, dim=12, classes=5, n=8, length=6, seed=3) -> Model:
    """Mean of word embeddings -> linear softmax. The classic bug: E_grad[idx] += g
    drops repeated indices (np.add.at does not). Sentences repeat words here."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, 20, size=(n, length))  # small range: repeats within sentences
    y = rng.integers(0, classes, size=n)
    params = {"E": 0.5 * rng.standard_normal((vocab, dim)), "W": 0.5 * rng.standard_normal((dim, classes))}

    def forward(p):
        s = p["E"][tokens].mean(axis=1)
        scores = s @ p["W"]
        scores = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        return s, probs / probs.sum(axis=1, keepdims=True)

    def loss(p):
        _, probs = forward(p)
        return -np.mean(np.log(probs[np.arange(n), y]))

    def grad(p):
        s, probs = forward(p)
        d = probs.copy()
        d[np.arange(n), y] -= 1
        d /= n
        ds = d @ p["W"].T
        dE = np.zeros_like(p["E"])
        per_token = np.repeat(ds[:, None, :] / length, length, axis=1)
        if bug == "repeats":
            dE[tokens.ravel()] += per_token.reshape(-1, dim)  # drops repeated indices
        else:
            np.add.at(dE, tokens.ravel(), per_token.reshape(-1, dim))
        return {"E": dE, "W": s.T @ d}

    return Model(name, params, loss, grad, {"E"} if bug else set())


def normalised(name, *, kind="batch", bug=None, n=8, d=10, h=12, k=3, seed=4) -> Model:
    """affine -> batch/layer norm (gamma, beta) -> tanh -> affine -> MSE."""
    rng = np.random.default_rng(seed)
    X, T = rng.standard_normal((n, d)), rng.uniform(-0.5, 0.5, size=(n, k))
    params = {"W1": 0.5 * rng.standard_normal((d, h)), "gamma": 1 + 0.1 * rng.standard_normal(h),
              "beta": 0.1 * rng.standard_normal(h), "W2": 0.5 * rng.standard_normal((h, k))}
    axis = 0 if kind == "batch" else 1
    eps = 1e-5

    def forward(p):
        z = X @ p["W1"]
        mu = z.mean(axis=axis, keepdims=True)
        var = z.var(axis=axis, keepdims=True)
        zhat = (z - mu) / np.sqrt(var + eps)
        a = np.tanh(p["gamma"] * zhat + p["beta"])
        return z, mu, var, zhat, a, a @ p["W2"]

    def loss(p):
        *_, out = forward(p)
        return 0.5 * np.sum((out - T) ** 2) / n

    def grad(p):
        z, mu, var, zhat, a, out = forward(p)
        dout = (out - T) / n
        da = dout @ p["W2"].T
        dpre = da * (1 - a**2)
        dzhat = dpre * p["gamma"]
        m = z.shape[axis]
        inv = 1 / np.sqrt(var + eps)
        if bug == "mean_term":  # treats mu and var as constants
            dz = dzhat * inv
        else:
            dz = inv / m * (m * dzhat - dzhat.sum(axis=axis, keepdims=True)
                            - zhat * (dzhat * zhat).sum(axis=axis, keepdims=True))
        dgamma = (dpre * zhat).sum(axis=0)
        if bug == "no_gamma":
            dgamma = np.zeros_like(dgamma)
        return {"W1": X.T @ dz, "gamma": dgamma, "beta": dpre.sum(axis=0), "W2": a.T @ dout}

    wrong = {"mean_term": {"W1"}, "no_gamma": {"gamma"}}.get(bug, set())
    return Model(name, params, loss, grad, wrong)


def rnn(name, *, bug=None, n=4, steps=5, d=6, h=10, k=3, seed=5) -> Model:
    """A vanilla tanh RNN over `steps` inputs; MSE on a projection of the last state."""
    rng = np.random.default_rng(seed)
    X, T = rng.standard_normal((steps, n, d)), rng.uniform(-0.5, 0.5, size=(n, k))
    params = {"Wx": 0.4 * rng.standard_normal((d, h)), "Wh": 0.4 * rng.standard_normal((h, h)),
              "b": 0.1 * rng.standard_normal(h), "Wy": 0.4 * rng.standard_normal((h, k))}

    def forward(p):
        hs = [np.zeros((n, h))]
        for t in range(steps):
            hs.append(np.tanh(X[t] @ p["Wx"] + hs[-1] @ p["Wh"] + p["b"]))
        return hs, hs[-1] @ p["Wy"]

    def loss(p):
        _, out = forward(p)
        return 0.5 * np.sum((out - T) ** 2) / n

    def grad(p):
        hs, out = forward(p)
        dout = (out - T) / n
        g = {"Wx": np.zeros_like(p["Wx"]), "Wh": np.zeros_like(p["Wh"]), "b": np.zeros_like(p["b"]),
             "Wy": hs[-1].T @ dout}
        dh = dout @ p["Wy"].T
        for t in range(steps, 0, -1):
            dpre = dh * (1 - hs[t] ** 2)
            g["Wx"] += X[t - 1].T @ dpre
            g["Wh"] += hs[t - 1].T @ dpre
            g["b"] += dpre.sum(axis=0)
            if bug == "truncated":
                break  # backpropagates one step only
            dh = dpre @ p["Wh"].T
        return g

    return Model(name, params, loss, grad, {"Wx", "Wh", "b"} if bug else set())


def maxout(name, *, bug=None, n=8, d=10, h=8, c=4, seed=6) -> Model:
    """A maxout layer (max of two affine pieces) -> linear softmax."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((n, d)), rng.integers(0, c, size=n)
    params = {"Wa": 0.5 * rng.standard_normal((d, h)), "Wb": 0.5 * rng.standard_normal((d, h)),
              "V": 0.5 * rng.standard_normal((h, c))}

    def forward(p):
        za, zb = X @ p["Wa"], X @ p["Wb"]
        hidden = np.maximum(za, zb)
        scores = hidden @ p["V"]
        scores = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        return za, zb, hidden, probs / probs.sum(axis=1, keepdims=True)

    def loss(p):
        *_, probs = forward(p)
        return -np.mean(np.log(probs[np.arange(n), y]))

    def grad(p):
        za, zb, hidden, probs = forward(p)
        d = probs.copy()
        d[np.arange(n), y] -= 1
        d /= n
        dh = d @ p["V"].T
        a_wins = za >= zb
        if bug == "loser":
            a_wins = ~a_wins  # routes the gradient to the losing piece
        return {"Wa": X.T @ (dh * a_wins), "Wb": X.T @ (dh * ~a_wins), "V": hidden.T @ d}

    return Model(name, params, loss, grad, {"Wa", "Wb"} if bug else set())


def regression(name, *, penalty="l1", bug=None, n=10, d=40, seed=7) -> Model:
    """Linear regression with an L1 penalty, or with the Huber loss."""
    rng = np.random.default_rng(seed)
    X, t = rng.standard_normal((n, d)), rng.standard_normal(n)
    params = {"w": rng.standard_normal(d), "b": np.array([0.3])}
    constants = SimpleNamespace(lam=0.1 if penalty == "l1" else 0.0)
    delta = 1.0

    def loss(p):
        r = X @ p["w"] + p["b"][0] - t
        if penalty == "l1":
            return 0.5 * np.mean(r**2) + constants.lam * np.sum(np.abs(p["w"]))
        small = np.abs(r) <= delta
        return np.mean(np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta)))

    def grad(p):
        r = X @ p["w"] + p["b"][0] - t
        if penalty == "l1":
            sign = -np.sign(p["w"]) if bug == "sign" else np.sign(p["w"])
            return {"w": X.T @ r / n + constants.lam * sign, "b": np.array([r.mean()])}
        small = np.abs(r) <= delta
        dr = np.where(small, r, r if bug == "linear_region" else delta * np.sign(r)) / n
        return {"w": X.T @ dr, "b": np.array([dr.sum()])}

    wrong = {"sign": {"w"}, "linear_region": {"w", "b"}}.get(bug, set())
    return Model(name, params, loss, grad, wrong, constants)


def parked_svm() -> Model:
    """The sample model parked exactly on a hinge."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "sample_models" / "svm_at_kink.py"
    spec = importlib.util.spec_from_file_location("suite_svm_at_kink", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return Model("svm parked on a hinge", module.params, module.loss, module.grad)


# -- issue 11's cases: variants of the models above, and three of their own ----------

def variant(model: Model, name: str, *, loss=None, grad=None, wrong=None) -> Model:
    """``model`` under another name, with its loss or gradient replaced."""
    return Model(name, model.params, loss or model.loss, grad or model.grad,
                 set(model.wrong if wrong is None else wrong), model.constants)


def scaled_gradient(model: Model, factor: float) -> Model:
    """Every block's gradient times ``factor``: a subtle scale error."""
    return variant(model, f"{model.name}, gradient x {factor}",
                   grad=lambda p: {k: factor * v for k, v in model.grad(p).items()}, wrong=set(model.params))


def offset(model: Model, constant: float) -> Model:
    """The loss plus a large constant (a running total, a prior's log-normaliser)."""
    return variant(model, f"{model.name}, loss + {constant:g}", loss=lambda p: constant + model.loss(p))


def float32_loss(model: Model) -> Model:
    """The loss computed from float32 parameters and rounded to float32."""
    return variant(model, f"{model.name}, loss in float32",
                   loss=lambda p: float(np.float32(model.loss({k: v.astype(np.float32) for k, v in p.items()}))))


def big_quadratic(name: str, *, n: int = 20_000, wrong: int = 0, seed: int = 9) -> Model:
    """0.5 * sum(c w^2) over one big block, ``wrong`` gradient entries zeroed."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(0.5, 2.0, n)
    bad = rng.choice(n, wrong, replace=False)

    def grad(p):
        g = c * p["w"]
        g[bad] = 0.0
        return {"w": g}

    return Model(name, {"w": rng.standard_normal(n)}, lambda p: 0.5 * float(np.sum(c * p["w"] ** 2)), grad,
                 {"w"} if wrong else set())


def python_relu(name: str, *, bug=None, n: int = 40, seed: int = 8) -> Model:
    """sum c * max(0, w) + w^2/2 in a Python loop (kinks tracking cannot see),
    weights within 0.2h..1.9h of their kinks for both default steps."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 1.9, n) * rng.choice([1e-5, 1e-3], n) * rng.choice([-1, 1], n)
    w[0] = 0.5
    c = rng.uniform(0.5, 2, n)

    def loss(p):
        total = 0.0
        for wi, ci in zip(p["w"].tolist(), c.tolist()):
            total += ci * max(0.0, wi) + 0.5 * wi * wi
        return total

    def grad(p):
        g = c * (p["w"] > 0) + p["w"]
        if bug == "far_element":
            g[0] *= 1.5
        return {"w": g}

    return Model(name, {"w": w}, loss, grad, {"w"} if bug else set())


WIDE = [30, 40, 10]


def correct_models() -> list[Model]:
    return [
        mlp("linear softmax", widths=[30, 10]),
        mlp("linear svm", widths=[30, 10], head="svm"),
        mlp("2-layer relu softmax", widths=WIDE),
        mlp("2-layer relu svm", widths=WIDE, head="svm"),
        mlp("6-layer tanh (deep)", widths=[20, 16, 16, 16, 16, 16, 5], act="tanh", weight_scale=1.0),
        mlp("6-layer relu (deep)", widths=[20, 16, 16, 16, 16, 16, 5], weight_scale=1.2),
        mlp("softmax, loss x 1e-6 (tiny)", widths=WIDE, scale=1e-6),
        mlp("softmax, loss x 1e6 (huge)", widths=WIDE, scale=1e6),
        mlp("weights ~100, inputs ~0.01", widths=[30, 10], weight_scale=100 * np.sqrt(30), x_scale=0.01),
        mlp("relu + dropout", widths=WIDE, dropout=0.5),
        mlp("sigmoid mlp, mse", widths=WIDE, act="sigmoid", head="mse"),
        mlp("leaky relu", widths=WIDE, act="leaky"),
        mlp("hard tanh", widths=WIDE, act="hardtanh", weight_scale=2.0),
        mlp("softsign", widths=WIDE, act="softsign"),
        mlp("softmax at W = 0 (tied scores)", widths=[30, 10], zero_init=True),
        maxout("maxout"),
        embedding("embeddings with repeated words"),
        normalised("batch norm", kind="batch"),
        normalised("layer norm", kind="layer"),
        rnn("vanilla rnn, 5 steps"),
        regression("l1-regularised regression", penalty="l1"),
        regression("huber regression", penalty="huber"),
        parked_svm(),
        # issue 11: offsets, float32 arithmetic, big blocks, untracked kinks, zero inits
        offset(mlp("linear softmax", widths=[30, 10]), 1e6),
        float32_loss(mlp("2-layer tanh", widths=WIDE, act="tanh")),
        big_quadratic("quadratic, 20000 elements"),
        python_relu("relu in a Python loop, near its kinks"),
        mlp("2-layer relu at W = 0", widths=WIDE, zero_init=True),
    ]


def buggy_models() -> list[Model]:
    return [
        mlp("bias gradient missing", widths=WIDE, bug="no_bias"),
        mlp("dW missing 1/N", widths=WIDE, bug="no_1_over_n"),
        mlp("transposed dW", widths=[30, 10, 10], bug="transposed"),
        mlp("relu mask forgotten", widths=WIDE, bug="no_relu_mask"),
        mlp("sigmoid derivative from z", widths=WIDE, act="sigmoid", head="mse", bug="sigmoid_preact"),
        mlp("softsign misprinted derivative", widths=WIDE, act="softsign", bug="softsign_misprint"),
        mlp("tanh derivative not squared", widths=WIDE, act="tanh", bug="tanh_not_squared"),
        mlp("leaky relu without the leak", widths=WIDE, act="leaky", bug="leaky_no_leak"),
        mlp("L2 gradient missing the 2", widths=WIDE, bug="reg_factor"),
        mlp("deep net, first bias sign", widths=[20, 16, 16, 16, 16, 16, 5], weight_scale=1.2, bug="first_bias_sign"),
        mlp("dropout mask not in backward", widths=WIDE, dropout=0.5, bug="dropout_backward"),
        mlp("svm gradient ignores the hinge", widths=[30, 10], head="svm", weight_scale=3.0, bug="svm_no_mask"),
        mlp("svm gradient with margin 0", widths=[30, 10], head="svm", weight_scale=3.0, bug="svm_margin0"),
        mlp("one wrong element in W1 (1200)", widths=WIDE, bug="sparse_element"),
        mlp("tiny loss, bias missing", widths=WIDE, scale=1e-6, bug="no_bias"),
        mlp("huge loss, dW missing 1/N", widths=WIDE, scale=1e6, bug="no_1_over_n"),
        embedding("embedding grad drops repeats", bug="repeats"),
        normalised("batch norm without mean terms", kind="batch", bug="mean_term"),
        normalised("layer norm, gamma grad missing", kind="layer", bug="no_gamma"),
        rnn("rnn truncated to one step", bug="truncated"),
        maxout("maxout routes to the loser", bug="loser"),
        regression("l1 penalty sign flipped", penalty="l1", bug="sign"),
        regression("huber linear region wrong", penalty="huber", bug="linear_region"),
        # issue 11: subtle scale errors, few wrong elements in a big block, a bug
        # beside untracked kinks, at a zero init, under an offset and in float32
        scaled_gradient(mlp("2-layer tanh", widths=WIDE, act="tanh"), 1.001),
        scaled_gradient(mlp("linear softmax", widths=[30, 10]), 1.0001),
        big_quadratic("1 wrong element of 20000", wrong=1),
        big_quadratic("10 wrong elements of 20000", wrong=10),
        python_relu("relu in a Python loop, wrong element away from kinks", bug="far_element"),
        mlp("2-layer relu at W = 0, bias missing", widths=WIDE, zero_init=True, bug="no_bias"),
        offset(mlp("linear softmax, dW missing 1/N", widths=[30, 10], bug="no_1_over_n"), 1e6),
        float32_loss(mlp("2-layer tanh, L2 missing the 2", widths=WIDE, act="tanh", bug="reg_factor")),
    ]


# -- issue 23: wrong gradients that are right at the start point ---------------------
#
# Taken from tests/attack_round3.py, whose truth is established without
# gradcheck (50-digit differences at the start point and at nearby points):
# a correct model and its buggy twin per class. Max-pool backwards wrong only
# at exact ties are left out: no point off the ties can show them; they are
# checked along the tied elements at the start point instead
# (docs/before-you-train.md).
HIDDEN_AT_START = [
    ("vec-hinge", "nomask"),       # SVM hinge inside np.vectorize, every margin active
    ("list-sqhinge", "nomask"),    # squared hinge over .tolist()
    ("site6-svm", "nomask"),       # six margins in 1e-3 units beside a ridge head
    ("relu-loop", "mask2"),        # one ReLU line for two layers, one all on
    ("tanh-preact", "preact"),     # tanh derivative from the pre-activation at 1e-4
    ("glob", "globals"),           # grad reads the params it captured, not its argument
    ("breg-mlp", "breg"),          # reg * b added to zero biases' gradients
    ("l1-list", "off1"),           # an L1 term's gradient off by one index, at exact zeros
    ("bce-clip", None),            # a clipped BCE that a long warm-up pushes past its clip
    ("var-log", None),             # a variance parameter a warm-up can drive negative
]


def _twin_blocks(loss, correct, buggy, params) -> set:
    """The blocks where the buggy twin's gradient differs from the correct
    one's at the corpus's points near the start (where the bug shows)."""
    from tests.attack_round3 import _valid, nearby

    wrong = set()
    for _, point in nearby(loss, correct, params, 0):
        if _valid(loss, point):
            a, b = correct(dict(point)), buggy(dict(point))
            wrong |= {k for k in params if not np.allclose(a[k], b[k], rtol=1e-9, atol=0)}
    return wrong


def hidden_at_start() -> tuple[list[Model], list[Model]]:
    """The issue-23 classes as (correct models, buggy models)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.attack_round3 import CASES

    cases = {case.name: case for case in CASES}
    correct, buggy = [], []
    for family, bug in HIDDEN_AT_START:
        loss, grad, params = cases[family].make(0)
        correct.append(Model(f"{family} (correct)", params, loss, grad))
        if bug is None:
            continue
        names = [n for n in cases if n.startswith(family + "/")]
        name = f"{family}/{bug}" if f"{family}/{bug}" in cases else names[0]
        bloss, bgrad, bparams = cases[name].make(0)
        buggy.append(Model(name, bparams, bloss, bgrad, wrong=_twin_blocks(loss, grad, bgrad, params)))
    return correct, buggy
