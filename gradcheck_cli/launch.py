"""The console script's entry point: answers ``--version`` and a bare
``--help`` before click is imported (click and the command definitions are
~55 ms of start-up, a help screen may take 60 in all), and hands everything
else to the command line (cli.run)."""

from __future__ import annotations

import sys


def run() -> None:
    """``gradcheck``: the version and the help screen at once; otherwise the
    guarded command line."""
    try:
        _run()
    except KeyboardInterrupt:  # Ctrl-C while Python and gradcheck start up
        sys.stderr.write("gradcheck: interrupted\n")
        sys.exit(130)


def _run() -> None:
    arguments = sys.argv[1:]
    if arguments == ["--version"]:
        from ._version import __version__

        print(f"gradcheck, version {__version__}")
        return
    if arguments in (["--help"], ["-h"]) and _help_width_is_fixed():
        from ._help import TEXT

        sys.stdout.write(TEXT)
        return
    from .cli import run as command_line

    command_line()


def _help_width_is_fixed() -> bool:
    """Whether click would render the help at its full 80 columns here (a
    terminal, or COLUMNS, of 80 or more): then it is the text in _help.py."""
    import shutil

    return shutil.get_terminal_size().columns >= 80
