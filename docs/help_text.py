"""Rewrite gradcheck_cli/_help.py: `gradcheck --help` as click prints it.

The console script prints that text itself for a bare `gradcheck --help`
(or -h) on a terminal at least 80 columns wide, where click's rendering
does not depend on the width: importing click and defining the commands
costs more than the 60 ms a help screen may take. tests/test_cli.py fails
when the two disagree; run this, read the diff, commit.

    python docs/help_text.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradcheck_cli.cli import main  # noqa: E402


def clicks_help() -> str:
    return CliRunner().invoke(main, ["--help"], env={"COLUMNS": "80"}, prog_name="gradcheck").stdout


def module_text(help_text: str) -> str:
    return (
        '"""`gradcheck --help`, as click renders it at 80 columns or more: printed by\n'
        "launch.py without importing click. Written by docs/help_text.py; do not edit.\"\"\"\n\n"
        + (f'TEXT = """\\\n{help_text}"""\n' if '"""' not in help_text and "\\" not in help_text
           else f"TEXT = {help_text!r}\n")
    )


if __name__ == "__main__":
    (ROOT / "gradcheck_cli" / "_help.py").write_text(module_text(clicks_help()))
    print("wrote gradcheck_cli/_help.py")
