"""The terminal report: a rich table per model, one verdict line.

Functions here build renderables from a Report and never compute: every
number shown is a field of the Report. ``render`` is the one place that
prints. Colour comes from rich, which drops it when stdout is not a
terminal and when NO_COLOR is set.
"""

from __future__ import annotations

import os

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..report import FAIL, KINK, OK, PASS, UNVERIFIED, WARN, ZERO, BlockResult, DimResult, Report

GRADE_STYLE = {
    "error": "bold red",
    PASS: "bold green",
    OK: "green",
    WARN: "bold yellow",
    FAIL: "bold red",
    UNVERIFIED: "cyan",
    ZERO: "dim",
    KINK: "magenta",
}


def _grade(grade: str) -> Text:
    return Text(grade, style=GRADE_STYLE.get(grade, ""))


def _value(x: float | None) -> str:
    """Raw values in full enough precision to see where two of them part."""
    return "-" if x is None else f"{x:.10g}"


def _error(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def _checked(block: BlockResult) -> str:
    text = f"{block.checked}/{block.size}"
    if block.directions:
        text += f" +{len(block.directions)} dir"
    return text


def summary_table(report: Report) -> Table:
    """One row per parameter block."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("block", style="bold", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("checked", justify="right", no_wrap=True)
    table.add_column("max rel err", justify="right", no_wrap=True)
    table.add_column("worst at", no_wrap=True)
    table.add_column("analytic", justify="right", no_wrap=True)
    table.add_column("numeric", justify="right", no_wrap=True)
    table.add_column("kinks", justify="right", no_wrap=True)
    table.add_column("grade", no_wrap=True)
    for block in report.blocks:
        worst = block.worst
        table.add_row(
            block.name,
            "(" + ", ".join(map(str, block.shape)) + (",)" if len(block.shape) == 1 else ")"),
            _checked(block),
            _error(block.max_rel_error),
            worst.label if worst else "-",
            _value(worst.analytic) if worst else "-",
            _value(worst.numeric) if worst else "-",
            str(block.kink_crossings) if block.kink_crossings else "-",
            _grade(block.grade),
        )
    return table


def dims_table(block: BlockResult) -> Table:
    """Every checked dimension of one block (for -v)."""
    table = Table(title=f"{block.name}", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False)
    table.add_column("at", no_wrap=True)
    table.add_column("analytic", justify="right", no_wrap=True)
    table.add_column("numeric", justify="right", no_wrap=True)
    table.add_column("rel err", justify="right", no_wrap=True)
    table.add_column("h", justify="right", no_wrap=True)
    table.add_column("grade", no_wrap=True)
    table.add_column("note")
    for dim in block.dims + block.directions:
        table.add_row(dim.label, _value(dim.analytic), _value(dim.numeric), _error(dim.rel_error),
                      f"{dim.h:.0e}", _grade(dim.grade), _note(dim))
    return table


def _note(dim: DimResult) -> str:
    parts = []
    if dim.kink is not None:
        parts.append(("winner flip " if dim.kink_harmless else "kink ") + dim.kink.describe())
    elif dim.kink_untracked:
        parts.append("kink (found numerically; not seen by tracking)")
    if dim.message:
        parts.append(dim.message)
    return "; ".join(parts)


def _resolution(dim: DimResult) -> str:
    if dim.bracket is not None:
        return "a valid subgradient" if dim.grade != FAIL else "NOT a subgradient"
    if dim.grade == KINK:
        return "unresolved"
    return "retried at a smaller step"


def kink_lines(report: Report) -> list[Text]:
    """Where kinks were crossed, and how each was resolved: one line per
    block, model line and resolution."""
    lines = []
    for block in report.blocks:
        seen: dict[tuple[str, str], int] = {}
        for dim in block.dims + block.directions:
            if dim.kink is not None and not dim.kink_harmless:
                where = dim.kink.describe()
            elif dim.kink_untracked:
                where = "found numerically (the model leaves numpy there, so tracking could not see it)"
            else:
                continue
            key = (where, _resolution(dim))
            seen[key] = seen.get(key, 0) + 1
        for (where, resolution), count in seen.items():
            probes = f"{count} probe{'s' if count != 1 else ''}"
            lines.append(Text(f"  kink in {block.name} ({probes}, {resolution}): {where}", style="magenta"))
    return lines


# Reasons printed under the table by default, per block; -v shows them all.
REASONS_SHOWN = 3
_EXPLAINED = (FAIL, WARN, UNVERIFIED, KINK)


def reason_lines(report: Report) -> list[Text]:
    """Why each failing, warning or unverifiable value got its grade: one
    line each (the exception a loss raised, the evidence of a confirmed
    disagreement, what limits verification)."""
    lines = []
    for block in report.blocks:
        explained = [d for d in block.dims + block.directions if d.grade in _EXPLAINED and d.message]
        for dim in explained[:REASONS_SHOWN]:
            line = Text(f"  {block.name}{dim.label if dim.index is not None else ' ' + dim.label}: ")
            line.append(dim.grade, style=GRADE_STYLE[dim.grade])
            line.append(f": {dim.message}")
            lines.append(line)
        if len(explained) > REASONS_SHOWN:
            lines.append(Text(f"  {block.name}: {len(explained) - REASONS_SHOWN} more (-v shows every value)",
                              style="dim"))
    return lines


def verdict_line(report: Report) -> Text:
    """PASS / WARN / FAIL (PARTIAL for a stopped run) with counts,
    evaluations and time."""
    counts: dict[str, int] = {}
    checks = report.checks()
    for check in checks:
        for block in check.blocks:
            counts[block.grade] = counts.get(block.grade, 0) + 1
    detail = ", ".join(f"{n} {g}" for g, n in sorted(counts.items(), key=lambda kv: list(GRADE_STYLE).index(kv[0])))
    text = Text()
    # A stopped run has one headline, PARTIAL, with why it stopped: not a
    # verdict of what finished and a second line overruling it.
    if report.stopped:
        text.append("PARTIAL", style="bold red")
    else:
        text.append(report.verdict.upper(), style=GRADE_STYLE[report.verdict])
    several = f" × {len(checks)} checks" if len(checks) > 1 else ""
    text.append(f"  {report.model}: {len(report.blocks)} block{'s' if len(report.blocks) != 1 else ''}{several} "
                f"({detail})")
    text.append(f" · {report.evaluations} evaluations · {report.seconds:.2f} s")
    if report.kink_crossings:
        text.append(f" · {report.kink_crossings} kink crossing{'s' if report.kink_crossings != 1 else ''}")
    if report.stopped:
        text.append(f" · {report.stopped}", style="bold red")
    return text


def _section(report: Report, verbose: bool) -> list[RenderableType]:
    """One check's table and what explains it."""
    parts: list[RenderableType] = [summary_table(report)]
    if verbose:
        parts += [dims_table(block) for block in report.blocks]
    else:
        parts += reason_lines(report)
    parts += kink_lines(report)
    for warning in report.all_warnings:
        parts.append(Text(f"  warning: {warning}", style="yellow"))
    for note in report.notes:
        parts.append(Text(f"  note: {note}", style="dim"))
    return parts


def _heading(title: str, report: Report) -> Text:
    text = Text(f"{title}: ", style="bold")
    text.append(report.verdict, style=GRADE_STYLE[report.verdict])
    text.append(f" · {report.evaluations} evaluations", style="dim")
    return text


def start_point_lines(report: Report) -> list[Text]:
    """Why the start point is degenerate, if it is, and how the check went to a generic point."""
    move = report.moved
    if move is None:
        return []
    lines = [Text(f"  the start point is degenerate: {reason}", style="magenta") for reason in move.reasons]
    lines.append(Text(f"  generic point: {move.describe()}", style="magenta"))
    return lines


def regularization_lines(report: Report) -> list[Text]:
    """The strength's share of the gradient, per block, and what followed."""
    reg = report.regularization
    if reg is None or reg.unchanged:
        return []
    shares = ", ".join(f"{name} {share:.0%}" for name, share in reg.share.items())
    where = f" at the {reg.at}" if report.generic is not None else ""
    line = Text(f"  regularization {reg.name} = {reg.value:g}: {shares} of the gradient{where} (all {reg.overall:.0%})",
                style="cyan")
    if reg.data_only is not None:
        why = "as asked (--reg)" if reg.explicit else f"it is over half in {', '.join(reg.dominated)}"
        line.append(f"; {why}: the data loss alone ({reg.name} = 0) is checked below")
    return [line]


def build(report: Report, *, verbose: bool = False) -> RenderableType:
    """Everything the text report shows, as one renderable: the check at the
    start point, then any at the generic point and of the data loss
    alone, then one verdict for all."""
    parts = _section(report, verbose)
    parts += start_point_lines(report)
    if report.generic is not None:
        parts.append(_heading("at the generic point", report.generic))
        parts += _section(report.generic, verbose)
    parts += regularization_lines(report)
    reg = report.regularization
    if reg is not None and reg.data_only is not None:
        parts.append(_heading(f"the data loss alone ({reg.name} = 0, at the {reg.at})", reg.data_only))
        parts += _section(reg.data_only, verbose)
    parts += [Text(f"  hint: {hint}", style="yellow") for hint in report.hints]
    parts.append(verdict_line(report))
    return Group(*parts)


def config_lines(origin) -> list[Text]:
    """The configuration file the run took values from (a ``config.Origin``),
    and each threshold it loosens: a value the user did not type says
    where it came from."""
    if origin is None:
        return []
    from . import printable

    lines = [Text(f"config: {printable(origin.path)} sets {', '.join(origin.keys)}", style="dim")]
    lines += [Text(f"config: {key} = {value:g} is looser than the default {default:g}: {effect}", style="yellow")
              for key, value, default, effect in origin.looser]
    return lines


def make_console(file=None) -> Console:
    """A console for the report: the terminal's width, or 120 columns when
    the output is piped (rich would otherwise assume 80 and wrap the table).

    Every string printed is text, never markup or emoji codes: block names,
    paths and messages come from the user (a block named ``"[/]"``)."""
    plain = dict(highlight=False, markup=False, emoji=False)
    console = Console(file=file, soft_wrap=False, **plain)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").strip().isdigit():  # (COLUMNS= is unset)
        console = Console(file=file, width=120, **plain)
    return console


def summary(results) -> Table:
    """One row per model, after a run over several."""
    table = Table(title="summary", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False)
    for name, justify in (("model", "left"), ("verdict", "left"), ("blocks", "left"), ("evaluations", "right"),
                          ("time", "right")):
        table.add_column(name, justify=justify, no_wrap=name != "blocks")
    for result in results:
        if isinstance(result, Report):
            # Every point checked: a model right at its start point and
            # wrong at the generic point fails, and its row says where.
            grades: dict[str, list[str]] = {}
            checks = result.checks()
            for check in checks:
                where = check.model[len(result.model):].strip() if check is not result else ""
                for block in check.blocks:
                    if block.grade not in (PASS, OK):
                        grades.setdefault(block.grade, []).append(f"{block.name} {where}".strip())
            several = f" × {len(checks)} checks" if len(checks) > 1 else ""
            blocks = "; ".join(f"{grade}: {', '.join(names)}" for grade, names in grades.items()) or \
                f"{len(result.blocks)} pass{several}"
            table.add_row(result.model, _grade(result.verdict), blocks, str(result.evaluations),
                          f"{result.seconds:.2f} s")
        else:
            table.add_row(result.model, Text("error", style="bold red"), _first_words(result.message, 80), "-", "-")
    return table


def _first_words(message: str, limit: int) -> str:
    """A message's first line, cut at a word (the whole message is said
    above the summary): never mid-word."""
    line = message.splitlines()[0] if message else ""
    if len(line) <= limit:
        return line
    cut = line.rfind(" ", 0, limit)
    return line[:cut if cut > 0 else limit].rstrip(" ,;:") + " …"


def to_html(report: Report, *, verbose: bool = False) -> str:
    """The text report as HTML with inline colours (for notebooks)."""
    import io

    console = Console(file=io.StringIO(), record=True, width=120, force_jupyter=False, markup=False, emoji=False)
    console.print(build(report, verbose=verbose))
    return console.export_html(inline_styles=True)


def render(report: Report, console: Console, *, verbose: bool = False) -> None:
    """Print the report."""
    console.print(build(report, verbose=verbose))
