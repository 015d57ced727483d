"""Relative error, the notes' bands, the error budget, block summaries and the verdict."""

import math

import pytest

from gradcheck_cli.verdict.grading import grade_block, grade_error, grade_estimate, relative_error, verdict
from gradcheck_cli.verdict.numeric import Estimate
from gradcheck_cli.report import DimResult
from gradcheck_cli.settings import Thresholds

T = Thresholds()


def test_relative_error_uses_the_larger_magnitude():
    assert relative_error(1.0, 0.99) == pytest.approx(0.01)
    assert relative_error(0.99, 1.0) == pytest.approx(0.01)
    assert relative_error(-2.0, 2.0) == pytest.approx(2.0)


def test_relative_error_of_two_zeros_is_zero():
    assert relative_error(0.0, 0.0) == 0.0


def test_relative_error_with_one_zero_is_one():
    assert relative_error(0.0, 0.3) == 1.0


@pytest.mark.parametrize(
    "rel, kinked, grade",
    [
        (0.5, False, "fail"),
        (1.01e-2, True, "fail"),
        (1e-2, False, "warn"),  # the band edges belong to the milder grade
        (1e-3, True, "warn"),
        (1e-4, True, "ok"),
        (1e-5, True, "ok"),
        (1e-5, False, "warn"),  # too high for a smooth objective
        (1e-7, False, "pass"),
        (1e-12, True, "pass"),
    ],
)
def test_bands(rel, kinked, grade):
    assert grade_error(rel, 1.0, kinked=kinked, thresholds=T) == grade


def test_two_zeros_are_zero():
    assert grade_error(0.0, 0.0, kinked=False, thresholds=T) == "zero"


def test_thresholds_are_options():
    deep = Thresholds(fail_above=5e-2)
    assert grade_error(3e-2, 1.0, kinked=False, thresholds=deep) == "warn"


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError, match="good_below <= warn_above <= fail_above"):
        Thresholds(fail_above=1e-5, warn_above=1e-3)


def estimate(a, n, **kw):
    return Estimate(analytic=a, numeric=n, h=1e-5, evaluations=2, **kw)


def dim(a, n, scale=0.0, **kw):
    return grade_estimate(estimate(a, n, **kw), index=(0,), direction=None, thresholds=T, scale=scale)


# -- the budget decides what the bands cannot ---------------------------------------

def test_a_disagreement_beyond_a_budget_with_truncation_estimated_is_confirmed():
    # Relative error 1e-3 (the bands' "warn"), 1e4 times the budget.
    d = dim(1.0, 1.001, roundoff=1e-8, truncation=1e-8, first=(1e-5, 1.00100001))
    assert d.grade == "fail" and d.message.startswith("confirmed")
    assert d.evidence["budget"] == pytest.approx(2e-8) and d.evidence["first"] == [1e-5, 1.00100001]


def test_a_disagreement_near_a_kink_without_a_taylor_test_is_unverified():
    # Truncation not estimated (a kink near) and no Taylor test (its points
    # broke the loss): a kink excuses nothing, nor does it fail the value.
    d = dim(1.0, 1.001, roundoff=1e-8, near_kink=True)
    assert d.grade == "unverified" and "kink" in d.message


def test_a_disagreement_within_the_budget_never_fails_or_warns():
    assert dim(1.0, 1.05, roundoff=0.1).grade not in ("fail", "warn")
    assert dim(1.0, 1.0 + 1e-5, roundoff=1e-5, truncation=1e-6).grade == "ok"


def test_a_budget_too_large_to_verify_is_unverified_with_a_reason():
    d = dim(1.0, 1.05, roundoff=0.1)
    assert d.grade == "unverified" and "too uncertain" in d.message


def test_zero_by_design_passes_against_the_block_scale():
    d = dim(0.0, 3e-12, scale=0.5, roundoff=2e-11, truncation=0.0)
    assert d.grade == "pass" and "zero within round-off" in d.message
    # Alone, with nothing to compare its budget with, it is not verified.
    assert dim(0.0, 3e-12, roundoff=2e-11, truncation=0.0).grade == "unverified"


def test_a_tiny_wrong_value_fails_when_its_budget_is_tinier():
    # A loss of scale 1e-12 with a sign-flipped gradient: small, but not
    # small against its budget.
    assert dim(2e-12, -2e-12, roundoff=1e-22, truncation=1e-23).grade == "fail"


def test_tiny_below_is_an_optional_floor():
    d = grade_estimate(estimate(1e-12, 2e-12), index=(0,), direction=None,
                       thresholds=Thresholds(tiny_below=1e-10))
    assert d.grade == "unverified" and "--tiny-below" in d.message


def test_an_error_at_every_perturbed_point_leaves_the_dimension_unverified():
    # No step measured it (numeric.py tries down to the edge's own scale):
    # nothing shows the value wrong, and the message says what broke.
    d = dim(1.0, math.nan, error="loss raised ValueError")
    assert d.grade == "unverified" and d.rel_error is None and "ValueError" in d.message


def test_an_unresolved_kink_is_inconclusive_not_failed():
    d = dim(1.0, 0.5, unresolved=True)
    assert d.grade == "kink" and "kink" in d.message


def block(*dims):
    return grade_block("W", (len(dims),), len(dims), tuple(dims), (), T)


def test_block_takes_its_worst_measured_grade():
    b = block(dim(1.0, 1.0), dim(1.0, 0.5), dim(0.0, 0.0))
    assert b.grade == "fail"
    assert b.worst.numeric == 0.5
    assert b.max_rel_error == pytest.approx(0.5)


def test_zero_dimensions_do_not_hide_a_pass():
    b = block(dim(1.0, 1.0), dim(0.0, 0.0))
    assert b.grade == "pass"
    assert b.worst.analytic == 1.0


def test_a_value_that_could_not_be_verified_leaves_its_block_unverified():
    # Its neighbours passing verify nothing about it (a sign-flipped decay
    # rate packed beside three parameters that pass).
    b = block(dim(1.0, 1.0), dim(1e-12, 2e-12, roundoff=1e-11), dim(0.0, 0.0))
    assert b.grade == "unverified"
    assert "1 of 3 checked values could not be verified" in b.warnings[0]


def test_a_block_of_zeros_verifies_nothing_and_warns():
    b = block(dim(0.0, 0.0), dim(0.0, 0.0))
    assert b.grade == "warn"
    assert "nothing was verified" in b.warnings[0]


def test_a_block_of_unverifiable_values_says_why():
    b = block(dim(1e-12, 1.1e-12, roundoff=1e-11))
    assert b.grade == "unverified"
    assert "error budget too large" in b.warnings[0]


def test_kink_crossings_are_counted_and_do_not_fail_a_block():
    from gradcheck_cli.kinks import Crossing

    crossing = Crossing("m.py", 3, "maximum", 1, 4)
    b = block(dim(1.0, 1.0), dim(1.0, 0.5, unresolved=True, crossing=crossing), dim(2.0, 2.0, crossing=crossing))
    assert b.grade == "pass"
    assert b.kink_crossings == 2


def test_verdict():
    passing, failing = block(dim(1.0, 1.0)), block(dim(1.0, 0.5))
    warning = block(dim(0.0, 0.0))
    assert verdict((passing,), ()) == "pass"
    assert verdict((passing, warning), ()) == "warn"
    assert verdict((passing, warning, failing), ()) == "fail"
    assert verdict((passing,), ("loss is float32",)) == "warn"


@pytest.mark.parametrize("numeric", [math.inf, -math.inf, math.nan])
def test_a_non_finite_numeric_value_never_passes(numeric):
    dim = grade_estimate(Estimate(1.0, numeric, 1e-5, 2), index=(0,), direction=None, thresholds=Thresholds())
    assert dim.grade == "fail" and "numeric value is" in dim.message


def test_a_wrong_gradient_of_a_loss_near_the_float64_limit_fails():
    """f(x +/- h) are finite but their weighted difference overflows: the
    numeric value is inf, and relative_error(a, inf) is nan, which no band
    comparison catches."""
    import numpy as np

    from gradcheck_cli import check

    report = check(loss=lambda w: float(1e307 * np.tanh(1e3 * w[0])), grad=lambda w: np.array([1e300]),
                   params=np.array([0.0]))
    assert report.verdict == "fail"
