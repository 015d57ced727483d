"""The sweep as terminal plots (one per dimension), and as a PNG via matplotlib.

Relative error (log scale, one row per decade) against the step h (one
column per step, 1e-1 on the left); ● a step that crossed no kink, × one
that did; the recommended step is marked ▲ under the axis.
"""

from __future__ import annotations

import math

from rich.console import Console, Group, RenderableType
from rich.text import Text

from ..sweeps import SweepCurve, SweepReport

TOP, BOTTOM = 0, -16  # decades of relative error shown; smaller errors sit on the bottom row
CELL = 6  # characters per step column


def _row(rel_error: float) -> int:
    """The plot row (0 = top) of a relative error."""
    if not math.isfinite(rel_error):
        return 0
    if rel_error <= 0:
        return TOP - BOTTOM
    decade = math.floor(math.log10(rel_error) + 0.5)
    return min(TOP - BOTTOM, max(0, TOP - decade))


def plot(curve: SweepCurve) -> Text:
    """One dimension's V: relative error by step."""
    text = Text()
    recommended = f"{curve.recommended_h:.0e}" if curve.recommended_h else "none (every step crossed a kink)"
    text.append(f"{curve.label}", style="bold")
    text.append(f"   analytic {curve.analytic:.10g}   recommended h = {recommended}\n")
    if curve.broken:
        text.append(f"  the loss broke: {curve.broken}; those steps are left blank\n", style="yellow")
    rows = [[" "] * len(curve.points) for _ in range(TOP - BOTTOM + 1)]
    for column, point in enumerate(curve.points):
        if not math.isnan(point.numeric):
            rows[_row(point.rel_error)][column] = "×" if point.kink else "●"
    for number, row in enumerate(rows):
        label = f"1e{TOP - number:+03d}" if number % 2 == 0 else ""
        text.append(f"{label:>6} ┤")
        for column, mark in enumerate(row):
            style = "magenta" if mark == "×" else ("bold green" if _recommended(curve, column) else "cyan")
            text.append(mark.center(CELL), style=style if mark != " " else "")
        text.append("\n")
    text.append("       └" + "┴".center(CELL, "─") * len(curve.points) + "\n")
    text.append("        " + "".join(f"{p.h:.0e}".replace("e-0", "e-").center(CELL) for p in curve.points) + "  h\n")
    marks = "".join(("▲" if _recommended(curve, c) else " ").center(CELL) for c in range(len(curve.points)))
    text.append("        " + marks + "\n", style="bold green")
    return text


def _recommended(curve: SweepCurve, column: int) -> bool:
    return curve.recommended_h is not None and curve.points[column].h == curve.recommended_h


def build(report: SweepReport) -> RenderableType:
    """All plots and a closing line."""
    parts: list[RenderableType] = [plot(curve) for curve in report.curves]
    parts.append(Text(f"loss noise {report.loss_noise:.1e}: the round-off that raises the right arm of each V",
                      style="dim"))
    parts.append(Text(
        f"{report.model}: {len(report.curves)} dimension{'s' if len(report.curves) != 1 else ''} swept "
        f"({report.method}) · {report.evaluations} evaluations · {report.seconds:.2f} s"
    ))
    return Group(*parts)


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
