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


@settings(max_examples=60, deadline=None)
@given(quadratics())
def test_a_correct_smooth_gradient_never_fails(model):
    loss, grad, params = model
    report = check(loss=loss, grad=grad, params=params)
    assert report.verdict != "fail", [(b.name, b.grade, b.max_rel_error) for b in report.blocks]


@settings(max_examples=60, deadline=None)
@given(quadratics(), st.sampled_from(["W", "v"]), st.floats(0.05, 1.0), st.booleans())
def test_a_wrong_block_always_fails_and_is_named(model, block, size, negative):
    loss, grad, params = model
    factor = 1 - size if negative else 1 + size

    def wrong(p):
        g = grad(p)
        g[block] = g[block] * factor
        return g

    report = check(loss=loss, grad=wrong, params=params)
    assert report.verdict == "fail"
    grades = {b.name: b.grade for b in report.blocks}
    assert grades[block] == "fail"


@settings(max_examples=30, deadline=None)
@given(quadratics())
def test_the_callers_params_are_bit_identical_afterwards(model):
    loss, grad, params = model
    before = {k: v.copy() for k, v in params.items()}
    check(loss=loss, grad=grad, params=params, samples=None)
    for key in params:
        assert params[key].tobytes() == before[key].tobytes()
