"""The pytest plugin (entry point ``pytest11``): glue only.

Provides the ``gradcheck`` fixture: ``gradcheck(model_or_functions, **options)``
runs ``assert_gradients`` with the defaults of ``[tool.gradcheck]`` in the
project's pyproject.toml (the same keys as the command line: its top level
and ``[tool.gradcheck.check]``, as ``gradcheck check`` reads them),
overridden by the call's own options. No marker is needed; ``from gradcheck_cli import
assert_gradients`` works in any test without the fixture too.

Every key the command line takes, the fixture takes, under the same name
as check()'s keyword (options.py). The check command's options reach
check() through ``cli.check_arguments``, as the command line's do (``set``
read into a mapping, the four bands one ``Thresholds``), so the two cannot
drift apart; its other
parameters (``cli.RUN_PARAMETERS``) are each honoured or ignored below,
for the reason given; the other commands' keys (sanity's, sweep's) are not
a check's and are left alone, as ``gradcheck check`` leaves them.
"""

from __future__ import annotations

from typing import Any

import pytest

# assert_gradients' own keywords: what the exit code does on the command line.
ASSERTION = {
    "strict": "fail on warnings too",
    "verbose": "a failure's report lists every checked dimension",
}
# Honoured per call: the command line bounds its whole run, and a call is the
# fixture's run.
PER_CALL = {"timeout": "each call stops after this long (CheckTimeout, with what finished)"}
# Meaningless for one assertion in a test, and why.
IGNORED = {
    "models": "the call names its model",
    "config": "the file is the one being read (and cannot name itself)",
    "format": "a failure's message is always the text report",
    "junit_xml": "pytest writes its own JUnit file (--junitxml), a testcase per test",
    "save_params": "one file for every check of a session: each call would overwrite the last "
                   "(a call can pass save_params= itself)",
    "quiet": "a failure's message is the report; a pass prints nothing",
    "exitfirst": "one call checks one model (pytest's own -x stops the session)",
}


def fixture_options(start) -> dict[str, Any]:
    """assert_gradients' keyword arguments from ``[tool.gradcheck]`` of the
    project that holds ``start`` (found as the command line finds it: at
    the project's root, config.find_pyproject): check()'s, and the
    assertion's own."""
    import warnings

    from . import cli
    from . import config as config_module
    from .errors import ConfigError, GradcheckError

    # Read as `gradcheck check` reads it: the top level and
    # [tool.gradcheck.check]; a key of `sanity` or `sweep` is valid in the
    # file, and left to them.
    config = config_module.load(cli.main.commands.values(), start=start, runs="check")
    for message in config.deprecations:
        warnings.warn(message, DeprecationWarning, stacklevel=2)
    origin = config_module.origin(config, list(config.values))
    if origin is not None and origin.looser:
        # (the command line says so above its report; a test's report is
        # shown only when it fails, so a pass bought by the file says it here)
        warnings.warn("gradcheck: " + "; ".join(f"{key} = {value:g} in {origin.path} is looser than the default "
                                                f"{default:g}: {effect}"
                                                for key, value, default, effect in origin.looser), stacklevel=2)
    values = config_module.convert(cli.check_command, config.for_command(cli.check_command), config.path)
    run = {name: values.pop(name) for name in list(values) if name in cli.RUN_PARAMETERS}
    unknown = set(run) - set(ASSERTION) - set(PER_CALL) - set(IGNORED)
    if unknown:  # (tests/test_hostile_outputs.py enumerates the options so that this cannot ship)
        raise ConfigError(f"the pytest fixture does not know what to do with {', '.join(sorted(unknown))} in "
                          f"{config.path}; a bug in gradcheck, please report it")
    try:
        options = cli.check_arguments(values)
    except (ValueError, GradcheckError) as exc:  # (bands out of order, a `set` item without '=')
        raise ConfigError(f"[tool.gradcheck] in {config.path}: {exc}") from None
    options.update({name: value for name, value in run.items() if name in ASSERTION or name in PER_CALL})
    return options


@pytest.fixture
def gradcheck(request):
    """Assert that a model's gradients check: ``gradcheck("model.py")``,
    ``gradcheck(loss=..., grad=..., params=...)`` or ``gradcheck(layer(...))``,
    with check()'s options."""
    from . import assertions
    from .options import handed_on
    from .pipeline import check
    from .values import CHECK

    # From the test file's own directory: pytest's rootdir can lie above the
    # repository (a pyproject.toml there is pytest's fallback config), and a
    # file outside the project must not set its thresholds.
    defaults = fixture_options(request.path.parent)

    def run(model: Any = None, **options: Any):
        __tracebackhide__ = True  # a failure points at the user's test line, not at gradcheck's frames
        # (a call's old name, params_file=, must override the file's params: both under the new name first)
        # (what a call takes: check()'s keywords and the assertion's own)
        options = handed_on("gradcheck", options, check, CHECK, own=ASSERTION)
        return assertions.assert_gradients(model, **{**defaults, **options})

    return run
