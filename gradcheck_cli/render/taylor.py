"""The Taylor test as a terminal plot (one per model), and as a PNG via matplotlib.

|remainder| (log scale, one row per decade) against eps (log scale,
growing to the right), one marker per block (o, x, +, ...; the legend
says which), and the reference slopes drawn as lines of the digits 1 and
2 through the top right corner: a right derivative's points run parallel
to the 2s down to the loss's round-off, where they level off; a wrong
one's parallel to the 1s. Plain characters, so it reads the same piped,
under TERM=dumb or with no colour; no wider than the console (at most 80
columns for the default steps).
"""

from __future__ import annotations

import math

from rich.console import Console, RenderableType
from rich.text import Text

from ..taylors import KINKED, RIGHT, WRONG, TaylorBlock, TaylorReport

MARKERS = "ox+*#@%&"  # one per block, then letters
CELL = 6  # columns per decade of eps (fewer where the console is narrower)
MARGIN = 8  # the y labels left of the plot: "1e-10 ┤"
MAX_DECADES = 24  # of remainder shown: a remainder that is exactly 0 sits on the bottom row with the smallest
MIN_WIDTH = 20  # (as a sweep's: the narrowest console a plot is laid out for)
_STYLE = {RIGHT: "green", WRONG: "bold red", KINKED: "yellow"}


def _marker(number: int) -> str:
    return MARKERS[number] if number < len(MARKERS) else chr(ord("A") + (number - len(MARKERS)) % 26)


def _label(exponent: int) -> str:
    return f"1e{exponent:+03d}"


def plot(blocks: list[TaylorBlock], width: int = 80) -> list[Text]:
    """The plot of the ``blocks``' |r(+eps)| against eps (one point's), its
    axes and legend, no wider than ``width``."""
    series = [(block, [(p.eps, abs(p.plus)) for p in block.points if p.eps > 0 and math.isfinite(p.plus)])
              for block in blocks]
    every_point = [pt for _, pts in series for pt in pts]
    if not every_point:
        return [Text("  no remainder could be measured (the loss broke at every step)", style="yellow")]
    left = math.floor(math.log10(min(x for x, _ in every_point)))
    right = math.ceil(math.log10(max(x for x, _ in every_point)))
    right = max(right, left + 1)
    positive = [y for _, y in every_point if y > 0]
    top = math.ceil(math.log10(max(positive))) if positive else 0
    bottom = max(math.floor(math.log10(min(positive))) if positive else top - 1, top - MAX_DECADES)
    bottom = min(bottom, top - 1)
    decades = right - left
    cell = max(1, min(CELL, (max(width, MIN_WIDTH) - MARGIN - 1) // decades))
    columns = decades * cell + 1
    rows = top - bottom + 1
    grid = [[(" ", "")] * columns for _ in range(rows)]

    def column(x: float) -> int:
        return min(columns - 1, max(0, round((math.log10(x) - left) * cell)))

    def row(y: float) -> int:
        if y <= 0:
            return rows - 1
        return min(rows - 1, max(0, round(top - math.log10(y))))

    # The reference slopes, through the top right corner: log r = top + s (log eps - right).
    for slope in (1, 2):
        for c in range(columns):
            y = top + slope * (left + c / cell - right)
            r = round(top - y)
            if 0 <= r < rows and abs(top - y - r) <= slope / (2 * cell) + 1e-9:
                grid[r][c] = (str(slope), "dim")
    for number, (block, points) in enumerate(series):
        for x, y in points:
            grid[row(y)][column(x)] = (_marker(number), _STYLE.get(block.verdict, "cyan"))
    text = Text()
    text.append(" |r|\n", style="bold")
    for r, line in enumerate(grid):
        exponent = top - r
        label = _label(exponent) if (r % 2 == 0 or rows <= 12) else ""
        text.append(f"{label:>6} ┤")
        for mark, style in line:
            text.append(mark, style=style)
        text.append("\n")
    text.append(" " * (MARGIN - 1) + "└" + "".join("┴" if c % cell == 0 else "─" for c in range(columns)) + "\n")
    every = next(k for k in range(1, decades + 2) if k * cell >= 6)
    axis = [" "] * (MARGIN + columns + 6)
    for d in range(0, decades + 1, every):
        label = _label(left + d)
        start = MARGIN + d * cell - len(label) // 2  # (centred on its tick)
        axis[start:start + len(label)] = label
    text.append("".join(axis).rstrip() + "  eps\n")
    text.rstrip()
    lines = [text,
             Text(" r = f(x + eps v) - f(x) - eps <g, v>, v a seeded unit direction of the block", style="dim"),
             Text(" 1s, 2s: slopes 1 and 2 (a right derivative parallels the 2s, a wrong one the 1s)",
                  style="dim")]
    for number, (block, _) in enumerate(series):
        lines.append(_legend(block, _marker(number)))
    return lines


def _legend(block: TaylorBlock, marker: str) -> Text:
    order = f"order {block.order:.1f}" if block.order is not None else "order - (round-off: linear near x)"
    line = Text(f"  {marker}  ")
    line.append(block.block, style="bold")
    line.append(f"   {order}   ")
    line.append(block.verdict, style=_STYLE.get(block.verdict, ""))
    if block.verdict != RIGHT and block.message:
        line.append(f": {block.message}")
    elif block.verdict == KINKED:  # (the check said nothing more: its kink note is the block's, not a value's)
        line.append(": the loss's slope jumps at x, and the value lies between its one-sided derivatives")
    broken = [r for r in block.readings if r.broken]
    if broken:
        line.append(f" (the loss broke at {len(broken)} of the steps: {broken[0].broken})", style="yellow")
    return line


def build(reports: list[TaylorReport]) -> RenderableType:
    """Each model's plot and a closing line, laid out for the width they print at."""
    from .text import Laid

    def lay(width: int) -> list[RenderableType]:
        parts: list[RenderableType] = []
        for report in reports:
            for point in report.points:
                head = Text()
                head.append(report.model, style="bold")
                if report.derivative != "gradient":  # (its blocks are that matrix's)
                    head.append(f" ({report.derivative})")
                head.append(f" · Taylor test at the {point}")
                parts += [head, *plot([b for b in report.blocks if b.point == point], width)]
            parts.append(Text(
                f"loss noise {report.loss_noise:.1e} (the floor where remainders level off) · verdict "
                f"{report.verdict} · {report.evaluations}\u00a0evaluations ·\u00a0{report.seconds:.2f}\u00a0s",
                style="dim"))
            parts.append(Text())
        return parts

    return Laid(lay)


def render(reports: list[TaylorReport], console: Console) -> None:
    """Print the plots."""
    console.print(build(reports))


def _literal(text: str) -> str:
    """A user's string as matplotlib text: a ``$`` would start its maths notation."""
    return text.replace("$", r"\$")


def save_png(reports: list[TaylorReport], path: str) -> None:
    """The same plots as log-log images, one panel per model and point. Needs
    matplotlib (extra `plot`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels_of = [(report, point) for report in reports for point in report.points]
    figure, panels = plt.subplots(len(panels_of), 1, figsize=(8, 5 * len(panels_of)), squeeze=False)
    for (report, point), axes in zip(panels_of, panels[:, 0]):
        blocks = [b for b in report.blocks if b.point == point]
        corner = None
        for block in blocks:
            points = [(p.eps, abs(p.plus)) for p in block.points if p.eps > 0 and abs(p.plus) > 0]
            if not points:
                continue
            order = f"order {block.order:.1f}" if block.order is not None else "order -"
            axes.loglog(*zip(*points), marker="o", label=_literal(f"{block.block}: {order}, {block.verdict}"))
            top = max(points)
            corner = top if corner is None or top > corner else corner  # (the reference lines through the highest)
        if corner is not None:
            low = min(p.eps for b in blocks for p in b.points if p.eps > 0)
            for slope, style in ((1, "--"), (2, ":")):
                axes.loglog([low, corner[0]], [corner[1] * (low / corner[0]) ** slope, corner[1]], style,
                            color="grey", label=f"slope {slope}")
        axes.axhline(max(report.loss_noise, 1e-300), color="grey", alpha=0.4, linewidth=0.8)
        axes.set_xlabel("eps (distance along the unit direction v)")
        axes.set_ylabel("|f(x + eps v) - f(x) - eps <g, v>|")
        axes.set_title(f"{_literal(report.model)}: Taylor test at the {point}")  # (each block's verdict: the legend)
        axes.grid(True, which="major", alpha=0.3)
        axes.legend(fontsize="small")
    figure.tight_layout()
    from ..outputs import write_atomically

    # To this path whatever its extension, whole or not at all.
    write_atomically(path, lambda stream: figure.savefig(stream, dpi=120, format="png"))
    plt.close(figure)
