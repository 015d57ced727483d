"""Work proportional to what is checked: the shortcuts that make a check
cost little more than its loss calls must not change what it computes."""

import numpy as np

from gradcheck_cli import check
from gradcheck_cli.sampling import plan_block, random_directions


def test_directions_are_random_unit_vectors_stable_per_block():
    def directions(name):
        return np.array(list(plan_block(name, (40, 30), samples=10, directions=2, seed=0).directions))

    first, again, other = directions("W"), directions("W"), directions("b")
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.shape == (2, 1200)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-12)
    # Magnitudes of many levels within a factor of 3 of each other (signs
    # alone cancel an equal-and-opposite pair of errors along half of all
    # directions), none zero.
    magnitudes = np.abs(first[0])
    assert magnitudes.max() < 3 * magnitudes.min() and len(np.unique(magnitudes)) > 100
    # Both signs, in about equal numbers, and the two directions differ.
    assert 500 < np.count_nonzero(first[0] > 0) < 700
    assert not np.array_equal(first[0], first[1])


def test_directions_are_drawn_when_used_and_the_same_each_time():
    """A plan holds directions by reference (a 1e7 block's two directions
    would be 160 MB held for the whole check); drawing one twice, or in a
    worker process, gives the same vector."""
    import pickle

    plan = plan_block("W", (1000, 1000), samples=10, directions=2, seed=3)
    assert len(plan.directions) == 2
    ref = plan.directions.ref(1)
    assert len(pickle.dumps(ref)) < 200
    np.testing.assert_array_equal(ref.vector(), plan.directions[1])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(ref)).vector(), plan.directions[1])
    assert not np.array_equal(plan.directions[0], plan.directions[1])


def test_random_directions_of_odd_sizes_and_none():
    rng = np.random.default_rng(0)
    assert random_directions(rng, 3, 13).shape == (3, 13)
    assert random_directions(rng, 0, 13).shape == (0, 13)
    assert random_directions(rng, 2, 0).shape == (2, 0)


def test_each_call_sees_at_most_one_block_moved():
    """Points along a direction are built in the block handed over and left
    there until another call needs the block back at x: no call may see two
    blocks moved, or a coordinate probe a block still moved."""
    rng = np.random.default_rng(0)
    start = {"W": rng.standard_normal((6, 5)), "b": rng.standard_normal(5), "c": rng.standard_normal(4)}
    moved_per_call = []

    def loss_and_grad(p):
        # Moved by a probe's step (1e-5), not by the noise table's ~1e-7,
        # which moves every block at once by design.
        # (a plain ndarray view: the test's own abs is no kink of the model's)
        moved_per_call.append({k: int(np.count_nonzero(np.abs(p[k].view(np.ndarray) - start[k]) > 1e-6))
                               for k in start})
        value = np.sum(np.sin(p["W"])) + np.sum(p["b"] ** 3) + np.sum(np.exp(p["c"]))
        return value, {"W": np.cos(p["W"]), "b": 3 * p["b"] ** 2, "c": np.exp(p["c"])}

    # At the start point (the generic point's burn-in moves every block by design).
    report = check(loss_and_grad=loss_and_grad, params=start, samples=3, directions=2, warmup="off")
    assert report.verdict == "pass"
    along = [m for m in moved_per_call if max(m.values()) > 1]
    assert along, "some calls moved a block along a direction"
    for moved in moved_per_call:
        assert sum(1 for n in moved.values() if n) <= 1, moved


def test_a_model_that_reuses_its_gradient_buffers_is_checked_at_the_start_point():
    """A layer that writes its gradient into the same arrays on every call
    (self.dW[...] = ...) must not change the start point's gradient while
    probes run."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((8, 4))
    dW = np.zeros((4, 3))

    def loss_and_grad(W, bug=0.0):
        dW[...] = X.T @ np.tanh(X @ W) * (1 + bug)
        return float(np.sum(np.log(np.cosh(X @ W)))), dW

    W = rng.standard_normal((4, 3))
    assert check(loss_and_grad=loss_and_grad, params=W, samples=None).verdict == "pass"
    assert check(loss_and_grad=lambda W: loss_and_grad(W, bug=1e-3), params=W, samples=None).verdict == "fail"
