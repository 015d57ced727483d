"""Winner tracking: taint propagation and the record of every kink operation."""

import math

import numpy as np
import pytest

from gradcheck_cli.kinks import TrackedArray, TrackedFloat, compare_traces, recording, track

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
        lambda W: W.sum(),  # a scalar result stays tracked (as a TrackedFloat)
        lambda W: W[0, 1],  # so does a single element
        lambda W: W[0, 1] - W[1, 1] + 1,  # and arithmetic on them
        lambda W: 2.0 * W[0, 0] / 3 - W[0, 1] ** 2,
        lambda W: -abs(W[0, 1]),
        lambda W: np.exp(W[0, 1]),  # numpy functions of one
        lambda W: W[0, 1] * X,  # arrays scaled by one
        lambda W: X[0] * W[0, 1],
    ],
    ids=["matmul-op", "dot-method", "np.dot", "np.matmul", "einsum", "tensordot", "T", "index", "fancy-index",
         "reshape", "ufunc", "arith", "sum-axis", "mean", "concatenate", "norm", "sum-all", "element",
         "scalar-arith", "scalar-mixed", "scalar-abs", "scalar-ufunc", "scalar-times-array", "array-times-scalar"],
)
def test_results_derived_from_params_stay_tracked(expr):
    assert isinstance(expr(tracked_W()), (TrackedArray, TrackedFloat))


def test_a_tracked_float_computes_as_a_float64():
    W = tracked_W()
    a, b = W[0, 0], W[0, 1]
    assert isinstance(a, TrackedFloat) and isinstance(a, float)
    for got, want in [(a + b, 0.5 + -1.0), (a - 1, -0.5), (1 - a, 0.5), (a * b, -0.5), (b / a, -2.0),
                      (7 // a, 14.0), (b % 0.3, (-1.0) % 0.3), (a ** 2, 0.25), (2 ** a, 2 ** 0.5), (-b, 1.0),
                      (abs(b), 1.0)]:
        assert type(got) is TrackedFloat and float(got) == want
    assert type(float(a)) is float and f"{a:.2f}" == "0.50" and hash(a) == hash(0.5)
    assert {a: 1}[0.5] == 1


def test_float32_and_complex_scalars_stay_tracked_as_arrays():
    W32 = track(W0.astype(np.float32))
    Wc = track(W0.astype(complex))
    assert isinstance(W32[0, 0], TrackedArray) and isinstance(Wc[0, 0] * 2, TrackedArray)


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
        (lambda W: 0 < W[0, 1], "greater"),  # a reflected comparison
        (lambda W: W[0, 1] == 0.25, "equal"),
        (lambda W: abs(W[0, 1]), "absolute"),
        (lambda W: np.maximum(0, W[0, 1] - 1), "maximum"),  # numpy kink functions of a scalar
        (lambda W: W[1] * (W[0, 0] > 0), "greater"),
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


def test_scalar_decisions_of_a_naive_loop_are_compared_one_by_one():
    def hinge_loop(W):
        total = 0.0
        for j in range(W.shape[1]):
            margin = W[0, j] - W[1, j]
            if margin > 0:
                total += margin
        return total

    W = W0.copy()
    with recording() as before:
        hinge_loop(track(W))
    assert compare_traces(before, run(hinge_loop)) is None
    W[0, 1] = W0[1, 1] + 1.0  # column 1's margin turns positive
    with recording() as after:
        hinge_loop(track(W))
    crossing = compare_traces(before, after)
    assert (crossing.op, crossing.flipped, crossing.size, crossing.filename) == ("greater", 1, 1, __file__)


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


# -- ties: at the start point, a kink operation decided by equal sides ----------------

@pytest.mark.parametrize(
    "fn, tied",
    [
        (lambda W: np.maximum(W, 0.25), True),  # W[1, 1] == 0.25
        (lambda W: np.maximum(W, 0.3), False),
        (lambda W: np.maximum(0, W - W), True),
        (lambda W: (X @ W) > 0, False),
        (lambda W: W >= W[0, 0], True),  # W[0, 0] against itself
        (lambda W: np.abs(W - 0.5), True),
        (lambda W: abs(W[0, 0] - 0.5), True),  # a tracked scalar at 0
        (lambda W: W[0, 0] > 0.4, False),
        (lambda W: W[0, 0] >= 0.5, True),
        (lambda W: np.max(np.concatenate([W, W]), axis=0), True),  # every maximum reached twice
        (lambda W: W.max(axis=1), False),
        (lambda W: np.concatenate([W[0], W[0]]).argmax(), True),
        (lambda W: np.sort(np.concatenate([W[0], W[0, :1]])), True),
        (lambda W: np.sort(W, axis=1), False),
        (lambda W: np.clip(W, -1.0, 1.0), True),  # W[0, 1] == -1
    ],
)
def test_ties_are_seen_where_asked(fn, tied):
    with recording(ties=True) as trace:
        fn(tracked_W())
    assert trace and trace.tied is tied
    with recording() as trace:
        fn(tracked_W())
    assert trace.tied is False  # not asked: no extra work


# -- where tracking runs: only where it can change what the report says ----------

def _hinge_model(calls):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 4))

    def loss(W):
        calls.append(isinstance(W, TrackedArray))
        return float(np.sum(np.maximum(0, A @ W + 0.5)))

    def grad(W):
        return A.T @ ((A @ W + 0.5) > 0).astype(float)

    return loss, grad, rng.standard_normal((4, 3))


def test_a_clean_check_tracks_the_start_point_only():
    """Tracking costs Python code on every numpy operation of the loss (10x
    for naive loops): probes that pass cleanly are not tracked."""
    from gradcheck_cli import check

    calls = []
    loss, grad, W = _hinge_model(calls)
    report = check(loss=loss, grad=grad, params=W, samples=None, warmup="off")
    assert report.verdict == "pass" and report.kinked
    assert sum(calls) == 1 and len(calls) > 30  # the start point's trace
    # The generic point traces its burn-in's steps (every WARMUP_TRACE_EVERY,
    # every step while a site waits to be mixed) and its own start point.
    calls.clear()
    report = check(loss=loss, grad=grad, params=W, samples=None)
    assert report.verdict == "pass" and sum(calls) <= 2 + report.moved.steps


def test_a_probe_across_a_kink_is_tracked_and_names_the_line():
    from gradcheck_cli import check

    calls = []
    loss, grad, W = _hinge_model(calls)
    A = np.random.default_rng(0).standard_normal((30, 4))
    W = W.copy()
    W[0, 0] = (-0.5 - A[0, 1:] @ W[1:, 0]) / A[0, 0]  # example 0's unit 0 sits exactly at the hinge
    report = check(loss=loss, grad=grad, params=W, samples=None, directions=0)
    crossed = [d for d in report.blocks[0].dims if d.kink is not None and not d.kink_harmless]
    assert crossed and all(d.kink.op == "maximum" and d.kink.filename == __file__ for d in crossed)
    assert sum(calls) > 3


def test_ties_at_the_start_point_track_every_probe():
    """W = 0 ties every score of a max shift: each probe flips it harmlessly,
    and the report says so for each (not only for those the grade flags)."""
    from gradcheck_cli import check

    calls = []
    X = np.random.default_rng(1).standard_normal((6, 3))

    def loss(W):
        calls.append(isinstance(W, TrackedArray))
        s = X @ W
        s = s - s.max(axis=1, keepdims=True)
        return float(np.sum(np.log(np.exp(s).sum(axis=1)) - s[:, 0]))

    def grad(W):
        s = X @ W
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[:, 0] -= 1
        return X.T @ p

    report = check(loss=loss, grad=grad, params=np.zeros((3, 4)), samples=None, directions=0)
    assert report.verdict == "pass"
    flips = [d for d in report.blocks[0].dims if d.kink is not None]
    assert len(flips) == 12 and all(d.kink_harmless for d in flips)


def test_order_statistics_are_tracked_as_a_sort_and_give_numpys_values():
    """np.quantile asks its ufuncs for arrays where a tracked scalar stood
    (out=...), which recursed for ever; it is an order statistic, recorded
    as a sort (ties included) and computed on plain arrays."""
    values = np.array([[1.0, -2.0, 3.0, 0.5], [2.0, 2.0, 1.0, 0.0]])
    with recording(ties=True) as trace:
        tracked = track(values)
        got = [np.quantile(tracked, 0.5), np.percentile(tracked, [10, 90], axis=1), np.median(tracked, axis=0)]
    want = [np.quantile(values, 0.5), np.percentile(values, [10, 90], axis=1), np.median(values, axis=0)]
    for g, w in zip(got, want):
        assert np.array_equal(np.asarray(g), w)
    assert [e.op for e in trace] == ["sort", "sort", "sort"] and trace.tied  # the row [2, 2, ...] ties
