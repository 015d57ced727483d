"""One name per option: the command line's, in ``[tool.gradcheck]`` and as a
keyword of the Python API.

The options are defined once, as the click commands' parameters (cli.py),
each named as its long option with dashes as underscores: ``--params`` is
``params``, ``--set`` is ``set``, ``--fail-above`` is ``fail_above``.
config.py accepts those names as keys; ``check``, ``sweep``, ``sanity``,
``load_model``, ``assert_gradients`` and the pytest fixture take them as
keywords. What this module holds is what is not a plain option name: the
keywords and keys renamed to one (still accepted, with a
DeprecationWarning), and the options that mean nothing to a function that
returns a report (a TypeError that says why, and what to use instead);
``handed_on`` does both, and parses the values (values.py), for a function
that hands its keywords on to check(), so that what is said names the
function the user called, once. tests/test_option_names.py walks every click option against this table and
the functions' signatures, so a new option cannot be left out.

Imported by the command line: standard library only.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import warnings
from types import FrameType
from typing import Any, Callable, Container, Mapping, TypeVar

from .values import Value, nullable, parse_keywords

# Python keywords (release 3 and before) renamed to the command line's names.
RENAMED = {
    "params_file": "params",
    "data_file": "data",
    "overrides": "set",
    "blocks": "block",
}
# [tool.gradcheck] keys that were parameter names of the click commands
# before those took the options' own names; still read, with a warning.
RENAMED_KEYS = {
    "params_file": "params",
    "data_file": "data",
    "assignments": "set",
    "dask_address": "dask",
    "output_format": "format",
    "plot_file": "plot",
    "blocks": "block",
}

# Options that two commands have under one name but for different things: in
# [tool.gradcheck] a value would mean each, so the file takes them only in a
# command's own table ([tool.gradcheck.check], [tool.gradcheck.sanity]). (An
# option whose commands take different values for one meaning, such as
# --format, which only check writes as GitHub annotations, is not one: its
# top-level value is held to the command that runs.)
PER_COMMAND = {
    "lr": "check's --lr is the warm-up's Adam rate, sanity's the overfitting run's learning rate",
}

# The command line's options that a function returning a report has no use
# for: why, and what to use instead. (The function that does take one, such
# as assert_gradients(verbose=True), takes it.)
NOT_KEYWORDS = {
    "models": "names the command line's models; a call checks the model it is given (check_layers() checks "
              "each layer of a checks file)",
    "config": "names the file the command line reads its defaults from; in Python pass the options themselves "
              "(the pytest fixture reads [tool.gradcheck] on its own)",
    "format": "chooses how the command line prints a report; the function returns the report: print it with a "
              "rich Console, or use its to_dict() (the JSON document's entry)",
    "junit_xml": "writes the command line's JUnit file; in tests, pytest writes its own (--junitxml)",
    "verbose": "lists every checked value in the printed report; the Report holds them all "
               "(report.blocks[i].dims), and assert_gradients(verbose=True) puts them in a failure's message",
    "quiet": "shortens what the command line prints; the function prints nothing",
    "exitfirst": "stops a run over several models; a call checks one (pytest's own -x stops a session)",
    "plot": "draws the plots into a PNG: gradcheck_cli.render.sweep.save_png(report, path) does it in Python for "
            "a sweep, gradcheck_cli.render.taylor.save_png([report], path) for a Taylor test",
}

F = TypeVar("F", bound=Callable[..., Any])


def python_names(fn: F) -> F:
    """Decorate a public function whose keywords are option names: a renamed
    keyword is passed on under its new name with a DeprecationWarning, and
    a command-line-only option is a TypeError saying why and what to use
    instead (see :func:`renamed` and :func:`refuse_cli_only`)."""
    parameters = inspect.signature(fn).parameters
    accepted = {name for name, p in parameters.items() if p.kind is not p.VAR_KEYWORD}
    # A function that hands its other keywords on (assert_gradients to
    # check) leaves them to the function that takes them.
    forwards = any(p.kind is p.VAR_KEYWORD for p in parameters.values())

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # (pytest: the user's call, not this frame)
        if not forwards:
            kwargs = renamed(fn.__name__, kwargs, accepted)
            refuse_cli_only(fn.__name__, kwargs, accepted)
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def handed_on(function: str, given: dict[str, Any], target: Callable, table: Mapping[str, Value],
              own: Container[str] = ()) -> dict[str, Any]:
    """What a function that hands its keywords on to ``target`` (check_layers
    and assert_gradients to check) does with them first, so that what is
    said names the function the user called, once: a renamed keyword under
    its new name (a DeprecationWarning), a command-line-only option refused
    (a TypeError), each option's value parsed as ``target`` would parse it
    (a ValueError). ``own``: the function's own keywords, beside ``target``'s."""
    accepted = {*inspect.signature(target).parameters, *own}
    given = renamed(function, given, accepted)
    refuse_cli_only(function, given, accepted)
    return parse_keywords(function, given, table, nullable(target))


def renamed(function: str, given: dict[str, Any], accepted: Container[str]) -> dict[str, Any]:
    """``given`` with each renamed keyword that ``function`` takes under its
    new name, said with a DeprecationWarning; a TypeError where the old and
    the new name are both given."""
    out = dict(given)
    for old, new in RENAMED.items():
        if old in out and old not in accepted and new in accepted:
            if new in out:
                raise TypeError(f"{function}() got both {old}= (deprecated) and {new}=; pass {new}= only")
            warnings.warn(f"{function}(): {old}= is deprecated, use {new}= (the command line's --{new})",
                          DeprecationWarning, stacklevel=_callers_level())
            out[new] = out.pop(old)
    return out


def refuse_cli_only(function: str, given: dict[str, Any], accepted: Container[str]) -> None:
    """A TypeError for a command-line-only option given to ``function``."""
    for name in given:
        if name in NOT_KEYWORDS and name not in accepted:
            raise TypeError(f"{function}() takes no {name}= (--{name.replace('_', '-')} {NOT_KEYWORDS[name]})")


def _callers_level() -> int:
    """The stack level of the first frame outside gradcheck's package (the
    user's call), counted from the caller of ``warnings.warn``: a warning
    points at the user's line, and Python's default filters show it there."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame: FrameType | None = sys._getframe(2)
    level = 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
