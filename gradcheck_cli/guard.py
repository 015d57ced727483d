"""A crash is never a pass: the exit guard of the console script.

User code runs in gradcheck's process, and it can end that process in ways
no ``try`` sees: ``os._exit(0)`` inside a loss would end gradcheck with
exit 0 and no report, which CI reads as a pass; a segfault in a C
extension gives -11 and no message. So the console script runs the
command in a forked child and waits for it. A child that finishes
normally writes its exit code to a pipe first; a child that dies without
doing so was ended by user code, and the parent says so -- naming what
user code was running, which the child keeps in a small shared buffer
(:func:`doing`) -- and exits 2. Whatever happens, the exit code is one of
gradcheck's (0, 1, 2, 130), and 0 only when a report said pass.

The child stays in the parent's process group, so a debugger in the model
can still read the terminal. A Ctrl-C at the terminal reaches both; the
parent forwards signals sent to it alone (``kill -INT PID``), and the
child acts on the first SIGINT only.

Where ``os.fork`` does not exist (Windows) the command runs unguarded.
"""

from __future__ import annotations

import mmap
import os
import signal
import sys
import threading
import time
import traceback
from typing import Callable

EXIT_UNUSABLE, EXIT_INTERRUPTED = 2, 130

# The shared buffer: a length-prefixed UTF-8 description of what user code
# is doing now. Only a guarded child has one; elsewhere doing() is a no-op.
_BUFFER_SIZE = 4096
_buffer: mmap.mmap | None = None

# How often an orphan-watching process looks at its parent: a worker left
# behind by a parent that was killed (SIGKILL, a segfault, os._exit in user
# code) ends within this long.
PARENT_POLL_SECONDS = 0.5

# Forwarded to the child when sent to the parent alone.
_FORWARDED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def doing(*what: str) -> None:
    """Record what user code is about to do (``doing("loss", "at W[1, 2] =
    0.5")``, joined by spaces), for the message if it ends the process.
    Unguarded (the library, workers) it returns at once: it is called on
    every evaluation."""
    if _buffer is not None:
        data = " ".join(what).encode("utf-8", "replace")[: _BUFFER_SIZE - 5]
        _buffer[4:4 + len(data)] = data
        _buffer[:4] = len(data).to_bytes(4, "little")


def document_owed(owed: bool) -> None:
    """Whether a JSON document is owed on stdout (--format json, not yet
    written): if user code ends the process meanwhile, the guard writes an
    error document in its place, so stdout is one document however the run
    ends. Unguarded, a no-op."""
    if _buffer is not None:
        _buffer[_BUFFER_SIZE - 1] = 1 if owed else 0


def _last_activity(buffer: mmap.mmap) -> str:
    length = int.from_bytes(buffer[:4], "little")
    return buffer[4:4 + length].decode("utf-8", "replace")


def _run(command: Callable[[], None]) -> int:
    """``command``'s exit code, however it ends short of ending the process."""
    try:
        command()
        return 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)  # sys.exit("message"), as Python itself does
        return 1
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BaseException:  # a bug of gradcheck's own: show it, as Python would
        traceback.print_exc()
        return EXIT_UNUSABLE


# The child's end of the exit-code pipe; closed in any process the model
# forks off, so that only gradcheck's own process reports an exit code.
_report_fd: int | None = None


def _close_report_fd() -> None:
    global _report_fd
    if _report_fd is not None:
        try:
            os.close(_report_fd)
        except OSError:
            pass
        _report_fd = None


def _child(command: Callable[[], None], report_fd: int, guard_pid: int) -> None:
    """Run ``command``, report its exit code on ``report_fd``, and end."""
    global _report_fd
    from .report_stream import claim_stdout, leave_if_forked_copy

    _report_fd = report_fd
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_close_report_fd)
    claim_stdout()  # descriptor 1 is stderr from here on: the report alone reaches stdout
    exit_with_parent(guard_pid)  # a guard killed outright (SIGKILL) takes the check, and so its workers, with it
    interrupted = []

    def first_interrupt_only(signum, frame):
        # A terminal Ctrl-C arrives here directly and forwarded by the parent.
        if not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first_interrupt_only)
    code = _run(command)
    leave_if_forked_copy()  # (a copy the model forked off does not report: gradcheck's own process does)
    exit_now(code)


def active() -> bool:
    """Whether this is the guarded child (where :func:`exit_now` may end the process)."""
    return _buffer is not None


def exit_now(code: int) -> None:
    """End the guarded child with ``code``, reported to the guard: after the
    command, or from another thread when user code will not stop."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or broken stream: nothing more to say on it
            pass
    if _report_fd is not None:
        os.write(_report_fd, code.to_bytes(4, "little", signed=True))
    # os._exit: neither the model's atexit handlers nor its non-daemon
    # threads may keep the process, or write, once the report is out.
    os._exit(code)


def _describe_death(status: int, activity: str) -> tuple[str, int]:
    """The message and exit code for a child that ended without reporting."""
    where = f" while running {activity}" if activity else ""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if number == getattr(signal, "SIGINT", None):
            return f"interrupted{where}", EXIT_INTERRUPTED
        return (f"the process died of {name}{where} (in user code or a C extension it called); "
                "no report was made"), EXIT_UNUSABLE
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return (f"the process was ended{where}, with exit status {code} (os._exit or the like): no report was "
            "made. A model must return its values, never end the process"), EXIT_UNUSABLE


def guarded(command: Callable[[], None]) -> int:
    """Run ``command`` (which may call sys.exit) in a guarded child; its exit
    code, or 2 with a message when user code ended the process."""
    global _buffer
    if not hasattr(os, "fork"):
        return _run(command)
    _standard_descriptors()  # (first: the pipe below would take a closed descriptor's number)
    buffer = mmap.mmap(-1, _BUFFER_SIZE)
    read_fd, write_fd = os.pipe()
    guard_pid = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        _buffer = buffer
        _child(command, write_fd, guard_pid)
    os.close(write_fd)
    previous = {number: signal.signal(number, lambda signum, frame: _forward(pid, signum)) for number in _FORWARDED}
    try:
        status = _wait(pid)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    reported = b""
    while len(reported) < 4:
        chunk = os.read(read_fd, 4 - len(reported))
        if not chunk:  # the child is gone and wrote nothing (more)
            break
        reported += chunk
    os.close(read_fd)
    if len(reported) == 4:
        return int.from_bytes(reported, "little", signed=True)
    from .render.github import plain

    # (the activity names blocks, the user's strings: on one line, never a
    # workflow command for a CI runner reading stderr)
    message, code = _describe_death(status, plain(_last_activity(buffer)))
    print(f"gradcheck: error: {message}", file=sys.stderr)
    if buffer[_BUFFER_SIZE - 1]:
        from .report_stream import json_error_document

        try:
            sys.stdout.write(json_error_document(message))
            sys.stdout.flush()
        except OSError as exc:  # (stdout refuses it: a full disk)
            print(f"gradcheck: error: cannot write the report to stdout: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_UNUSABLE
    return code


def _standard_descriptors() -> None:
    """Started with stdout or stderr closed (``gradcheck m.py 2>&-``):
    /dev/null takes the descriptor's place, so that writing a report or a
    message is never what fails -- the exit code still says how it went."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "w", buffering=1, closefd=False))


def _forward(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _wait(pid: int) -> int:
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return status
        except InterruptedError:  # a forwarded signal; wait on
            continue


def exit_with_parent(parent: int, code: int = 2) -> None:
    """End this process (``os._exit(code)``) as soon as ``parent``, the
    process that started it, is gone: a daemon thread polls the parent's
    pid. For gradcheck's own children (worker processes, the guarded
    command), which nothing else would ever stop. (The parent's pid is
    passed in: one that died while this process started up is already gone
    when it first looks.)"""
    def watch() -> None:
        while True:
            if os.getppid() != parent:  # re-parented: ours is gone
                os._exit(code)
            time.sleep(PARENT_POLL_SECONDS)

    threading.Thread(target=watch, name="gradcheck-orphan-watch", daemon=True).start()
