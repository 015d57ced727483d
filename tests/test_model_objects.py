"""Code as people write it: gradient keys, model objects (issue 14)."""

import numpy as np
import pytest

from gradcheck_cli import ModelError, check

X = np.random.default_rng(0).standard_normal((6, 4))


def _net(p):
    z1 = X @ p["W1"] + p["b1"]
    a1 = np.tanh(z1)
    return z1, a1, float(np.sum(a1 ** 2))


def _backprop(p):
    """As the deep-learning course writes it: dW1 for W1, and the
    activations' gradients in the same dict."""
    z1, a1, _ = _net(p)
    dA1 = 2 * a1
    dZ1 = dA1 * (1 - a1 ** 2)
    return {"dZ1": dZ1, "dA1": dA1, "dW1": X.T @ dZ1, "db1": dZ1.sum(axis=0)}


PARAMS = {"W1": np.random.default_rng(1).standard_normal((4, 3)), "b1": np.zeros(3)}


def test_gradient_keys_d_plus_the_block_name_are_recognised():
    report = check(loss=lambda p: _net(p)[2], grad=_backprop, params=PARAMS)
    assert report.verdict == "pass" and [b.name for b in report.blocks] == ["W1", "b1"]
    assert any("dA1, dZ1" in note and "not compared" in note for note in report.notes)


def test_a_key_mismatch_names_both_key_sets():
    def grad(p):
        g = _backprop(p)
        return {"grad_W1": g["dW1"], "grad_b1": g["db1"]}

    with pytest.raises(ModelError) as caught:
        check(loss=lambda p: _net(p)[2], grad=grad, params=PARAMS)
    message = str(caught.value)
    assert "'grad_W1', 'grad_b1'" in message and "'W1', 'b1'" in message and "dW1 for W1" in message


def test_a_wrong_dw_under_its_d_key_still_fails():
    def grad(p):
        g = _backprop(p)
        return {**g, "dW1": 1.5 * g["dW1"]}

    report = check(loss=lambda p: _net(p)[2], grad=grad, params=PARAMS)
    assert {b.name: b.grade for b in report.blocks}["W1"] == "fail"


# -- model objects: params and loss(X, y) -> (loss, grads) ---------------------------------

from click.testing import CliRunner  # noqa: E402

from gradcheck_cli.cli import main  # noqa: E402

from .conftest import SAMPLES  # noqa: E402

CLASSIFIER = """
import sys
sys.path.insert(0, {samples!r})
import numpy as np
from layer_lib.classifiers import TwoLayerNet

class Buggy(TwoLayerNet):
    def loss(self, X, y=None):
        loss, grads = super().loss(X, y)
        return loss, {{**grads, "W2": grads["W2"] - self.reg * self.params["W2"]}}  # the L2 term forgotten

X = np.random.default_rng(4).standard_normal((6, 5))
y = np.array([0, 1, 2, 2, 1, 0])
net = {cls}(input_dim=5, hidden_dim=8, num_classes=3, reg={reg})
"""


def test_a_classifier_object_is_checked_as_it_is():
    report = check(str(SAMPLES / "classifier.py"))
    assert report.verdict == "pass" and [b.name for b in report.blocks] == ["W1", "b1", "W2", "b2"]
    assert report.regularization.name == "reg"  # the object's attribute
    assert check(str(SAMPLES / "classifier.py") + ":net").verdict == "pass"


def test_a_bug_in_a_classifier_objects_grads_fails_its_block(model_file):
    path = model_file(CLASSIFIER.format(samples=str(SAMPLES), cls="Buggy", reg=0.5))
    report = check(path)
    assert {b.name for b in report.blocks if b.grade == "fail"} == {"W2"}
    result = CliRunner().invoke(main, [path, "--reg", "reg", "--format", "json"])
    assert result.exit_code == 1


def test_a_classifier_without_its_data_is_told_what_to_give(model_file):
    path = model_file(CLASSIFIER.format(samples=str(SAMPLES), cls="TwoLayerNet", reg=0.1)
                      .replace("X = np.random", "Z = np.random"))
    with pytest.raises(ModelError, match="loss takes X, y and uses its own params; give X as module-level"):
        check(path)


def test_a_classifiers_data_can_come_from_data_npz(model_file, tmp_path):
    path = model_file(f"""
        import sys
        sys.path.insert(0, {str(SAMPLES)!r})
        from layer_lib.classifiers import TwoLayerNet
        net = TwoLayerNet(input_dim=5, hidden_dim=8, num_classes=3, reg=0.1)
    """)
    data = tmp_path / "data.npz"
    np.savez(data, X=np.random.default_rng(4).standard_normal((6, 5)), y=np.array([0, 1, 2, 2, 1, 0]))
    missing = CliRunner().invoke(main, [path])
    assert missing.exit_code == 2 and "or in --data FILE.npz" in missing.stderr
    one = CliRunner().invoke(main, [path, "--data", str(data), "--format", "json"])
    two = CliRunner().invoke(main, [path, "--data", str(data), "--format", "json", "--jobs", "2"])
    assert one.exit_code == two.exit_code == 0, one.output
    from .conftest import without_seconds
    import json
    assert without_seconds(json.loads(one.stdout)) == without_seconds(json.loads(two.stdout))
    bad = CliRunner().invoke(main, [path, "--data", str(tmp_path / "nope.npz")])
    assert bad.exit_code == 2 and "--data" in bad.stderr and "not found" in bad.stderr


# -- parameters as lists and nested dicts ---------------------------------------------------

NESTED = """
import numpy as np
rng = np.random.default_rng(0)
X = rng.standard_normal((6, 4))
params = {{"ws": [rng.standard_normal((4, 5)), rng.standard_normal((5, 3))], "bs": (np.zeros(5), np.zeros(3)),
          "head": {{"scale": np.array([1.5])}}}}

def loss(p):
    h = np.tanh(X @ p["ws"][0] + p["bs"][0])
    return float(np.sum((h @ p["ws"][1] + p["bs"][1]) ** 2) * p["head"]["scale"][0])

def grad(p):
    z = X @ p["ws"][0] + p["bs"][0]
    h = np.tanh(z)
    s = h @ p["ws"][1] + p["bs"][1]
    c = p["head"]["scale"][0]
    ds = 2 * s * c
    dz = ds @ p["ws"][1].T * (1 - h ** 2)
    return {{"ws": [X.T @ dz, h.T @ ds * {bug}], "bs": (dz.sum(axis=0), ds.sum(axis=0)),
            "head": {{"scale": np.array([np.sum(s ** 2)])}}}}
"""


def test_lists_tuples_and_nested_dicts_are_blocks_named_by_path(model_file):
    path = model_file(NESTED.format(bug=1.0))
    report = check(path)
    assert report.verdict == "pass"
    assert [b.name for b in report.blocks] == ["ws[0]", "ws[1]", "bs[0]", "bs[1]", "head.scale"]
    wrong = check(model_file(NESTED.format(bug=1.5), name="wrong.py"))
    assert {b.name for b in wrong.blocks if b.grade == "fail"} == {"ws[1]"}


def test_nested_params_with_workers_and_saved_params(model_file, tmp_path):
    path = model_file(NESTED.format(bug=1.0))
    saved = tmp_path / "at.npz"
    one = CliRunner().invoke(main, [path, "--format", "json", "--save-params", str(saved)])
    two = CliRunner().invoke(main, [path, "--format", "json", "--jobs", "2"])
    assert one.exit_code == two.exit_code == 0, one.output
    import json

    from .conftest import without_seconds
    assert without_seconds(json.loads(one.stdout)) == without_seconds(json.loads(two.stdout))
    with np.load(saved) as data:
        assert set(data.files) == {"ws[0]", "ws[1]", "bs[0]", "bs[1]", "head.scale"}
    assert check(path, params=str(saved)).verdict == "pass"


def test_a_gradient_of_another_structure_is_named_where_it_differs(model_file):
    path = model_file(NESTED.format(bug=1.0).replace(
        '"bs": (dz.sum(axis=0), ds.sum(axis=0)),', '"bs": (dz.sum(axis=0),),'))
    with pytest.raises(ModelError, match=r"has 1 items at bs, where the params have a list of 2 arrays"):
        check(path)


def test_a_loss_argument_beside_the_object_is_read_when_called(model_file):
    """CS231n's neural_net.TwoLayerNet takes reg as loss's argument: the
    module's `reg` beside the object is read at each call, so --reg auto
    sees its share and --set changes it (it was copied at import, and the
    report said the model did not read reg)."""
    path = model_file("""
        import numpy as np

        class Net:
            def __init__(self):
                rng = np.random.default_rng(0)
                self.params = {"W": 0.5 * rng.standard_normal((4, 3)), "b": np.zeros(3)}

            def loss(self, X, y=None, reg=0.0):
                W, b = self.params["W"], self.params["b"]
                s = X @ W + b
                e = np.exp(s - s.max(axis=1, keepdims=True))
                p = e / e.sum(axis=1, keepdims=True)
                n = len(X)
                loss = -np.log(p[np.arange(n), y]).mean() + reg * np.sum(W * W)
                d = p.copy()
                d[np.arange(n), y] -= 1
                d /= n
                return loss, {"W": X.T @ d + 2 * reg * W, "b": d.sum(axis=0)}

        net = Net()
        X = np.random.default_rng(1).standard_normal((6, 4))
        y = np.array([0, 1, 2, 2, 1, 0])
        reg = 0.05
    """)
    report = check(path + ":net")
    assert report.verdict == "pass" and not report.regularization.unchanged
    assert report.regularization.share["W"] > 0 and report.regularization.share["b"] == 0
    assert check(path + ":net", set={"reg": "0"}, warmup="off").loss < check(path + ":net", warmup="off").loss
