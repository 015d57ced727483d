"""A params-dict model's hvp(params, v), checked as FILE:hvp (issue 27, section 2).

The truth for each model is established here, independently of gradcheck:
logistic regression's Hessian written out (X^T S X / N + REG I), the other
models' H v from a central difference of their grad written in this file.
"""

import importlib.util
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli.cli import main

from .conftest import SAMPLES, without_seconds


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)])


def run_json(*args):
    result = run(*args, "--format", "json")
    return result, {m["model"]: m for m in json.loads(result.stdout)["models"]}


def imported(path):
    spec = importlib.util.spec_from_file_location(f"hvp_truth_{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def failing(report):
    """(block, index) of every value graded fail."""
    return {(b["name"], tuple(d["index"])) for b in report["blocks"] for d in b["dims"]
            if d["grade"] == "fail" and d["index"] is not None}


def failed_blocks(report):
    return {b["name"] for b in report["blocks"] if b["grade"] == "fail"}


def central_hvp(grad, params, v, h=1e-5):
    """H v as grad's central difference along v, written here."""
    plus = grad({k: params[k] + h * v[k] for k in params})
    minus = grad({k: params[k] - h * v[k] for k in params})
    return {k: (plus[k] - minus[k]) / (2 * h) for k in params}


def random_like(params, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(np.shape(p)) for k, p in params.items()}


# -- logistic regression: the explicit Hessian -------------------------------

LOGISTIC = SAMPLES / "logistic_hvp.py"


def logistic_hessian(m, params):
    """d2/d(w, b)^2 of mean(log(1 + e^z) - y z) + REG/2 |w|^2, z = X w + b."""
    p = 1 / (1 + np.exp(-(m.X @ params["w"] + params["b"][0])))
    A = np.hstack([m.X, np.ones((m.N, 1))])  # columns: w's, then b
    H = A.T @ (A * (p * (1 - p))[:, None]) / m.N
    H[:m.D, :m.D] += m.REG * np.eye(m.D)
    return H


def logistic_truth_holds(path, seed=0):
    """Whether the file's hvp is X^T S X v / N + REG v at three points."""
    m = imported(str(path))
    params = m.init_params(0)
    for k in range(3):
        point = {key: value + 0.3 * step for (key, value), step in
                 zip(params.items(), random_like(params, 10 + k).values())}
        v = random_like(point, 20 + k)
        Hv = logistic_hessian(m, point) @ np.concatenate([v["w"], v["b"]])
        got = m.hvp(point, v)
        if not np.allclose(np.concatenate([got["w"], got["b"]]), Hv, rtol=1e-10, atol=1e-12):
            return False
    return True


WRONG_LOGISTIC = {
    # the sigmoid's derivative p (1 - p) left out of the weights
    "no_sigmoid_factor": ("weights = p * (1.0 - p) / N", "weights = np.full(N, 1.0 / N)", {"w", "b"}),
    # the regularization term's hvp left out
    "no_regularization": (' + REG * v["w"]', "", {"w"}),
    # the scores' change along v without b's part: H's w-b and b-b entries dropped
    "scores_without_bias": ('xv = X @ v["w"] + v["b"][0]', 'xv = X @ v["w"]', {"w", "b"}),
}


@pytest.fixture
def logistic_variant(tmp_path):
    def write(name):
        old, new, _ = WRONG_LOGISTIC[name]
        source = LOGISTIC.read_text()
        assert old in source
        path = tmp_path / f"logistic_{name}.py"
        path.write_text(source.replace(old, new))
        return path

    return write


def test_logistic_regression_hvp_right_passes():
    assert logistic_truth_holds(LOGISTIC)
    result, reports = run_json(f"{LOGISTIC}:hvp", "--samples", "all")
    assert result.exit_code == 0, result.output
    report = reports[f"{LOGISTIC}:hvp"]
    assert report["verdict"] == "pass"
    assert {b["name"]: b["grade"] for b in report["blocks"]} == {"w": "pass", "b": "pass"}


@pytest.mark.parametrize("name", sorted(WRONG_LOGISTIC))
def test_logistic_regression_hvp_wrong_fails_in_the_wrong_blocks(logistic_variant, name):
    path = logistic_variant(name)
    assert not logistic_truth_holds(path)
    result, reports = run_json(f"{path}:hvp", "--samples", "all")
    assert result.exit_code == 1, result.output
    report = reports[f"{path}:hvp"]
    assert report["verdict"] == "fail"
    assert failed_blocks(report) == WRONG_LOGISTIC[name][2]


def test_the_report_names_the_derivative_and_splits_no_regularization(logistic_variant):
    path = logistic_variant("no_regularization")
    result, reports = run_json(f"{path}:hvp")
    report = reports[f"{path}:hvp"]
    assert report["derivative"] == "Hessian-vector product"
    # (the reduction's loss is no objective: REG's share in it is nothing to split off)
    assert report["regularization"] is None


def test_check_derivatives_checks_a_models_hvp():
    from gradcheck_cli.derivatives import check_derivatives

    reports = check_derivatives(LOGISTIC)
    assert list(reports) == ["hvp"]
    assert reports["hvp"].passed and reports["hvp"].derivative == "Hessian-vector product"


# -- a two-layer ReLU/softmax net: kinks -----------------------------------------

RELU_NET = """
import numpy as np

N, D, H, C = 6, 5, 7, 3
REG = 0.05
_data = np.random.default_rng(3)
X = _data.standard_normal((N, D))
X[0] = 0.0  # example 0's pre-activations are b1: units 2 and 4 start exactly on ReLU's kink
y = _data.integers(0, C, size=N)
Y = np.eye(C)[y]


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    b1 = 0.1 * rng.standard_normal(H)
    b1[[2, 4]] = 0.0
    return {"W1": 0.5 * rng.standard_normal((D, H)), "b1": b1,
            "W2": 0.5 * rng.standard_normal((H, C)), "b2": 0.1 * rng.standard_normal(C)}


def _forward(params):
    z = X @ params["W1"] + params["b1"]
    h = np.maximum(0, z)
    s = h @ params["W2"] + params["b2"]
    s = s - s.max(axis=1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=1, keepdims=True)
    return z, h, p


def loss(params):
    z, h, p = _forward(params)
    return -np.mean(np.log(p[np.arange(N), y])) + REG * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))


def grad(params):
    z, h, p = _forward(params)
    ds = (p - Y) / N
    dz = (ds @ params["W2"].T) * (z > 0)
    return {"W1": X.T @ dz + 2 * REG * params["W1"], "b1": dz.sum(axis=0),
            "W2": h.T @ ds + 2 * REG * params["W2"], "b2": ds.sum(axis=0)}


def hvp(params, v):
    # Pearlmutter's R-operator through the forward and backward passes
    z, h, p = _forward(params)
    mask = z > 0
    ds = (p - Y) / N
    rz = X @ v["W1"] + v["b1"]
    rh = rz * mask
    rs = rh @ params["W2"] + h @ v["W2"] + v["b2"]
    rds = (p * rs - p * np.sum(p * rs, axis=1, keepdims=True)) / N
    rdh = rds @ params["W2"].T + ds @ v["W2"].T
    rdz = rdh * mask
    return {"W1": X.T @ rdz + 2 * REG * v["W1"], "b1": rdz.sum(axis=0),
            "W2": rh.T @ ds + h.T @ rds + 2 * REG * v["W2"], "b2": rds.sum(axis=0)}
"""
# The backward pass's dependence on W2 left out of R(dh): W1's and b1's H v wrong.
RELU_NET_WRONG = RELU_NET.replace('rdh = rds @ params["W2"].T + ds @ v["W2"].T', 'rdh = rds @ params["W2"].T')


def hvp_matches_differences(module, seed=0):
    """Whether module.hvp is grad's central difference along v at a point
    off the kinks (the start point moved by a seeded Gaussian)."""
    params = module.init_params(0)
    point = {k: p + 0.2 * s for (k, p), s in zip(params.items(), random_like(params, seed).values())}
    v = random_like(point, seed + 1)
    numeric = central_hvp(module.grad, point, v)
    analytic = module.hvp(point, v)
    return all(np.allclose(analytic[k], numeric[k], rtol=1e-6, atol=1e-8) for k in point)


def test_relu_net_hvp_right_passes_with_the_kinks_crossed_reported(model_file):
    path = model_file(RELU_NET, "relu_net.py")
    assert hvp_matches_differences(imported(path))
    result, reports = run_json(f"{path}:hvp")
    assert result.exit_code == 0, result.output
    report = reports[f"{path}:hvp"]
    assert report["verdict"] == "pass"
    assert report["kinked"] is True
    line = next(i for i, text in enumerate(RELU_NET.splitlines(), 1) if "np.maximum" in text)
    on_kink = {(block["name"], tuple(d["index"])) for block in report["blocks"] for d in block["dims"]
               if d["kink"] is not None}
    # Only b1[2] and b1[4] move example 0's pre-activations (its X row is 0), which sit on the kink: grad
    # jumps there, so H v is undefined, and any value is judged as a subgradient, not failed.
    assert on_kink == {("b1", (2,)), ("b1", (4,))}
    for block in report["blocks"]:
        for d in block["dims"]:
            if d["kink"] is not None:
                assert d["grade"] == "ok" and d["kink"]["line"] == line and d["kink"]["op"] == "maximum"


def test_relu_net_hvp_wrong_fails_off_the_kinks(model_file):
    path = model_file(RELU_NET_WRONG, "relu_net_wrong.py")
    assert not hvp_matches_differences(imported(path))
    result, reports = run_json(f"{path}:hvp")
    assert result.exit_code == 1, result.output
    report = reports[f"{path}:hvp"]
    assert failed_blocks(report) == {"W1", "b1"}
    # (failed where the values are decided, not where a kink was crossed)
    for block in report["blocks"]:
        for dim in block["dims"]:
            if dim["grade"] == "fail":
                assert dim["kink"] is None, (block["name"], dim["index"])


# -- a wrong element, located ----------------------------------------------------

SOFTMAX_REGRESSION = """
import numpy as np

N, D, C = 10, 4, 3
REG = 0.1
_data = np.random.default_rng(5)
X = _data.standard_normal((N, D))
Y = np.eye(C)[_data.integers(0, C, size=N)]


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"W": 0.5 * rng.standard_normal((D, C)), "b": 0.1 * rng.standard_normal(C)}


def _probs(params):
    s = X @ params["W"] + params["b"]
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def loss(params):
    p = _probs(params)
    return -np.sum(Y * np.log(p)) / N + 0.5 * REG * np.sum(params["W"] ** 2)


def grad(params):
    ds = (_probs(params) - Y) / N
    return {"W": X.T @ ds + REG * params["W"], "b": ds.sum(axis=0)}


def hvp(params, v):
    p = _probs(params)
    rs = X @ v["W"] + v["b"]
    rds = (p * rs - p * np.sum(p * rs, axis=1, keepdims=True)) / N
    out = {"W": X.T @ rds + REG * v["W"], "b": rds.sum(axis=0)}
    out["W"][1, 2] += WRONG * v["W"][1, 2]  # (a diagonal element of H off by WRONG)
    return out

WRONG = 0.5
"""


def test_a_wrong_element_is_located_in_its_block(model_file):
    path = model_file(SOFTMAX_REGRESSION, "softmax_regression.py")
    module = imported(path)
    module.WRONG = 0.0
    assert hvp_matches_differences(module)
    module.WRONG = 0.5
    assert not hvp_matches_differences(module)
    result, reports = run_json(f"{path}:hvp", "--samples", "all")
    assert result.exit_code == 1, result.output
    report = reports[f"{path}:hvp"]
    assert failing(report) == {("W", (1, 2))}
    assert failed_blocks(report) == {"W"}
    text = run(f"{path}:hvp", "--samples", "all")
    assert re.search(r"W\[1, 2\]: fail", text.stdout)


def test_a_wrong_element_is_found_by_drilling_down_a_direction(model_file):
    """60 elements, 10 coordinates sampled: a failing random direction of W
    is bisected down to the one wrong element."""
    source = SOFTMAX_REGRESSION.replace("N, D, C = 10, 4, 3", "N, D, C = 30, 10, 6").replace(
        'out["W"][1, 2]', 'out["W"][7, 4]')
    path = model_file(source, "softmax_regression.py")
    result, reports = run_json(f"{path}:hvp")
    assert result.exit_code == 1, result.output
    report = reports[f"{path}:hvp"]
    assert failing(report) == {("W", (7, 4))}
    block = next(b for b in report["blocks"] if b["name"] == "W")
    assert block["checked"] < block["size"]
    assert any(d["drilled"] for d in block["dims"] if d["grade"] == "fail")


def test_the_same_element_right_passes(model_file):
    path = model_file(SOFTMAX_REGRESSION.replace("WRONG = 0.5", "WRONG = 0.0"), "softmax_regression.py")
    result, reports = run_json(f"{path}:hvp", "--samples", "all")
    assert result.exit_code == 0, result.output


# -- refusals by name ------------------------------------------------------------

def logistic_with_hvp(body):
    source = LOGISTIC.read_text()
    head = source[:source.index("def hvp(")]
    return head + "def hvp(params, v):\n    " + body + "\n"


@pytest.mark.parametrize("body, message", [
    ('return {"w": v["w"]}', "hvp returned no block 'b' (its keys: 'w')"),
    ('return {"w": v["w"][:2], "b": v["b"]}', "hvp['w'] has shape (2,), but params['w'] has shape (4,)"),
    ('return {"w": np.outer(v["w"], v["w"]), "b": v["b"]}', "hvp['w'] has shape (4, 4), but params['w'] has shape "
                                                           "(4,) (a matrix: hvp returns the product H v, not H)"),
    ('return [v["w"], v["b"]]', "hvp returned a list; it returns H v with the params' structure: a dict with the "
                                "blocks 'w', 'b'"),
    ("return 0.5", "hvp returned a float; it returns H v"),
    ("return np.float64(0.5)", "hvp returned a float64; it returns H v"),
    ("return None", "hvp returned None"),
    ('return {**v, "c": v["b"]}', "hvp returned block(s) 'c' that the params do not have"),
    ('return {"w": v["w"] * np.nan, "b": v["b"]}', "hvp['w'] has a non-finite value nan at index [0]"),
    ('return {"w": v["w"].astype(complex), "b": v["b"]}', "hvp['w'] has dtype complex128"),
])
def test_hvp_results_refused_by_name(model_file, body, message):
    path = model_file(logistic_with_hvp(body))
    result = run(f"{path}:hvp")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_hvp_that_takes_no_v_is_refused_by_name(model_file):
    source = logistic_with_hvp("return params").replace("def hvp(params, v):", "def hvp(params):")
    result = run(f"{model_file(source)}:hvp")
    assert result.exit_code == 2
    assert "hvp must take (params, v), the point and the vector, but its signature is (params)" in result.stderr


def test_hvp_asked_of_a_model_without_one(model_file):
    path = model_file(logistic_with_hvp("pass").replace("def hvp(params, v):\n    pass\n", ""))
    result = run(f"{path}:hvp")
    assert result.exit_code == 2
    assert "model.py defines no hvp(params, v) to check as model.py:hvp" in result.stderr


def test_an_hvp_that_raises_is_named_with_the_users_traceback(model_file):
    path = model_file(logistic_with_hvp('return {"w": v["w"] / 0.0 + 1 / 0, "b": v["b"]}'))
    result = run(f"{path}:hvp")
    assert result.exit_code == 2
    assert "hvp raised ZeroDivisionError: division by zero" in result.stderr
    assert 'return {"w": v["w"] / 0.0 + 1 / 0' in result.stderr  # (the user's line)


# -- the command line -------------------------------------------------------------

def test_a_model_with_hvp_is_checked_twice_gradient_then_hvp():
    result, reports = run_json(LOGISTIC)
    assert result.exit_code == 0, result.output
    assert list(reports) == [str(LOGISTIC), f"{LOGISTIC}:hvp"]
    assert all(r["verdict"] == "pass" for r in reports.values())
    assert reports[f"{LOGISTIC}:hvp"]["source_line"] == next(
        i for i, text in enumerate(LOGISTIC.read_text().splitlines(), 1) if text.startswith("def hvp"))


def test_a_wrong_hvp_fails_the_run_beside_its_passing_gradient(logistic_variant):
    path = logistic_variant("no_sigmoid_factor")
    result, reports = run_json(path)
    assert result.exit_code == 1
    assert {name: r["verdict"] for name, r in reports.items()} == {str(path): "pass", f"{path}:hvp": "fail"}


def test_a_model_without_hvp_is_checked_once():
    result, reports = run_json(SAMPLES / "softmax.py")
    assert list(reports) == [str(SAMPLES / "softmax.py")]


OBJECT_MODEL = """
import numpy as np

X = np.random.default_rng(4).standard_normal((12, 3))


class Quartic:
    '''loss = sum((X w)^4) / 4 + SCALE/2 |w|^2: H = 3 X^T diag((X w)^2) X + SCALE I.'''

    def __init__(self, scale):
        self.scale = scale
        self.params = self.init_params()  # (what makes it the file's model object)

    def init_params(self, seed=0):
        return {"w": np.random.default_rng(seed).standard_normal(3)}

    def loss(self, params):
        return np.sum((X @ params["w"]) ** 4) / 4 + self.scale / 2 * params["w"] @ params["w"]

    def grad(self, params):
        return {"w": X.T @ (X @ params["w"]) ** 3 + self.scale * params["w"]}

    def hvp(self, params, v):
        z = X @ params["w"]
        return {"w": 3 * X.T @ (z ** 2 * (X @ v["w"])) + FACTOR * self.scale * v["w"]}


FACTOR = 1.0
net = Quartic(0.5)
"""


@pytest.mark.parametrize("target", ["", ":net"])
def test_a_target_objects_hvp(model_file, target):
    path = model_file(OBJECT_MODEL, "quartic.py")
    module = imported(path)
    assert hvp_matches_differences(module.net)
    result, reports = run_json(f"{path}{target}")
    assert result.exit_code == 0, result.output
    assert list(reports) == [f"{path}{target}", f"{path}{target}:hvp"]
    assert all(r["verdict"] == "pass" for r in reports.values())


def test_a_target_objects_wrong_hvp_fails_and_set_reaches_it(model_file):
    path = model_file(OBJECT_MODEL.replace("FACTOR = 1.0", "FACTOR = 2.0"), "quartic.py")
    result, reports = run_json(f"{path}:net:hvp")
    assert result.exit_code == 1
    assert reports[f"{path}:net:hvp"]["verdict"] == "fail"
    result, reports = run_json(f"{path}:net:hvp", "--set", "FACTOR=1.0")
    assert result.exit_code == 0, result.output


NESTED_MODEL = """
import numpy as np

SCALE = 1.0  # (--set)
X = None  # (--data)


def init_params(seed=0):
    rng = np.random.default_rng(seed)
    return {"layers": [{"W": rng.standard_normal((3, 2))}, {"W": rng.standard_normal((2, 1))}]}


def _forward(params):
    W1, W2 = params["layers"][0]["W"], params["layers"][1]["W"]
    a = np.tanh(X @ W1)
    return W1, W2, a, a @ W2


def loss(params):
    return SCALE * 0.5 * np.sum(_forward(params)[3] ** 2)


def grad(params):
    W1, W2, a, out = _forward(params)
    da = out @ W2.T
    return {"layers": [{"W": SCALE * X.T @ (da * (1 - a ** 2))}, {"W": SCALE * a.T @ out}]}


def hvp(params, v):
    W1, W2, a, out = _forward(params)
    V1, V2 = v["layers"][0]["W"], v["layers"][1]["W"]
    params["layers"][0]["W"] = None  # (the user may overwrite what it is handed)
    da_dz = 1 - a ** 2
    ra = da_dz * (X @ V1)
    rout = ra @ W2 + a @ V2
    da = out @ W2.T
    rda = rout @ W2.T + out @ V2.T
    rdz = rda * da_dz + da * (-2 * a * ra)
    return {"layers": [{"W": SCALE * X.T @ rdz}, {"W": SCALE * (ra.T @ out + a.T @ rout) * WRONG}]}


WRONG = 1.0
"""


def nested_truth(module):
    """hvp against grad's central difference, in the nested structure."""
    params = module.init_params(0)
    rng = np.random.default_rng(7)
    v = {"layers": [{"W": rng.standard_normal(layer["W"].shape)} for layer in params["layers"]]}

    def moved(t):
        return {"layers": [{"W": p["W"] + t * d["W"]} for p, d in zip(params["layers"], v["layers"])]}

    h = 1e-5
    numeric = [(a["W"] - b["W"]) / (2 * h) for a, b in zip(module.grad(moved(h))["layers"],
                                                         module.grad(moved(-h))["layers"])]
    analytic = [layer["W"] for layer in module.hvp(moved(0.0), v)["layers"]]
    return all(np.allclose(a, n, rtol=1e-6, atol=1e-8) for a, n in zip(analytic, numeric))


def test_nested_params_data_and_set_reach_the_hvp(model_file, tmp_path):
    path = model_file(NESTED_MODEL, "nested.py")
    data = tmp_path / "data.npz"
    np.savez(data, X=np.random.default_rng(8).standard_normal((5, 3)))
    module = imported(path)
    module.X = np.load(data)["X"]
    assert nested_truth(module)
    module.WRONG = 1.5
    assert not nested_truth(module)

    result, reports = run_json(path, "--data", data, "--set", "SCALE=3.0", "--seed", "4")
    assert result.exit_code == 0, result.output
    assert list(reports) == [path, f"{path}:hvp"]
    result, reports = run_json(f"{path}:hvp", "--data", data, "--set", "WRONG=1.5")
    assert result.exit_code == 1
    assert failed_blocks(reports[f"{path}:hvp"]) == {"layers[1].W"}


def test_workers_draw_the_same_v():
    one = run(f"{LOGISTIC}:hvp", "--format", "json", "--jobs", "1")
    two = run(f"{LOGISTIC}:hvp", "--format", "json", "--jobs", "2")
    assert one.exit_code == two.exit_code == 0, (one.output, two.output)
    assert without_seconds(json.loads(one.stdout)) == without_seconds(json.loads(two.stdout))


PIECEWISE_LINEAR = """
import numpy as np

X = np.random.default_rng(0).standard_normal((20, 3))


def init_params(seed=0):
    return {"w": np.random.default_rng(seed).standard_normal(3)}


def loss(params):
    return np.sum(np.maximum(0, X @ params["w"]))


def grad(params):
    return {"w": X.T @ (X @ params["w"] > 0).astype(float)}


def hvp(params, v):
    mask = (X @ params["w"] > 0).astype(float)
    return {"w": FACTOR * X.T @ (mask * (X @ v["w"]))}  # (Gauss-Newton's term: this H is 0)


FACTOR = 0.0
"""


def test_a_piecewise_linear_models_hvp_is_zero_and_a_nonzero_one_fails(model_file):
    """sum(relu(X w)): grad is piecewise constant, H = 0 off the kinks, so
    the reduction's loss stands still; that is H v = 0, not a loss that
    ignores its params or rounds coarsely."""
    path = model_file(PIECEWISE_LINEAR, "relu_sum.py")
    module = imported(path)
    assert hvp_matches_differences(module)  # (0 == 0)
    result, reports = run_json(f"{path}:hvp")
    assert result.exit_code == 0, result.output
    assert reports[f"{path}:hvp"]["verdict"] != "fail"
    module.FACTOR = 1.0
    assert not hvp_matches_differences(module)
    result, reports = run_json(f"{path}:hvp", "--set", "FACTOR=1.0")
    assert result.exit_code == 1, result.output
    assert failed_blocks(reports[f"{path}:hvp"]) == {"w"}


X_LOG_X = """
import numpy as np


def init_params(seed=0):
    return {"x": np.array([1e-3, 0.5, 2.0, 1e-5])}  # (1e-5: a step of 1e-5 reaches log's edge)


def loss(params):
    return np.sum(params["x"] * np.log(params["x"]))


def grad(params):
    return {"x": np.log(params["x"]) + 1}


def hvp(params, v):
    return {"x": FACTOR * v["x"] / params["x"]}


FACTOR = 1.0
"""


@pytest.mark.parametrize("factor, code", [(1.0, 0), (2.0, 1)])
def test_an_hvp_near_the_edge_of_its_domain(model_file, factor, code):
    """grad is -inf where a step reaches x = 0: the loss's own undefined
    point (a smaller step), never a refusal of the model."""
    path = model_file(X_LOG_X, "x_log_x.py")
    module = imported(path)
    module.FACTOR = factor
    params = module.init_params()
    v = random_like(params, 3)
    assert np.allclose(module.hvp(params, v)["x"], v["x"] / params["x"]) == (factor == 1.0)  # H = diag(1 / x)
    result, reports = run_json(f"{path}:hvp", "--set", f"FACTOR={factor}")
    assert result.exit_code == code, result.output
    assert reports[f"{path}:hvp"]["verdict"] == ("pass" if code == 0 else "fail")


def test_grad_and_hvp_may_overwrite_what_they_are_handed(model_file):
    """Each call gets copies of the point and of v, as scipy hands copies:
    the user's scratch writes are theirs, and v stays gradcheck's."""
    source = LOGISTIC.read_text()
    source = source.replace('''    return {"w": X.T @ (weights * xv) + REG * v["w"], "b": np.array([weights @ xv])}''',
                            '''    result = {"w": X.T @ (weights * xv) + REG * v["w"], "b": np.array([weights @ xv])}
    params["w"] -= 1.0  # (scratch use of what it was handed)
    v["w"][:] = 0.0
    return result''')
    source = source.replace('''    residual = _probs(params) - y
''', '''    residual = _probs(params) - y
    params["b"] *= 3.0
''')
    path = model_file(source)
    result, reports = run_json(f"{path}:hvp")
    assert result.exit_code == 0, result.output
    assert reports[f"{path}:hvp"]["verdict"] == "pass"


def test_a_transposed_product_fails_with_the_hint_saying_so(model_file):
    source = SOFTMAX_REGRESSION.replace("N, D, C = 10, 4, 3", "N, D, C = 12, 4, 4").replace(
        'out["W"][1, 2] += WRONG * v["W"][1, 2]', 'out["W"] = out["W"].T  # (H v of a square W, transposed)')
    path = model_file(source, "transposed.py")
    assert not hvp_matches_differences(imported(path))
    result, reports = run_json(f"{path}:hvp")
    assert result.exit_code == 1, result.output
    report = reports[f"{path}:hvp"]
    assert failed_blocks(report) == {"W"}
    W = next(b for b in report["blocks"] if b["name"] == "W")
    assert W["diagnosis"]["kind"] == "transpose"
