"""The library's exception types. The CLI maps every one of them to exit 2."""

from __future__ import annotations

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
    """The user's own code raised; carries their traceback frames, not ours."""

    def __init__(self, message: str, exc: BaseException):
        self.original = exc
        self.user_traceback = format_user_traceback(exc)
        super().__init__(message)

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n{self.user_traceback}" if self.user_traceback else base


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


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a check; ``report`` holds what finished (None if nothing had)."""

    def __init__(self, report=None):
        super().__init__("interrupted")
        self.report = report


class StopSignal(BaseException):
    """Raised by the timer inside user code to stop a check; never escapes check().
    A BaseException, so that a model's own `except Exception:` cannot swallow it."""


def _is_tool_frame(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)


def user_line(exc: BaseException) -> str | None:
    """"file:line (source)" of the innermost frame of ``exc`` that is the user's."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if not _is_tool_frame(frame.filename):
            return f"{frame.filename}:{frame.lineno}" + (f" ({frame.line.strip()})" if frame.line else "")
    return None


def format_user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` with this package's own frames left out.

    Users debug their model, not the checker: the frames they need are the
    ones in their files (and the libraries they called).
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_tool_frame(f.filename)]
    lines = ["Traceback (most recent call last, gradcheck's own frames omitted):\n"]
    # StackSummary.format folds runs of a repeated frame (infinite recursion)
    # into "[Previous line repeated N more times]".
    lines += traceback.StackSummary.from_list(frames).format()
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip("\n")
