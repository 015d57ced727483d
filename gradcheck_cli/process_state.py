"""What a check borrows from the process it runs in, and gives back.

User code runs in the caller's process. It may seed numpy's global RNG
(CS231n's ``init`` calls ``np.random.seed``), and gradcheck itself reseeds
before every evaluation; it may install signal handlers, change warning
filters, replace ``sys.stdout``, lower the recursion limit or change
directory. Every public entry point that runs user
code is wrapped in :func:`borrows_process`: it restores all of that on
every exit path, and runs one check at a time per process, because the
global RNGs, the kink recorder and file descriptor 1 are per process, not
per thread. (A second thread calling ``check()`` waits for the first.)
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import signal
import sys
import threading
import warnings
from typing import Callable, TypeVar

import numpy as np

# How deep the process is in gradcheck's own bookkeeping, where a stop must
# wait (shielded). A count, not a lock: the signal handler only reads it.
_SHIELDED = [0]


@contextlib.contextmanager
def shielded():
    """A block of gradcheck's own that puts the process back in order (a
    model's modules out of sys.modules): the --timeout alarm does not stop
    it halfway (``shielding``; the alarm is re-armed and stops the check
    just after). User code never runs inside."""
    _SHIELDED[0] += 1
    try:
        yield
    finally:
        _SHIELDED[0] -= 1


def shielding() -> bool:
    """Whether a shielded block is running: a stop now must wait."""
    return _SHIELDED[0] > 0


# Re-entrant: check() calls load_model(), sweep() and sanity() call check().
_LOCK = threading.RLock()

# Handlers a model may install that change how the process stops.
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGALRM", "SIGHUP") if hasattr(signal, name))

F = TypeVar("F", bound=Callable)


def borrows_process(fn: F) -> F:
    """Run ``fn`` alone in this process, restoring the global RNGs (numpy's
    and ``random``'s), numpy's floating-point error handling (a model may
    call ``np.seterr(all="ignore")``; a stop may land inside an
    ``np.errstate`` of gradcheck's), ``sys.stdout``/``sys.stderr``, the
    warning filters and the signal handlers afterwards, however it ends."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _LOCK:
            numpy_state, python_state = np.random.get_state(), random.getstate()
            errors = np.geterr()
            streams = sys.stdout, sys.stderr
            main = threading.current_thread() is threading.main_thread()
            handlers = {s: signal.getsignal(s) for s in _SIGNALS} if main else {}
            cwd = _cwd()
            recursion = sys.getrecursionlimit()
            try:
                with warnings.catch_warnings():
                    return fn(*args, **kwargs)
            finally:
                np.random.set_state(numpy_state)
                random.setstate(python_state)
                np.seterr(**errors)
                sys.stdout, sys.stderr = streams
                sys.setrecursionlimit(recursion)  # (a model may lower it below what gradcheck needs)
                if cwd is not None and _cwd() != cwd:
                    # A model that changes directory: the caller's relative
                    # paths (the next model, an output file) mean what they did.
                    with contextlib.suppress(OSError):
                        os.chdir(cwd)
                for number, handler in handlers.items():
                    # None: installed from C, not restorable from Python (and not ours).
                    if handler is not None and signal.getsignal(number) is not handler:
                        signal.signal(number, handler)

    return wrapper  # type: ignore[return-value]


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the directory was removed under us
        return None

