"""Verdicts against an error budget (issue 11): a disagreement far beyond
what round-off and truncation allow fails, whatever band its relative
error sits in; one within the budget never fails or warns.

Every model here is written for the test, at several sizes and seeds; no
assertion depends on a round-off digit, only on which side of a budget a
disagreement lies (each wrong gradient is wrong by 100x its budget or more,
each correct one right to within round-off).
"""

import numpy as np
import pytest

from gradcheck_cli import check

SEEDS = [0, 1, 2]


def _quadratic(n, seed, *, offset=0.0, scale=1.0, w_scale=1.0):
    """f = offset + scale * sum(c w^2) / 2: a gradient of any magnitude."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(0.5, 2.0, n)
    w = w_scale * rng.standard_normal(n)

    def loss(p):
        return offset + scale * 0.5 * float(np.sum(c * p["w"] ** 2))

    def grad(p):
        return {"w": scale * c * p["w"]}

    return loss, grad, {"w": w}


# -- confirmed disagreements fail (items 2, 5, 8) -----------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_a_small_error_on_a_loss_with_a_large_offset_fails(seed):
    # Loss ~1e6, gradient entries ~1e-2 off by 0.2 %: within the first
    # stencil's round-off, so only a second, larger-step stencil can tell.
    loss, grad, params = _quadratic(20, seed, offset=1e6, w_scale=1e-2)
    report = check(loss=loss, grad=lambda p: {"w": 1.002 * grad(p)["w"]}, params=params)
    assert report.verdict == "fail"
    assert report.blocks[0].grade == "fail"


@pytest.mark.parametrize("seed", SEEDS)
def test_the_same_loss_with_a_correct_gradient_passes(seed):
    loss, grad, params = _quadratic(20, seed, offset=1e6, w_scale=1e-2)
    assert check(loss=loss, grad=grad, params=params).verdict == "pass"


@pytest.mark.parametrize("factor", [1.001, 1.0001])
@pytest.mark.parametrize("seed", SEEDS)
def test_a_gradient_scaled_slightly_fails(factor, seed):
    loss, grad, params = _quadratic(50, seed)
    report = check(loss=loss, grad=lambda p: {"w": factor * grad(p)["w"]}, params=params)
    assert report.verdict == "fail"
    worst = report.blocks[0].worst
    assert abs(worst.analytic - worst.numeric) > 100 * worst.uncertainty


@pytest.mark.parametrize("wrong", [1, 10, 100])
@pytest.mark.parametrize("n", [10_000, 1_000_000])
def test_a_few_wrong_elements_in_a_big_block_fail_and_are_found(wrong, n):
    loss, grad, params = _quadratic(n, wrong)
    bad = np.random.default_rng(wrong).choice(n, wrong, replace=False)

    def wrong_grad(p):
        g = grad(p)["w"].copy()
        g[bad] = 0.0
        return {"w": g}

    report = check(loss=loss, grad=wrong_grad, params=params)
    assert report.verdict == "fail"
    found = {d.index[0] for d in report.blocks[0].dims if d.grade == "fail"}
    assert found and found <= set(bad.tolist())


@pytest.mark.parametrize("seed", SEEDS)
def test_a_sign_flipped_gradient_on_a_tiny_loss_fails(seed):
    loss, grad, params = _quadratic(10, seed, scale=1e-12)
    report = check(loss=loss, grad=lambda p: {"w": -grad(p)["w"]}, params=params)
    assert report.verdict == "fail"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_correct_gradient_on_a_tiny_loss_passes(seed):
    loss, grad, params = _quadratic(10, seed, scale=1e-12)
    assert check(loss=loss, grad=grad, params=params).verdict == "pass"


# -- kinks are per dimension (item 3) -------------------------------------------------

def _softmax(n, d, c, seed, *, reg, pixels=False, zero_init=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    if pixels:
        x = rng.uniform(0, 255, (n, d))
        x -= x.mean(axis=0)  # mean-subtracted pixels, |x| up to ~128
    y = rng.integers(0, c, n)
    w = np.zeros((d, c)) if zero_init else 1e-3 * rng.standard_normal((d, c))

    def probs(W):
        s = x @ W
        s = s - s.max(axis=1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(axis=1, keepdims=True)

    def loss(p):
        P = probs(p["W"])
        return float(-np.mean(np.log(P[np.arange(n), y])) + reg * np.sum(p["W"] ** 2))

    def grad(p):
        P = probs(p["W"])
        P[np.arange(n), y] -= 1
        return {"W": x.T @ P / n + 2 * reg * p["W"]}

    return loss, grad, {"W": w}


@pytest.mark.parametrize("seed", SEEDS)
def test_a_missing_small_l2_term_fails_despite_the_max_shift(seed):
    # The max shift is a tracked op: once it marked the whole objective
    # kinked, and 1e-7..1e-4 errors passed as "ok".
    loss, grad, params = _softmax(20, 10, 5, seed, reg=1e-3)
    params = {"W": params["W"] * 100}

    def no_l2(p):
        return {"W": grad(p)["W"] - 2 * 1e-3 * p["W"]}

    report = check(loss=loss, grad=no_l2, params=params)
    assert report.verdict == "fail"


# -- truncation is part of the budget (item 10) --------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_a_correct_softmax_on_pixel_data_passes(seed):
    loss, grad, params = _softmax(10, 30, 4, seed, reg=1e-3, pixels=True)
    report = check(loss=loss, grad=grad, params=params)
    assert report.verdict == "pass", [(d.rel_error, d.uncertainty, d.message) for d in report.blocks[0].dims]


# -- zero by design (item 11) ------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_gradients_that_are_zero_by_design_pass(seed):
    # Column `unused` of W never reaches the loss; b is followed by a
    # mean subtraction (as before batchnorm), so its gradient is 0 exactly.
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 4))
    t = rng.standard_normal((6, 3))

    def forward(p):
        h = x @ p["W"][:, :3] + p["b"][:3]
        return h - h.mean(axis=0)

    def loss(p):
        return float(0.5 * np.sum((forward(p) - t) ** 2))

    def grad(p):
        d = forward(p) - t
        d = d - d.mean(axis=0)
        dW = np.zeros_like(p["W"])
        dW[:, :3] = x.T @ d
        return {"W": dW, "b": np.zeros_like(p["b"])}

    params = {"W": rng.standard_normal((4, 4)), "b": rng.standard_normal(4)}
    report = check(loss=loss, grad=grad, params=params, samples=None)
    assert report.verdict == "pass", [(b.name, b.grade, b.warnings) for b in report.blocks]
    zeros = [d for b in report.blocks for d in b.dims if d.analytic == 0]
    assert zeros and all(d.grade == "pass" for d in zeros)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_zero_analytic_value_where_the_gradient_is_not_zero_fails(seed):
    loss, grad, params = _quadratic(8, seed)

    def dropped(p):
        g = grad(p)["w"].copy()
        g[3] = 0.0
        return {"w": g}

    report = check(loss=loss, grad=dropped, params=params, samples=None)
    assert report.verdict == "fail"
    assert {d.index for d in report.blocks[0].dims if d.grade == "fail"} == {(3,)}
