"""Parameters in any memory layout are checked as they are: the nudge that
gradcheck writes is the one the loss sees, whatever the array's order,
strides, writeability or backing file."""

import numpy as np
import pytest
from click.testing import CliRunner

from gradcheck_cli import check
from gradcheck_cli.cli import main

RNG = np.random.default_rng(3)
X = RNG.standard_normal((4, 3))
Y = RNG.standard_normal((4, 5))
W0 = RNG.standard_normal((3, 5))


def loss(p):
    return np.sum(np.tanh(X @ p["W"]) * Y)  # no float(): complex step can carry through


def grad(p):
    return {"W": X.T @ ((1 - np.tanh(X @ p["W"]) ** 2) * Y)}


def grad_zeros(p):
    return {"W": np.zeros_like(p["W"])}


def grad_scaled(p):
    return {"W": 1.5 * grad(p)["W"]}


def _layouts(tmp_path):
    strided = np.zeros((3, 10))
    strided[:, ::2] = W0
    read_only = W0.copy()
    read_only.setflags(write=False)
    mapped = np.memmap(tmp_path / "w.dat", dtype=np.float64, mode="w+", shape=W0.shape)
    mapped[:] = W0
    return {
        "fortran": np.asfortranarray(W0),
        "transposed": np.ascontiguousarray(W0.T).T,
        "strided": strided[:, ::2],
        "read-only": read_only,
        "memory-mapped": mapped,
    }


LAYOUTS = ["fortran", "transposed", "strided", "read-only", "memory-mapped"]
METHODS = [("central", None), ("five-point", None), ("complex-step", None), ("central", "auto")]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("method,h", METHODS)
def test_any_layout_passes_a_correct_gradient_and_fails_wrong_ones(tmp_path, layout, method, h):
    W = _layouts(tmp_path)[layout]
    before = np.array(W, copy=True)
    assert np.array_equal(W, W0)
    options = dict(samples=None, method=method, h=h)
    good = check(loss=loss, grad=grad, params={"W": W}, **options)
    assert good.verdict == "pass", good.blocks[0]
    for wrong in (grad_zeros, grad_scaled):
        bad = check(loss=loss, grad=wrong, params={"W": W}, **options)
        assert bad.verdict == "fail", (wrong.__name__, bad.blocks[0])
    assert np.array_equal(W, before)  # never modified


MODEL = """
import numpy as np
rng = np.random.default_rng(3)
X = rng.standard_normal((4, 3))
Y = rng.standard_normal((4, 5))

def init_params(seed=0):
    return {"W": np.zeros((3, 5))}

def loss(p):
    return float(np.sum(np.tanh(X @ p["W"]) * Y))

def grad(p):
    g = X.T @ ((1 - np.tanh(X @ p["W"]) ** 2) * Y)
    return {"W": SCALE * g}

SCALE = 1.0
"""


@pytest.mark.parametrize("scale,code", [("1.0", 0), ("0.0", 1), ("1.5", 1)])
def test_an_npz_saved_from_a_transposed_array_is_checked_as_saved(tmp_path, monkeypatch, scale, code):
    (tmp_path / "model.py").write_text(MODEL)
    np.savez(tmp_path / "w.npz", W=np.ascontiguousarray(W0.T).T)  # stored in Fortran order
    with np.load(tmp_path / "w.npz") as stored:
        assert stored["W"].flags.f_contiguous and not stored["W"].flags.c_contiguous
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["model.py", "--params", "w.npz", "--samples", "all",
                                       "--set", f"SCALE={scale}"])
    assert result.exit_code == code, result.output
