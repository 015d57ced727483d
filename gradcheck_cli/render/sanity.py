"""`gradcheck sanity` as text, laid out for the width it prints at (see
text.Laid): the checks table, or a few wrapped lines per check where its
"what was seen" column would be narrower than SEEN_MIN; a loss curve no
wider than the console."""

from __future__ import annotations

import math

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from ..sanity_checks import SanityReport
from .text import GAP, NBSP, Laid, wrap

STATUS_STYLE = {"pass": "bold green", "warn": "bold yellow", "fail": "bold red", "skip": "dim"}
CURVE_ROWS, CURVE_COLUMNS = 8, 60
SEEN_MIN = 30  # the narrowest "what was seen" column worth wrapping in
_LABEL = 11  # the curve's axis label and its margins


def checks_table(report: SanityReport, width: int = 80) -> list[RenderableType]:
    names = max([len("check")] + [len(c.name) for c in report.checks])
    statuses = max([len("status")] + [len(c.status) for c in report.checks])
    if names + statuses + 2 * GAP + SEEN_MIN <= width:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        table.add_column("check", style="bold", no_wrap=True)
        table.add_column("status", no_wrap=True)
        table.add_column("what was seen", overflow="fold")
        for check in report.checks:
            table.add_row(check.name, Text(check.status, style=STATUS_STYLE[check.status]), check.summary)
        return [table]
    lines: list[RenderableType] = []
    for check in report.checks:
        head = Text(f"{check.name}: ", style="bold")
        head.append(check.status, style=STATUS_STYLE[check.status])
        lines += [head, Text(f"  {check.summary}")]
    return lines


def loss_curve(losses: tuple[float, ...], width: int = CURVE_COLUMNS + _LABEL) -> Text:
    """The overfit run's loss by step, log scale, one column per few steps."""
    finite = [x for x in losses if math.isfinite(x) and x > 0]
    out = Text()
    if len(finite) < 2:
        return out
    top, bottom = math.log10(max(finite)), math.log10(min(finite))
    span = max(top - bottom, 1e-12)
    columns = max(2, min(CURVE_COLUMNS, len(losses), width - _LABEL))
    grid = [[" "] * columns for _ in range(CURVE_ROWS)]
    for c in range(columns):
        value = losses[int(c * (len(losses) - 1) / max(columns - 1, 1))]
        if math.isfinite(value) and value > 0:
            row = round((top - math.log10(value)) / span * (CURVE_ROWS - 1))
            grid[row][c] = "•"
    out.append("overfit run: loss by step (log scale)\n", style="bold")
    for r, row in enumerate(grid):
        label = f"{10 ** (top - r * span / (CURVE_ROWS - 1)):.2g}" if r in (0, CURVE_ROWS - 1) else ""
        out.append(f"{label:>8} ┤" + "".join(row).rstrip() + "\n", style=None)
    out.append(" " * 9 + "└" + "─" * columns + "\n")
    out.append(" " * 10 + "0" + f"{len(losses) - 1} steps".rjust(columns - 1) + "\n")
    return out


def build(report: SanityReport) -> RenderableType:
    verdict = Text()
    verdict.append(report.verdict.upper(), style=STATUS_STYLE[report.verdict])
    skipped = sum(check.status == "skip" for check in report.checks)
    ran = f"{len(report.checks) - skipped} of {len(report.checks)} checks run ({skipped} skipped)" if skipped else \
        f"{len(report.checks)} checks"
    verdict.append(f"  {report.model}: sanity gate, {ran} · {report.evaluations}{NBSP}evaluations ·"
                   f"{NBSP}{report.seconds:.2f}{NBSP}s")
    headline = len(report.verdict) + 2
    return Laid(lambda width: [*checks_table(report, width), loss_curve(report.losses, width),
                               *wrap(verdict, width, indent=headline)])


def render(report: SanityReport, console: Console) -> None:
    console.print(build(report))
