"""The sweep as terminal plots (one per dimension), and as a PNG via matplotlib.

Relative error (log scale, one row per decade) against the step h (one
column per step, 1e-1 on the left); ● a step that crossed no kink, × one
that did; the recommended step is marked ▲ under the axis. A plot is no wider than
the console (80 columns at most for the default 12 steps).
"""

from __future__ import annotations

import math

from rich.console import Console, RenderableType
from rich.text import Text

from ..sweeps import SweepCurve, SweepReport

TOP, BOTTOM = 0, -16  # decades of relative error shown; smaller errors sit on the bottom row
CELL = 6  # characters per step column (fewer where the console is narrower)
MARGIN = 8  # the axis labels left of the plot
MIN_WIDTH = 20


def _row(rel_error: float) -> int:
    """The plot row (0 = top) of a relative error."""
    if not math.isfinite(rel_error):
        return 0
    if rel_error <= 0:
        return TOP - BOTTOM
    decade = math.floor(math.log10(rel_error) + 0.5)
    return min(TOP - BOTTOM, max(0, TOP - decade))


def plot(curve: SweepCurve, width: int = 80) -> list[Text]:
    """One dimension's V: relative error by step, no wider than ``width``
    (at least 20 columns): a step column is CELL characters, fewer where
    the steps would not fit, and then only every other step (or third...)
    is labelled under the axis."""
    n = max(len(curve.points), 1)
    cell = max(1, min(CELL, (max(width, MIN_WIDTH) - MARGIN) // n))
    head = Text()
    recommended = f"{curve.recommended_h:.0e}" if curve.recommended_h else "none (every step crossed a kink)"
    head.append(f"{curve.label}", style="bold")
    head.append(f"   analytic {curve.analytic:.10g}   recommended h = {recommended}")
    lines = [head]
    if curve.broken:
        lines.append(Text(f"  the loss broke: {curve.broken}; those steps are left blank", style="yellow"))
    text = Text()
    rows = [[" "] * len(curve.points) for _ in range(TOP - BOTTOM + 1)]
    for column, point in enumerate(curve.points):
        if not math.isnan(point.numeric):
            rows[_row(point.rel_error)][column] = "×" if point.kink else "●"
    for number, row in enumerate(rows):
        label = f"1e{TOP - number:+03d}" if number % 2 == 0 else ""
        text.append(f"{label:>6} ┤")
        for column, mark in enumerate(row):
            style = "magenta" if mark == "×" else ("bold green" if _recommended(curve, column) else "cyan")
            text.append(mark.center(cell), style=style if mark != " " else "")
        text.append("\n")
    text.append("       └" + "┴".center(cell, "─") * len(curve.points) + "\n")
    labels = [f"{p.h:.0e}".replace("e-0", "e-") for p in curve.points]
    every = next(k for k in range(1, n + 1) if k * cell > max(map(len, labels), default=0))
    axis = [" "] * (n * cell + CELL)
    for column, label in enumerate(labels):
        if column % every == 0:
            start = max(0, column * cell + (cell - 1) // 2 - (len(label) - 1) // 2)
            axis[start:start + len(label)] = label
    text.append("     h  " + "".join(axis).rstrip() + "\n")
    marks = "".join(("▲" if _recommended(curve, c) else " ").center(cell) for c in range(len(curve.points)))
    text.append("        " + marks.rstrip() + "\n", style="bold green")
    lines.append(text)
    return lines


def _recommended(curve: SweepCurve, column: int) -> bool:
    return curve.recommended_h is not None and curve.points[column].h == curve.recommended_h


def build(report: SweepReport) -> RenderableType:
    """All plots and a closing line, laid out for the width they print at."""
    from .text import Laid

    def lay(width: int) -> list[RenderableType]:
        parts: list[RenderableType] = [line for curve in report.curves for line in [*plot(curve, width), Text()]]
        parts.append(Text(f"loss noise {report.loss_noise:.1e}: the round-off that raises the right arm of each V",
                          style="dim"))
        parts.append(Text(
            f"{report.model}: {len(report.curves)} dimension{'s' if len(report.curves) != 1 else ''} swept "
            f"({report.method}) · {report.evaluations}\u00a0evaluations ·\u00a0{report.seconds:.2f}\u00a0s"
        ))
        return parts

    return Laid(lay)


def render(report: SweepReport, console: Console) -> None:
    """Print the plots."""
    console.print(build(report))


def _literal(text: str) -> str:
    """A user's string (a path, a block name) as matplotlib text: a ``$``
    would start its maths notation, which can refuse to parse."""
    return text.replace("$", r"\$")


def save_png(report: SweepReport, path: str) -> None:
    """The same curves as a log-log image. Needs matplotlib (extra `plot`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5))
    floor = 10.0**BOTTOM
    for curve in report.curves:
        hs = [p.h for p in curve.points]
        errors = [max(p.rel_error, floor) for p in curve.points]
        (line,) = axes.loglog(hs, errors, marker="o", label=_literal(curve.label))
        kinked = [(p.h, max(p.rel_error, floor)) for p in curve.points if p.kink]
        if kinked:
            axes.scatter(*zip(*kinked), marker="x", s=80, color=line.get_color())
        if curve.recommended_h is not None:
            axes.axvline(curve.recommended_h, color=line.get_color(), linestyle=":", alpha=0.6)
    axes.invert_xaxis()
    axes.set_xlabel("relative step h")
    axes.set_ylabel("relative error |a - n| / max(|a|, |n|)")
    axes.set_title(f"{_literal(report.model)} ({report.method}): dotted lines mark the recommended h")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    from ..outputs import write_atomically

    # To this path whatever its extension, whole or not at all.
    write_atomically(path, lambda stream: figure.savefig(stream, dpi=120, format="png"))
    plt.close(figure)
    plt.close(figure)
