"""The console script's entry point: answers ``--version`` before click is
imported (click and the command definitions are ~55 ms of start-up), and
hands everything else to the command line (cli.run)."""

from __future__ import annotations

import sys


def run() -> None:
    """``gradcheck``: the version at once; otherwise the guarded command line."""
    if sys.argv[1:] == ["--version"]:
        from ._version import __version__

        print(f"gradcheck, version {__version__}")
        return
    from .cli import run as command_line

    command_line()
