"""The library's exception types. The CLI maps every one of them to exit 2."""

from __future__ import annotations

import importlib
import os
import traceback

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class GradcheckError(Exception):
    """Base class: the check could not run; the message says why."""


class ConfigError(GradcheckError):
    """The configuration ([tool.gradcheck] in pyproject.toml, or --config) is unusable."""


class ModelError(GradcheckError):
    """The model file or its functions break the model contract."""


class UserCodeError(ModelError):
    """The user's own code raised; carries their traceback frames, not ours
    (``only``: the frames of that file alone, where the rest is a remote
    framework's, as Dask's upload_file is)."""

    def __init__(self, message: str, exc: BaseException, only: str | None = None):
        self.original = exc
        self.user_traceback = format_user_traceback(exc, only)
        super().__init__(message)

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n{self.user_traceback}" if self.user_traceback else base

    def __reduce__(self):
        # Raised in a worker process, it reaches the parent by pickle: as
        # the message with its frames (the exception object stays behind).
        return ModelError, (str(self),)


class NondeterminismError(ModelError):
    """Two evaluations at the same point disagreed although every seed was reset."""


class MethodError(ModelError):
    """The model cannot be differentiated with the chosen --method (complex step)."""


class ParamsModifiedError(ModelError):
    """User code changed the parameter arrays it was handed."""


class CheckTimeout(GradcheckError):
    """The check ran out of its time (--timeout); ``report`` holds what finished."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


class OutputError(GradcheckError):
    """An output file (--save-params, --junit-xml, --plot) could not be
    written; ``report`` holds the finished check it was for, which stands:
    the error comes after it."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a check; ``report`` holds what finished (None if nothing had)."""

    def __init__(self, report=None):
        super().__init__("interrupted")
        self.report = report


class StopSignal(BaseException):
    """Raised by the timer inside user code to stop a check; never escapes check().
    A BaseException, so that a model's own `except Exception:` cannot swallow it."""


_IMPORTLIB_DIR = os.path.dirname(importlib.__file__)


# An exception's own text is shown up to this long: a model that raises
# with a megabyte of message should not bury the line that names it.
MAX_EXCEPTION_TEXT = 2000


def exception_text(exc: BaseException) -> str:
    """``str(exc)``, safely: shortened past MAX_EXCEPTION_TEXT, and a
    placeholder where the exception's own ``__str__`` raises."""
    try:
        text = str(exc)
    except Exception as broken:  # user code's __str__, called by us
        return f"<its str() raised {type(broken).__name__}>"
    if len(text) > MAX_EXCEPTION_TEXT:
        text = f"{text[:MAX_EXCEPTION_TEXT]}... ({len(text) - MAX_EXCEPTION_TEXT} more characters)"
    return text


# Names listed in a message (blocks, keys) up to this many; the rest are counted.
MAX_NAMES_LISTED = 12


def listed(items) -> str:
    """``'a', 'b', 'c'`` for a message, shortened past MAX_NAMES_LISTED (a
    gradient dict with 100000 stray keys is said in one line)."""
    items = list(items)
    shown = ", ".join(map(repr, items[:MAX_NAMES_LISTED]))
    return shown if len(items) <= MAX_NAMES_LISTED else f"{shown} and {len(items) - MAX_NAMES_LISTED} more"


def _is_tool_frame(filename: str) -> bool:
    """gradcheck's own frames, and the import machinery's (frozen
    importlib), which stands between it and a model file's first line."""
    if filename.startswith("<frozen importlib"):
        return True
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR + os.sep) or os.path.dirname(path) == _IMPORTLIB_DIR


def user_line(exc: BaseException) -> str | None:
    """"file:line (source)" of the innermost frame of ``exc`` that is the user's."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not _is_tool_frame(frame.filename):
            return f"{frame.filename}:{frame.lineno}" + (f" ({frame.line.strip()})" if frame.line else "")
    return None


def format_user_traceback(exc: BaseException, only: str | None = None) -> str:
    """The traceback of ``exc`` with this package's own frames left out
    (``only``: the frames of files of that name alone).

    Users debug their model, not the checker: the frames they need are the
    ones in their files (and the libraries they called).
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_tool_frame(f.filename)
              and (only is None or os.path.basename(f.filename) == only)]
    lines = ["Traceback (most recent call last, gradcheck's own frames omitted):\n"]
    # StackSummary.format folds runs of a repeated frame (infinite recursion)
    # into "[Previous line repeated N more times]".
    lines += traceback.StackSummary.from_list(frames).format()
    lines += [line if len(line) <= MAX_EXCEPTION_TEXT else
              f"{line[:MAX_EXCEPTION_TEXT]}... ({len(line) - MAX_EXCEPTION_TEXT} more characters)\n"
              for line in traceback.format_exception_only(type(exc), exc)]
    return "".join(lines).rstrip("\n")
