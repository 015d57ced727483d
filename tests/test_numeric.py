"""Centered differences, realised steps, and kink-aware retries."""

import math

import numpy as np
import pytest

from gradcheck_cli.evaluate import Evaluator
from gradcheck_cli.model import from_functions
from gradcheck_cli.verdict.numeric import estimate
from gradcheck_cli.verdict.probes import Probe


def estimate_at(loss, grad, x, *, h=1e-5, index=0, direction=None, track=True):
    model = from_functions(loss=loss, grad=grad, params=np.atleast_1d(np.asarray(x, dtype=float)))
    with Evaluator(model, seed=0, track_kinks=track) as ev:
        base = ev.base_point()
        probe = Probe("params", index=None if direction is not None else index, direction=direction)
        return estimate(ev, probe, base, h=h)


def test_centered_difference_matches_the_notes_worked_example():
    """f(t) = t^3 at t = 1, h = 0.01: centered gives 3.0001 (one-sided would give 3.0301).
    The 1e-4 disagreement is beyond round-off, so a second stencil estimates
    truncation: five-point is exact for a cubic, and the budget covers the
    first value's error."""
    e = estimate_at(lambda t: np.sum(t**3), lambda t: 3 * t**2, 1.0, h=0.01)
    assert e.first[1] == pytest.approx(3.0001, abs=1e-12)
    assert e.analytic == 3.0
    assert abs(e.numeric - 3.0) <= e.uncertainty < 1e-9


def test_default_step_is_accurate_on_a_smooth_function():
    e = estimate_at(lambda t: np.sum(np.sin(t) * np.exp(t)), lambda t: np.exp(t) * (np.sin(t) + np.cos(t)), 0.7)
    assert abs(e.numeric - e.analytic) / abs(e.analytic) < 1e-9


def test_divides_by_the_step_actually_realised():
    # x + h - x is not h in floating point; for an exactly computed linear f
    # (times 4 is exact), dividing by the realised step leaves no error at all.
    # This holds on every IEEE machine: x +/- h - x is exact (Sterbenz), 4x is
    # exact, and the central weights are a closed form in plain float
    # arithmetic, no BLAS or LAPACK.
    e = estimate_at(lambda t: 4.0 * t[0], lambda t: np.array([4.0]), 0.1)
    assert e.numeric == 4.0
    x, h = 0.1, 1e-5  # dividing by the nominal step instead is off
    assert (4.0 * (x + h) - 4.0 * (x - h)) / (2 * h) != 4.0


def test_step_is_relative_for_large_coordinates():
    e = estimate_at(lambda t: np.sum(t**2), lambda t: 2 * t, 1e6)
    assert e.numeric == pytest.approx(2e6, rel=1e-9)


def abs_plus_linear(t):
    return np.sum(np.abs(t) + 0.5 * t)


def abs_plus_linear_grad(t):
    return np.sign(t) + 0.5


def test_tracked_kink_is_retried_at_a_smaller_step():
    # |x| has its kink at 0, 2e-6 away: x +/- 1e-5 straddles it, x +/- 1e-6 does not.
    e = estimate_at(abs_plus_linear, abs_plus_linear_grad, 2e-6)
    assert e.crossing is not None and e.crossing.op == "absolute"
    assert e.h == pytest.approx(1e-6)
    assert e.numeric == pytest.approx(1.5, rel=1e-9)
    assert not e.unresolved


def test_untracked_kink_is_found_numerically():
    # math.fabs on a Python float is invisible to tracking.
    e = estimate_at(lambda t: math.fabs(float(t[0])) + 0.5 * float(t[0]), abs_plus_linear_grad, 2e-6)
    assert e.crossing is None
    assert e.untracked_kink
    assert e.numeric == pytest.approx(1.5, rel=1e-9)


def test_a_point_on_the_kink_is_unresolved_and_the_taylor_test_brackets_it():
    # Every step down to the floor crosses the kink at 0; the Taylor test
    # sees the slope jump in the loss values (at two steps) and gives the
    # one-sided derivatives, which the right subgradient 0.5 lies between.
    e = estimate_at(abs_plus_linear, abs_plus_linear_grad, 0.0)
    assert e.unresolved
    assert e.taylor.outcome == "subgradient"
    assert e.bracket == pytest.approx((-0.5, 1.5), rel=1e-6)
    wrong = estimate_at(abs_plus_linear, lambda t: np.sign(t) + 2.0, 0.0)
    assert wrong.taylor.outcome == "not a subgradient"


def test_curvature_at_a_tiny_slope_is_not_a_kink():
    # Near a minimum the slope is tiny and the one-sided slopes differ by
    # f''h; that gap shrinks tenfold with the step, so it is curvature.
    e = estimate_at(lambda t: np.sum((t - 1.0) ** 2), lambda t: 2 * (t - 1.0), 1.0 + 1e-7)
    assert not e.crossed_kink and not e.unresolved
    assert e.h == 1e-5  # the first step's estimate is kept
    assert e.numeric == pytest.approx(2e-7, rel=1e-3)


def test_tracking_off_still_finds_kinks_numerically():
    e = estimate_at(abs_plus_linear, abs_plus_linear_grad, 2e-6, track=False)
    assert e.crossing is None and e.untracked_kink
    assert e.numeric == pytest.approx(1.5, rel=1e-9)


def test_directional_derivative_matches_gradient_dot_direction():
    x = np.array([0.3, -1.2, 2.0])
    v = np.array([1.0, 2.0, -2.0]) / 3.0
    e = estimate_at(lambda t: np.sum(np.sin(t)), lambda t: np.cos(t), x, direction=v)
    # (the analytic side uses the realised displacement, not v itself)
    assert e.analytic == pytest.approx(float(np.cos(x) @ v), rel=1e-9)
    assert e.numeric == pytest.approx(e.analytic, rel=1e-9)


def test_user_code_raising_at_a_perturbed_point_is_an_error_of_that_dimension():
    def loss(t):
        if t[0] > 1.0:
            raise ValueError("out of range")
        return float(np.sum(t**2))

    e = estimate_at(loss, lambda t: 2 * t, 1.0)
    assert e.error is not None and "ValueError: out of range" in e.error


def test_a_loss_that_breaks_at_every_step_is_an_error_of_that_dimension():
    # t = 1e-12 on the wall: nan beyond it at every step, down to the edge's own scale.
    e = estimate_at(lambda t: float(np.sum(t ** 2)) if t[0] <= 1e-12 else float("nan"), lambda t: 2 * t, 1e-12,
                    h=1.0)
    assert e.error is not None and "nan" in e.error and "every smaller step" in e.error


def test_a_parameter_nearer_its_domains_edge_than_the_absolute_floor_is_measured():
    # log(t) at t = 1e-12: every step down to an absolute 1e-9 leaves its
    # domain; a step relative to t itself does not.
    e = estimate_at(lambda t: np.sum(np.log(t)), lambda t: 1 / t, 1e-12, h=1.0)
    assert e.error is None and e.h < 1e-12
    assert abs(e.numeric - e.analytic) <= e.uncertainty + 1e-3 * e.analytic


def test_a_parameter_near_its_domains_edge_is_retried_at_a_smaller_step():
    # log(t) at t = 5e-7 stepped by 1.0 is nan; by 1e-7 it is not.
    e = estimate_at(lambda t: np.sum(np.log(t)), lambda t: 1 / t, 5e-7, h=1.0)
    assert e.error is None and e.h < 5e-7
    assert e.numeric == pytest.approx(1 / 5e-7, rel=1e-3)


def logsumexp_shifted(t):
    # The max shift makes the winner of a max part of the computation, but
    # the loss does not depend on which of the tied entries wins.
    shifted = t - t.max()
    return float(np.log(np.sum(np.exp(shifted))) + t.max())


def softmax(t):
    e = np.exp(t - t.max())
    return e / e.sum()


def test_winner_flips_that_do_not_change_the_slope_are_harmless():
    e = estimate_at(logsumexp_shifted, softmax, np.array([0.3, 0.3, -1.0]))
    assert e.crossing is not None and e.crossing.op == "maximum"
    assert e.harmless and not e.crossed_kink and not e.unresolved
    assert e.h == 1e-5
    assert e.numeric == pytest.approx(e.analytic, rel=1e-9)


def test_a_real_kink_close_to_x_is_not_taken_for_a_harmless_flip():
    # |x| at x = 0.09 h: the gaps at h and h/10 shrink by about 10 (0.91 -> 0.1),
    # like curvature would; only the third step tells them apart.
    e = estimate_at(abs_plus_linear, abs_plus_linear_grad, 0.09e-5)
    assert not e.harmless and not e.unresolved
    assert e.crossed_kink
    assert e.numeric == pytest.approx(1.5, rel=1e-9)
