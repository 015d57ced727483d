"""The methods (central, five-point, complex-step), --h auto, uncertainty,
subgradients and drill-down. Each method gets the tolerance its accuracy earns."""

import math

import numpy as np
import pytest

from gradcheck_cli import MethodError, ModelError, check
from gradcheck_cli.evaluate import Evaluator
from gradcheck_cli.model import from_functions
from gradcheck_cli.verdict.noise import loss_noise
from gradcheck_cli.verdict.numeric import estimate, weights
from gradcheck_cli.verdict.probes import Probe

from .conftest import SAMPLES

X0 = np.array([0.7, -1.3, 2.1])


def smooth_loss(p):
    return float(np.sum(np.sin(p) * np.exp(0.5 * p)))


def smooth_grad(p):
    return np.exp(0.5 * p) * (np.cos(p) + 0.5 * np.sin(p))


def complex_loss(p):
    return np.sum(np.sin(p) * np.exp(0.5 * p))  # no float(): keeps the imaginary part


def estimate_with(loss, grad, x, *, index=0, **options):
    model = from_functions(loss=loss, grad=grad, params=np.asarray(x, dtype=float))
    with Evaluator(model, seed=0) as ev:
        base = ev.base_point()
        return estimate(ev, Probe("params", index=index), base, **options)


# -- stencil weights ----------------------------------------------------------

def test_weights_are_the_classic_stencils_for_symmetric_offsets():
    np.testing.assert_allclose(weights([0.1, -0.1]), [5.0, -5.0])
    np.testing.assert_allclose(weights([2.0, 1.0, -1.0, -2.0]), np.array([-1, 8, -8, 1]) / 12)


def test_weights_are_exact_for_polynomials_below_their_order():
    offsets = np.array([2.1, 0.9, -1.05, -2.0]) * 1e-3  # asymmetric, as realised steps can be
    w = weights(offsets)
    for degree in range(4):
        derivative_at_0 = 1.0 if degree == 1 else 0.0
        assert np.dot(w, offsets**degree) == pytest.approx(derivative_at_0, abs=1e-9)


# -- accuracy per method --------------------------------------------------------

@pytest.mark.parametrize("index", [0, 1, 2])
def test_central_is_within_its_error_bound(index):
    """|numeric - f'| <= truncation + round-off, each bounded by the error
    analysis, so no round-off digit is asserted: truncation h^2/6 max|f3|
    (f3 the third derivative), round-off 8 ulps of |f| per evaluation
    times ||w||_1 = 1/h."""
    e = estimate_with(smooth_loss, smooth_grad, X0, index=index, method="central", h=1e-5)
    x = X0[index]
    h = 1e-5 * max(1.0, abs(x))
    # sin(x) e^(x/2): the k-th derivative is bounded by |1 + i/2|^k e^(x/2) < 1.118^k e^(x/2)
    truncation = h**2 / 6 * 1.118**3 * math.exp(0.5 * (x + h))
    roundoff = 8 * np.finfo(float).eps * abs(smooth_loss(X0)) / h
    assert abs(e.numeric - e.analytic) <= truncation + roundoff


@pytest.mark.parametrize("index", [0, 1, 2])
def test_five_point_is_accurate_to_1e_10(index):
    e = estimate_with(smooth_loss, smooth_grad, X0, index=index, method="five-point", h=1e-3)
    assert abs(e.numeric - e.analytic) / abs(e.analytic) < 1e-10
    # Four evaluations; six where a disagreement beyond round-off took a
    # second, wider stencil to estimate truncation.
    assert e.evaluations == 4 or (e.evaluations == 6 and e.truncation is not None)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_complex_step_is_exact_to_machine_precision(index):
    e = estimate_with(complex_loss, smooth_grad, X0, index=index, method="complex-step", h=1e-20)
    assert abs(e.numeric - e.analytic) / abs(e.analytic) < 1e-14
    assert e.evaluations == 1


def test_five_point_beats_central_at_their_default_steps():
    central = estimate_with(smooth_loss, smooth_grad, X0, method="central", h=1e-5)
    five = estimate_with(smooth_loss, smooth_grad, X0, method="five-point", h=1e-3)
    assert abs(five.numeric - five.analytic) < abs(central.numeric - central.analytic)


def test_five_point_sees_a_kink_between_h_and_2h_without_extra_steps():
    # math.fabs hides the kink from tracking. |x| + x/2 at x = 1.5e-3, h = 1e-3:
    # x +/- h stay positive, x - 2h does not.
    e = estimate_with(lambda p: math.fabs(float(p[0])) + 0.5 * float(p[0]), lambda p: np.sign(p) + 0.5,
                      np.array([1.5e-3]), method="five-point", h=1e-3)
    assert e.crossed_kink
    assert e.numeric == pytest.approx(1.5, rel=1e-9)


def test_methods_on_the_samples_through_check():
    for method in ("central", "five-point", "complex-step"):
        report = check(str(SAMPLES / "softmax.py"), method=method, samples=None)
        assert report.verdict == "pass", method
        assert report.settings.method == method


def test_each_method_still_catches_a_bug():
    for method in ("central", "five-point", "complex-step"):
        report = check(str(SAMPLES / "buggy_missing_bias.py"), method=method)
        assert {b.name: b.grade for b in report.blocks}["b"] == "fail", method


# -- complex step: when the model cannot carry complex numbers ---------------------

def test_complex_step_names_abs_on_complex_values():
    with pytest.raises(MethodError, match=r"absolute\(\) at .*test_methods.py:\d+ is not analytic"):
        check(loss=lambda p: np.sum(np.abs(p) ** 3), grad=lambda p: 3 * p * np.abs(p), params=X0,
              method="complex-step")


def test_complex_step_detects_a_dropped_imaginary_part():
    with pytest.raises(MethodError, match="imaginary part"):
        check(loss=lambda p: float(np.sum(p**2).real), grad=lambda p: 2 * p, params=X0, method="complex-step")


def test_complex_step_detects_a_float_cast():
    with pytest.raises(MethodError, match="discarded the imaginary part|does not accept complex"):
        check(loss=lambda p: float(np.sum(p**2)), grad=lambda p: 2 * p, params=X0, method="complex-step")


def test_complex_step_reports_code_that_refuses_complex_input():
    def loss(p):
        out = np.zeros(3)
        out[:] = p  # TypeError / ComplexWarning on complex input
        return np.sum(out**2)

    with pytest.raises(MethodError, match="use --method central"):
        check(loss=loss, grad=lambda p: 2 * p, params=X0, method="complex-step")


def test_complex_step_through_relu_and_softmax_shift_works():
    report = check(str(SAMPLES / "two_layer_net.py"), method="complex-step", samples=None)
    assert report.verdict == "pass"


# -- --h auto ---------------------------------------------------------------------

def test_auto_step_is_accurate_and_reports_an_uncertainty_that_covers_its_error():
    e = estimate_with(smooth_loss, smooth_grad, X0, method="central", h="auto")
    error = abs(e.numeric - e.analytic)
    assert error / abs(e.analytic) < 1e-9
    assert 0 < e.uncertainty and error <= e.uncertainty
    assert e.evaluations == 12


def test_auto_picks_a_larger_step_when_the_loss_is_noisy():
    def noisy(p):  # float32 inside: noise ~1e-7 relative
        return float(np.sum(np.sin(p.astype(np.float32)) * np.exp(0.5 * p.astype(np.float32))))

    model = from_functions(loss=noisy, grad=smooth_grad, params=np.asarray(X0, dtype=float))
    with Evaluator(model, seed=0) as ev:
        base = ev.base_point()
        sigma = loss_noise(ev, base, 0).sigma  # as a check measures it
        e = estimate(ev, Probe("params", index=0), base, method="central", h="auto", sigma=sigma)
    assert e.h >= 1e-3


def test_auto_through_check_passes_a_correct_model():
    report = check(str(SAMPLES / "sigmoid_tanh.py"), h="auto")
    assert report.verdict == "pass"
    assert report.settings.h == "auto"


# -- loss noise, and grading within the error budget ----------------------------------

def noise_of(loss, x, track=True):
    model = from_functions(loss=loss, grad=lambda p: np.zeros_like(p), params=np.asarray(x, dtype=float))
    with Evaluator(model, seed=0, track_kinks=track) as ev:
        base = ev.base_point()
        return loss_noise(ev, base, 0).sigma, base.loss


def test_noise_of_a_float64_loss_is_a_few_ulps():
    sigma, f = noise_of(smooth_loss, X0)
    assert sigma < 100 * np.finfo(float).eps * abs(f)


def test_noise_of_a_float32_loss_is_measured():
    sigma, f = noise_of(lambda p: float(np.sum(np.sin(p.astype(np.float32)) ** 2)), np.linspace(0.1, 2, 30))
    assert 1e-9 * abs(f) < sigma < 1e-5 * abs(f)


@pytest.mark.parametrize("track", [True, False])
def test_a_kink_at_the_point_is_not_taken_for_noise(track):
    sigma, f = noise_of(lambda p: float(np.sum(np.maximum(0, p)) + np.sum(p**2)), np.array([0.0, 1.0, -2.0]), track)
    assert sigma <= 10 * np.finfo(float).eps * max(abs(f), 1)


def test_a_float32_loss_is_not_failed_and_says_so():
    def loss(p):
        return float(np.sum(np.sin(p["w"].astype(np.float32)) ** 2))

    report = check(loss=loss, grad=lambda p: {"w": 2 * np.sin(p["w"]) * np.cos(p["w"])},
                   params={"w": np.linspace(0.1, 2, 30)})
    assert report.verdict == "warn"
    assert any("computes in float32" in w for w in report.warnings)
    dims = report.blocks[0].dims + report.blocks[0].directions
    assert all(d.grade in ("pass", "ok", "unverified") for d in dims)
    assert all("error budget" in d.message for d in dims if d.grade != "pass")


def test_a_tiny_gradient_entry_on_a_large_loss_is_not_a_false_failure():
    # loss ~ 1e4, gradient entry ~1e-7: central round-off (~eps*1e4/1e-5 = 2e-7)
    # is as large as the entry itself.
    scale = np.array([1e4, 1e-7])

    def loss(p):
        return float(scale[0] * (1 + p[0] ** 2) + scale[1] * p[1])

    report = check(loss=loss, grad=lambda p: np.array([2 * scale[0] * p[0], scale[1]]), params=np.array([0.3, 0.2]))
    assert report.verdict != "fail"
    assert "error budget" in report.blocks[0].dims[1].message


# -- subgradients at kinks no step avoids ----------------------------------------------

def test_a_valid_subgradient_at_a_kink_is_ok():
    e = estimate_with(lambda p: float(np.sum(np.abs(p))), lambda p: np.sign(p), np.array([0.0, 1.0]))
    assert e.unresolved
    low, high = e.bracket
    assert low == pytest.approx(-1.0, abs=1e-6) and high == pytest.approx(1.0, abs=1e-6)
    report = check(loss=lambda p: float(np.sum(np.abs(p))), grad=lambda p: np.sign(p), params=np.array([0.0, 1.0]))
    assert report.verdict == "pass"
    assert report.blocks[0].dims[0].grade == "ok" and "subgradient" in report.blocks[0].dims[0].message


def test_a_value_outside_the_one_sided_derivatives_fails():
    report = check(loss=lambda p: float(np.sum(np.abs(p))), grad=lambda p: np.sign(p) + (p == 0) * 3.0,
                   params=np.array([0.0, 1.0]))
    assert report.verdict == "fail"
    assert "not a subgradient" in report.blocks[0].dims[0].message


# -- drill-down ----------------------------------------------------------------------

def sparse_bug_model(wrong=(123,), size=400):
    x = np.random.default_rng(1).standard_normal(size)

    def loss(p):
        return float(np.sum(np.sin(p["E"]) * x))

    def grad(p):
        g = np.cos(p["E"]) * x
        g[list(wrong)] *= -1.0  # the bug lives in a handful of elements
        return {"E": g}

    return loss, grad, {"E": np.random.default_rng(2).standard_normal(size)}


def test_drill_down_points_at_the_wrong_element_sampling_missed():
    loss, grad, params = sparse_bug_model()
    report = check(loss=loss, grad=grad, params=params, samples=5, seed=0)
    (block,) = report.blocks
    assert block.grade == "fail"
    drilled = [d for d in block.dims if d.drilled]
    assert [d.index for d in drilled if d.grade == "fail"] == [(123,)]
    assert report.evaluations < 2 * 400 * 0.25


def test_drill_down_finds_several_wrong_elements_within_budget():
    loss, grad, params = sparse_bug_model(wrong=(7, 250, 399))
    report = check(loss=loss, grad=grad, params=params, samples=5, directions=3, max_evals=400)
    found = {d.index[0] for d in report.blocks[0].dims if d.drilled and d.grade == "fail"}
    assert found >= {7, 250, 399} & found and len(found) >= 2


def test_drill_down_can_be_turned_off():
    loss, grad, params = sparse_bug_model()
    report = check(loss=loss, grad=grad, params=params, samples=5, max_evals=0)
    assert not any(d.drilled for d in report.blocks[0].dims)
    assert report.blocks[0].grade == "fail"  # the direction itself still fails the block


def test_invalid_method_and_step_are_refused():
    with pytest.raises(ValueError, match=r"invalid value for method= \(--method\): 'forward' is not one of"):
        check(str(SAMPLES / "cube.py"), method="forward")
    with pytest.raises(ValueError, match=r"invalid value for h= \(--h\): -1.0 must be a positive number \(or 'auto'\)"):
        check(str(SAMPLES / "cube.py"), h=-1.0)
    assert not math.isnan(check(str(SAMPLES / "cube.py"), method="complex-step", h="auto").settings.h)


def test_model_errors_stay_model_errors_under_complex_step(model_file):
    with pytest.raises(ModelError, match="loss returned None"):
        check(loss=lambda p: None, grad=lambda p: p, params=X0, method="complex-step")
