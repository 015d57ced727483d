"""The console script's entry point: answers a bare ``--version`` before
click is imported (click alone is ~20 ms of start-up, as long as Python's
own), and hands everything else, help included, to the command line
(cli.run)."""

from __future__ import annotations

import os
import sys


def run() -> None:
    """``gradcheck``: the version at once; otherwise the guarded command
    line."""
    try:
        _run()
    except KeyboardInterrupt:  # Ctrl-C while Python and gradcheck start up
        sys.stderr.write("gradcheck: interrupted\n")
        sys.exit(130)


def _run() -> None:
    # A lone --version is the version, unless a shell is asking for
    # completions: click answers that request whatever the line
    # (completion.VARIABLE, not imported: it would import click).
    if sys.argv[1:] == ["--version"] and not os.environ.get("_GRADCHECK_COMPLETE"):
        # (click's own line, as every other --version prints it: tests/test_cli.py compares them)
        from ._version import __version__

        print(f"gradcheck, version {__version__}")
        return
    from .cli import run as command_line

    command_line()
