"""Loading targets and the model contract: every broken rule names its culprit."""

import os
import sys

import numpy as np
import pytest

from gradcheck_cli import ModelError, UserCodeError, load_model
from gradcheck_cli.model import from_functions

from .conftest import SAMPLES

GOOD = """
import numpy as np
def init_params(seed=0):
    return {"W": np.arange(6.0).reshape(2, 3) + seed}
def loss(p): return float(np.sum(p["W"] ** 2))
def grad(p): return {"W": 2 * p["W"]}
"""


def test_loads_a_file_and_copies_params_to_float64(model_file):
    model = load_model(model_file(GOOD))
    assert set(model.params) == {"W"}
    assert model.params["W"].dtype == np.float64
    assert model.loss is not None and model.grad is not None


def test_init_params_receives_the_seed(model_file):
    model = load_model(model_file(GOOD), seed=3)
    assert model.params["W"][0, 0] == 3.0


def test_init_params_without_arguments(model_file):
    model = load_model(model_file(GOOD.replace("def init_params(seed=0):", "def init_params():").replace(" + seed", "")))
    assert model.params["W"][0, 0] == 0.0


def test_module_level_params(model_file):
    model = load_model(model_file("""
        import numpy as np
        params = {"b": np.zeros(3)}
        def loss(p): return float(p["b"].sum())
        def grad(p): return {"b": np.ones(3)}
    """))
    assert model.params["b"].shape == (3,)


def test_single_array_params(model_file):
    model = load_model(str(SAMPLES / "cube.py"))
    assert model.single_array
    assert list(model.params) == ["params"]


def test_attr_names_an_object_holding_the_functions(model_file):
    path = model_file("""
        import types, numpy as np
        two = types.SimpleNamespace(
            params={"x": np.ones(2)},
            loss=lambda p: float(np.sum(p["x"] ** 2)),
            grad=lambda p: {"x": 2 * p["x"]},
        )
    """)
    model = load_model(path + ":two")
    assert "x" in model.params


def test_dotted_module_target(tmp_path, monkeypatch):
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    model = load_model("mypkg.models")
    assert "W" in model.params
    sys.modules.pop("mypkg.models", None)
    sys.modules.pop("mypkg", None)


def test_a_model_can_import_its_neighbour(tmp_path):
    (tmp_path / "helpers_for_gc_test.py").write_text("SCALE = 2.0\n")
    (tmp_path / "model.py").write_text(GOOD.replace("import numpy as np", "import numpy as np\nfrom helpers_for_gc_test import SCALE"))
    assert "W" in load_model(str(tmp_path / "model.py")).params


def test_params_file_overrides_init_params(model_file, tmp_path):
    npz = tmp_path / "w.npz"
    np.savez(npz, W=np.full((2, 3), 7.0))
    model = load_model(model_file(GOOD), params=str(npz))
    assert model.params["W"][1, 2] == 7.0


@pytest.mark.parametrize(
    "source, message",
    [
        ("def loss(p): return 0.0\nparams = {'w': [1.0]}", "defines loss but no grad"),
        ("def grad(p): return {}\nparams = {'w': [1.0]}", "defines grad but no loss"),
        ("params = {'w': [1.0]}", "defines neither loss and grad nor loss_and_grad"),
        ("loss = 3\ndef grad(p): return p\nparams = {'w': [1.0]}", "loss must be a function, but it is a int"),
        ("def loss(p): return 0.0\ndef grad(p): return p", "has no parameters"),
        ("def loss(p): return 0.0\ndef grad(p): return p\nparams = {}", "empty dict"),
        ("def loss(p): return 0.0\ndef grad(p): return p\nparams = 'abc'", "must be a dict of arrays or one array, not a str"),
        ("def loss(p): return 0.0\ndef grad(p): return p\nparams = {'w': ['a', 'b']}", "parameter block 'w'"),
        ("def loss(p): return 0.0\ndef grad(p): return p\nparams = {'w': [True]}", "boolean dtype"),
        ("def loss(p): return 0.0\ndef grad(p): return p\nparams = {'w': [1j]}", "complex dtype"),
        ("def loss(p): return 0.0\ndef grad(p): return p\nparams = {'w': []}", "'w' from model.py.params is empty"),
        ("def loss(p): return 0.0\ndef grad(p): return p\nparams = {'w': [1.0, float('nan')]}", "non-finite value nan at index [1]"),
        ("def loss(p): return 0.0\ndef grad(p): return p\nparams = 2.0", "bare number"),
        ("def loss(p): return 0.0\ndef grad(p): return p\nparams = {3: [1.0]}", "non-string key 3"),
    ],
)
def test_contract_errors_name_the_culprit(model_file, source, message):
    with pytest.raises(ModelError, match=None) as info:
        load_model(model_file(source))
    assert message in str(info.value)


def test_integer_params_are_refused_by_name(model_file):
    # A float64 copy would hide the model's own gradient for them: a loss
    # that indexes with the block is piecewise constant in it.
    with pytest.raises(ModelError, match="parameter block 'w' .* is an integer array"):
        load_model(model_file("""
            import numpy as np
            params = {"w": np.arange(3)}
            def loss(p): return float(np.sum(p["w"] ** 2))
            def grad(p): return {"w": 2 * p["w"]}
        """))


def test_float32_params_are_noted(model_file):
    model = load_model(model_file(GOOD.replace('.reshape(2, 3) + seed}', '.reshape(2, 3).astype(np.float32)}')))
    assert any("float32" in note for note in model.notes)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match="model file not found: .*nope.py"):
        load_model(str(tmp_path / "nope.py"))


def test_directory(tmp_path):
    with pytest.raises(ModelError, match="is a directory"):
        load_model(str(tmp_path) + os.sep)


def test_not_python(tmp_path):
    path = tmp_path / "weights.txt"
    path.write_text("1 2 3")
    with pytest.raises(ModelError, match="is not a Python file"):
        load_model(str(path))


def test_syntax_error_names_the_line(model_file):
    path = model_file("import numpy as np\n\ndef loss(p)\n    return 0\n")
    with pytest.raises(ModelError, match=r"syntax error in .*model.py:3"):
        load_model(path)


def test_import_error_names_the_missing_module(model_file):
    with pytest.raises(UserCodeError, match="'no_such_module_xyz' is not installed") as info:
        load_model(model_file("import no_such_module_xyz\n"))
    assert "model.py" in info.value.user_traceback


def test_sys_exit_on_import(model_file):
    with pytest.raises(ModelError, match=r"called sys.exit\(3\) while being imported"):
        load_model(model_file("import sys\nsys.exit(3)\n"))


def test_init_params_raising_shows_the_users_frames_not_ours(model_file):
    path = model_file("def init_params(seed):\n    return 1 / 0\ndef loss(p): return 0\ndef grad(p): return p\n")
    with pytest.raises(UserCodeError, match="init_params raised ZeroDivisionError") as info:
        load_model(path)
    trace = info.value.user_traceback
    assert "model.py" in trace and "return 1 / 0" in trace
    assert "gradcheck_cli" not in trace


def test_unknown_attr_lists_what_exists(model_file):
    with pytest.raises(ModelError, match=r"has no attribute 'nope' \(it has: .*grad.*\)"):
        load_model(model_file(GOOD) + ":nope")


def test_unknown_dotted_module():
    with pytest.raises(ModelError, match="no model file or module named 'not_a_module_at_all'"):
        load_model("not_a_module_at_all")


def test_params_file_missing_a_block(model_file, tmp_path):
    npz = tmp_path / "w.npz"
    np.savez(npz, V=np.ones(2))
    with pytest.raises(ModelError, match="missing block.*'W'"):
        load_model(model_file(GOOD), params=str(npz))


def test_params_file_with_an_extra_block(model_file, tmp_path):
    npz = tmp_path / "w.npz"
    np.savez(npz, W=np.ones((2, 3)), V=np.ones(2))
    with pytest.raises(ModelError, match="has block.*'V'.*does not define"):
        load_model(model_file(GOOD), params=str(npz))


def test_params_file_not_found(model_file, tmp_path):
    with pytest.raises(ModelError, match="params file not found"):
        load_model(model_file(GOOD), params=str(tmp_path / "missing.npz"))


def test_params_file_unreadable(model_file, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_text("not a zip")
    with pytest.raises(ModelError, match="cannot read params file"):
        load_model(model_file(GOOD), params=str(bad))


def test_from_functions_copies_the_callers_arrays():
    W = np.ones(3)
    model = from_functions(loss=lambda p: 0.0, grad=lambda p: p, params={"W": W})
    assert model.params["W"] is not W
    assert not np.shares_memory(model.params["W"], W)
