"""Rewrite the example outputs in README.md from what the tool prints now.

Every block after a marker `<!-- example: ARGS -->` is replaced by
`$ gradcheck ARGS` and the tool's output at 80 columns (WIDTH), as a
reader's terminal shows it. tests/test_readme.py fails when they disagree;
run this, read the diff, commit.

    python docs/readme_examples.py
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradcheck_cli.cli import main  # noqa: E402

README = ROOT / "README.md"
WIDTH = 80
PATTERN = re.compile(r"(<!-- example: (.+?) -->\s*```text\n)(.*?)(```)", re.S)


def output(args: str, width: int) -> str:
    result = CliRunner().invoke(main, shlex.split(args), env={"COLUMNS": str(width)}, prog_name="gradcheck")
    return "\n".join(line.rstrip() for line in result.stdout.rstrip().splitlines())


def rewrite(text: str) -> str:
    def replace(match: re.Match) -> str:
        return f"{match.group(1)}$ gradcheck {match.group(2)}\n{output(match.group(2), WIDTH)}\n{match.group(4)}"

    return PATTERN.sub(replace, text)


if __name__ == "__main__":
    import os

    os.chdir(ROOT)
    README.write_text(rewrite(README.read_text()))
    print("rewrote the examples in README.md")
