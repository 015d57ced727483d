"""Helpers prove their premise, and never cost the main report (issue 23,
section 4): --reg acts on a constant only once it proves to be an L2
strength; the complex step is trusted on no block it was not compared on;
integer parameter blocks are refused. Models are written here as model
files, each correct and buggy where a bug is possible, with the truth known."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import check
from gradcheck_cli.cli import main
from gradcheck_cli.errors import MethodError, ModelError

from .conftest import without_seconds


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


def reg_notes(report, name):
    return [n for n in report.notes if n.startswith(name) or f" {name} " in n or f"--reg {name}" in n]


# -- --reg auto: a strength is acted on only when it proves to be one ---------

# A softmax classifier under an L2 penalty REG * |W|^2 that dominates W's
# gradient (REG = 1e8: the data gradient is below what any difference of the
# whole loss resolves); BUG scales the data part of dW.
SOFTMAX = """
import numpy as np

N, D, C = 12, 6, 3
REG = {reg}
_rng = np.random.default_rng(7)
X = _rng.standard_normal((N, D))
y = _rng.integers(0, C, size=N)


def init_params(seed=0):
    return {{"W": np.random.default_rng(seed).standard_normal((D, C)), "b": np.zeros(C)}}


def _probs(p):
    s = X @ p["W"] + p["b"]
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def loss(p):
    return -np.mean(np.log(_probs(p)[np.arange(N), y])) + {loss_reg} * np.sum(p["W"] ** 2)


def grad(p):
    ds = _probs(p)
    ds[np.arange(N), y] -= 1
    return {{"W": X.T @ ds / N * {bug} + {grad_reg} * p["W"], "b": ds.sum(axis=0) / N}}
"""


def softmax(reg=1e8, bug=1.0, loss_reg="REG", grad_reg="2 * REG", half=False):
    source = SOFTMAX.format(reg=reg, bug=bug, loss_reg=loss_reg, grad_reg=grad_reg)
    # An import-time copy, which setting REG later does not change.
    return source.replace("\n_rng", "\nHALF_REG = REG / 2\n_rng", 1) if half else source


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_proven_l2_strength_is_split_off_correct_and_buggy(model_file, seed):
    right = check(model_file(softmax(), "right.py"), seed=seed)
    # (A 1e9 loss leaves b's values unverified at the start: not a failure.)
    assert right.verdict != "fail" and right.regularization.name == "REG"
    assert right.regularization.data_only.verdict == "pass"
    assert not reg_notes(right, "REG")
    wrong = check(model_file(softmax(bug=0.5), "wrong.py"), seed=seed)
    assert wrong.regularization.data_only.blocks[0].grade == "fail" and wrong.verdict == "fail"


@pytest.mark.parametrize("loss_reg, grad_reg, reads", [
    ("HALF_REG", "REG", "the loss does not read it"),  # the loss reads a copy made at import
    ("REG", "4 * HALF_REG", "grad does not read it"),  # grad does
])
def test_an_import_time_copy_is_reported_not_acted_on(model_file, loss_reg, grad_reg, reads):
    """The issue: with REG = 0 only one function lost the penalty, and the
    'data loss alone' check failed a correct model."""
    path = model_file(softmax(loss_reg=loss_reg, grad_reg=grad_reg, half=True))
    report = check(path)
    assert report.verdict != "fail" and report.regularization is None
    [note] = reg_notes(report, "REG")
    assert "not one" in note and reads in note and "HALF_REG = REG / 2" in note


def test_an_explicit_reg_is_acted_on_with_the_doubt_in_a_note(model_file):
    path = model_file(softmax(loss_reg="HALF_REG", grad_reg="REG", half=True))
    report = check(path, reg="REG")
    assert report.regularization.data_only is not None  # as asked
    assert any(n.startswith("--reg REG: the data loss alone is checked with it at 0 as asked, though")
               for n in report.notes)


ENTROPIC = """
import numpy as np

reg = 0.5  # an entropic regularization's temperature
c = np.random.default_rng(5).standard_normal(6)


def init_params(seed=0):
    return {"theta": np.random.default_rng(seed).standard_normal(6)}


def _p(t):
    e = np.exp(t - t.max())
    return e / e.sum()


def loss(p):
    q = _p(p["theta"])
    return float(c @ q + reg * np.sum(q * np.log(q)))


def grad(p):
    q = _p(p["theta"])
    v = c + reg * (np.log(q) + 1)
    return {"theta": q * (v - q @ v) * BUG}
"""

SOFTMIN = """
import numpy as np

reg = 0.3  # a soft-min's temperature: the loss divides by it
X = np.random.default_rng(6).standard_normal((5, 3))


def init_params(seed=0):
    return {"w": np.random.default_rng(seed).standard_normal(3)}


def loss(p):
    z = -(X @ p["w"]) / reg
    m = z.max()
    return float(-reg * (m + np.log(np.sum(np.exp(z - m)))))


def grad(p):
    z = -(X @ p["w"]) / reg
    a = np.exp(z - z.max())
    return {"w": X.T @ (a / a.sum()) * BUG}
"""

WIDTH = """
import numpy as np

l2 = 4  # the hidden layer's width, not an L2 strength
_rng = np.random.default_rng(8)
X, t = _rng.standard_normal((6, 3)), _rng.standard_normal(6)


def init_params(seed=0):
    r = np.random.default_rng(seed)
    return {"W1": r.standard_normal((3, 4)), "W2": r.standard_normal(4)}


def loss(p):
    h = np.tanh(X @ p["W1"][:, :l2])
    return float(np.sum((h @ p["W2"][:l2] - t) ** 2))


def grad(p):
    h = np.tanh(X @ p["W1"][:, :l2])
    r = 2 * (h @ p["W2"][:l2] - t)
    g1, g2 = np.zeros_like(p["W1"]), np.zeros_like(p["W2"])
    g2[:l2] = h.T @ r * BUG
    g1[:, :l2] = X.T @ (np.outer(r, p["W2"][:l2]) * (1 - h ** 2))
    return {"W1": g1, "W2": g2}
"""


@pytest.mark.parametrize("source, name, why", [
    (ENTROPIC, "reg", "no L2 term"),
    (SOFTMIN, "reg", "the loss is nan"),
    (WIDTH, "l2", "no L2 term"),
], ids=["entropic-temperature", "soft-min-temperature", "width"])
@pytest.mark.parametrize("seed", [0, 3])
def test_a_constant_named_like_a_strength_must_prove_it(model_file, source, name, why, seed):
    right = check(model_file("BUG = 1.0\n" + source, "right.py"), seed=seed)
    assert right.verdict == "pass" and right.regularization is None
    [note] = reg_notes(right, name)
    assert why in note and "not one" in note
    wrong = check(model_file("BUG = 0.7\n" + source, "wrong.py"), seed=seed)
    assert wrong.verdict == "fail" and wrong.regularization is None


RAISES = """
import numpy as np

reg = 0.1
X = np.random.default_rng(9).standard_normal((7, 3))


def init_params(seed=0):
    return {"w": np.random.default_rng(seed).standard_normal(3)}


def loss(p):
    return float(np.sum(np.sin(X @ p["w"])) + reg * np.sum(p["w"] ** 2))


def grad(p):
    if reg <= 0:
        raise ValueError("reg must be positive")
    return {"w": X.T @ np.cos(X @ p["w"]) * BUG + 2 * reg * p["w"]}
"""


@pytest.mark.parametrize("given", [[], ["--reg", "reg"]], ids=["auto", "explicit"])
def test_a_grad_that_raises_at_zero_leaves_the_report_intact(model_file, given):
    for bug, code, verdict in ((1.0, 0, "pass"), (0.5, 1, "fail")):
        result = run(model_file(f"BUG = {bug}\n" + RAISES), "--format", "json", *given)
        assert result.exit_code == code, result.output
        document = json.loads(result.stdout)["models"][0]
        assert document["verdict"] == verdict and [b["name"] for b in document["blocks"]] == ["w"]
        [note] = [n for n in document["notes"] if n.startswith("reg looks like")]
        assert "ValueError: reg must be positive" in note and "the checks above stand" in note


def test_a_data_loss_check_that_breaks_is_a_note(model_file):
    """--reg NAME on a constant the loss cannot do without: the check of the
    data loss alone cannot start (the loss is nan there), and says so."""
    result = run(model_file("BUG = 1.0\n" + SOFTMIN), "--format", "json", "--reg", "reg")
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["models"][0]["notes"]
    assert any(n.startswith("reg is named like a regularization strength but is not one: with reg = 0 the loss is "
                            "nan") for n in notes)


# -- the complex step: every block cross-checked, the uncompared checked centrally

# Nine tanh layers and, as the tenth and smallest block, z with a linear term
# and an L2 term written with np.linalg.norm (a modulus: the complex step
# loses it). BUG drops the L2 term from dz.
TEN_BLOCKS = """
import numpy as np

_r = np.random.default_rng(1)
X = _r.standard_normal((6, 4))


def init_params(seed=0):
    r = np.random.default_rng(seed)
    p = {f"W{k}": r.standard_normal((4, 4)) for k in range(9)}
    p["z"] = r.standard_normal(3)
    return p


def loss(p):
    h = X
    for k in range(9):
        h = np.tanh(h @ p[f"W{k}"])
    return np.sum(h ** 2) + np.sum(X[:3, 0] * p["z"]) + 0.3 * np.linalg.norm(p["z"]) ** 2


def grad(p):
    hs = [X]
    for k in range(9):
        hs.append(np.tanh(hs[-1] @ p[f"W{k}"]))
    d, g = 2 * hs[-1], {}
    for k in reversed(range(9)):
        d = d * (1 - hs[k + 1] ** 2)
        g[f"W{k}"] = hs[k].T @ d
        d = d @ p[f"W{k}"].T
    g["z"] = X[:3, 0] + 0.6 * p["z"] * BUG
    return g
"""


@pytest.mark.parametrize("bug", [1, 0])
def test_a_norm_in_the_tenth_block_refuses_the_complex_step(model_file, bug):
    path = model_file(f"BUG = {bug}\n" + TEN_BLOCKS)
    assert check(path).verdict == ("pass" if bug else "fail")  # the truth, by central differences
    with pytest.raises(MethodError, match=r"along z direction 0: .*np\.linalg\.norm"):
        check(path, method="complex-step")


# A weight normalised by its 0.75-quantile, taken from sorted real parts (as
# np.quantile, which refuses complex input): the complex step loses the
# quantile's dependence on w. BUG leaves that dependence out of dw.
QUANTILE = """
import numpy as np

_r = np.random.default_rng(2)
X, t = _r.standard_normal((8, 5)), _r.standard_normal(8)


def init_params(seed=0):
    r = np.random.default_rng(seed)
    # w[0] = W0 is never moved: a 1e-9 sits on the ReLU's kink at every seed.
    w = np.array([W0, 0.4, -0.7, 1.3, 2.1]) + 0.01 * r.standard_normal(5) * [0, 1, 1, 1, 1]
    return {"w": w, "b": r.standard_normal(1)}


def _scale(w):
    return np.sort(w.real)[3]


def loss(p):
    w = p["w"] / _scale(p["w"])
    r = X @ w + p["b"] - t
    return np.sum(r ** 2) + np.sum(np.maximum(p["w"], 0))


def grad(p):
    w0 = p["w"]
    s, k = _scale(w0), int(np.argsort(w0)[3])
    r = X @ (w0 / s) + p["b"] - t
    gw_n = 2 * X.T @ r
    gw = gw_n / s
    if not BUG:
        gw[k] -= np.dot(gw_n, w0) / s ** 2
    return {"w": gw + (w0 > 0), "b": np.array([2 * np.sum(r)])}
"""


@pytest.mark.parametrize("bug", [0, 1])
def test_a_quantile_normalised_weight_is_checked_centrally_where_a_kink_hides_it(model_file, bug):
    """w[0] = 0 puts a ReLU's kink at the cross-check's probe (at the start
    point: --warmup off): it cannot compare there, and the complex step
    (which would pass the bug and fail the correct model) is not trusted
    with w. Off the kink (the generic point) it compares, and refuses it."""
    path = model_file(f"BUG = {bug}\n" + QUANTILE.replace("W0", "0.0"))
    truth = "fail" if bug else "pass"
    assert check(path, warmup="off").verdict == truth
    report = check(path, method="complex-step", warmup="off")
    assert report.verdict == truth
    assert "--method complex-step: w checked by central differences instead, since the complex step could not be " \
           "compared with them there (w: a kink near the probe)" in report.notes
    parallel = check(path, method="complex-step", warmup="off", jobs=2)
    assert without_seconds(parallel.to_dict()) == without_seconds(report.to_dict())
    try:  # at defaults: refused where it can be compared, never a wrong verdict
        assert check(path, method="complex-step").verdict == truth
    except MethodError as refused:
        assert "along w direction 0" in str(refused) and "(.real)" in str(refused)


@pytest.mark.parametrize("bug", [0, 1])
def test_a_quantile_normalised_weight_refuses_the_complex_step_where_it_can_compare(model_file, bug):
    # A direction, not a coordinate: along w[0] the quantile (w[3]) does not move.
    path = model_file(f"BUG = {bug}\n" + QUANTILE.replace("W0", "0.05"))
    assert check(path).verdict == ("fail" if bug else "pass")
    with pytest.raises(MethodError, match=r"along w direction 0: .*\.real"):
        check(path, method="complex-step")


# -- integer parameter blocks are refused -------------------------------------

@pytest.mark.parametrize("block", [
    "np.array([3, 1])",  # an index the loss casts
    "np.arange(2)",  # a weight that looks integer
])
def test_integer_blocks_are_refused_naming_the_block(model_file, block):
    path = model_file(f"""
        import numpy as np
        X = np.arange(12.0).reshape(4, 3)
        params = {{"w": np.array([1.0, 2.0, -0.5]), "rows": {block}}}
        def loss(p):
            return float(np.sum((X[p["rows"].astype(int)] @ p["w"]) ** 2))
        def grad(p):
            A = X[p["rows"].astype(int)]
            return {{"w": 2 * A.T @ (A @ p["w"]), "rows": np.zeros(2)}}
    """)
    result = run(path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "parameter block 'rows' from model.py.params is an integer array (int64)" in result.stderr
    assert "give it as floats" in result.stderr and "keep it out of the params" in result.stderr


def test_integer_blocks_are_refused_from_a_params_file_and_the_api(model_file, tmp_path):
    npz = tmp_path / "p.npz"
    np.savez(npz, W=np.zeros((2, 3)), b=np.array([1, -1, 2]))
    result = run(model_file("""
        import numpy as np
        params = {"W": np.zeros((2, 3)), "b": np.zeros(3)}
        def loss(p): return float(np.sum(p["W"] ** 2) + np.sum(p["b"] ** 2))
        def grad(p): return {"W": 2 * p["W"], "b": 2 * p["b"]}
    """), "--params", npz)
    assert result.exit_code == 2 and f"parameter block 'b' from {npz} is an integer array" in result.stderr
    with pytest.raises(ModelError, match="parameter block 'w' from <functions> is an integer array"):
        check(loss=lambda p: float(np.sum(p["w"] ** 2)), grad=lambda p: {"w": 2 * p["w"]},
              params={"w": np.array([1, 2])})
