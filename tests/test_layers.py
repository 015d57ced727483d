"""Layers: forward/backward pairs checked like models (issue 14)."""

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import ModelError, check, check_layer, layer
from gradcheck_cli.cli import main

from .conftest import SAMPLES, without_seconds

sys.path.insert(0, str(SAMPLES))
try:
    from layer_lib import buggy_layers as buggy  # noqa: E402
    from layer_lib import layers as lib  # noqa: E402
finally:  # (left on the path, every sample model is importable by name in the tests after these: `gradcheck svm`)
    sys.path.remove(str(SAMPLES))


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


def grades(report):
    return {b.name: b.grade for c in report.checks() for b in c.blocks if b.grade == "fail"} or \
        {b.name: b.grade for b in report.blocks}


# -- the CS231n convention -------------------------------------------------------------

def test_an_affine_layer_is_checked_for_every_input_dx_included():
    report = check_layer(lib.affine_forward, lib.affine_backward, inputs={"x": (4, 2, 3), "w": (6, 5), "b": (5,)})
    assert report.verdict == "pass" and [b.name for b in report.blocks] == ["x", "w", "b"]
    assert report.blocks[0].shape == (4, 2, 3)


def test_a_single_gradient_may_come_back_as_an_array():
    assert check_layer(lib.relu_forward, lib.relu_backward, inputs={"x": (4, 5)}).verdict == "pass"


def test_several_outputs_each_get_their_own_upstream_gradient():
    inputs = {"x": (3, 4), "prev_h": (3, 5), "prev_c": (3, 5), "Wx": (4, 20), "Wh": (5, 20), "b": (20,)}
    assert check_layer(lib.lstm_step_forward, lib.lstm_step_backward, inputs=inputs).verdict == "pass"
    report = check_layer(buggy.lstm_step_forward, buggy.lstm_step_backward, inputs=inputs)
    assert {b.name for b in report.blocks if b.grade == "fail"} == {"prev_c"}


def test_a_loss_layer_needs_no_backward_and_its_labels_pass_through():
    y = np.array([0, 2, 1, 2])
    for loss in (lib.softmax_loss, lib.svm_loss):
        report = check_layer(loss, inputs={"x": (4, 3), "y": y})
        assert report.verdict == "pass" and [b.name for b in report.blocks] == ["x"]


def test_dropout_is_checked_with_its_mask_fixed_by_the_seed():
    report = check_layer(lib.dropout_forward, lib.dropout_backward, inputs={"x": (6, 5), "dropout_param": {"p": 0.5}})
    assert report.verdict == "pass"


def test_pass_through_values_are_never_the_callers():
    bn_param = {}
    x = np.random.default_rng(0).standard_normal((6, 4))
    saved = x.copy()
    report = check_layer(lib.batchnorm_forward, lib.batchnorm_backward,
                         inputs={"x": x, "gamma": np.ones(4), "beta": np.zeros(4), "bn_param": bn_param})
    assert report.verdict == "pass"
    assert bn_param == {} and np.array_equal(x, saved)  # running averages went into copies


def test_shapes_are_filled_from_the_seed():
    inputs = {"x": (4, 5), "w": (5, 3), "b": (3,)}
    one = check_layer(lib.affine_forward, lib.affine_backward, inputs=inputs, seed=3).to_dict()
    two = check_layer(lib.affine_forward, lib.affine_backward, inputs=inputs, seed=3).to_dict()
    other = check_layer(lib.affine_forward, lib.affine_backward, inputs=inputs, seed=4).to_dict()
    assert without_seconds(one) == without_seconds(two) and one["loss"] != other["loss"]


# -- what a broken backward gets told ---------------------------------------------------

def _affine_backward_returning(result):
    return lambda dout, cache: result(*lib.affine_backward(dout, cache))


@pytest.mark.parametrize("backward, words", [
    (_affine_backward_returning(lambda dx, dw, db: (dx, dw)),
     "returned 2 gradients, but affine_forward has 3 array inputs (x, w, b): one per input, in that order"),
    (_affine_backward_returning(lambda dx, dw, db: (dx, dw, None)), "returned None for the gradient of b"),
    (_affine_backward_returning(lambda dx, dw, db: (dx, dw, db[None, :])),
     "returned a gradient of shape (1, 5) for b, whose shape is (5,)"),
    (_affine_backward_returning(lambda dx, dw, db: {"dx": dx}), "returned a dict; it must return the gradients of "
                                                                 "x, w, b"),
])
def test_a_backward_that_returns_the_wrong_things_is_named(backward, words):
    with pytest.raises(ModelError) as caught:
        check_layer(lib.affine_forward, backward, inputs={"x": (4, 6), "w": (6, 5), "b": (5,)})
    assert words in str(caught.value)


def test_a_forward_without_its_cache_is_named():
    with pytest.raises(ModelError, match=r"must return \(out, cache\)"):
        check_layer(lambda x: x * 2, lambda dout, cache: dout * 2, inputs={"x": (3,)})


def test_inputs_that_do_not_fit_the_forward_are_named():
    with pytest.raises(ModelError, match="do not fit affine_forward's arguments"):
        check_layer(lib.affine_forward, lib.affine_backward, inputs={"x": (4, 6), "weights": (6, 5), "b": (5,)})
    with pytest.raises(ModelError, match="nothing to differentiate"):
        check_layer(lib.softmax_loss, inputs={"x": np.array([[1, 2]]), "y": np.array([0])})


# -- from the command line ----------------------------------------------------------------

def test_the_layer_library_passes_from_the_command_line():
    result = run(SAMPLES / "layers_check.py", "--format", "json")
    assert result.exit_code == 0, result.output
    models = json.loads(result.stdout)["models"]
    assert [m["model"].rsplit(":", 1)[1] for m in models] == [
        "affine", "relu", "batchnorm", "dropout", "conv", "max_pool", "softmax", "svm", "lstm_step"]
    assert all(m["verdict"] == "pass" for m in models)


def test_the_planted_bug_fails_at_its_layer_and_input():
    result = run(SAMPLES / "buggy_layers_check.py", "--format", "json")
    assert result.exit_code == 1
    failed = {(m["model"].rsplit(":", 1)[1], b["name"]) for m in json.loads(result.stdout)["models"]
              for b in m["blocks"] if b["grade"] == "fail"}
    assert failed == {("lstm_step", "prev_c")}


def test_one_layer_of_a_checks_file_by_name_and_with_workers():
    one = run(SAMPLES / "buggy_layers_check.py:lstm_step", "--format", "json")
    two = run(SAMPLES / "buggy_layers_check.py:lstm_step", "--format", "json", "--jobs", "2")
    assert one.exit_code == two.exit_code == 1
    assert without_seconds(json.loads(one.stdout)) == without_seconds(json.loads(two.stdout))


def test_a_layer_is_a_model_for_check_and_the_fixture(pytester):
    assert check(layer(lib.relu_forward, lib.relu_backward, x=(4, 5))).verdict == "pass"
    pytester.makepyfile(f"""
        import sys
        sys.path.insert(0, {str(SAMPLES)!r})
        from gradcheck_cli import layer
        from layer_lib.buggy_layers import lstm_step_forward, lstm_step_backward, relu_forward, relu_backward

        def test_relu(gradcheck):
            gradcheck(layer(relu_forward, relu_backward, x=(4, 5)))

        def test_lstm(gradcheck):
            gradcheck(layer(lstm_step_forward, lstm_step_backward, x=(3, 4), prev_h=(3, 5), prev_c=(3, 5),
                            Wx=(4, 20), Wh=(5, 20), b=(20,)))
    """)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    outcome.assert_outcomes(passed=1, failed=1)


def test_a_failing_fixture_shows_the_users_line_not_gradchecks(pytester):
    pytester.makepyfile(f"""
        import sys
        sys.path.insert(0, {str(SAMPLES)!r})
        from gradcheck_cli import layer
        from layer_lib.buggy_layers import lstm_step_forward, lstm_step_backward

        def test_lstm(gradcheck):
            gradcheck(layer(lstm_step_forward, lstm_step_backward, x=(3, 4), prev_h=(3, 5), prev_c=(3, 5),
                            Wx=(4, 20), Wh=(5, 20), b=(20,)))  # the user's line
    """)
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    outcome.assert_outcomes(failed=1)
    text = outcome.stdout.str()
    assert "the user's line" in text and "gradient check FAIL" in text
    assert "assertions.py" not in text and "pytest_plugin.py" not in text


# -- layer objects: forward(X), backward(dY) -> dX, gradients in .grads ----------------------

class Dense:
    """A numpy-from-scratch layer: params and grads dicts on the object."""

    def __init__(self, n_in, n_out, bug=1.0, keys="d"):
        rng = np.random.default_rng(0)
        self.params = {"W": rng.standard_normal((n_in, n_out)), "b": np.zeros(n_out)}
        self.grads, self.bug, self.keys = {}, bug, keys

    def forward(self, X):
        self.X = X
        return X @ self.params["W"] + self.params["b"]

    def backward(self, dY):
        self.grads[f"{self.keys}W"] = self.X.T @ dY * self.bug
        self.grads[f"{self.keys}b"] = dY.sum(axis=0)
        return dY @ self.params["W"].T


class Relu:
    def forward(self, X):
        self.mask = X > 0
        return X * self.mask

    def backward(self, dY):
        return dY * self.mask


def test_a_layer_object_is_checked_for_its_input_and_its_params():
    layer_object = Dense(4, 3)
    saved = {k: v.copy() for k, v in layer_object.params.items()}
    report = check(layer(layer_object, X=(5, 4)))
    assert report.verdict == "pass" and [b.name for b in report.blocks] == ["X", "W", "b"]
    assert all(np.array_equal(layer_object.params[k], saved[k]) for k in saved)  # its own params given back
    assert check(layer(Dense(4, 3, keys=""), X=(5, 4))).verdict == "pass"  # grads keyed W, b
    assert check(layer(Relu(), X=(5, 4))).verdict == "pass"  # no params: the input alone


def test_a_wrong_parameter_gradient_of_a_layer_object_fails_its_block():
    report = check(layer(Dense(4, 3, bug=1.5), X=(5, 4)))
    assert {b.name for b in report.blocks if b.grade == "fail"} == {"W"}


def test_a_layer_object_that_keeps_no_gradients_is_told_so():
    class Forgetful(Dense):
        def backward(self, dY):
            super().backward(dY)
            self.grads = None
            return dY @ self.params["W"].T

    with pytest.raises(ModelError, match=r"left no dict of its params' gradients in Forgetful.grads"):
        check(layer(Forgetful(4, 3), X=(5, 4)))

    class Silent(Relu):
        def backward(self, dY):
            return None

    with pytest.raises(ModelError, match="Silent.backward returned None; it must return the gradient of its input X"):
        check(layer(Silent(), X=(5, 4)))
