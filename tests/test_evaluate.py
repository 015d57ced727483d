"""Calling user code: reseeding, validation, mutation and determinism checks."""

import random

import numpy as np
import pytest

from gradcheck_cli import ModelError, NondeterminismError, ParamsModifiedError, UserCodeError, check


def sq_loss(p):
    return float(np.sum(p["W"] ** 2))


def sq_grad(p):
    return {"W": 2 * p["W"]}


PARAMS = {"W": np.array([[0.5, -1.0], [2.0, 0.25]])}


def run(loss=sq_loss, grad=sq_grad, params=None, **kw):
    return check(loss=loss, grad=grad, params=PARAMS if params is None else params, **kw)


def test_a_correct_gradient_passes():
    assert run().verdict == "pass"


def test_callers_arrays_are_never_modified():
    W = np.array([[0.5, -1.0], [2.0, 0.25]])
    before = W.copy()
    run(params={"W": W}, samples=None)
    assert np.array_equal(W, before) and W.flags.writeable


def test_loss_and_grad_alone_is_enough():
    report = check(loss_and_grad=lambda p: (sq_loss(p), sq_grad(p)), params=PARAMS)
    assert report.verdict == "pass"


def test_reseeding_makes_dropout_checkable():
    x = np.random.default_rng(0).standard_normal(20)

    def forward(p):
        mask = np.random.rand(20) < 0.5  # a fresh draw every call
        noise = random.random()
        return mask, noise

    def loss(p):
        mask, noise = forward(p)
        return float(np.sum((p["w"] * x) ** 2 * mask) * (1 + noise))

    def grad(p):
        mask, noise = forward(p)
        return {"w": 2 * p["w"] * x**2 * mask * (1 + noise)}

    assert check(loss=loss, grad=grad, params={"w": np.linspace(-1, 1, 20)}).verdict == "pass"


def test_global_random_state_is_restored():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.rand(), random.random()
    np.random.seed(123)
    random.seed(123)
    run()
    assert np.random.rand() == expected_np
    assert random.random() == expected_py


def test_randomness_that_reseeding_cannot_reach_is_nondeterminism():
    rng = np.random.default_rng()  # made once, outside loss: not reset

    def loss(p):
        return sq_loss(p) + rng.random()

    with pytest.raises(NondeterminismError, match="loss is nondeterministic.*reseeded.*Generator"):
        run(loss=loss)


def test_nondeterministic_gradient_names_the_block_and_element():
    rng = np.random.default_rng()

    def grad(p):
        g = sq_grad(p)
        g["W"] = g["W"] + np.eye(2) * rng.random()
        return g

    with pytest.raises(NondeterminismError, match=r"grad is nondeterministic.*W\[0, 0\]"):
        run(grad=grad)


def test_loss_modifying_its_params_is_an_error_naming_the_block():
    def loss(p):
        p["W"] *= 1.0000001
        return sq_loss(p)

    with pytest.raises(ParamsModifiedError, match=r"loss modified params\['W'\] in place"):
        run(loss=loss)


def test_grad_modifying_its_params_is_an_error():
    def grad(p):
        g = sq_grad(p)
        p["W"][0, 0] = 99.0
        return g

    with pytest.raises(ParamsModifiedError, match=r"grad modified params\['W'\] in place: element \[0, 0\]"):
        run(grad=grad)


def test_modification_is_caught_and_undone_even_when_only_at_a_perturbed_point():
    W = PARAMS["W"].copy()

    def loss(p):
        if p["W"][1, 1] != W[1, 1]:
            p["W"][0, 0] = 0.0
        return sq_loss(p)

    with pytest.raises(ParamsModifiedError):
        run(loss=loss, params={"W": W}, samples=None)
    assert np.array_equal(W, PARAMS["W"])


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "loss returned None"),
        ("1.0", "loss returned a str"),
        (np.ones(3), r"array of shape \(3,\); the loss must be a scalar"),
        (True, "loss returned a boolean"),
        (np.array([1j]), "complex128 value"),
    ],
)
def test_loss_must_return_a_real_scalar(value, message):
    with pytest.raises(ModelError, match=message):
        run(loss=lambda p: value)


def test_a_size_one_array_loss_is_accepted():
    assert run(loss=lambda p: np.array([[sq_loss(p)]])).verdict == "pass"


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "grad returned None"),
        ([np.zeros((2, 2))], "grad returned a list; it must return a dict with the same keys as params"),
        ({}, r"no gradient for block\(s\) 'W'"),
        ({"W": np.zeros((2, 2)), "V": np.zeros(1)}, r"block\(s\) 'V' that params does not have"),
        ({"W": np.zeros(4)}, r"grad\['W'\] has shape \(4,\), but params\['W'\] has shape \(2, 2\)"),
        ({"W": np.array([[0.0, 1.0], [np.inf, 0.0]])}, r"grad\['W'\] has a non-finite value inf at index \[1, 0\]"),
        ({"W": np.array([["a", "b"], ["c", "d"]])}, "dtype <U1"),
        ({"W": None}, r"grad returned None for 'W' \(is a return missing\?\)"),
    ],
)
def test_grad_must_match_the_params(value, message):
    with pytest.raises(ModelError, match=message):
        run(grad=lambda p: value)


def test_an_array_returned_for_a_dict_is_named_an_array_even_when_tracked():
    """The gradient of a tracked loss is an array subclass of gradcheck's own:
    the message speaks of what the user returned, an array."""
    with pytest.raises(ModelError, match=r"returned an array of shape \(2, 2\); it must return a dict") as raised:
        check(loss_and_grad=lambda p: (float(np.sum(np.maximum(p["W"], 0))), p["W"] * 1.0), params=PARAMS)
    assert "Tracked" not in str(raised.value)


def test_loss_and_grad_must_return_a_pair():
    with pytest.raises(ModelError, match="must return a pair"):
        check(loss_and_grad=lambda p: sq_loss(p), params=PARAMS)


def test_nonfinite_loss_at_the_start_suggests_the_max_shift():
    with pytest.raises(ModelError, match=r"loss is nan at the starting point.*max before exp"):
        run(loss=lambda p: float("nan"))


def test_user_exception_at_the_start_shows_the_users_frames():
    def loss(p):
        return {}["missing"]

    with pytest.raises(UserCodeError, match="loss raised KeyError") as info:
        run(loss=loss)
    assert "test_evaluate.py" in info.value.user_traceback
    assert "gradcheck_cli" not in info.value.user_traceback


def test_user_exception_at_a_perturbed_point_leaves_that_dimension_unverified_and_carries_on():
    # W[0, 1] = -1.0 sits on the wall of the loss's domain: every step to
    # its left raises, down to the coordinate's own scale, so nothing
    # measures it (unverified, never failed: no difference shows it wrong;
    # tests/test_domain_edges.py), and the other dimensions are checked.
    def loss(p):
        if p["W"][0, 1] < -1.0:
            raise ArithmeticError("bad region")
        return sq_loss(p)

    report = run(loss=loss, samples=None)
    assert report.verdict == "warn"
    (block,) = report.blocks
    unverified = [d for d in block.dims if d.grade == "unverified"]
    assert [d.index for d in unverified] == [(0, 1)]
    assert "ArithmeticError: bad region" in unverified[0].message
    assert "cannot be measured here" in unverified[0].message
    assert sum(d.grade == "pass" for d in block.dims) == 3


def test_model_prints_go_to_stderr(capsys):
    def loss(p):
        print("hello from loss")
        return sq_loss(p)

    run(loss=loss)
    out, err = capsys.readouterr()
    assert out == ""
    assert "hello from loss" in err


def test_float32_loss_is_a_warning():
    report = run(loss=lambda p: np.float32(sq_loss(p)))
    assert report.verdict in ("warn", "fail")
    assert any("float32" in w for w in report.warnings)


def test_float32_gradient_is_a_note():
    report = run(grad=lambda p: {"W": (2 * p["W"]).astype(np.float32)})
    assert any("float32" in n for n in report.notes)


def test_evaluations_are_counted():
    # 4 calls at the start (loss and grad twice each), 6 of each to measure
    # the loss's and the gradient's noise, then 2 per coordinate (the 2x2
    # block is checked fully, so no directions); at the start point only.
    assert run(samples=None, warmup="off").evaluations == 4 + 12 + 2 * 4


def test_loss_and_grad_is_called_once_per_point_at_the_start():
    # twice at the start (loss and gradient come from the same call), 6 for
    # the noise, then 2 per coordinate
    report = check(loss_and_grad=lambda p: (sq_loss(p), sq_grad(p)), params=PARAMS, samples=None, warmup="off")
    assert report.evaluations == 2 + 6 + 2 * 4


def test_a_change_to_another_block_than_the_perturbed_one_is_caught_too():
    params = {"W": np.ones((2, 2)), "b": np.ones(3)}

    def loss(p):
        if p["b"][0] != 1.0:
            p["W"][1, 1] = 5.0  # writes into a block other than the one perturbed
        return float(np.sum(p["W"] ** 2) + np.sum(p["b"] ** 2))

    with pytest.raises(ParamsModifiedError, match=r"params\['W'\]"):
        check(loss=loss, grad=lambda p: {"W": 2 * p["W"], "b": 2 * p["b"]}, params=params, samples=None)
    assert params["W"][1, 1] == 1.0
