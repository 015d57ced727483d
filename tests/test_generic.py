"""Checking at a characteristic point and splitting off the regularization,
by default (issue 13): models written here the way people write them, not
placed by hand on or near anything."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import check
from gradcheck_cli.cli import main


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


# A multiclass SVM on data with a learnable rule (the label is the argmax of
# a fixed linear map of x), at a small random initialisation, as the notes'
# linear classifier starts: W = SCALE * randn. MASK = False is the bug of
# the issue: the gradient treats every margin as active.
SVM = """
import numpy as np

N, D, C = {n}, 10, 4
SCALE, SEED, MASK, NAIVE = {scale}, {seed}, {mask}, {naive}

_rng = np.random.default_rng(100 + SEED)
X = _rng.standard_normal((N, D))
y = np.argmax(X @ _rng.standard_normal((D, C)), axis=1)


def init_params(seed=0):
    return {{"W": SCALE * np.random.default_rng(SEED).standard_normal((D, C))}}


def loss(p):
    W = p["W"]
    if NAIVE:  # svm_loss_naive, as the course writes it
        total = 0.0
        for i in range(N):
            scores = X[i].dot(W)
            for j in range(C):
                if j == y[i]:
                    continue
                margin = scores[j] - scores[y[i]] + 1
                if margin > 0:
                    total += margin
        return total / N
    scores = X @ W
    margins = np.maximum(0, scores - scores[np.arange(N), y][:, None] + 1)
    margins[np.arange(N), y] = 0
    return margins.sum() / N


def grad(p):
    scores = X @ p["W"]
    margins = scores - scores[np.arange(N), y][:, None] + 1
    active = (margins > 0).astype(float) if MASK else np.ones_like(margins)
    active[np.arange(N), y] = 0
    active[np.arange(N), y] = -active.sum(axis=1)
    return {{"W": X.T @ active / N}}
"""


@pytest.mark.parametrize("scale", [1e-4, 1e-3, 1e-2])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_svm_gradient_that_ignores_the_mask_fails_at_tiny_inits_without_options(model_file, scale, seed):
    path = model_file(SVM.format(n=16, scale=scale, seed=seed, mask=False, naive=False))
    at_start = check(path, warmup="off")
    assert at_start.verdict == "pass"  # every margin is active: the bug is exactly right here
    report = check(path)
    assert report.start_point.degenerate and report.start_point.uniform
    assert report.verdict == "fail" and report.generic.blocks[0].grade == "fail"
    assert report.moved.steps > 0 and any(share > 0 for _, share in report.moved.flipped)


def test_a_large_constant_in_the_loss_does_not_throw_the_warm_up_off(model_file):
    """The first step's rate is set from the loss; a running total of 1e6
    in it must not make that step a million times too big."""
    source = SVM.format(n=16, scale=1e-3, seed=0, mask=False, naive=False).replace(
        "return margins.sum() / N", "return 1e6 + margins.sum() / N")
    report = check(model_file(source))
    assert report.verdict == "fail" and report.generic is not None
    assert report.moved.stopped == "outcome" and report.moved.steps <= 16
    assert all(share > 0 for _, share in report.moved.flipped)


@pytest.mark.parametrize("scale", [1e-4, 1e-2])
def test_the_correct_svm_at_the_same_inits_passes_at_both_points(model_file, scale):
    path = model_file(SVM.format(n=16, scale=scale, seed=0, mask=True, naive=False))
    report = check(path)
    assert report.verdict == "pass" and report.generic is not None
    assert report.generic.verdict == "pass"


def test_the_naive_loop_svm_is_recognised_and_its_bug_caught(model_file):
    """`if margin > 0:` on scalars, one event per example and class: one site."""
    buggy = check(model_file(SVM.format(n=12, scale=1e-3, seed=0, mask=False, naive=True), name="naive.py"))
    assert buggy.start_point.uniform[0].size == 12 * 3
    assert buggy.verdict == "fail"
    right = check(model_file(SVM.format(n=12, scale=1e-3, seed=0, mask=True, naive=True), name="naive_ok.py"))
    assert right.verdict == "pass" and right.generic is not None


RELU_NET = """
import numpy as np

N, D, H, C = 10, 6, 8, 3
_rng = np.random.default_rng(5)
X = _rng.standard_normal((N, D))
y = _rng.integers(0, C, size=N)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {{"W1": np.zeros((D, H)), "b1": np.zeros(H), "W2": 0.1 * rng.standard_normal((H, C)), "b2": np.zeros(C)}}


def _forward(p):
    z = X @ p["W1"] + p["b1"]
    h = np.maximum(0, z)
    s = h @ p["W2"] + p["b2"]
    s = s - s.max(axis=1, keepdims=True)
    probs = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    return z, h, probs


def loss(p):
    _, _, probs = _forward(p)
    return -np.mean(np.log(probs[np.arange(N), y]))


def grad(p):
    z, h, probs = _forward(p)
    ds = probs.copy()
    ds[np.arange(N), y] -= 1
    ds /= N
    dh = ds @ p["W2"].T
    dz = dh * (z > 0)
    return {{"W1": X.T @ dz * {factor}, "b1": dz.sum(axis=0), "W2": h.T @ ds, "b2": ds.sum(axis=0)}}
"""


def test_a_relu_net_at_w1_0_b1_0_passes_and_a_wrong_dw1_fails(model_file):
    right = check(model_file(RELU_NET.format(factor=1.0)))
    assert right.start_point.tie is not None and "W1" in right.moved.jittered
    assert right.verdict == "pass" and right.generic.verdict == "pass"
    wrong = check(model_file(RELU_NET.format(factor=2.0), name="wrong.py"))
    assert {b.name: b.grade for b in wrong.blocks}["W1"] != "fail"  # dW1 = 0 at W1 = 0, right or wrong
    assert {b.name: b.grade for b in wrong.generic.blocks}["W1"] == "fail"
    assert wrong.verdict == "fail"


SWAMPED = """
import numpy as np

N, D, C = 12, 8, 3
REG = {reg}
_rng = np.random.default_rng(7)
X = _rng.standard_normal((N, D))
y = _rng.integers(0, C, size=N)


def init_params(seed=0):
    return {{"W": np.random.default_rng(seed).standard_normal((D, C)), "b": np.zeros(C)}}


def _probs(p):
    s = X @ p["W"] + p["b"]
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


def loss(p):
    return -np.mean(np.log(_probs(p)[np.arange(N), y])) + REG * np.sum(p["W"] ** 2)


def grad(p):
    ds = _probs(p)
    ds[np.arange(N), y] -= 1
    return {{"W": X.T @ ds / N * {bug} + 2 * REG * p["W"], "b": ds.sum(axis=0) / N}}
"""


def test_a_data_bug_under_a_99_percent_l2_share_fails_by_default(model_file):
    report = check(model_file(SWAMPED.format(reg=100.0, bug=0.5)))
    assert report.regularization.name == "REG" and report.regularization.share["W"] > 0.99
    assert report.verdict == "fail"  # error budgets see through 99 % already


def test_a_data_bug_the_penalty_hides_entirely_fails_in_the_data_loss_check(model_file):
    """At REG = 1e8 the data gradient is below what any difference of the
    whole loss can resolve: only the check with REG = 0 can see its bug."""
    path = model_file(SWAMPED.format(reg=1e8, bug=0.5))
    assert check(path, reg="none").verdict != "fail"
    report = check(path)
    reg = report.regularization
    assert reg.share["W"] > 0.99 and reg.dominated == ("W",)
    assert {b.name: b.grade for b in report.blocks}["W"] != "fail"  # swamped as it is
    assert reg.data_only is not None and reg.data_only.blocks[0].grade == "fail"
    assert report.verdict == "fail"
    assert check(path, reg="REG").regularization.data_only.verdict == "fail"


def test_the_share_is_judged_per_block(model_file):
    """The issue: a 49% overall share hid blocks at 54% and 55%."""
    path = model_file("""
        import numpy as np
        REG = 0.0
        X = np.random.default_rng(3).standard_normal((20, 4))
        def init_params(seed=0):
            rng = np.random.default_rng(seed)
            return {"A": rng.standard_normal(4), "B": rng.standard_normal(4)}
        def loss(p):
            return float(np.sum(np.sin(X @ p["A"])) + 30 * np.sum(np.sin(X @ p["B"]))
                         + REG * np.sum(p["A"] ** 2))
        def grad(p):
            return {"A": X.T @ np.cos(X @ p["A"]) + 2 * REG * p["A"], "B": 30 * X.T @ np.cos(X @ p["B"])}
    """)
    data_a = check(path, reg="none")  # find the REG that puts about 60% of A's gradient in the penalty
    assert data_a.verdict == "pass"
    import importlib.util

    spec = importlib.util.spec_from_file_location("m", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    p = module.init_params(0)
    g = np.linalg.norm(module.X.T @ np.cos(module.X @ p["A"]))
    reg = 1.5 * g / (2 * np.linalg.norm(p["A"]))
    report = check(path, set={"REG": repr(float(reg))})
    share = report.regularization
    assert share.overall < 0.5 < share.share["A"]
    assert share.dominated == ("A",) and share.data_only is not None


def test_reg_on_a_target_objects_attribute(model_file):
    path = model_file("""
        import numpy as np

        class Net:
            def __init__(self):
                self.reg = 1e8
                rng = np.random.default_rng(0)
                self.X = rng.standard_normal((10, 3))
                self.t = rng.standard_normal(10)

            def init_params(self, seed=0):
                return {"w": np.random.default_rng(seed).standard_normal(3)}

            def loss(self, p):
                return float(np.sum((self.X @ p["w"] - self.t) ** 2) + self.reg * np.sum(p["w"] ** 2))

            def grad(self, p):
                # the data part is wrong by a factor 1.5; the penalty hides it entirely
                return {"w": 1.5 * 2 * self.X.T @ (self.X @ p["w"] - self.t) + 2 * self.reg * p["w"]}

        net = Net()
    """)
    auto = check(f"{path}:net")
    assert auto.regularization.name == "reg" and auto.regularization.dominated == ("w",)
    report = check(f"{path}:net", reg="reg")
    assert report.regularization.data_only.verdict == "fail"
    assert report.regularization.data_only.model.endswith("(reg=0)")
    assert check(f"{path}:net", set={"reg": "0"}).verdict == "fail"  # --set reaches it too


def test_several_candidates_are_named_not_guessed(model_file):
    path = model_file("""
        import numpy as np
        reg, weight_decay = 0.1, 0.2
        params = {"w": np.array([0.5, -1.0])}
        def loss(p): return float(np.sum(p["w"] ** 2) * (1 + reg + weight_decay))
        def grad(p): return {"w": 2 * p["w"] * (1 + reg + weight_decay)}
    """)
    report = check(path)
    assert report.regularization is None
    assert any("reg, weight_decay" in note for note in report.notes)


def test_a_smooth_correct_model_pays_little_for_the_generic_point(model_file):
    path = model_file("""
        import numpy as np
        X = np.random.default_rng(0).standard_normal((8, 5))
        def init_params(seed=0):
            return {"W": np.random.default_rng(seed).standard_normal((5, 3)), "b": np.zeros(3)}
        def loss(p):
            return float(np.sum(np.tanh(X @ p["W"] + p["b"]) ** 2))
        def grad(p):
            t = np.tanh(X @ p["W"] + p["b"])
            d = 2 * t * (1 - t ** 2)
            return {"W": X.T @ d, "b": d.sum(axis=0)}
    """)
    default = check(path)
    plain = check(path, warmup="off", reg="none")
    assert default.regularization is None and not default.start_point.degenerate
    assert default.start_point.zero_blocks == ("b",)  # the usual bias init: listed, not a reason to move
    # The shortest burn-in (no kink site to change, the curvature shows at
    # once) and two directions per block, nothing more.
    assert default.verdict == "pass" and default.moved.stopped == "outcome" and default.moved.steps == 8
    assert [len(b.dims) + len(b.directions) for b in default.generic.blocks] == [2, 2]
    assert default.evaluations < 2 * plain.evaluations


def test_a_structural_tie_is_not_a_degenerate_point(model_file):
    """A margin set to 0 before max(0, .) is tied at any point: the jitter
    that tells costs one loss and one grad call, and nothing moves."""
    path = model_file("""
        import numpy as np
        N, D, C = 16, 10, 4
        _rng = np.random.default_rng(3)
        X = _rng.standard_normal((N, D))
        y = np.argmax(X @ _rng.standard_normal((D, C)), axis=1)
        def init_params(seed=0):
            return {"W": np.random.default_rng(seed).standard_normal((D, C))}
        def _margins(p):
            s = X @ p["W"]
            m = s - s[np.arange(N), y][:, None] + 1
            m[np.arange(N), y] = 0
            return m
        def loss(p):
            return float(np.maximum(0, _margins(p)).sum() / N)
        def grad(p):
            active = (_margins(p) > 0).astype(float)
            active[np.arange(N), y] = -active.sum(axis=1)
            return {"W": X.T @ active / N}
    """)
    report = check(path)
    plain = check(path, warmup="off")
    assert plain.start_point.tie is not None  # seen, before the jitter tells
    assert report.start_point.tie is None and not report.start_point.degenerate
    assert report.verdict == "pass" and report.generic.verdict == "pass" and not report.moved.reasons


def test_save_params_writes_the_point_checked_and_params_reads_it_back(model_file, tmp_path):
    path = model_file(SVM.format(n=16, scale=1e-3, seed=0, mask=True, naive=False))
    saved = tmp_path / "at.npz"
    result = run(path, "--save-params", saved, "--format", "json")
    assert result.exit_code == 0 and saved.exists()
    with np.load(saved) as data:
        assert set(data.files) == {"W"}
        assert np.abs(data["W"]).max() > 1e-2  # moved: the start was 1e-3 * randn
    again = check(path, params=str(saved), warmup="off")
    first = json.loads(result.stdout)["models"][0]["generic_point"]["check"]
    assert again.loss == first["loss"]
    assert not list(tmp_path.glob(".gradcheck-*"))  # no temporary file left behind


def test_save_params_of_a_single_array_model_round_trips(model_file, tmp_path):
    path = model_file("""
        import numpy as np
        params = np.array([0.3, -0.7, 1.1])
        def loss(w): return float(np.sum(np.sin(w)))
        def grad(w): return np.cos(w)
    """)
    saved = tmp_path / "w.npz"
    assert run(path, "--save-params", saved).exit_code == 0
    report = check(path, params=str(saved))
    assert report.verdict == "pass" and report.blocks[0].name == "params"


def test_save_params_names_a_missing_directory(model_file, tmp_path):
    path = model_file("""
        import numpy as np
        params = {"w": np.array([0.3, -0.7])}
        def loss(p): return float(np.sum(p["w"] ** 2))
        def grad(p): return {"w": 2 * p["w"]}
    """)
    result = run(path, "--save-params", tmp_path / "nope" / "w.npz")
    assert result.exit_code == 2 and "does not exist" in result.stderr and "Traceback" not in result.output


def test_a_model_that_fails_far_from_its_start_is_checked_where_it_is_defined(model_file):
    path = model_file("""
        import numpy as np
        X = np.random.default_rng(0).standard_normal((12, 4))
        params = {"w": 1e-3 * np.random.default_rng(1).standard_normal(4)}
        def loss(p):
            z = X @ p["w"]
            if np.abs(p["w"]).max() > 0.05:
                raise FloatingPointError("out of range")
            return float(np.sum(np.maximum(0, 1 + z)))
        def grad(p):
            z = X @ p["w"]
            return {"w": X.T @ (1 + z > 0).astype(float)}
    """)
    report = check(path)
    # The burn-in stops before the step where the model raises, and the
    # generic point is the last one it could evaluate.
    assert report.verdict == "pass" and report.generic.verdict == "pass"
    assert report.moved.checked and "out of range" in " ".join(report.moved.held + (report.moved.stepped_back or "",))


def test_the_json_report_says_what_happened(model_file):
    path = model_file(SVM.format(n=16, scale=1e-3, seed=1, mask=False, naive=False))
    data = json.loads(run(path, "--format", "json").stdout)["models"][0]
    assert data["verdict"] == "fail"
    assert data["start_point"]["degenerate"] is True and data["start_point"]["uniform"][0]["minority"] == 0
    moved = data["generic_point"]
    assert moved["optimizer"] == "adam" and moved["checked"] and moved["check"]["verdict"] == "fail"
    assert data["blocks"][0]["grade"] == "pass"


def test_a_timeout_in_the_characteristic_check_keeps_the_start_points_report(model_file):
    path = model_file("""
        import time
        import numpy as np
        X = np.random.default_rng(0).standard_normal((12, 4))
        params = {"w": 1e-3 * np.random.default_rng(1).standard_normal(4)}
        def loss(p):
            if np.abs(p["w"]).max() > 0.01:  # far from the start: slow
                time.sleep(0.5)
            return float(np.sum(np.maximum(0, 1 + X @ p["w"])))
        def grad(p):
            return {"w": X.T @ (1 + X @ p["w"] > 0).astype(float)}
    """)
    result = run(path, "--timeout", "3", "--format", "json")
    assert result.exit_code == 2 and "the start point was checked" in result.stderr
    data = json.loads(result.stdout)["models"][0]
    assert data["blocks"][0]["grade"] == "pass" and data["stopped"].startswith("timed out")
    assert "Traceback" not in result.output


def test_a_zero_bias_kept_as_a_row_is_a_bias_not_a_zero_weight():
    from gradcheck_cli.startpoint import inspect

    params = {"W": np.ones((4, 3)), "b_row": np.zeros((1, 3)), "b": np.zeros(3), "V": np.zeros((3, 2))}
    found = inspect([], params, {name: np.ones_like(block) for name, block in params.items()})
    assert found.zero_weights == ("V",)
    assert set(found.zero_blocks) == {"b_row", "b", "V"}


# -- issue 23: check where bugs show ---------------------------------------------------

def test_a_bug_right_only_at_the_start_point_fails_with_a_hint_that_says_where():
    """reg * b added to a bias gradient is zero at b = 0: the start point
    passes it, the generic point (b drawn at its peers' scale) does not."""
    rng = np.random.default_rng(0)
    X, y, reg = rng.standard_normal((20, 5)), rng.integers(0, 3, 20), 0.3

    def probs(p):
        s = X @ p["W"] + p["b"]
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(p):
        return float(-np.log(probs(p)[np.arange(20), y]).mean() + 0.5 * reg * np.sum(p["W"] ** 2))

    def grad(p):
        d = probs(p)
        d[np.arange(20), y] -= 1
        d /= 20
        return {"W": X.T @ d + reg * p["W"], "b": d.sum(axis=0) + reg * p["b"]}

    params = {"W": 0.1 * rng.standard_normal((5, 3)), "b": np.zeros(3)}
    assert check(loss=loss, grad=grad, params=params, warmup="off").verdict == "pass"
    report = check(loss=loss, grad=grad, params=params)
    assert report.verdict == "fail" and {b.name: b.grade for b in report.generic.blocks}["b"] == "fail"
    assert any("right at the start point, wrong at the generic point (b)" in h for h in report.hints)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["hints"] and data["generic_point"]["check"]["verdict"] == "fail"


def test_the_start_points_failure_needs_no_second_point():
    report = check(loss=lambda p: float(np.sum(p["w"] ** 2)), grad=lambda p: {"w": 3 * p["w"]},
                   params={"w": np.array([0.3, -1.2, 0.8])})
    assert report.verdict == "fail" and report.moved is None and report.generic is None


def test_warmup_off_checks_the_start_point_only():
    report = check(loss=lambda p: float(np.sum(np.sin(p["w"]))), grad=lambda p: {"w": np.cos(p["w"])},
                   params={"w": np.array([0.3, -1.2, 0.8])}, warmup="off")
    assert report.verdict == "pass" and report.moved is None and report.generic is None


def test_one_relu_line_used_by_two_layers_is_two_sites():
    from gradcheck_cli.kinks import recording, track
    from gradcheck_cli.startpoint import sites, uniform_sites

    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 4))
    layers = [rng.standard_normal((4, 6)), np.abs(rng.standard_normal((6, 6))) + 0.1]  # the second all on
    with recording() as trace:
        h = track(X)
        for W in layers:
            h = np.maximum(0, h @ W)
    assert len(sites(trace)) == 2
    (one_sided,) = uniform_sites(trace)
    assert one_sided.occurrence == 1 and "call 2" in one_sided.where


def test_guards_are_told_from_branches_by_their_tolerance():
    from gradcheck_cli.kinks import recording, track
    from gradcheck_cli.startpoint import guard

    p = track(np.array([0.2, 0.7, 0.5]))
    statements = {
        lambda: np.maximum(p, 1e-7): True,              # a probability kept off 0
        lambda: np.minimum(p, 1 - 1e-7): True,          # ... and off 1
        lambda: np.where(p > 1e-12, p, 1e-12): True,    # the same with a mask
        lambda: np.clip(p, 0.0, 6.0): True,             # clip is the guard idiom
        lambda: np.maximum(0, p - 0.5): False,          # a hinge
        lambda: np.where(np.abs(p) < 1.0, p, p): False,  # a Huber loss's delta
        lambda: p > 0.3: False,                         # a threshold in the data's range
    }
    for statement, guarded in statements.items():
        with recording() as trace:
            statement()
        assert any(guard(e) for e in trace) == guarded, [(e.op, e.bound) for e in trace]


def test_code_the_tracker_cannot_follow_is_recorded_as_opaque():
    from gradcheck_cli.kinks import OPAQUE, recording, track

    p = track(np.array([0.2, -0.7, 0.5]))
    with recording() as trace:
        p.tolist()
        np.vectorize(lambda v: max(v, 0.0))(p)
        float(p.sum())  # a loss returned as a float is not opaque
    assert [e.op for e in trace] == [OPAQUE, OPAQUE]


def test_a_head_leaving_its_domain_slows_only_itself():
    """A Bernoulli rate q (log q) steps through 0 as the rates grow; the
    hinge beside it still gets its margins mixed, and the mask bug fails."""
    rng = np.random.default_rng(2)
    N, D, C = 12, 4, 3
    X, y = rng.standard_normal((N, D)), rng.integers(0, C, N)

    def margins(W):
        s = X @ W
        return s - s[np.arange(N), y][:, None] + 1.0

    def loss(p):
        m = margins(p["W"])
        hinge = sum(v for i, row in enumerate(m.tolist()) for j, v in enumerate(row) if j != y[i] and v > 0) / N
        q = p["q"][0]
        return hinge - (0.01 * np.log(q) + 0.99 * np.log(1 - q))

    def grad(p, mask=True):
        m = margins(p["W"])
        a = (m > 0).astype(float) if mask else np.ones_like(m)
        a[np.arange(N), y] = 0
        a[np.arange(N), y] = -a.sum(axis=1)
        q = p["q"][0]
        return {"W": X.T @ a / N, "q": np.array([-(0.01 / q - 0.99 / (1 - q))])}

    params = {"W": 1e-4 * rng.standard_normal((D, C)), "q": np.array([0.05])}
    good = check(loss=loss, grad=grad, params=params)
    bad = check(loss=loss, grad=lambda p: grad(p, mask=False), params=params)
    assert good.verdict == "pass" and bad.verdict == "fail"
    assert bad.generic is not None and {b.name: b.grade for b in bad.generic.blocks}["W"] == "fail"


def _maxpool(eqmask: bool):
    """sum(dout * maxpool2x2(x)) on an integer-valued x (tied windows)."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (4, 4)).astype(float)
    dout = rng.standard_normal((2, 2))

    def windows(v):
        return v.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)

    def loss(p):
        return float(np.sum(dout * windows(p["x"]).max(axis=2)))

    def grad(p):
        w = windows(p["x"])
        if eqmask:  # CS231n's classic: every element equal to the max gets dout
            mask = (w == w.max(axis=2, keepdims=True)).astype(float)
        else:
            mask = np.zeros_like(w)
            np.put_along_axis(mask, w.argmax(axis=2)[..., None], 1.0, axis=2)
        g = (mask * dout[..., None]).reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
        return {"x": g}

    return loss, grad, {"x": x}


def test_a_backward_wrong_only_at_ties_fails_along_the_tied_elements():
    loss, grad, params = _maxpool(eqmask=True)
    report = check(loss=loss, grad=grad, params=params)
    assert report.verdict == "fail" and report.blocks[0].grade == "fail"
    tied = [d for d in report.blocks[0].directions if d.message and "along the tied elements" in d.message]
    assert tied and tied[0].grade == "fail"


def test_a_valid_choice_at_ties_costs_only_the_gradients_off_them():
    from gradcheck_cli.evaluate import Evaluator
    from gradcheck_cli.model import from_functions
    from gradcheck_cli.ties import tie_directions

    loss, grad, params = _maxpool(eqmask=False)
    assert check(loss=loss, grad=grad, params=params).verdict == "pass"
    with Evaluator(from_functions(loss=loss, grad=grad, params=params), seed=0) as evaluator:
        base = evaluator.base_point()
        assert base.ties and tie_directions(evaluator, base, 0, ["x"]) == {}


def test_forced_steps_go_past_a_guard_and_stop_only_where_the_loss_breaks():
    """--warmup N takes N steps: a clip saturating is no error there (the
    default burn-in keeps short of it); a loss that becomes nan is."""
    rng = np.random.default_rng(3)
    X = 4.0 * rng.standard_normal((30, 3))
    t = (X @ np.array([1.0, -2.0, 0.5]) > 0).astype(float)

    def loss(p):
        q = np.clip(1 / (1 + np.exp(-(X @ p["w"]))), 1e-7, 1 - 1e-7)
        return float(-np.mean(t * np.log(q) + (1 - t) * np.log(1 - q)))

    def grad(p):
        return {"w": X.T @ (1 / (1 + np.exp(-(X @ p["w"]))) - t) / 30}

    params = {"w": 0.1 * rng.standard_normal(3)}
    forced = check(loss=loss, grad=grad, params=params, warmup=30, lr=1.0)
    assert forced.moved.steps == 30 and forced.moved.stopped == "steps"
    default = check(loss=loss, grad=grad, params=params)
    assert default.verdict == "pass" and "kept short of the guard" in default.moved.describe()


# A model that is a derivative of an objective (generic.objective_of): its own loss is a reduction, here
# sum_b sum(log x_b + 1) (the gradient of sum(x log x), summed), which has no minimum and falls towards x = 0
# where log is undefined; its generic point is its objective's, every block placed at the objective's point.
REDUCTION = """
import numpy as np
from gradcheck_cli.model import from_functions

X0 = np.array([1e-7, 2.0, 0.5])


class Entropy:
    name = "sum(x log x)"

    def init_params(self, seed):
        return {"x": X0.copy()}

    def loss(self, p):
        return float(np.sum(p["x"] * np.log(p["x"])))

    def grad(self, p):
        return {"x": np.log(p["x"]) + 1}


class Reduction:
    def init_params(self, seed):
        return self.place({"x": X0})

    def loss(self, p):
        return float(np.sum(np.log(p["a"]) + 1) + np.sum(np.log(p["b"]) + 1))

    def grad(self, p):
        return {"a": 1 / p["a"], "b": 1 / p["b"]}

    def objective(self):
        entropy = Entropy()
        if AS_MODEL:  # (a loaded Model is taken as it is)
            return from_functions(name="sum(x log x)", loss=entropy.loss, grad=entropy.grad,
                                  params=entropy.init_params(0))
        return entropy

    def place(self, params):
        return {"a": np.array(params["x"]), "b": np.array(params["x"])}


problem = Reduction()
"""


@pytest.mark.parametrize("as_model", [False, True])
def test_a_derivative_is_moved_to_its_objectives_generic_point(model_file, tmp_path, as_model):
    path = model_file(REDUCTION.replace("AS_MODEL", repr(as_model)), "reduction.py")
    saved = tmp_path / "point.npz"
    report = check(f"{path}:problem", save_params=saved)
    assert report.verdict == "pass"
    named = "loss" if as_model else "sum(x log x)"  # (a Model's own function, or the object's name)
    assert report.moved.checked and report.moved.objective == named
    assert f"moved the objective, {named}" in report.moved.describe()
    point = np.load(saved)
    # Both blocks at one point (placed), moved off the start point by the objective's descent, inside log's domain.
    assert np.array_equal(point["a"], point["b"]) and np.all(point["a"] > 0)
    assert not np.array_equal(point["a"], [1e-7, 2.0, 0.5])
    assert point["a"][0] > 1e-7  # (x log x falls towards 1/e: its descent moves away from the edge)
