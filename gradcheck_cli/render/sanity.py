"""`gradcheck sanity` as text."""

from __future__ import annotations

import math

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..sanity import SanityReport

STATUS_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red", "skip": "dim"}
CURVE_ROWS, CURVE_COLUMNS = 8, 60


def checks_table(report: SanityReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("check", style="bold", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("what was seen")
    for check in report.checks:
        table.add_row(check.name, Text(check.status, style=STATUS_STYLE[check.status]), check.summary)
    return table


def loss_curve(losses: tuple[float, ...]) -> Text:
    """The overfit run's loss by step, log scale, one column per few steps."""
    finite = [x for x in losses if math.isfinite(x) and x > 0]
    out = Text()
    if len(finite) < 2:
        return out
    top, bottom = math.log10(max(finite)), math.log10(min(finite))
    span = max(top - bottom, 1e-12)
    columns = min(CURVE_COLUMNS, len(losses))
    grid = [[" "] * columns for _ in range(CURVE_ROWS)]
    for c in range(columns):
        value = losses[int(c * (len(losses) - 1) / max(columns - 1, 1))]
        if math.isfinite(value) and value > 0:
            row = round((top - math.log10(value)) / span * (CURVE_ROWS - 1))
            grid[row][c] = "•"
    out.append("overfit run: loss by step (log scale)\n", style="bold")
    for r, row in enumerate(grid):
        label = f"{10 ** (top - r * span / (CURVE_ROWS - 1)):.2g}" if r in (0, CURVE_ROWS - 1) else ""
        out.append(f"{label:>8} ┤" + "".join(row) + "\n", style=None)
    out.append(" " * 9 + "└" + "─" * columns + "\n")
    out.append(" " * 10 + "0" + f"{len(losses) - 1} steps".rjust(columns - 1) + "\n")
    return out


def build(report: SanityReport) -> RenderableType:
    verdict = Text()
    verdict.append(report.verdict.upper(), style=STATUS_STYLE[report.verdict])
    verdict.append(f"  {report.model}: sanity gate · {report.evaluations} evaluations · {report.seconds:.2f} s")
    return Group(checks_table(report), loss_curve(report.losses), verdict)


def render(report: SanityReport, console: Console) -> None:
    console.print(build(report))
