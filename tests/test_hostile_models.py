"""Hostile models, round 3 (issue 24, sections 4 and 6): correct models
that were reported broken, and messages that named the wrong culprit.

Each test is a class of models, not one example: what gradcheck hands
user code more than once, a loss that ignores what it is handed, block
names, constant losses, --data and --params that do not fit, layer
settings that look like shapes, a model file reached through a link.
"""

import json
import os
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import ModelError, check, check_layer, layer
from gradcheck_cli.cli import main


def run(*args):
    return CliRunner().invoke(main, [*map(str, args)], prog_name="gradcheck")


def refused(result, *words):
    """Exit 2 with a one-line message holding ``words`` and none of gradcheck's frames."""
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert message.startswith("gradcheck: error: "), message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert "gradcheck_cli" not in message, "the tool's own frames leaked"
    return message


# -- 1. what gradcheck hands user code more than once ------------------------------------------

def leaky_forward(x):
    return np.where(x > 0, x, 0.1 * x), x


def leaky_backward_cs231n(dout, cache):
    dx = dout  # the CS231n way: the upstream gradient itself, scaled where x <= 0
    dx[cache <= 0] *= 0.1
    return dx


def leaky_backward_times_equals(dout, cache):
    dout *= np.where(cache > 0, 1.0, 0.1)
    return dout


def two_outputs_forward(x, w):
    return x * w, np.sin(x), (x, w)


def two_outputs_backward(da, db, cache):
    x, w = cache
    dw = da * x
    da *= w  # both upstream gradients written into, then returned
    db *= np.cos(x)
    da += db
    return da, dw


@pytest.mark.parametrize("forward, backward, inputs", [
    (leaky_forward, leaky_backward_cs231n, {"x": (4, 5)}),
    (leaky_forward, leaky_backward_times_equals, {"x": (4, 5)}),
    (two_outputs_forward, two_outputs_backward, {"x": (3, 4), "w": (3, 4)}),
], ids=["dx = dout; dx[mask] *= 0.1", "dout *= mask", "two outputs, both written into"])
def test_a_backward_that_writes_into_its_upstream_gradient_is_checked_like_any_other(forward, backward, inputs):
    report = check_layer(forward, backward, inputs=inputs)
    assert report.verdict == "pass", [b.grade for b in report.blocks]


def test_a_wrong_backward_that_writes_in_place_fails_its_input_not_the_determinism():
    def backward(dout, cache):
        dx = dout
        dx[cache <= 0] *= 0.2  # forward's slope is 0.1
        return dx

    report = check_layer(leaky_forward, backward, inputs={"x": (4, 5)})
    assert report.verdict == "fail" and report.blocks[0].grade == "fail"


class Leaky:
    """A layer object whose backward scales dY in place."""

    def forward(self, X):
        self.X = X
        return np.where(X > 0, X, 0.1 * X)

    def backward(self, dY):
        dY[self.X <= 0] *= 0.1
        return dY


def test_a_layer_object_that_writes_into_dy_is_checked_like_any_other():
    assert check(layer(Leaky(), X=(5, 4))).verdict == "pass"


def test_a_forward_that_writes_into_its_input_is_checked_like_any_other():
    """An in-place ReLU (PyTorch's inplace=True) is correct layer code: the
    input is an activation, handed afresh to every call. The caller's own
    array is never written."""

    def relu_forward(x):
        np.maximum(x, 0, out=x)
        return x, x

    def relu_backward(dout, cache):
        return dout * (cache > 0)

    x = np.random.default_rng(0).standard_normal((4, 5))
    saved = x.copy()
    assert check_layer(relu_forward, relu_backward, inputs={"x": x}).verdict == "pass"
    assert check_layer(relu_forward, relu_backward, inputs={"x": (4, 5)}).verdict == "pass"
    assert np.array_equal(x, saved)


STATEFUL = {
    "a module-level array": ("'X'", """
        import numpy as np
        X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
        params = {"W": np.array([0.5, -0.25, 1.0])}
        def loss(p):
            X[:] = X * 1.5  # scaled in place: every call sees other data
            return float(np.sum(np.tanh(X @ p["W"])))
        def grad(p):
            return {"W": X.T @ (1 - np.tanh(X @ p["W"]) ** 2)}
    """),
    "an object's array": ("'net.seen'", """
        import numpy as np
        class Net:
            def __init__(self):
                self.params = {"W": np.array([0.5, -0.25, 1.0])}
                self.seen = np.zeros(3)
            def loss(self, X, y):
                self.seen += 1.0  # a counter kept between calls, used in the loss
                W = self.params["W"] + self.seen
                r = X @ W - y
                return 0.5 * float(r @ r), {"W": X.T @ r}
        X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
        y = np.ones(4)
        net = Net()
    """),
}


@pytest.mark.parametrize("name, source", STATEFUL.values(), ids=list(STATEFUL))
def test_state_the_model_changes_between_calls_is_named_not_blamed_on_a_generator(tmp_path, name, source):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(source))
    message = refused(run(path), "nondeterministic", f"Each call changes {name} in place", "between calls")
    assert "Generator" not in message


def test_an_array_reshaped_in_place_is_named_with_the_function_that_did_it(tmp_path):
    """The arrays handed to each call are the same objects every call: one
    reshaped in place (W.shape = ...) reached the next call, and grad was
    blamed for the loss's reshape."""
    (tmp_path / "model.py").write_text(textwrap.dedent("""
        import numpy as np
        params = {"W": np.arange(6.0).reshape(2, 3) / 10, "b": np.ones(2)}
        def loss(p):
            W = p["W"]
            W.shape = (6,)
            return float(np.sum(np.sin(W)) + np.sum(p["b"] ** 2))
        def grad(p):
            return {"W": np.cos(p["W"]), "b": 2 * p["b"]}
    """))
    message = refused(run(tmp_path / "model.py"), "loss reshaped params['W'] in place, from (2, 3) to (6,)")
    assert "grad['W']" not in message


def test_a_data_array_the_model_writes_into_is_named(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent("""
        import numpy as np
        class Net:
            def __init__(self):
                self.params = {"W": np.array([0.5, -0.25, 1.0])}
            def loss(self, X, y):
                X *= 2.0  # --data's X, written into
                r = X @ self.params["W"] - y
                return 0.5 * float(r @ r), {"W": X.T @ r}
        net = Net()
    """))
    np.savez(tmp_path / "data.npz", X=np.linspace(-1.0, 1.0, 12).reshape(4, 3), y=np.ones(4))
    message = refused(run(tmp_path / "model.py", "--data", tmp_path / "data.npz"), "nondeterministic", "'X'")
    assert "Generator" not in message


# -- 2. a loss that does not read the params it is handed --------------------------------------

READS_ITS_OWN = {
    "a model object's self.W": ("""
        import numpy as np
        rng = np.random.default_rng(0)
        X = rng.standard_normal((8, 4))
        y = rng.standard_normal((8, 3))
        class Net:
            def __init__(self):
                self.W = 0.1 * rng.standard_normal((4, 3))
                self.b = np.zeros(3)
                self.params = {"W": self.W, "b": self.b}
            def loss(self, X, y):
                r = X @ self.W + self.b - y
                return 0.5 * np.sum(r ** 2), {"W": X.T @ r, "b": r.sum(0)}
        net = Net()
    """, ["net.W", "net.b"]),
    "the module's params, not the argument": ("""
        import numpy as np
        params = {"W": np.array([[0.3, -1.2], [0.7, 0.1]]), "v": np.array([0.5, 2.0])}
        def loss(p):
            return float(np.sum(np.sin(params["W"])) + np.sum(params["v"] ** 2))
        def grad(p):
            return {"W": np.cos(params["W"]), "v": 2 * params["v"]}
    """, ["params['W']", "params['v']"]),
    "a constant loss with a gradient": ("""
        import numpy as np
        def init_params(seed=0):
            return {"W": np.random.default_rng(seed).standard_normal((2, 3))}
        def loss(p):
            return 1.0
        def grad(p):
            return {"W": np.ones((2, 3))}
    """, []),
}


@pytest.mark.parametrize("source, holders", READS_ITS_OWN.values(), ids=list(READS_ITS_OWN))
def test_a_loss_that_ignores_the_params_it_is_handed_is_told_so(tmp_path, source, holders):
    path = tmp_path / "model.py"
    path.write_text(textwrap.dedent(source))
    message = refused(run(path), "does not depend on the parameters it is handed", *holders)
    assert "fail" not in message.split(":", 2)[1]


class DenseOwn:
    """A layer object whose forward reads self.W, not self.params['W']."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.W = rng.standard_normal((4, 3))
        self.params = {"W": self.W}
        self.grads = {}

    def forward(self, X):
        self.X = X
        return X @ self.W

    def backward(self, dY):
        self.grads["W"] = self.X.T @ dY
        return dY @ self.W.T


def test_a_block_the_loss_ignores_is_refused_only_where_the_model_holds_a_copy_it_reads(tmp_path):
    """Per block, a loss unmoved by a block whose gradient says it moves is
    a wrong gradient (a block the loss never used), unless the model holds
    that block's values elsewhere: then it reads those."""
    with pytest.raises(ModelError, match=r"does not depend on block 'W'.*DenseOwn\.W"):
        check(layer(DenseOwn(), X=(5, 4)))

    rng = np.random.default_rng(1)
    params = {"W": rng.standard_normal((3, 2)), "unused": rng.standard_normal(4)}

    def loss(p):
        return float(np.sum(np.sin(p["W"])))

    def grad(p):
        return {"W": np.cos(p["W"]), "unused": np.zeros(4)}

    assert check(loss=loss, grad=grad, params=params).verdict == "pass"

    def wrong(p):  # a gradient for a block the loss does not use, and no copy of it anywhere: a wrong gradient
        return {"W": np.cos(p["W"]), "unused": np.ones(4)}

    report = check(loss=loss, grad=wrong, params={k: v.copy() for k, v in params.items()})
    assert {b.name: b.grade for b in report.blocks} == {"W": "pass", "unused": "fail"}
    # The same with the params in the module, where they come from: still a wrong gradient.
    module = tmp_path / "model.py"
    module.write_text(textwrap.dedent("""
        import numpy as np
        params = {"W": np.array([[0.3, -1.2], [0.7, 0.1]]), "unused": np.array([0.5, 2.0])}
        def loss(p):
            return float(np.sum(np.sin(p["W"])))
        def grad(p):
            return {"W": np.cos(p["W"]), "unused": np.ones(2)}
    """))
    assert run(module).exit_code == 1
    # A model object that reads one of its blocks from its own attribute: that block is named.
    module.write_text(textwrap.dedent("""
        import numpy as np
        rng = np.random.default_rng(0)
        X = rng.standard_normal((8, 4))
        y = rng.standard_normal((8, 3))
        class Net:
            def __init__(self):
                self.b = 0.1 * np.ones(3)
                self.params = {"W": 0.1 * rng.standard_normal((4, 3)), "b": self.b}
            def loss(self, X, y):
                r = X @ self.params["W"] + self.b - y
                return 0.5 * np.sum(r ** 2), {"W": X.T @ r, "b": r.sum(0)}
        net = Net()
    """))
    refused(run(module), "does not depend on block 'b'", "net.b")

    class Aliased:  # keeps self.W beside params, and reads params: correct
        def __init__(self):
            self.params = {"W": rng.standard_normal((3, 2))}
            self.W = self.params["W"]

        def forward(self, X):
            self.X = X
            return X @ self.params["W"]

        def backward(self, dY):
            self.grads = {"W": self.X.T @ dY}
            return dY @ self.params["W"].T

    assert check(layer(Aliased(), X=(4, 3))).verdict == "pass"


# -- 3. block names: unique, each array handed back where it came from -----------------------------

STRUCTURES = {
    "a dotted key beside a nested dict": lambda a, b, c: {"fc.W": a, "fc": {"W": b, "V": c}},
    "a bracketed key beside a list": lambda a, b, c: {"ws": [a, b], "ws[0]": c},
    "an empty key beside a dotted one": lambda a, b, c: {"fc": {"": a, "it's": b}, "fc.": c},
    "dots inside nested keys": lambda a, b, c: {"a": {"b.c": a}, "a.b": {"c": b}, "d": c},
}


def _leaves(tree, found):
    if isinstance(tree, dict):
        for value in tree.values():
            _leaves(value, found)
    elif isinstance(tree, (list, tuple)):
        for value in tree:
            _leaves(value, found)
    else:
        found.append(tree)
    return found


def _mapped(tree, fn, counter):
    if isinstance(tree, dict):
        return {k: _mapped(v, fn, counter) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_mapped(v, fn, counter) for v in tree)
    counter[0] += 1
    return fn(counter[0], tree)


@pytest.mark.parametrize("build", STRUCTURES.values(), ids=list(STRUCTURES))
def test_every_array_of_nested_params_is_its_own_block(build):
    rng = np.random.default_rng(2)
    params = build(rng.standard_normal(2), rng.standard_normal(3), rng.standard_normal((2, 2)))

    def loss(p):  # leaf k weighted by k: an array handed back in another's place changes the loss
        return float(sum(k * np.sum(np.sin(leaf)) for k, leaf in enumerate(_leaves(p, []), start=1)))

    def grad(p):
        return _mapped(p, lambda k, leaf: k * np.cos(leaf), [0])

    report = check(loss=loss, grad=grad, params=params)
    names = [b.name for b in report.blocks]
    assert len(names) == len(set(names)) == 3, names
    assert report.verdict == "pass", {b.name: b.grade for b in report.blocks}

    def wrong(p):  # the last leaf's gradient doubled: that block alone fails
        return _mapped(p, lambda k, leaf: (2 if k == 3 else 1) * k * np.cos(leaf), [0])

    failed = [b.name for b in check(loss=loss, grad=wrong, params=params).blocks if b.grade == "fail"]
    assert len(failed) == 1


def test_colliding_names_round_trip_through_save_params_and_params(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent("""
        import numpy as np
        params = {"fc.W": np.array([1.0, 2.0]), "fc": {"W": np.array([3.0, -1.0, 0.5])}}
        def loss(p):
            return float(np.sum(p["fc.W"] ** 2) + np.sum(np.sin(p["fc"]["W"])))
        def grad(p):
            return {"fc.W": 2 * p["fc.W"], "fc": {"W": np.cos(p["fc"]["W"])}}
    """))
    saved = tmp_path / "at.npz"
    first = run(tmp_path / "model.py", "--format", "json", "--save-params", saved)
    assert first.exit_code == 0, first.output
    names = [b["name"] for b in json.loads(first.stdout)["models"][0]["blocks"]]
    assert len(names) == 2 and "fc.W" in names
    with np.load(saved) as data:
        assert sorted(data.files) == sorted(names)
        assert data[names[0]].shape != data[names[1]].shape
    again = run(tmp_path / "model.py", "--params", saved)
    assert again.exit_code == 0, again.output


# -- 4. a constant loss is a constant, not float32 ------------------------------------------------

@pytest.mark.parametrize("value", ["1.0", "0.0", "3", "np.float64(2.5)", "0.5"])
def test_a_constant_loss_with_a_zero_gradient_passes_without_a_float_diagnosis(tmp_path, value):
    (tmp_path / "model.py").write_text(textwrap.dedent(f"""
        import numpy as np
        params = {{"W": np.array([[0.3, -1.2, 2.0], [0.7, 0.1, -0.4]])}}
        def loss(p):
            return {value}
        def grad(p):
            return {{"W": np.zeros((2, 3))}}
    """))
    result = run(tmp_path / "model.py", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["models"][0]
    said = " ".join(report["warnings"] + report["notes"])
    assert "float32" not in said and "float16" not in said and "noisy" not in said, said


# -- 5. --data never replaces what gradcheck reads -------------------------------------------------

OBJECT_MODEL = """
import numpy as np
class Net:
    def __init__(self):
        self.params = {"W": np.array([0.5, -0.25, 1.0])}
    def loss(self, X, y):
        r = X @ self.params["W"] - y
        return 0.5 * float(r @ r), {"W": X.T @ r}
net = Net()
"""

FUNCTION_MODEL = """
import numpy as np
X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
params = {"W": np.array([0.5, -0.25, 1.0])}
def loss(p):
    return float(np.sum(np.tanh(X @ p["W"])))
def grad(p):
    return {"W": X.T @ (1 - np.tanh(X @ p["W"]) ** 2)}
"""

INIT_MODEL = FUNCTION_MODEL.replace('params = {"W"', 'def init_params(seed=0):\n    return {"W"')


@pytest.mark.parametrize("source, target, name, words", [
    (FUNCTION_MODEL, "", "params", ["'params'", "params"]),
    (INIT_MODEL, "", "params", ["'params'"]),
    (OBJECT_MODEL, "", "net", ["'net'", "Net"]),
    (OBJECT_MODEL, ":net", "net", ["'net'", "Net"]),
], ids=["params", "params beside init_params", "the model object", "the target named with :ATTR"])
def test_a_data_array_never_replaces_what_gradcheck_reads(tmp_path, source, target, name, words):
    (tmp_path / "model.py").write_text(source)
    arrays = {"X": np.linspace(-1.0, 1.0, 12).reshape(4, 3), "y": np.ones(4), name: np.ones(3)}
    np.savez(tmp_path / "data.npz", **arrays)
    model = f"{tmp_path / 'model.py'}{target}"
    message = refused(run(model, "--data", tmp_path / "data.npz"), "--data", "data.npz", *words)
    assert "IndexError" not in message and "defines neither" not in message
    arrays.pop(name)  # renamed away, the rest is the model's data: X replaced, y set
    np.savez(tmp_path / "data.npz", **arrays)
    assert run(model, "--data", tmp_path / "data.npz").exit_code == 0


# -- 6. --params of another shape ------------------------------------------------------------------

@pytest.mark.parametrize("source, blocks, words", [
    (FUNCTION_MODEL, {"W": np.ones(4)}, ["block 'W'", "(4,)", "(3,)"]),
    (INIT_MODEL, {"W": np.ones((3, 1))}, ["block 'W'", "(3, 1)", "(3,)"]),
    ("import numpy as np\nparams = {'ws': [np.ones((2, 3)), np.ones(3)]}\n"
     "def loss(p): return float(np.sum(p['ws'][0] @ p['ws'][1]))\n"
     "def grad(p): return {'ws': [np.outer(np.ones(2), p['ws'][1]), p['ws'][0].sum(0)]}\n",
     {"ws[0]": np.ones((3, 2)), "ws[1]": np.ones(3)}, ["block 'ws[0]'", "(3, 2)", "(2, 3)"]),
    ("import numpy as np\nparams = np.ones(3)\n"
     "def loss(p): return float(np.sum(p ** 2))\ndef grad(p): return 2 * p\n",
     {"params": np.ones(5)}, ["(5,)", "(3,)"]),
], ids=["module params", "init_params", "nested", "one array"])
def test_a_params_file_of_another_shape_names_file_block_and_shapes(tmp_path, source, blocks, words):
    (tmp_path / "model.py").write_text(source)
    np.savez(tmp_path / "w.npz", **blocks)
    message = refused(run(tmp_path / "model.py", "--params", tmp_path / "w.npz"), "w.npz", *words)
    assert "Traceback" not in message


# -- 7. a setting given as a tuple of ints is not a shape ------------------------------------------

def pool_forward(x, pool=(2, 2)):
    ph, pw = pool
    n, c, h, w = x.shape
    out = x.reshape(n, c, h // ph, ph, w // pw, pw).max(axis=(3, 5))
    return out, (x, pool, out)


def pool_backward(dout, cache):
    x, (ph, pw), out = cache
    n, c, h, w = x.shape
    mask = x.reshape(n, c, h // ph, ph, w // pw, pw) == out[:, :, :, None, :, None]
    return (mask * dout[:, :, :, None, :, None]).reshape(x.shape)


def strided_forward(x, w, stride=1):
    s = stride if isinstance(stride, tuple) else (stride, stride)
    return x[::s[0], ::s[1]] * w, (x, w, s)


def strided_backward(dout, cache):
    x, w, s = cache
    dx = np.zeros_like(x)
    dx[::s[0], ::s[1]] = dout * w
    return dx, np.sum(dout * x[::s[0], ::s[1]])


@pytest.mark.parametrize("forward, backward, inputs, blocks", [
    (pool_forward, pool_backward, {"x": (2, 3, 4, 4), "pool": (2, 2)}, ["x"]),
    (strided_forward, strided_backward, {"x": (4, 6), "w": np.array(0.7), "stride": (2, 3)}, ["x", "w"]),
], ids=["pool=(2, 2)", "stride=(2, 3) where the default is an int"])
def test_a_setting_forward_declares_with_a_default_passes_through(forward, backward, inputs, blocks):
    report = check_layer(forward, backward, inputs=inputs)
    assert [b.name for b in report.blocks] == blocks and report.verdict == "pass"


def test_a_tuple_of_ints_is_named_where_the_way_it_was_read_breaks_the_layer():
    def forward(x, pool):
        return pool_forward(x, pool)

    with pytest.raises(ModelError) as caught:
        check_layer(forward, pool_backward, inputs={"x": (2, 3, 4, 4), "pool": (2, 2)})
    message = str(caught.value)
    assert "read as shapes" in message and "pool=(2, 2)" in message and "pool=[2, 2]" in message, message
    assert "at its first call" in message and "init_params" not in message

    def counted(x, pool):  # runs with pool filled, but its backward has one gradient, not two
        return x * np.sum(pool), (x, pool)

    with pytest.raises(ModelError, match=r"one per array input; read as shapes .*pool=\(2, 2\)"):
        check_layer(counted, lambda dout, cache: dout * np.sum(cache[1]), inputs={"x": (3, 2), "pool": (2, 2)})

    def biased(x, w, b=0):  # an input with an int default: read as a setting, named where that breaks
        return x @ w + b, (x, w)

    def biased_backward(dout, cache):
        x, w = cache
        return dout @ w.T, x.T @ dout, dout.sum(axis=0)

    with pytest.raises(ModelError, match=r"returned 3 gradients, .*read as settings.*b=\(3,\).*as an array"):
        check_layer(biased, biased_backward, inputs={"x": (4, 5), "w": (5, 3), "b": (3,)})
    b = np.random.default_rng(0).standard_normal(3)
    assert check_layer(biased, biased_backward, inputs={"x": (4, 5), "w": (5, 3), "b": b}).verdict == "pass"


def test_a_checks_file_with_a_pool_setting_passes_from_the_command_line(tmp_path):
    import inspect

    (tmp_path / "layers_check.py").write_text(
        "import numpy as np\nfrom gradcheck_cli import layer\n\n" + inspect.getsource(pool_forward) + "\n"
        + inspect.getsource(pool_backward) + "\npool = layer(pool_forward, pool_backward, x=(2, 3, 4, 4), pool=(2, 2))\n")
    result = run(tmp_path / "layers_check.py")
    assert result.exit_code == 0, result.output


# -- 8. a model file reached through a link imports its neighbours as Python would ----------------

def test_a_linked_model_file_imports_its_siblings_as_python_does(tmp_path):
    """Python puts the directory of the script's real path on sys.path
    (`python elsewhere/model.py` imports real/helpers.py)."""
    real = tmp_path / "real"
    real.mkdir()
    (real / "helpers.py").write_text("import numpy as np\ndef sq(w):\n    return float(np.sum(w ** 2))\n")
    (real / "model.py").write_text(textwrap.dedent("""
        import numpy as np
        from helpers import sq
        params = {"w": np.array([1.0, 2.0])}
        def loss(p):
            return sq(p["w"])
        def grad(p):
            return {"w": 2 * p["w"]}
    """))
    (tmp_path / "elsewhere").mkdir()
    target = tmp_path / "elsewhere" / "model.py"
    os.symlink(real / "model.py", target)
    result = run(target)
    assert result.exit_code == 0, result.output


# -- the adversarial pass's models: an array is named only where moving it moves the loss ----

NET = """
import numpy as np

def softmax_loss(s, y):
    s = s - s.max(1, keepdims=True); p = np.exp(s); p /= p.sum(1, keepdims=True)
    n = len(y); L = -np.log(p[np.arange(n), y]).mean(); d = p.copy(); d[np.arange(n), y] -= 1
    return L, d / n

r = np.random.default_rng(1)
X = r.standard_normal((6, 4)); y = r.integers(0, 3, 6)

class Net:
    def __init__(self, seed=0, reg=0.1):
        g = np.random.default_rng(seed); self.reg = reg
        self.params = {"W1": 0.5 * g.standard_normal((4, 5)), "b1": np.zeros(5),
                       "W2": 0.5 * g.standard_normal((5, 3)), "b2": np.array([0.3, -0.2, 0.1])}
        self.b2 = self.params["b2"]                     # an alias the loss never reads
        self.initial = {k: v.copy() for k, v in self.params.items()}  # a snapshot, never read

    def loss(self, X, y=None):
        p = self.params
        h = np.tanh(X @ p["W1"] + p["b1"]); s = h @ p["W2"]    # BUG: b2 never added
        L, ds = softmax_loss(s, y); L += 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        dh = ds @ p["W2"].T * (1 - h ** 2)
        return L, {"W1": X.T @ dh + self.reg * p["W1"], "b1": dh.sum(0), "W2": h.T @ ds + self.reg * p["W2"],
                   "b2": ds.sum(0)}

net = Net()
"""

SEQUENTIAL = """
import numpy as np

class Affine:
    def __init__(self, W, b): self.W, self.b = W, b
    def forward(self, x): self.x = x; return x @ self.W + self.b
    def backward(self, d):
        self.dW = self.x.T @ d; self.db = d.sum(0); return d @ self.W.T

class Tanh:
    def forward(self, x): self.o = np.tanh(x); return self.o
    def backward(self, d): return d * (1 - self.o ** 2)

class Net:
    def __init__(self, seed=0):
        r = np.random.default_rng(seed)
        self.layers = [Affine(r.standard_normal((4, 5)), r.standard_normal(5)), Tanh(),
                       Affine(r.standard_normal((5, 3)), r.standard_normal(3))]
        self.params = {}
        for i, l in enumerate(self.layers):
            if isinstance(l, Affine):
                self.params[f"W{i}"] = l.W; self.params[f"b{i}"] = l.b
    def loss(self, X, y):
        if HALF_FIXED:  # layer 0 reads what it is handed, layer 2 still its own W, b
            self.layers[0].W, self.layers[0].b = self.params["W0"], self.params["b0"]
        h = X
        for l in self.layers: h = l.forward(h)
        s = h - h.max(1, keepdims=True); p = np.exp(s); p /= p.sum(1, keepdims=True)
        n = X.shape[0]; L = -np.log(p[np.arange(n), y]).mean()
        d = p.copy(); d[np.arange(n), y] -= 1; d /= n
        for l in reversed(self.layers): d = l.backward(d)
        g = {}
        for i, l in enumerate(self.layers):
            if isinstance(l, Affine): g[f"W{i}"] = l.dW; g[f"b{i}"] = l.db
        return L, g

r = np.random.default_rng(1)
X = r.standard_normal((6, 4)); y = r.integers(0, 3, 6)
net = Net()
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_wrong_gradient_for_an_unused_block_fails_though_the_model_holds_unread_copies(tmp_path, seed):
    """Equal values are a suspicion: the alias self.b2 and the snapshot are
    never read, so b2's gradient is simply wrong (exit 1), at every seed."""
    (tmp_path / "model.py").write_text(NET)
    result = run(tmp_path / "model.py", "--seed", seed)
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.stdout and "does not depend" not in result.output


@pytest.mark.parametrize("half_fixed, words", [
    (False, ["does not depend on the parameters", "net.layers[0].W (block 'W0')", "net.layers[2].b (block 'b2')"]),
    (True, ["does not depend on block", "net.layers[2].W (block 'W2')"]),
])
def test_arrays_read_deep_in_a_sequential_net_are_named(tmp_path, half_fixed, words):
    (tmp_path / "model.py").write_text(SEQUENTIAL.replace("HALF_FIXED", str(half_fixed)))
    refused(run(tmp_path / "model.py"), *words)


def test_an_unfinished_loss_is_not_said_to_read_the_modules_params(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent("""
        import numpy as np
        r = np.random.default_rng(0)
        X = r.standard_normal((6, 4)); y = r.integers(0, 3, 6)
        params = {"W": 0.5 * r.standard_normal((4, 3)), "b": 0.1 * r.standard_normal(3)}
        def loss(p):
            loss = 0.0
            # TODO: compute the softmax loss
            return loss
        def grad(p):
            s = X @ p["W"] + p["b"]; s -= s.max(1, keepdims=True); e = np.exp(s); e /= e.sum(1, keepdims=True)
            e[np.arange(6), y] -= 1; e /= 6
            return {"W": X.T @ e, "b": e.sum(0)}
    """))
    message = refused(run(tmp_path / "model.py"), "does not depend on the parameters", "returns the same value")
    assert "params['W']" not in message


def test_a_model_object_reading_a_module_array_for_one_block_is_told_so(tmp_path):
    (tmp_path / "model.py").write_text(NET.replace('s = h @ p["W2"]    # BUG: b2 never added',
                                                   's = h @ W2 + p["b2"]')
                                       .replace("net = Net()", "net = Net(reg=0.0)\nW2 = net.params['W2'].copy()"))
    refused(run(tmp_path / "model.py"), "does not depend on block 'W2'", "W2 (block 'W2')")


def test_a_backward_that_accumulates_is_told_to_reset_per_call(tmp_path):
    (tmp_path / "checks.py").write_text(textwrap.dedent("""
        import numpy as np
        from gradcheck_cli import layer

        class DenseAcc:
            def __init__(self):
                self.params = {"W": np.random.default_rng(0).standard_normal((4, 3))}
                self.grads = {"W": np.zeros((4, 3))}
            def zero_grad(self):
                self.grads["W"][...] = 0
            def forward(self, X):
                self.X = X
                return X @ self.params["W"]
            def backward(self, dY):
                self.grads["W"] += self.X.T @ dY
                return dY @ self.params["W"].T

        dense = layer(DenseAcc(), X=(5, 4))
    """))
    refused(run(tmp_path / "checks.py"), "nondeterministic", "grads['W']", "accumulates", "reset it")
