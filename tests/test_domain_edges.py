"""Parameters near their domain's wall: a log's (the loss breaks beyond it),
a pole's (finite beyond it, of the other sign), sqrt's and x log x's, at
distances 1e-4 to 1e-12 from it, in params-dict models and in scipy's
conventions. A right derivative there passes and a wrong one (a sign, a
factor 2) fails; a derivative no step can measure is not shown wrong.

The truth is mpmath's: each function is written again for it and
differentiated at 40 digits at the very float point checked (the premise
of each test says the hand-written derivative is right, or wrong, there)."""

import json

import mpmath
import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import check
from gradcheck_cli.cli import main

mpmath.mp.dps = 40

# name: (loss of w in numpy, its gradient in numpy, the same loss of one
# element for mpmath, the wall's element at distance d from its wall)
KINDS = {
    "log barrier at 0": ("-np.sum(np.log(w))", "-1 / w", lambda v: -mpmath.log(v), lambda d: d),
    "log barrier at 1": ("-np.sum(np.log1p(-w))", "1 / (1 - w)", lambda v: -mpmath.log(1 - v), lambda d: 1 - d),
    "sqrt": ("np.sum(np.sqrt(w))", "0.5 / np.sqrt(w)", mpmath.sqrt, lambda d: d),
    "x log x": ("np.sum(w * np.log(w))", "np.log(w) + 1", lambda v: v * mpmath.log(v), lambda d: d),
    "pole 1/x": ("np.sum(1 / w)", "-1 / w ** 2", lambda v: 1 / v, lambda d: d),
}
# x log x at 1e-12 is left out: its slope (-27) is small beside the steps it
# needs (below 1e-12), so the loss's rounding leaves it unverified, honestly.
DISTANCES = {kind: (1e-4, 1e-7, 1e-10) if kind == "x log x" else (1e-4, 1e-7, 1e-10, 1e-12) for kind in KINDS}
BUGS = {"right": "g", "sign": "np.concatenate([-g[:1], g[1:]])", "factor": "np.concatenate([2 * g[:1], g[1:]])"}

MODEL = """
import numpy as np

params = {{"w": np.array({w!r})}}

def loss(p):
    w = p["w"]
    with np.errstate(all="ignore"):
        return float({loss})

def grad(p):
    w = p["w"]
    g = {grad}
    return {{"w": {bug}}}
"""


def params_dict_model(model_file, kind, w, bug):
    loss, grad, _, _ = KINDS[kind]
    return model_file(MODEL.format(w=list(map(float, w)), loss=loss, grad=grad, bug=BUGS[bug]))


def true_gradient(kind, w):
    f = KINDS[kind][2]
    return np.array([float(mpmath.diff(f, mpmath.mpf(float(v)))) for v in w])


def the_gradient(path, w):
    namespace = {}
    exec(open(path).read(), namespace)
    return namespace["grad"]({"w": np.array(w)})["w"]


def right_where_the_truth_says(path, kind, w):
    """Which elements of the model's gradient at w mpmath says are right (the premise)."""
    truth = true_gradient(kind, w)
    return np.abs(the_gradient(path, w) - truth) <= 1e-9 * np.abs(truth)


def grades(report):
    return {d.index: d.grade for b in report.blocks for d in b.dims}


CASES = [(kind, d) for kind in KINDS for d in DISTANCES[kind]]


@pytest.mark.parametrize("kind, distance", CASES, ids=[f"{k}-{d:g}" for k, d in CASES])
def test_a_right_gradient_near_its_wall_passes_and_a_wrong_one_fails(model_file, kind, distance):
    w = [KINDS[kind][3](distance), 0.7 if kind != "log barrier at 1" else 0.3]
    right = params_dict_model(model_file, kind, w, "right")
    assert right_where_the_truth_says(right, kind, w).all()  # (the premise)
    # At the start point alone: the generic point moves away from the wall.
    report = check(right, warmup="off")
    assert report.verdict == "pass", grades(report)
    assert grades(report)[(0,)] in ("pass", "ok")
    for bug in ("sign", "factor"):
        wrong = params_dict_model(model_file, kind, w, bug)
        assert right_where_the_truth_says(wrong, kind, w).tolist() == [False, True]  # (the premise)
        report = check(wrong, warmup="off")
        assert report.verdict == "fail" and grades(report) == {(0,): "fail", (1,): "pass"}, (bug, grades(report))


@pytest.mark.parametrize("distance", [1e-7, 1e-10])
def test_directions_through_a_block_with_one_element_at_its_wall_pass_right_and_fail_wrong(model_file, distance):
    # 40 elements, one of them 1e-10 from log's wall: a direction moves it by
    # the step times the block's scale over sqrt(40), past the wall.
    w = [distance] + list(np.linspace(0.5, 1.5, 39))
    right = params_dict_model(model_file, "log barrier at 0", w, "right")
    assert right_where_the_truth_says(right, "log barrier at 0", w).all()  # (the premise)
    report = check(right, warmup="off")
    block = report.blocks[0]
    assert block.directions and all(d.grade in ("pass", "ok") for d in block.directions + block.dims)
    assert report.verdict == "pass"
    wrong = params_dict_model(model_file, "log barrier at 0", w, "sign")
    report = check(wrong, warmup="off")
    # Element 0 is not among the sampled coordinates unless drawn; every
    # direction moves it, and its error (2e10) dwarfs the rest: they fail.
    assert report.verdict == "fail"
    assert all(d.grade == "fail" for d in report.blocks[0].directions)


def test_h_auto_near_a_wall_finds_the_steps_that_fit(model_file):
    w = [1e-10, 0.7]
    right = params_dict_model(model_file, "log barrier at 0", w, "right")
    assert check(right, warmup="off", h="auto").verdict == "pass"
    wrong = params_dict_model(model_file, "log barrier at 0", w, "factor")
    assert grades(check(wrong, warmup="off", h="auto"))[(0,)] == "fail"


def test_a_derivative_no_step_can_measure_is_unverified_and_says_why(model_file):
    # w[0] = 0.25 is on the wall: the loss is nan on one side at every step,
    # and a wrong gradient there cannot be shown wrong by the loss.
    path = model_file("""
        import numpy as np
        params = {"w": np.array([0.25, 0.7])}
        def loss(p):
            w = p["w"]
            return float(np.sum(w ** 2)) if w[0] <= 0.25 else float("nan")
        def grad(p):
            return {"w": np.array([-5.0, 2 * p["w"][1]])}
    """)
    report = check(path, warmup="off")
    dim = next(d for d in report.blocks[0].dims if d.index == (0,))
    assert dim.grade == "unverified" and report.verdict == "warn"
    assert "the loss is nan with w[0] changed" in dim.message and "not verified" in dim.message


# -- scipy's conventions: fun, jac, hess at a barrier's wall ---------------------------------

BARRIER = """
import numpy as np

# -log(x) - log(1 - x) of the box (0, 1)^2, x0 {d:g} from its walls
x0 = np.array([{d!r}, 1 - {d!r}])

def fun(x):
    return -np.sum(np.log(x)) - np.sum(np.log1p(-x))

def jac(x):
    return -1 / x + 1 / (1 - x)

def hess(x):
    return np.diag(1 / x ** 2 + 1 / (1 - x) ** 2)
"""


def barrier_mp(v):
    return -mpmath.log(v) - mpmath.log(1 - v)


def run_json(path):
    result = CliRunner().invoke(main, [path, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return {m["model"].rsplit(":", 1)[1]: m["verdict"] for m in json.loads(result.stdout)["models"]}


# (At 1e-12 from the wall at 1, jac's pole is 4500 ulps of x away: every
# noise table crosses it and H[1, 1] is left unverified, not failed.)
@pytest.mark.parametrize("distance", [1e-4, 1e-7, 1e-10])
def test_scipy_jac_and_hess_at_a_barriers_walls_pass_right_and_fail_wrong(model_file, distance):
    path = model_file(BARRIER.format(d=distance), "barrier.py")
    namespace = {}
    exec(open(path).read(), namespace)
    x0 = namespace["x0"]
    jac_truth = [float(mpmath.diff(barrier_mp, mpmath.mpf(float(v)))) for v in x0]
    hess_truth = [float(mpmath.diff(barrier_mp, mpmath.mpf(float(v)), 2)) for v in x0]
    assert np.allclose(namespace["jac"](x0), jac_truth, rtol=1e-9, atol=0)  # (the premise)
    assert np.allclose(np.diag(namespace["hess"](x0)), hess_truth, rtol=1e-9, atol=0)
    assert run_json(path) == {"jac": "pass", "hess": "pass"}
    # A Hessian whose 1/(1 - x)^2 term has the wrong sign: wrong at the wall
    # at 1 by 2/(1 - x)^2, and at 0 by less than 2 (relatively 2 d^2).
    wrong = model_file(BARRIER.format(d=distance).replace("+ 1 / (1 - x) ** 2", "- 1 / (1 - x) ** 2"), "wrong.py")
    namespace = {}
    exec(open(wrong).read(), namespace)
    assert not np.isclose(namespace["hess"](x0)[1, 1], hess_truth[1], rtol=1e-3)  # (the premise)
    assert run_json(wrong) == {"jac": "pass", "hess": "fail"}


POLE_HESS = """
import numpy as np

# -log(1 - x), {d:g} below its wall: jac = 1 / (1 - x) is finite past it (a pole)
x0 = np.array([1 - {d!r}])

def fun(x):
    return -np.sum(np.log1p(-x))

def jac(x):
    return 1 / (1 - x)

def hess(x):
    return np.diag({factor} / (1 - x) ** 2)
"""


@pytest.mark.parametrize("distance", [1e-7, 1e-10])
def test_a_hessian_whose_jac_has_a_pole_past_the_wall_passes_right_and_fails_wrong(model_file, distance):
    right = model_file(POLE_HESS.format(d=distance, factor=1), "pole.py")
    x0 = 1 - distance
    truth = float(mpmath.diff(lambda v: -mpmath.log(1 - v), mpmath.mpf(x0), 2))
    assert abs(1 / (1 - x0) ** 2 - truth) <= 1e-9 * truth  # (the premise)
    assert run_json(right) == {"jac": "pass", "hess": "pass"}
    wrong = model_file(POLE_HESS.format(d=distance, factor=2), "wrong.py")
    assert run_json(wrong) == {"jac": "pass", "hess": "fail"}
