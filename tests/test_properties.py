"""Properties over random models: never cry wolf, never miss, never touch the input."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_cli import check


@st.composite
def quadratics(draw):
    """f(x) = 0.5 x'Ax + b'x + tanh(c'x) over two blocks, with its true gradient."""
    n = draw(st.integers(1, 6))
    m = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n + m, n + m))
    A = A @ A.T
    b = rng.standard_normal(n + m)
    c = rng.standard_normal(n + m)
    x = {"W": rng.standard_normal(n), "v": rng.standard_normal(m)}

    def flat(p):
        return np.concatenate([p["W"], p["v"]])

    def loss(p):
        z = flat(p)
        return float(0.5 * z @ A @ z + b @ z + np.tanh(c @ z))

    def grad(p):
        z = flat(p)
        g = A @ z + b + c * (1 - np.tanh(c @ z) ** 2)
        return {"W": g[:n], "v": g[n:]}

    return loss, grad, x


@settings(max_examples=80, deadline=None)
@given(quadratics())
def test_a_correct_smooth_gradient_always_passes(model):
    loss, grad, params = model
    report = check(loss=loss, grad=grad, params=params)
    assert report.verdict == "pass", [(b.name, b.grade, b.max_rel_error, b.worst) for b in report.blocks]


def _perturbed(grad, block, size, seed):
    """grad with params-shaped noise of norm size * ||grad[block]|| added to one block."""
    def wrong(p):
        g = grad(p)
        u = np.random.default_rng(seed).standard_normal(g[block].shape)
        g[block] = g[block] + size * np.linalg.norm(g[block]) * u / np.linalg.norm(u)
        return g

    return wrong


@settings(max_examples=80, deadline=None)
@given(quadratics(), st.sampled_from(["W", "v"]), st.floats(1e-3, 1.0), st.integers(0, 1000))
def test_a_perturbation_of_relative_size_1e_3_never_passes(model, block, size, seed):
    """Some element then has |delta_i| / |g_i| >= 1e-3 / sqrt(n) > 1e-4 (n <= 6):
    at least `warn`, so --strict exits 1; and the perturbed block is the one named."""
    loss, grad, params = model
    report = check(loss=loss, grad=_perturbed(grad, block, size, seed), params=params)
    assert report.verdict != "pass"
    grades = {b.name: b.grade for b in report.blocks}
    assert grades[block] in ("warn", "fail")


@settings(max_examples=80, deadline=None)
@given(quadratics(), st.sampled_from(["W", "v"]), st.floats(5e-2, 1.0), st.integers(0, 1000))
def test_a_perturbation_of_relative_size_5e_2_always_fails_in_its_block(model, block, size, seed):
    """Then some element is off by >= 5e-2 / sqrt(6) = 2e-2 > the 1e-2 fail threshold."""
    loss, grad, params = model
    report = check(loss=loss, grad=_perturbed(grad, block, size, seed), params=params)
    assert report.verdict == "fail"
    assert {b.name: b.grade for b in report.blocks}[block] == "fail"


@settings(max_examples=30, deadline=None)
@given(quadratics())
def test_the_callers_params_are_bit_identical_afterwards(model):
    loss, grad, params = model
    before = {k: v.copy() for k, v in params.items()}
    check(loss=loss, grad=grad, params=params, samples=None)
    for key in params:
        assert params[key].tobytes() == before[key].tobytes()
