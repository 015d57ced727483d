"""The user's arrays are never modified, through every public entry point.

Each entry point is given arrays it could be tempted to write into (and,
in the last test, a model that does write into what it is handed); after
the call, every array is bit-identical and as writeable as before.
"""

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import ParamsModifiedError, assert_gradients, check, load_model, sweep
from gradcheck_cli.cli import main


def fresh_params():
    rng = np.random.default_rng(0)
    return {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3), "n": np.arange(3.0)}


def loss(p):
    return float(np.sum(np.tanh(p["W"])) + np.sum(np.maximum(0, p["b"])) + np.sum(p["n"] ** 2))


def grad(p):
    return {"W": 1 - np.tanh(p["W"]) ** 2, "b": (p["b"] > 0).astype(float), "n": 2.0 * p["n"]}


def snapshot(params):
    return {k: (v.tobytes(), v.dtype, v.shape, v.flags.writeable) for k, v in params.items()}


ENTRY_POINTS = {
    "check": lambda p: check(loss=loss, grad=grad, params=p, samples=None),
    "check five-point auto": lambda p: check(loss=loss, grad=grad, params=p, method="five-point", h="auto"),
    "check complex-step": lambda p: check(loss=lambda q: np.sum(np.tanh(q["W"])) + np.sum(q["b"] ** 2)
                                          + np.sum(q["n"] ** 2),
                                          grad=lambda q: {"W": 1 - np.tanh(q["W"]) ** 2, "b": 2 * q["b"],
                                                          "n": 2.0 * q["n"]},
                                          params=p, method="complex-step"),
    "sweep": lambda p: sweep(loss=loss, grad=grad, params=p),
    "assert_gradients": lambda p: assert_gradients(loss=loss, grad=grad, params=p),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_arrays_are_untouched(entry):
    params = fresh_params()
    before = snapshot(params)
    ENTRY_POINTS[entry](params)
    assert snapshot(params) == before


def test_a_single_array_is_untouched():
    x = np.linspace(-1, 1, 5)
    before = x.tobytes()
    check(loss=lambda t: float(np.sum(t**3)), grad=lambda t: 3 * t**2, params=x)
    assert x.tobytes() == before


def test_an_already_imported_module_keeps_its_params(tmp_path, monkeypatch):
    (tmp_path / "mutation_model_pkg.py").write_text(
        "import numpy as np\nparams = {'W': np.linspace(-1, 1, 6)}\n"
        "def loss(p): return float(np.sum(np.sin(p['W'])))\ndef grad(p): return {'W': np.cos(p['W'])}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import mutation_model_pkg

    before = mutation_model_pkg.params["W"].tobytes()
    model = load_model("mutation_model_pkg")
    assert model.params["W"] is not mutation_model_pkg.params["W"]
    check("mutation_model_pkg", samples=None)
    CliRunner().invoke(main, ["mutation_model_pkg"], prog_name="gradcheck")
    assert mutation_model_pkg.params["W"].tobytes() == before
    sys.modules.pop("mutation_model_pkg", None)


def test_a_params_file_is_untouched(tmp_path, model_file):
    npz = tmp_path / "p.npz"
    np.savez(npz, W=np.ones((2, 2)))
    path = model_file("import numpy as np\ndef loss(p): return float(np.sum(p['W'] ** 2))\n"
                      "def grad(p): return {'W': 2 * p['W']}\n")
    before = npz.read_bytes()
    CliRunner().invoke(main, [path, "--params", str(npz)], prog_name="gradcheck")
    assert npz.read_bytes() == before


def test_even_a_model_that_writes_into_its_input_cannot_reach_the_callers_arrays():
    params = fresh_params()
    before = snapshot(params)

    def vandal(p):
        p["W"][...] = 0.0
        return loss(p)

    with pytest.raises(ParamsModifiedError):
        check(loss=vandal, grad=grad, params=params)
    assert snapshot(params) == before


def test_a_write_into_params_names_the_line_that_wrote(model_file):
    from gradcheck_cli.cli import main
    from click.testing import CliRunner

    path = model_file("""
        import numpy as np
        params = {"W": np.ones((2, 2))}
        def loss(p):
            p["W"][0, 1] = 3.0
            return float(np.sum(p["W"] ** 2))
        def grad(p): return {"W": 2 * p["W"]}
    """)
    result = CliRunner().invoke(main, ["check", path])
    assert result.exit_code == 2
    assert "modified params['W'] in place" in result.output
    assert "model.py:5 (p[\"W\"][0, 1] = 3.0)" in result.output


def test_code_that_only_needs_writable_buffers_is_checked_as_usual():
    # Cython's typed memoryviews refuse read-only arrays with this message,
    # without writing: such a model gets writable arrays (verified after
    # every call) and is checked like any other.
    def needs_writable(a):
        if not a.flags.writeable:
            raise ValueError("buffer source array is read-only")
        return a

    def loss(p):
        return float(np.sum(needs_writable(p["W"]) ** 2))

    params = {"W": np.arange(6.0).reshape(2, 3)}
    report = check(loss=loss, grad=lambda p: {"W": 2 * p["W"]}, params=params)
    assert report.verdict == "pass"
    assert np.array_equal(params["W"], np.arange(6.0).reshape(2, 3))
