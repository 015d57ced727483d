"""Winner tracking: taint propagation and the record of every kink operation."""

import math

import numpy as np
import pytest

from gradcheck_cli.kinks import TrackedArray, compare_traces, recording, track

X = np.arange(6.0).reshape(3, 2) - 2.5
W0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def tracked_W():
    return track(W0.copy())


# -- taint: everything computed from the params stays tracked -------------

@pytest.mark.parametrize(
    "expr",
    [
        lambda W: X @ W,
        lambda W: X.dot(W),
        lambda W: np.dot(X, W),
        lambda W: np.matmul(X, W),
        lambda W: np.einsum("ij,jk->ik", X, W),
        lambda W: np.tensordot(X, W, axes=1),
        lambda W: W.T,
        lambda W: W[0],
        lambda W: W[:, [0, 2]],
        lambda W: W.reshape(-1),
        lambda W: np.exp(W),
        lambda W: W * 2 + 1,
        lambda W: W.sum(axis=0),
        lambda W: np.mean(W, axis=1),
        lambda W: np.concatenate([W, W]),
        lambda W: np.linalg.norm(W, axis=0),
        lambda W: W.sum(),  # a scalar result stays tracked as a 0-d array
        lambda W: W[0, 1],  # so does a single element
    ],
    ids=["matmul-op", "dot-method", "np.dot", "np.matmul", "einsum", "tensordot", "T", "index", "fancy-index",
         "reshape", "ufunc", "arith", "sum-axis", "mean", "concatenate", "norm", "sum-all", "element"],
)
def test_results_derived_from_params_stay_tracked(expr):
    assert isinstance(expr(tracked_W()), TrackedArray)


def test_plain_arrays_are_not_tracked():
    assert not isinstance(X @ W0, TrackedArray)


# -- recording: each kink operation records its outcome and the user's line --

def run(fn):
    W = tracked_W()
    with recording() as trace:
        fn(W)
    return trace


@pytest.mark.parametrize(
    "fn, op",
    [
        (lambda W: np.maximum(0, X @ W), "maximum"),
        (lambda W: np.minimum(X @ W, 1), "minimum"),
        (lambda W: np.fmax(X.dot(W), 0), "fmax"),
        (lambda W: np.fmin(W, 0), "fmin"),
        (lambda W: (X @ W) > 0, "greater"),
        (lambda W: W <= 0.3, "less_equal"),
        (lambda W: np.abs(W), "absolute"),
        (lambda W: abs(W), "absolute"),
        (lambda W: np.sign(W), "sign"),
        (lambda W: np.clip(W, -0.5, 0.5), "clip"),
        (lambda W: W.clip(0), "maximum"),  # clip with one bound is a maximum
        (lambda W: W.max(axis=1), "maximum"),
        (lambda W: np.max(W), "maximum"),
        (lambda W: np.min(W, axis=0), "minimum"),
        (lambda W: W.argmax(axis=1), "argmax"),
        (lambda W: np.argmin(W), "argmin"),
        (lambda W: np.sort(W, axis=1), "sort"),
        (lambda W: np.argsort(W.ravel()), "argsort"),
        (lambda W: np.floor(W), "floor"),
        (lambda W: max(W[0, 0], W[0, 1]), "greater"),  # Python's max over tracked scalars
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_kink_operations_record_their_outcome_and_line(fn, op):
    trace = run(fn)
    ops = [event.op for event in trace]
    assert op in ops
    event = trace[ops.index(op)]
    assert event.filename == __file__
    assert event.outcome.size >= 1


def test_where_records_its_condition():
    trace = run(lambda W: np.where(W > 0, W, 0.1 * W))
    assert [e.op for e in trace] == ["greater", "where"]


def test_in_place_sort_records_the_permutation():
    def fn(W):
        v = W.ravel().copy()
        v.sort()

    assert [e.op for e in run(fn)] == ["sort"]


def test_maximum_outcome_is_which_side_won_elementwise():
    (event,) = run(lambda W: np.maximum(W, 0))
    np.testing.assert_array_equal(event.outcome, W0 >= 0)


def test_out_argument_aliasing_the_input_still_records_the_pre_call_winners():
    def fn(W):
        z = X @ W
        np.maximum(z, 0, out=z)
        return z

    W = tracked_W()
    with recording() as trace:
        z = fn(W)
    assert isinstance(z, TrackedArray)
    np.testing.assert_array_equal(trace[0].outcome, (X @ W0) >= 0)


def test_reduction_records_the_argmax_along_the_axis():
    (event,) = run(lambda W: W.max(axis=1, keepdims=True))
    np.testing.assert_array_equal(event.outcome.ravel(), W0.argmax(axis=1))


def test_reduction_with_initial_records_whether_initial_won():
    (event,) = run(lambda W: np.max(W[1], initial=10.0))
    assert int(event.outcome) == -1


def test_nothing_is_recorded_outside_a_recording_block():
    W = tracked_W()
    np.maximum(W, 0)  # must not fail or record anywhere
    with recording() as trace:
        pass
    assert trace == []


def test_naive_loop_hinge_is_tracked():
    """svm_loss_naive from CS231n: `if margin > 0:` on single elements."""
    def naive(W):
        loss = 0.0
        for i in range(X.shape[0]):
            scores = X[i].dot(W)
            for j in range(W.shape[1]):
                margin = scores[j] - scores[0] + 1
                if margin > 0:
                    loss += margin
        return loss

    trace = run(naive)
    assert len(trace) == X.shape[0] * W0.shape[1]
    assert {e.op for e in trace} == {"greater"}


def test_code_leaving_numpy_is_not_tracked():
    trace = run(lambda W: max(0.0, float(W[0, 0])) + math.fabs(float(W[0, 1])))
    assert trace == []


def test_named_tuple_results_keep_their_fields():
    W = tracked_W()
    result = np.linalg.svd(W @ W.T)
    assert isinstance(result.S, TrackedArray)


# -- comparing traces --------------------------------------------------------

def relu_loss(W):
    return np.maximum(0, X @ W).sum()


def trace_at(W):
    with recording() as trace:
        relu_loss(track(W))
    return trace


def test_identical_points_have_no_crossing():
    assert compare_traces(trace_at(W0), trace_at(W0.copy())) is None


def test_a_flipped_winner_is_a_crossing_naming_line_and_count():
    # Row 0 of X is (-2.5, -1.5): moving W[0, 0] from 0.5 to -0.7 makes
    # (X @ W)[0, 0] = -2.5*W00 - 2.25 cross zero.
    moved = W0.copy()
    moved[0, 0] = -1.5
    crossing = compare_traces(trace_at(W0), trace_at(moved))
    assert crossing is not None
    assert crossing.op == "maximum"
    assert crossing.flipped >= 1
    assert crossing.size == 9
    assert crossing.filename == __file__
    assert "flipped" in crossing.describe()


def test_different_control_flow_is_a_crossing():
    def branchy(W):
        with recording() as trace:
            W = track(W)
            if W.sum() > 0:
                np.maximum(W, 0)
        return trace

    positive, negative = branchy(W0), branchy(-W0)
    crossing = compare_traces(positive, negative)
    assert crossing is not None
