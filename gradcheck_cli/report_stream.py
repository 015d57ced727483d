"""Where the command line writes its report: stdout, and nothing else there.

User code can write to file descriptor 1 without going through
``sys.stdout``: ``os.write(1, ...)``, ``os.system``, a C extension, a
daemon thread that prints, a process it starts. Under ``--format json``
any of that breaks the one document a CI script parses. So for the whole
command -- before the model is imported, until the report is written --
descriptor 1 points at stderr, and the report goes to a private copy of
the real stdout (:func:`report_stream`). A process the model forks off
(``os.fork()`` at import) loses that copy at once: only gradcheck's own
process writes a report.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator, TextIO

# The private copy of stdout while a command runs (None otherwise), closed
# in any process forked meanwhile.
_private_fd: int | None = None
_owner_pid: int | None = None
_claimed = False  # by claim_stdout: for good


def _forget_in_fork() -> None:
    global _private_fd
    if _private_fd is not None:
        with contextlib.suppress(OSError):
            os.close(_private_fd)
        _private_fd = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_fork)


class ReportLost(OSError):
    """stdout refused the report (a full disk under ``> report.txt``, an I/O
    error): the command says so in one line and exits 2, never 0 on a
    report nobody got."""


class _Reader:
    """The report's stream as its reader allows: a reader that stops early
    (``gradcheck m.py | head``) closes the pipe, and the rest of the report
    is dropped -- the exit code still says how the check went (click would
    exit 1, which reads as a failed gradient). Any other failure to write
    is ReportLost, once; what follows it is dropped (an error document
    cannot reach a stdout that refused the report)."""

    def __init__(self, stream: TextIO):
        self._stream, self._gone = stream, False

    def write(self, text: str) -> int:
        if not self._gone:
            with self._failures():
                return self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            with self._failures():
                self._stream.flush()

    @contextlib.contextmanager
    def _failures(self):
        try:
            yield
        except BrokenPipeError:
            self._gone = True
        except OSError as exc:
            self._gone = True
            raise ReportLost(exc.errno, exc.strerror or str(exc)) from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def forked_copy() -> bool:
    """Whether this process is a copy the model forked off while a command
    ran (not gradcheck's own process): it must not report anything."""
    return _owner_pid is not None and os.getpid() != _owner_pid


def leave_if_forked_copy() -> None:
    """Called as user code returns: a process the model forked off (and
    that came back into gradcheck instead of exec-ing or exiting) ends here,
    silently, rather than run the rest of the command a second time."""
    if forked_copy():
        os._exit(0)


def claim_stdout() -> None:
    """For the rest of this process, descriptor 1 is stderr and only
    :func:`report_stream` writes to the real stdout (the console script's
    guarded child: nothing is given back, so nothing -- a daemon thread, an
    atexit handler -- can write there between the report and the exit)."""
    global _private_fd, _owner_pid, _claimed
    try:
        sys.stdout.flush()
        private = os.dup(1)
        os.dup2(2, 1)
    except (AttributeError, OSError, ValueError):
        return
    _private_fd, _owner_pid, _claimed = private, os.getpid(), True


@contextlib.contextmanager
def report_stream() -> Iterator[TextIO]:
    """A text stream to the real stdout, with descriptor 1 (and
    ``sys.stdout``, which writes to it) pointed at stderr meanwhile. Where
    stdout is not a real descriptor (a test runner's buffer), the report
    goes to ``sys.stdout`` as it is and only descriptor 1 is redirected."""
    global _private_fd, _owner_pid
    out = sys.stdout
    if _claimed:
        if _private_fd is None or forked_copy():
            yield open(os.devnull, "w")  # a forked copy: its report goes nowhere
            return
        stream = open(_private_fd, "w", encoding=out.encoding or "utf-8", errors=out.errors or "strict",
                      closefd=False, buffering=1)
        try:
            yield _Reader(stream)
        finally:
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        return
    try:
        real = out.fileno() == 1
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        real = False
    try:
        out.flush()
        sys.__stdout__.flush()
        restore = os.dup(1)
    except (AttributeError, OSError, ValueError):  # no descriptors at all (embedded, closed)
        yield out
        return
    stream = None
    try:
        if real:
            _private_fd = os.dup(1)
            stream = open(_private_fd, "w", encoding=out.encoding or "utf-8", errors=out.errors or "strict",
                          closefd=False, buffering=1)
        _owner_pid = os.getpid()
        os.dup2(2, 1)
        yield _Reader(stream) if stream is not None else out
    finally:
        if stream is not None:
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        with contextlib.suppress(OSError, ValueError):
            sys.__stdout__.flush()
        os.dup2(restore, 1)
        os.close(restore)
        if _private_fd is not None:
            with contextlib.suppress(OSError):
                os.close(_private_fd)
        _private_fd = _owner_pid = None


def json_error_document(message: str, model: str | None = None) -> str:
    """What --format json writes when there is no report to write (a usage
    error, a model that could not be loaded, a process ended by user code):
    the one document shape (render/json.py, free of the checker's imports:
    the guard writes it too), with ``model``'s error as its entry, or the
    run's ``error`` when no model is named."""
    from .render.json import error_document

    return error_document(message, model)
