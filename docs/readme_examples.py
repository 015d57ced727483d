"""Rewrite the example outputs in README.md and the manual (docs/*.md) from
what the tool prints now.

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

WIDTH = 80
# (ARGS on the marker's line: a marker never reaches into the text after it)
PATTERN = re.compile(r"(<!-- example: ([^\n]+?) -->\s*```text\n)(.*?)(```)", re.S)


def pages() -> list[Path]:
    """Every page that may hold examples: the README and the manual's pages."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


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
    for page in pages():
        text = page.read_text()
        if PATTERN.search(text):
            page.write_text(rewrite(text))
            print(f"rewrote the examples in {page.relative_to(ROOT)}")
