"""``assert_gradients``: a gradient check as an assertion, for test suites."""

from __future__ import annotations

import io
from typing import Any

from .layers import Layer
from .model import Model
from .options import handed_on
from .pipeline import check
from .report import Report
from .values import CHECK, FLAG, parse_keywords

def assert_gradients(model: str | Model | Layer | None = None, *, strict: bool = False, verbose: bool = False,
                     **options: Any) -> Report:
    """Check gradients and raise AssertionError (the rendered report as its
    message) if any block fails -- or warns, with ``strict=True``.

    ``model`` is a target (``"my_model.py"``, ``"pkg.module:attr"``), a
    loaded Model or a :func:`layer`; or pass ``loss=``, ``grad=`` (or
    ``loss_and_grad=``) and ``params=``. ``strict`` (``--strict``): a
    warning fails the assertion too. ``verbose``: a failure's message lists
    every checked value (the command line's ``-v``). Every other keyword is
    :func:`~gradcheck_cli.check`'s, the command line's option of the same
    name (``samples``, ``method``, ``h``, ``fail_above``, ``params``,
    ``set``...). Returns the Report when the check passes.

        from gradcheck_cli import assert_gradients

        def test_my_layer():
            assert_gradients(loss=my_loss, grad=my_grad, params=params, samples="all")
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this one
    options = handed_on("assert_gradients", {**options, "strict": strict}, check, CHECK)
    # (the assertion's own switch, read as every flag is: verbose="false" is refused, not true)
    verbose = parse_keywords("assert_gradients", {"verbose": verbose}, {"verbose": FLAG})["verbose"]
    report = check(model, **options)
    if not report.passed:
        raise AssertionError(render(report, verbose=verbose))
    return report


def render(report: Report, *, verbose: bool = False) -> str:
    """The text report, without colour, as a string."""
    from rich.console import Console

    from .render import text

    buffer = io.StringIO()
    # As wide as the report would be drawn here, less the "E       " pytest puts
    # before each line of an assertion's message.
    width = max(60, text.report_width() - 8)  # (60: the narrowest the report is laid out for)
    console = Console(file=buffer, width=width, color_system=None, highlight=False, markup=False, emoji=False)
    # (what lists every value here is the assertion's own switch, which the
    # pytest fixture and [tool.gradcheck] pass on: not the command line's -v)
    text.render(report, console, verbose=verbose, every_value="verbose=True shows every value")
    return f"{report.derivative} check {report.verdict.upper()} for {report.model}\n" + buffer.getvalue()
