"""The pytest plugin (entry point ``pytest11``): glue only.

Provides the ``gradcheck`` fixture: ``gradcheck(model_or_functions, **options)``
runs ``assert_gradients`` with the defaults of ``[tool.gradcheck]`` in the
project's pyproject.toml (the same keys as the command line), overridden by
the call's own options. No marker is needed; ``from gradcheck_cli import
assert_gradients`` works in any test without the fixture too.
"""

from __future__ import annotations

from typing import Any

import pytest

# Options of the command line that mean nothing to a single assertion.
_NOT_FOR_TESTS = {"output_format", "junit_xml", "verbose", "dims", "blocks", "plot_file", "config_file"}


def _config_defaults(rootdir) -> dict[str, Any]:
    from . import cli
    from . import config as config_module
    from .settings import Thresholds

    config = config_module.load([cli.check_command], start=rootdir)
    values = config_module.convert(cli.check_command, config.for_command(cli.check_command))
    options = {k: v for k, v in values.items() if k not in _NOT_FOR_TESTS}
    bands = {k: options.pop(k) for k in ("fail_above", "warn_above", "good_below", "tiny_below") if k in options}
    if bands:
        options["thresholds"] = Thresholds(**bands)
    return options


@pytest.fixture
def gradcheck(request):
    """Assert that a model's gradients check: ``gradcheck("model.py")``,
    ``gradcheck(loss=..., grad=..., params=...)`` or ``gradcheck(layer(...))``,
    with check()'s options."""
    from .assertions import assert_gradients

    defaults = _config_defaults(request.config.rootpath)

    def run(model: Any = None, **options: Any):
        __tracebackhide__ = True  # a failure points at the user's test line, not at gradcheck's frames
        return assert_gradients(model, **{**defaults, **options})

    return run
