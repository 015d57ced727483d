"""FILE:hvp's truth is the loss's Hessian, not grad's differences.

Judged against differences of the user's grad, an hvp's verdict followed
grad: a right hvp beside a wrong grad failed, and an hvp wrong in the
same way as grad (both missing an L2 term) passed. grad is now compared
with the loss's own differences first, and where it is not the loss's
gradient the hvp is judged against the loss's slope along v.

The truth is established here: each model's Hessian written out (a
quadratic's, logistic regression's X^T S X / N + REG I), or for the ReLU
net the right grad's central difference along v (tests/test_hvp.py), and
each grad's error against a central difference of the loss written here.
"""

import numpy as np
import pytest

from .test_hvp import RELU_NET, failed_blocks, hvp_matches_differences, imported, random_like, run_json


def loss_gradient(loss, params, h=1e-6):
    """The loss's gradient by central differences, written here."""
    gradient = {}
    for name, block in params.items():
        gradient[name] = np.zeros_like(block)
        for i in np.ndindex(block.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][i] += h
            minus[name][i] -= h
            gradient[name][i] = (loss(plus) - loss(minus)) / (2 * h)
    return gradient


def grad_is_the_loss_gradient(module):
    params = module.init_params(0)
    numeric = loss_gradient(module.loss, params)
    analytic = module.grad(params)
    return all(np.allclose(analytic[k], numeric[k], rtol=1e-6, atol=1e-8) for k in params)


def hvp_is(module, hessian, seed=0):
    """Whether module.hvp is ``hessian(module, point)`` (over the blocks in
    order, flattened) times v at three points near the start."""
    params = module.init_params(0)
    for k in range(3):
        point = {key: value + 0.3 * step for (key, value), step in
                 zip(params.items(), random_like(params, seed + 10 + k).values())}
        v = random_like(point, seed + 20 + k)
        Hv = hessian(module, point) @ np.concatenate([v[key].ravel() for key in point])
        got = module.hvp(point, v)
        if not np.allclose(np.concatenate([got[key].ravel() for key in point]), Hv, rtol=1e-9, atol=1e-12):
            return False
    return True


def note_of_truth(report):
    return [n for n in report["notes"] if n.startswith("grad fails against the loss's central differences")]


# -- the attack's minimal model: 1.5 x^2 + 0.5 y^2, grad missing the 3 ------------------

QUADRATIC = """
import numpy as np

def init_params(seed=0):
    return {"x": np.array([0.7]), "y": np.array([-0.4])}

def loss(p):
    return 1.5 * p["x"][0] ** 2 + 0.5 * p["y"][0] ** 2

def grad(p):
    return {"x": p["x"].copy(), "y": p["y"].copy()}

def hvp(p, v):
    return {"x": FACTOR * v["x"], "y": v["y"].copy()}

FACTOR = 3.0
"""


def quadratic_hessian(module, point):
    return np.diag([3.0, 1.0])


@pytest.mark.parametrize("factor, verdict", [(3.0, "pass"), (1.0, "fail")])
def test_a_quadratics_hvp_is_judged_against_the_loss_beside_a_wrong_grad(model_file, factor, verdict):
    path = model_file(QUADRATIC.replace("FACTOR = 3.0", f"FACTOR = {factor}"), "quadratic.py")
    module = imported(path)
    assert not grad_is_the_loss_gradient(module)
    assert hvp_is(module, quadratic_hessian) == (verdict == "pass")
    result, reports = run_json(f"{path}:hvp")
    report = reports[f"{path}:hvp"]
    assert report["verdict"] == verdict, result.output
    assert result.exit_code == (0 if verdict == "pass" else 1)
    if verdict == "fail":
        # (the hvp consistent with the wrong grad, v_x for 3 v_x: wrong where grad is)
        assert failed_blocks(report) == {"x"}
    # The report says which truth it met, and that grad is not the loss's gradient.
    assert note_of_truth(report)
    assert any("the loss's five-point slope along v" in n for n in report["notes"])


# -- logistic regression, W (D, 1) and b, L2 on W --------------------------------------

LOGISTIC = """
import numpy as np
N, D = 60, 4
REG = 0.1
_r = np.random.default_rng(13)
X = _r.standard_normal((N, D)) + 0.5
y = (_r.random(N) < 0.5).astype(float)

def init_params(seed=0):
    r = np.random.default_rng(seed)
    return {"W": 0.3 * r.standard_normal((D, 1)), "b": np.array([0.2])}

def _z(params):
    return (X @ params["W"])[:, 0] + params["b"][0]

def _p(params):
    return 1.0 / (1.0 + np.exp(-_z(params)))

def loss(params):
    z = _z(params)
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * REG * np.sum(params["W"] ** 2)

def grad(params):
    r = _p(params) - y
    return {"W": (X.T @ r / N)[:, None] + REG * params["W"], "b": np.array([r.sum() / N])}

def hvp(params, v):
    p = _p(params)
    s = p * (1 - p) / N
    dz = (X @ v["W"])[:, 0] + v["b"][0]
    return {"W": (X.T @ (s * dz))[:, None] + REG * v["W"], "b": np.array([s @ dz])}
"""
GRAD_WITHOUT_L2 = ('(X.T @ r / N)[:, None] + REG * params["W"]', '(X.T @ r / N)[:, None]')
GRAD_B_WITHOUT_1_OVER_N = ("r.sum() / N", "r.sum()")
GRAD_WITHOUT_1_OVER_N = ('(X.T @ r / N)[:, None] + REG * params["W"], "b": np.array([r.sum() / N])',
                         '(X.T @ r)[:, None] + REG * params["W"], "b": np.array([r.sum()])')
HVP_WITHOUT_L2 = ('(X.T @ (s * dz))[:, None] + REG * v["W"]', '(X.T @ (s * dz))[:, None]')
HVP_WITHOUT_1_OVER_N = ("s = p * (1 - p) / N", "s = p * (1 - p)")

LOGISTIC_CASES = {
    # (what is changed, the blocks that fail)
    "grad_without_l2_hvp_too": ((GRAD_WITHOUT_L2, HVP_WITHOUT_L2), {"W"}),  # the attack's consistent pair
    "grad_b_without_1_over_n_hvp_right": ((GRAD_B_WITHOUT_1_OVER_N,), set()),  # the attack's right hvp
    "grad_without_1_over_n_hvp_right": ((GRAD_WITHOUT_1_OVER_N,), set()),
    "grad_without_1_over_n_hvp_too": ((GRAD_WITHOUT_1_OVER_N, HVP_WITHOUT_1_OVER_N), {"W", "b"}),
    "grad_without_1_over_n_hvp_without_l2": ((GRAD_WITHOUT_1_OVER_N, HVP_WITHOUT_L2), {"W"}),
}


def logistic_hessian(module, point):
    """d2/d(W, b)^2 of mean(log(1 + e^z) - y z) + REG/2 |W|^2, z = X W + b."""
    z = (module.X @ point["W"])[:, 0] + point["b"][0]
    p = 1 / (1 + np.exp(-z))
    A = np.hstack([module.X, np.ones((module.N, 1))])
    H = A.T @ (A * (p * (1 - p))[:, None]) / module.N
    H[:module.D, :module.D] += module.REG * np.eye(module.D)
    return H


@pytest.mark.parametrize("case", sorted(LOGISTIC_CASES))
def test_a_logistic_regressions_hvp_beside_a_wrong_grad(model_file, case):
    changes, failing = LOGISTIC_CASES[case]
    source = LOGISTIC
    for old, new in changes:
        assert old in source
        source = source.replace(old, new)
    path = model_file(source, f"logistic_{case}.py")
    module = imported(path)
    assert not grad_is_the_loss_gradient(module)
    assert hvp_is(module, logistic_hessian) == (not failing)
    result, reports = run_json(f"{path}:hvp", "--samples", "all")
    report = reports[f"{path}:hvp"]
    assert report["verdict"] == ("fail" if failing else "pass"), result.output
    assert failed_blocks(report) == failing
    assert note_of_truth(report)


def test_a_right_grad_keeps_grads_differences_as_the_truth(model_file):
    path = model_file(LOGISTIC, "logistic_right.py")
    module = imported(path)
    assert grad_is_the_loss_gradient(module) and hvp_is(module, logistic_hessian)
    result, reports = run_json(f"{path}:hvp")
    report = reports[f"{path}:hvp"]
    assert report["verdict"] == "pass", result.output
    assert not note_of_truth(report)
    assert any("sum over blocks of <grad(params), v>" in n for n in report["notes"])


# -- a ReLU net with a wrong grad: the loss's slopes still report kinks -------------------

RIGHT_W1 = '"W1": X.T @ dz + 2 * REG * params["W1"]'
RELU_NET_WRONG_GRAD = RELU_NET.replace(RIGHT_W1, '"W1": X.T @ dz + REG * params["W1"]')


def test_a_relu_nets_right_hvp_beside_a_wrong_grad_passes_with_the_kinks_reported(model_file):
    assert RIGHT_W1 in RELU_NET
    # The hvp is the right grad's central difference along v (the file with the right grad) ...
    assert hvp_matches_differences(imported(model_file(RELU_NET, "relu_net_right.py")))
    # ... and this file's grad is not its loss's gradient.
    path = model_file(RELU_NET_WRONG_GRAD, "relu_net_wrong_grad.py")
    module = imported(path)
    params = module.init_params(0)
    numeric = loss_gradient(module.loss, params)
    assert not np.allclose(module.grad(params)["W1"], numeric["W1"], rtol=1e-6, atol=1e-8)

    result, reports = run_json(f"{path}:hvp")
    report = reports[f"{path}:hvp"]
    assert report["verdict"] == "pass", result.output
    assert note_of_truth(report)
    # Example 0's pre-activations sit on ReLU's kink at the start point: the
    # crossings are reported at the ReLU's line, the values there judged as
    # subgradients, not failed.
    assert report["kinked"] is True
    line = next(i for i, text in enumerate(RELU_NET.splitlines(), 1) if "np.maximum" in text)
    kinked = [d for block in report["blocks"] for d in block["dims"] if d["kink"] is not None]
    assert any(d["kink"]["line"] == line and d["kink"]["op"] == "maximum" for d in kinked)
    assert all(d["grade"] != "fail" for d in kinked)


# -- grad right at the start point, wrong at the generic point ---------------------------

WRONG_AWAY = """
import numpy as np

def init_params(seed=0):
    return {"x": np.array([0.7, 0.9]), "y": np.array([-0.4])}

def loss(p):
    return 1.5 * np.sum(p["x"] ** 2) + 0.5 * p["y"][0] ** 2 + np.sum(np.sin(p["x"]))

def grad(p):
    # right while x > 0.6; the burn-in descends x below it
    x = p["x"]
    return {"x": 3.0 * x + np.cos(x) - 5 * np.maximum(0.6 - x, 0) ** 3, "y": p["y"].copy()}

def hvp(p, v):
    return {"x": 3.0 * v["x"] - np.sin(p["x"]) * v["x"], "y": v["y"].copy()}
"""


def wrong_away_hessian(module, point):
    return np.diag(np.concatenate([3.0 - np.sin(point["x"]), [1.0]]))


@pytest.mark.parametrize("jobs", [1, 2])
def test_grad_wrong_only_at_the_generic_point_is_judged_there_in_every_process(model_file, jobs):
    path = model_file(WRONG_AWAY, "wrong_away.py")
    module = imported(path)
    assert hvp_is(module, wrong_away_hessian)
    away = {"x": np.array([0.3, 0.5]), "y": np.array([-0.4])}
    numeric = loss_gradient(module.loss, away)
    assert not np.allclose(module.grad(away)["x"], numeric["x"], rtol=1e-6)
    result, reports = run_json(f"{path}:hvp", "--jobs", jobs)
    report = reports[f"{path}:hvp"]
    assert result.exit_code == 0, result.output
    assert report["verdict"] == "pass"
    generic = report["generic_point"]["check"]
    assert generic["verdict"] == "pass"
    # grad agreed at the start point; the generic point's report says where it stopped agreeing
    assert not note_of_truth(report)
    assert any("at the generic point" in n for n in note_of_truth(generic))
