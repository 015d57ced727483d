"""The pytest plugin, run through pytest itself (pytester), in a subprocess as
users run it: in process, pytester restores sys.modules after each run, and
rich modules imported lazily during one run would split into two copies."""

import shutil

from .conftest import SAMPLES


def copy_samples(pytester, *names):
    for name in names:
        shutil.copy(SAMPLES / f"{name}.py", pytester.path / f"{name}.py")


def test_fixture_passes_a_correct_model_and_fails_a_buggy_one_with_the_report(pytester):
    copy_samples(pytester, "softmax", "buggy_missing_bias")
    pytester.makepyfile(test_models="""
        def test_softmax(gradcheck):
            report = gradcheck("softmax.py")
            assert report.verdict == "pass"

        def test_bias(gradcheck):
            gradcheck("buggy_missing_bias.py")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: gradient check FAIL for buggy_missing_bias.py*",
                                 "*b *4/4*fail*"])
    # The report fits the terminal pytest writes to (80 columns here) with its "E       " before each line.
    assert all(len(line) <= 80 for line in result.stdout.lines if line.startswith("E "))


def test_assert_gradients_without_the_fixture_and_with_functions(pytester):
    pytester.makepyfile(test_functions="""
        import numpy as np
        import pytest
        from gradcheck_cli import assert_gradients

        def loss(p): return float(np.sum(np.sin(p["w"])))

        def test_right():
            assert_gradients(loss=loss, grad=lambda p: {"w": np.cos(p["w"])},
                             params={"w": np.linspace(0, 1, 5)}, samples="all")

        def test_wrong():
            with pytest.raises(AssertionError, match="FAIL"):
                assert_gradients(loss=loss, grad=lambda p: {"w": np.sin(p["w"])},
                                 params={"w": np.linspace(0.1, 1, 5)})
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_fixture_uses_tool_gradcheck_defaults_and_call_options_win(pytester):
    pytester.makepyprojecttoml("""
        [tool.gradcheck]
        samples = 3
        fail-above = 0.5
        format = "json"
    """)
    copy_samples(pytester, "softmax")
    pytester.makepyfile(test_config="""
        def test_defaults(gradcheck):
            report = gradcheck("softmax.py")
            assert report.settings.samples == 3
            assert report.settings.thresholds.fail_above == 0.5

        def test_override(gradcheck):
            assert gradcheck("softmax.py", samples=5).settings.samples == 5
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_strict_fails_on_warnings(pytester):
    pytester.makepyfile(test_strict="""
        import numpy as np
        import pytest

        def loss(p): return np.float32(np.sum(p["w"] ** 2))  # a warning: float32
        def grad(p): return {"w": 2 * p["w"]}

        def test_warn_passes(gradcheck):
            assert gradcheck(loss=loss, grad=grad, params={"w": np.ones(3)}).verdict == "warn"

        def test_strict(gradcheck):
            with pytest.raises(AssertionError, match="WARN"):
                gradcheck(loss=loss, grad=grad, params={"w": np.ones(3)}, strict=True)
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_an_unusable_model_raises_its_model_error(pytester):
    copy_samples(pytester, "buggy_softmax_overflow")
    pytester.makepyfile(test_broken="""
        import pytest
        from gradcheck_cli import ModelError

        def test_broken(gradcheck):
            with pytest.raises(ModelError, match="max before exp"):
                gradcheck("buggy_softmax_overflow.py")
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
