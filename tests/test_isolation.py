"""One model never sees another's code or settings: same-named sibling
modules, two copies of a package, --set on a cached module."""

import importlib
import sys
import textwrap

import pytest
from click.testing import CliRunner

from gradcheck_cli import ModelError, check
from gradcheck_cli.cli import main

MODEL = """
import numpy as np
import {helper} as helpers

def init_params(seed=0):
    return {{"w": np.random.default_rng(seed).standard_normal(4)}}

def loss(p):
    return float(np.sum(p["w"] ** 2))

def grad(p):
    return {{"w": helpers.dsq(p["w"])}}
"""

RIGHT = "def dsq(x):\n    return 2 * x\n"
WRONG = "def dsq(x):\n    return 3 * x\n"


@pytest.fixture
def two_folders(tmp_path, monkeypatch):
    """right/model.py and wrong/model.py, each importing its own _helpers.py
    (underscored, so a directory target lists only model.py)."""
    for folder, helper in (("right", RIGHT), ("wrong", WRONG)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "model.py").write_text(MODEL.format(helper="_helpers"))
        (tmp_path / folder / "_helpers.py").write_text(helper)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert "_helpers" not in sys.modules


def _verdicts(args):
    import json

    result = CliRunner().invoke(main, [*args, "--format", "json"])
    models = json.loads(result.stdout)["models"]
    return {r["model"].split("/")[0]: r["verdict"] for r in models}, result.exit_code


@pytest.mark.parametrize("order", [("right", "wrong"), ("wrong", "right")])
@pytest.mark.parametrize("as_dirs", [False, True])
def test_each_model_imports_its_own_sibling_module(two_folders, order, as_dirs):
    """Alone, right passes and wrong fails; so they must in one run, in either order."""
    for folder, alone in (("right", "pass"), ("wrong", "fail")):
        assert check(f"{folder}/model.py").verdict == alone
    targets = list(order) if as_dirs else [f"{folder}/model.py" for folder in order]
    verdicts, code = _verdicts(targets)
    assert verdicts == {"right": "pass", "wrong": "fail"}
    assert code == 1


def test_two_copies_of_a_package_each_get_their_own(tmp_path, monkeypatch):
    for year, helper in (("2017", RIGHT), ("2019", WRONG)):
        package = tmp_path / year / "cs231n"
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "layers.py").write_text(helper)
        (tmp_path / year / "model.py").write_text(MODEL.format(helper="cs231n.layers"))
    monkeypatch.chdir(tmp_path)
    for order in (("2017", "2019"), ("2019", "2017")):
        reports = {year: check(f"{year}/model.py").verdict for year in order}
        assert reports == {"2017": "pass", "2019": "fail"}
    assert not any(name == "cs231n" or name.startswith("cs231n.") for name in sys.modules)


def test_no_model_modules_are_left_behind(two_folders):
    check("right/model.py")
    assert not [name for name in sys.modules if name.startswith("gradcheck_user_")]
    assert "_helpers" not in sys.modules
    assert str(two_folders / "right") not in sys.path


def test_a_module_imported_lazily_inside_the_loss_is_the_models_own(tmp_path, monkeypatch):
    for folder, helper in (("right", RIGHT), ("wrong", WRONG)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "lazy_helpers.py").write_text(helper)
        (tmp_path / folder / "model.py").write_text(textwrap.dedent("""
            import numpy as np

            def init_params(seed=0):
                return {"w": np.random.default_rng(seed).standard_normal(4)}

            def loss(p):
                return float(np.sum(p["w"] ** 2))

            def grad(p):
                import lazy_helpers
                return {"w": lazy_helpers.dsq(p["w"])}
        """))
    monkeypatch.chdir(tmp_path)
    assert [check(f"{f}/model.py").verdict for f in ("right", "wrong", "right")] == ["pass", "fail", "pass"]
    assert "lazy_helpers" not in sys.modules


PACKAGE_MODEL = """
import numpy as np

REG = 0.5

def init_params(seed=0):
    return {"w": np.random.default_rng(seed).standard_normal(4)}

def loss(p):
    return float(np.sum(np.sin(p["w"])) + REG * np.sum(p["w"] ** 2))

def grad(p):
    return {"w": np.cos(p["w"]) + 2 * REG * p["w"]}
"""


def test_set_on_a_dotted_module_changes_a_fresh_import_only(tmp_path, monkeypatch):
    (tmp_path / "regpkg").mkdir()
    (tmp_path / "regpkg" / "__init__.py").write_text("")
    (tmp_path / "regpkg" / "model.py").write_text(PACKAGE_MODEL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    cached = importlib.import_module("regpkg.model")  # the user's own import of it
    try:
        split = check("regpkg.model", reg="REG").regularization
        assert cached.REG == 0.5
        assert sys.modules["regpkg.model"] is cached and sys.modules["regpkg"].model is cached
        # The data loss alone (REG = 0) is sin: the regularization's share is well above 0.
        assert 0.05 < split.share["w"] < 0.95
        check("regpkg.model", set={"REG": "0"})
        assert cached.REG == 0.5
        later = check("regpkg.model")
        assert later.verdict == "pass"
        from gradcheck_cli.model import load_model

        assert load_model("regpkg.model").namespace.REG == 0.5
    finally:
        for name in ("regpkg.model", "regpkg"):
            sys.modules.pop(name, None)


def test_the_pytest_fixture_checks_each_model_with_its_own_modules(two_folders, pytester):
    pytester.makepyfile(textwrap.dedent(f"""
        import pytest

        @pytest.mark.parametrize("folder", ["right", "wrong", "right", "wrong"])
        def test_model(gradcheck, folder):
            target = r"{two_folders}/" + folder + "/model.py"
            if folder == "wrong":
                with pytest.raises(AssertionError):
                    gradcheck(target)
            else:
                gradcheck(target)
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_a_namespace_package_is_the_models_own_even_when_its_import_fails(tmp_path, monkeypatch):
    """CS231n snapshots often lack cs231n/__init__.py: a namespace package,
    whose __path__ is read through its parent's sys.modules entry."""
    for folder, helper in (("right", RIGHT), ("wrong", WRONG)):
        package = tmp_path / folder / "nspkg" / "sub"
        package.mkdir(parents=True)
        (package / "layers.py").write_text(helper)
        (tmp_path / folder / "model.py").write_text(MODEL.format(helper="nspkg.sub.layers"))
    (tmp_path / "broken" / "nspkg" / "sub").mkdir(parents=True)
    (tmp_path / "broken" / "nspkg" / "sub" / "layers.py").write_text("from nspkg.missing import dsq\n")
    (tmp_path / "broken" / "model.py").write_text(MODEL.format(helper="nspkg.sub.layers"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelError, match="No module named 'nspkg.missing'"):
        check("broken/model.py")
    assert [check(f"{f}/model.py").verdict for f in ("right", "wrong", "right")] == ["pass", "fail", "pass"]
    assert not any(name == "nspkg" or name.startswith("nspkg.") for name in sys.modules)
