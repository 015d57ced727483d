"""The terminal report: a rich table per model, one verdict line.

Functions here build renderables from a Report and never compute: every
number shown is a field of the Report. ``render`` is the one place that
prints. Colour comes from rich, which drops it when stdout is not a
terminal and when NO_COLOR is set.

Everything is laid out for the width it is printed at (``Laid``), never
cut: a table keeps whole the cells a reader judges by (block, checked,
max rel err, worst at, grade), and what does not fit moves. The summary
table drops its shape column, then its kinks column (the kink lines under
it count them), then stacks analytic over numeric in one column, then
moves the two values to a line per block under the table, then splits its
headers and the checked cells over two lines, and last gives each block a
few wrapped lines of its own (a block name too long for any table). Text
lines wrap at words with a hanging indent. No line ends in a space, and
no cell ends in an ellipsis.
"""

from __future__ import annotations

import math
import os
import re
from collections import deque
from typing import Callable, Iterable, Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.rule import Rule
from rich.segment import Segment
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

# Where the text report is read: the narrowest width laid out (a narrower
# console gets this width's layout), the piped default, and what the
# report says lists every value (the command line's switch; the pytest
# fixture and assert_gradients pass their own).
MIN_WIDTH = 20
PIPED_WIDTH = 80
EVERY_VALUE = "-v shows every value"
GAP = 3  # between two table columns: a blank, the (blank) divider, a blank


# ---------------------------------------------------------------- layout


def _width(text: str | Text) -> int:
    """Cells the widest line of ``text`` takes."""
    plain = text.plain if isinstance(text, Text) else text
    return max((cell_len(line) for line in plain.split("\n")), default=0)


def _pieces(plain: str, start: int, end: int, sep: str) -> list[tuple[int, int]]:
    """The spans of ``plain[start:end]`` between separators (``" "``: any run of blanks)."""
    pattern = re.compile(r" +" if sep == " " else re.escape(sep))
    spans, position = [], start
    for match in pattern.finditer(plain, start, end):
        if match.start() > position:
            spans.append((position, match.start()))
        position = match.end()
    if position < end:
        spans.append((position, end))
    return spans


def wrap(text: Text | str, width: int, *, indent: int = 2, sep: str = " ") -> list[Text]:
    """``text`` in lines of at most ``width`` cells, broken between pieces
    (``sep``: words, or `` · ``-separated fields, which break at their own
    words only when one is wider than a line); a word wider than a line is
    folded, never cut. Lines after the first are indented ``indent`` more
    than the text's own leading blanks. No line ends in a blank."""
    if isinstance(text, str):
        text = Text(text)
    if "\n" in text.plain:
        return [line for part in text.split("\n") for line in wrap(part, width, indent=indent, sep=sep)]
    text = text.copy()
    text.rstrip()
    plain = text.plain
    cum = [0]
    for char in plain:
        cum.append(cum[-1] + cell_len(char))
    width = max(width, MIN_WIDTH)
    if cum[-1] <= width:
        return [_breaking(text)]
    lead = len(plain) - len(plain.lstrip(" "))
    hang = lead + indent if width - lead - indent >= MIN_WIDTH // 2 else 0
    queue = deque(_pieces(plain, lead, len(plain), sep))
    lines: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    while queue:
        start, end = queue.popleft()
        prefix = hang if lines else 0
        first = (0 if not lines else start) if current is None else current[0]
        if prefix + cum[end] - cum[first] <= width:
            current = (first, end)
            continue
        fresh = hang if (lines or current is not None) else 0
        if sep != " " and " " in plain[start:end].strip() and fresh + cum[end] - cum[start] > width:
            # A field wider than a line: its words, filling this line first.
            queue.extendleft(reversed(_pieces(plain, start, end, " ")))
            continue
        if current is not None:
            lines.append(current)
            current = None
            queue.appendleft((start, end))
            continue
        # A word wider than a whole line: folded where the line ends.
        cut = start + 1
        while cut < end and prefix + cum[cut + 1] - cum[first] <= width:
            cut += 1
        lines.append((first, cut))
        queue.appendleft((cut, end))
    if current is not None:
        lines.append(current)
    out = []
    for number, (start, end) in enumerate(lines):
        line = text[start:end]
        if number:
            line = Text(" " * hang) + line
        line.rstrip()
        out.append(_breaking(line))
    return out


NBSP = "\u00a0"  # a blank no line breaks at: "111 evaluations", "numeric 0.1" (printed as a blank)


def _breaking(line: Text) -> Text:
    if NBSP in line.plain:
        line.plain = line.plain.replace(NBSP, " ")
    return line


def _rstripped(line: list[Segment]) -> list[Segment]:
    """A rendered line without the blanks rich pads it with."""
    line = list(line)
    while line and not line[-1].control and not line[-1].text.rstrip(" "):
        line.pop()
    if line and not line[-1].control:
        last = line[-1]
        line[-1] = Segment(last.text.rstrip(" "), last.style, last.control)
    return line


class Laid:
    """A renderable laid out for the width it is printed at: ``lay(width)``
    gives its parts, a Text part is wrapped (hanging indent), and no line
    ends in a blank. A report printed in a notebook, a console of any
    width or an assertion message lays itself out the same way."""

    def __init__(self, lay: Callable[[int], Iterable[RenderableType]]):
        self.lay = lay

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(options.max_width, MIN_WIDTH)
        options = options.update(width=width)
        for part in self.lay(width):
            if isinstance(part, _Fields):
                parts = wrap(part.text, width, sep=" · ")
            else:
                parts = wrap(part, width) if isinstance(part, Text) else [part]
            for piece in parts:
                for line in console.render_lines(piece, options, pad=False):
                    yield from _rstripped(line)
                    yield Segment.line()


def laid(parts: Sequence[RenderableType]) -> Laid:
    """Lines (and other renderables) wrapped at the width they print at."""
    return Laid(lambda width: parts)


def rule(title: str) -> Laid:
    """A rule headed by ``title`` (a model's name, before its report): the
    title above a plain rule when it does not fit beside one (rich would
    cut it)."""
    def lay(width: int) -> list[RenderableType]:
        if cell_len(title) + 6 <= width:
            return [Rule(Text(title), align="left")]
        return [*wrap(Text(title, style="bold"), width, indent=0), Rule()]

    return Laid(lay)


class _Column:
    """One column a table may show: header, justification, and a cell per row."""

    def __init__(self, header: str, cells: list[str | Text], justify: str = "left", style: str | None = None,
                 wraps: bool = False, fit: int = 0):
        self.header, self.cells, self.justify, self.style, self.wraps = header, cells, justify, style, wraps
        self.fit = fit  # the widest its cells could be: a layout that does not hang on a round-off digit

    @property
    def width(self) -> int:
        return max([_width(self.header), self.fit] + [_width(c) for c in self.cells])


def _table_width(columns: Sequence[_Column]) -> int:
    return sum(c.width for c in columns) + GAP * (len(columns) - 1)


def _table(columns: Sequence[_Column]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column.header, justify=column.justify, style=column.style, no_wrap=not column.wraps,
                         overflow="fold")
    for row in zip(*(c.cells for c in columns)):
        table.add_row(*row)
    return table


# ---------------------------------------------------------------- cells


def _grade(grade: str) -> Text:
    return Text(grade, style=GRADE_STYLE.get(grade, ""))


VALUE_WIDTH = len(f"{-1 / 3 * 1e-10:.10g}")  # the widest a value's cell can be: -3.333333333e-11


def _value(x: float | None) -> str:
    """Raw values in full enough precision to see where two of them part."""
    return "-" if x is None else f"{x:.10g}"


def _pair(analytic: float | None, numeric: float | None) -> tuple[str, str]:
    """The two values to compare, in one format: the same decimals (or one
    exponent), so that stacked or side by side their digits line up where
    they agree. Ten significant digits of the larger; an exact 0 stays 0."""
    if analytic is None or numeric is None or not (math.isfinite(analytic) and math.isfinite(numeric)):
        return _value(analytic), _value(numeric)
    big = max(abs(analytic), abs(numeric))
    if big == 0:
        return _value(analytic), _value(numeric)
    exponent = math.floor(math.log10(big))

    def one(x: float) -> str:
        if x == 0:
            return "0"
        if -4 <= exponent < 9:
            return f"{x:.{9 - exponent}f}"
        return f"{x / 10.0 ** exponent:.9f}e{exponent:+03d}"

    return one(analytic), one(numeric)


def _error(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def _checked(block: BlockResult) -> str:
    """Coordinates checked of the block's size, and directions: "10/35 +2
    dir"; a check of directions alone (the generic point's) says only those,
    "0/35" would read as nothing checked."""
    if block.directions and not block.checked:
        return f"{len(block.directions)} dir"
    text = f"{block.checked}/{block.size}"
    if block.directions:
        text += f" +{len(block.directions)} dir"
    return text


def _shape(block: BlockResult) -> str:
    return "(" + ", ".join(map(str, block.shape)) + (",)" if len(block.shape) == 1 else ")")


def _at(name: str, dim: DimResult) -> str:
    """A value's name under the table: ``b[0]``, ``W direction 1``."""
    return f"{name}{dim.label if dim.index is not None else ' ' + dim.label}"


# ---------------------------------------------------------------- summary table


def summary_table(report: Report) -> Laid:
    """One row per parameter block, laid out for the width (see the module's docstring)."""
    return Laid(lambda width: _summary_parts(report, width))


def _summary_parts(report: Report, width: int) -> list[RenderableType]:
    blocks = report.blocks
    worst = [b.worst for b in blocks]
    name = _Column("block", [b.name for b in blocks], style="bold")
    shape = _Column("shape", [_shape(b) for b in blocks])
    checked = _Column("checked", [_checked(b) for b in blocks], "right")
    error = _Column("max rel err", [_error(b.max_rel_error) for b in blocks], "right")
    # Which layout fits is decided on the widest each cell could be, not on
    # the values this machine computed: a value one digit longer elsewhere
    # (which value is a block's worst, "-0.0646619092" for "-0.06466190923")
    # must not lay the report out differently on another CPU.
    labels = max((len(d.label) for b in blocks for d in b.dims + b.directions), default=0)
    at = _Column("worst at", [w.label if w else "-" for w in worst], fit=labels)
    pairs = [_pair(w.analytic, w.numeric) if w else ("-", "-") for w in worst]
    analytic = _Column("analytic", [a for a, _ in pairs], "right", fit=VALUE_WIDTH)
    numeric = _Column("numeric", [n for _, n in pairs], "right", fit=VALUE_WIDTH)
    both = _Column("analytic\nnumeric", [f"{a}\n{n}" if w else "-" for (a, n), w in zip(pairs, worst)], "right",
                   fit=VALUE_WIDTH)
    kinks = _Column("kinks", [str(b.kink_crossings) if b.kink_crossings else "-" for b in blocks], "right")
    grade = _Column("grade", [_grade(b.grade) for b in blocks])
    two_lines = _Column("checked", [_checked(b).replace(" +", "\n+") for b in blocks], "right")
    short_error = _Column("max rel\nerr", error.cells, "right")
    in_table = [
        [name, shape, checked, error, at, analytic, numeric, kinks, grade],
        [name, checked, error, at, analytic, numeric, kinks, grade],
        [name, checked, error, at, analytic, numeric, grade],
        [name, checked, error, at, both, grade],
    ]
    for columns in in_table:
        if _table_width(columns) <= width:
            return [_table(columns)]
    for columns in ([name, checked, error, at, grade], [name, two_lines, short_error, at, grade]):
        if _table_width(columns) <= width:
            return [_table(columns), *_value_lines(report)]
    return _block_records(report)


def _value_lines(report: Report) -> list[Text]:
    """The worst values of each block, when the table has no room for them
    (not where the reasons below say them: a confirmed failure's)."""
    lines = []
    for b in report.blocks:
        if b.worst is not None and not _said_below(b):
            analytic, numeric = _pair(b.worst.analytic, b.worst.numeric)
            lines.append(Text(f"  {_at(b.name, b.worst)}: analytic{NBSP}{analytic}, numeric{NBSP}{numeric}"))
    return lines


def _said_below(block: BlockResult) -> bool:
    """The block's worst value has a reason line that gives both values."""
    worst = block.worst
    shown = [d for d in block.dims + block.directions if d.grade in _EXPLAINED and d.message][:REASONS_SHOWN]
    return any(d is worst for d in shown) and "analytic" in (worst.message or "")


def _block_records(report: Report) -> list[Text]:
    """Each block as a few lines: the layout for any width."""
    lines = []
    for block in report.blocks:
        head = Text(block.name, style="bold")
        head.append(f" {_shape(block)}: ")
        head.append_text(_grade(block.grade))
        fields = [f"checked {_checked(block)}", f"max rel err {_error(block.max_rel_error)}"]
        if block.worst is not None:
            a, n = _pair(block.worst.analytic, block.worst.numeric)
            fields += [f"worst at {block.worst.label}", f"analytic {a}", f"numeric {n}"]
        if block.kink_crossings:
            fields.append(f"{block.kink_crossings} kink crossing{'s' if block.kink_crossings != 1 else ''}")
        lines += [head, _Fields("  " + " · ".join(fields))]
    return lines


class _Fields:
    """A line of `` · ``-separated fields, wrapped between fields (``Laid``)."""

    def __init__(self, text: Text | str):
        self.text = Text(text) if isinstance(text, str) else text


# ---------------------------------------------------------------- -v tables


def dims_table(block: BlockResult) -> Laid:
    """Every checked dimension of one block (for -v), laid out for the width:
    the notes move under the table, then analytic stacks over numeric, then
    each dimension becomes a wrapped line."""
    return Laid(lambda width: _dims_parts(block, width))


_NOTE_MIN = 40  # the narrowest note column worth wrapping a note in


def _dims_parts(block: BlockResult, width: int) -> list[RenderableType]:
    dims = block.dims + block.directions
    title = Text(block.name, style="bold")
    at = _Column("at", [d.label for d in dims])
    pairs = [_pair(d.analytic, d.numeric) for d in dims]
    analytic = _Column("analytic", [a for a, _ in pairs], "right", fit=VALUE_WIDTH)
    numeric = _Column("numeric", [n for _, n in pairs], "right", fit=VALUE_WIDTH)
    both = _Column("analytic\nnumeric", [f"{a}\n{n}" for a, n in pairs], "right", fit=VALUE_WIDTH)
    error = _Column("rel err", [_error(d.rel_error) for d in dims], "right")
    step = _Column("h", [f"{d.h:.0e}" for d in dims], "right")
    grade = _Column("grade", [_grade(d.grade) for d in dims])
    notes = [_note(d) for d in dims]
    fixed = [at, analytic, numeric, error, step, grade]
    if any(notes):
        note = _Column("note", notes, wraps=True)
        room = width - _table_width(fixed) - GAP
        if room >= min(note.width, _NOTE_MIN):
            return [title, _table(fixed + [note])]
    below = [Text(f"  {d.label}: {n}") for d, n in zip(dims, notes) if n]
    for columns in (fixed, [at, both, error, step, grade]):
        if _table_width(columns) <= width:
            return [title, _table(columns), *below]
    records = []
    for dim, text in zip(dims, notes):
        line = Text(f"  {dim.label}: ")
        line.append_text(_grade(dim.grade))
        a, n = _pair(dim.analytic, dim.numeric)
        fields = [f"analytic {a}", f"numeric {n}",
                  f"rel err {_error(dim.rel_error)}", f"h {dim.h:.0e}"] + ([text] if text else [])
        line.append(" · " + " · ".join(fields))
        records.append(_Fields(line))
    return [title, *records]


def _note(dim: DimResult) -> str:
    parts = []
    if dim.kink is not None:
        parts.append(("winner flip " if dim.kink_harmless else "kink ") + dim.kink.describe())
    elif dim.kink_untracked:
        parts.append("kink (found numerically; not seen by tracking)")
    if dim.message:
        parts.append(dim.message)
    return "; ".join(parts)


# ---------------------------------------------------------------- lines under a table


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
# ... and in all: a Jacobian checked row by row has a block per row, each
# failing in the same column; the rest is counted in one line.
REASONS_SHOWN_IN_ALL = 6
_EXPLAINED = (FAIL, WARN, UNVERIFIED, KINK)


def reason_lines(report: Report, *, every_value: str = EVERY_VALUE) -> list[Text]:
    """Why each failing, warning or unverifiable value got its grade: one
    line each (the exception a loss raised, the evidence of a confirmed
    disagreement, what limits verification), REASONS_SHOWN of a block and
    REASONS_SHOWN_IN_ALL in all. ``every_value`` says what shows the rest."""
    lines = []
    room = REASONS_SHOWN_IN_ALL
    unshown: list[tuple[str, int]] = []  # (blocks with reasons beyond the room: named and counted)
    for block in report.blocks:
        explained = [d for d in block.dims + block.directions if d.grade in _EXPLAINED and d.message]
        if not explained:
            continue
        if room <= 0:
            unshown.append((block.name, len(explained)))
            continue
        shown = explained[:min(REASONS_SHOWN, room)]
        room -= len(shown)
        for dim in shown:
            line = Text(f"  {_at(block.name, dim)}: ")
            line.append(dim.grade, style=GRADE_STYLE[dim.grade])
            line.append(f": {dim.message}")
            lines.append(line)
        if len(explained) > len(shown):
            lines.append(Text(f"  {block.name}: {len(explained) - len(shown)} more ({every_value})", style="dim"))
    if unshown:
        names = ", ".join(name for name, _ in unshown[:REASONS_SHOWN])
        more = f" and {len(unshown) - REASONS_SHOWN} more blocks" if len(unshown) > REASONS_SHOWN else ""
        lines.append(Text(f"  {sum(n for _, n in unshown)} more in {names}{more} ({every_value})", style="dim"))
    return lines


def diagnosis_lines(report: Report) -> list[Text]:
    """What each failing block's disagreement looks like (a hint, never the verdict)."""
    return [Text(f"  hint: {b.name}: {b.diagnosis.text}", style="yellow") for b in report.blocks
            if b.diagnosis is not None]


def verdict_line(report: Report) -> Text:
    """PASS / WARN / FAIL (PARTIAL for a stopped run) with counts,
    evaluations and time."""
    counts: dict[str, int] = {}
    checks = report.checks()
    for check in checks:
        for block in check.blocks:
            counts[block.grade] = counts.get(block.grade, 0) + 1
    detail = ", ".join(f"{n}{NBSP}{g}"
                       for g, n in sorted(counts.items(), key=lambda kv: list(GRADE_STYLE).index(kv[0])))
    text = Text()
    # A stopped run has one headline, PARTIAL, with why it stopped: not a
    # verdict of what finished and a second line overruling it.
    if report.stopped:
        text.append("PARTIAL", style="bold red")
    else:
        text.append(report.verdict.upper(), style=GRADE_STYLE[report.verdict])
    several = f" ×{NBSP}{len(checks)}{NBSP}checks" if len(checks) > 1 else ""
    # (a derivative reduced to the gradient check says which: its blocks are that matrix's)
    what = "" if report.derivative == "gradient" else f" ({report.derivative.replace(' ', NBSP)})"
    text.append(f"  {report.model}{what}: {len(report.blocks)}{NBSP}block{'s' if len(report.blocks) != 1 else ''}{several} "
                f"({detail})")
    text.append(f" · {report.evaluations}{NBSP}evaluations ·{NBSP}{report.seconds:.2f}{NBSP}s")
    if report.kink_crossings:
        text.append(f" · {report.kink_crossings}{NBSP}kink{NBSP}crossing{'s' if report.kink_crossings != 1 else ''}")
    if report.stopped:
        text.append(f" · {report.stopped}", style="bold red")
    return text


def _section(report: Report, verbose: bool, every_value: str) -> list[RenderableType]:
    """One check's table and what explains it."""
    parts: list[RenderableType] = [summary_table(report)]
    if verbose:
        parts += [dims_table(block) for block in report.blocks]
    else:
        parts += reason_lines(report, every_value=every_value)
    parts += diagnosis_lines(report)
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
        why = ("as asked (--reg)" if reg.explicit else f"it is over half in {', '.join(reg.dominated)}"
               if reg.dominated else "the check fails: to say which part is wrong")
        line.append(f"; {why}, the data loss alone ({reg.name} = 0) is checked below")
    return [line]


def _lay_report(report: Report, verbose: bool, every_value: str, width: int) -> list[RenderableType]:
    parts = _section(report, verbose, every_value)
    parts += start_point_lines(report)
    if report.generic is not None:
        parts.append(_heading("at the generic point", report.generic))
        parts += _section(report.generic, verbose, every_value)
    parts += regularization_lines(report)
    reg = report.regularization
    if reg is not None and reg.data_only is not None:
        parts.append(_heading(f"the data loss alone ({reg.name} = 0, at the {reg.at})", reg.data_only))
        parts += _section(reg.data_only, verbose, every_value)
    parts += [Text(f"  hint: {hint}", style="yellow") for hint in report.hints]
    return parts + _verdict_lines(report, width)


def _verdict_lines(report: Report, width: int) -> list[Text]:
    verdict = verdict_line(report)
    # (continued under the model's name, after the headline)
    return wrap(verdict, width, indent=len(verdict.plain) - len(verdict.plain.split("  ", 1)[-1]))


def headline(report: Report) -> Laid:
    """The verdict line alone, laid out as under a report (-q)."""
    return Laid(lambda width: _verdict_lines(report, width))


def build(report: Report, *, verbose: bool = False, every_value: str = EVERY_VALUE) -> RenderableType:
    """Everything the text report shows, as one renderable laid out for the
    width it prints at: the check at the start point, then any at the
    generic point and of the data loss alone, then one verdict for all.
    ``every_value`` says what lists every value (where the report is read:
    the command line's -v, the pytest fixture's ``verbose=True``)."""
    return Laid(lambda width: _lay_report(report, verbose, every_value, width))


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


# ---------------------------------------------------------------- width


def _terminal_columns(stream) -> int | None:
    """The width of the terminal ``stream`` writes to, if it is one."""
    try:
        if stream is None or not stream.isatty():
            return None
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None
    return columns or None


def report_width(file=None) -> int:
    """How wide the report is drawn: the terminal's width when stdout
    (``file``) is one; piped, the width of the terminal on stderr (the
    one the person piping is reading), else ``COLUMNS`` when it is a
    number, else 80. ``TERM=dumb`` and ``FORCE_COLOR`` change colour,
    not this."""
    import sys

    for columns in (_terminal_columns(sys.stdout if file is None else file), _terminal_columns(sys.stderr)):
        if columns:
            return columns
    variable = os.environ.get("COLUMNS", "").strip()
    if variable.isdigit() and int(variable) > 0:
        return int(variable)
    return PIPED_WIDTH


def make_console(file=None) -> Console:
    """A console for the report, ``report_width`` columns wide; colour as
    rich decides it (a terminal, FORCE_COLOR, NO_COLOR, TERM=dumb).

    Every string printed is text, never markup or emoji codes: block names,
    paths and messages come from the user (a block named ``"[/]"``)."""
    return Console(file=file, width=report_width(file), soft_wrap=False, highlight=False, markup=False, emoji=False)


# ---------------------------------------------------------------- several models


def summary(results) -> Laid:
    """One row per model, after a run over several: laid out for the width
    (the evaluations and time columns go first, then each model becomes
    its own wrapped lines)."""
    return Laid(lambda width: _summary_of(results, width))


_BLOCKS_MIN = 20  # the narrowest blocks column worth wrapping in


def _summary_of(results, width: int) -> list[RenderableType]:
    rows = []
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
            rows.append((result.model, _grade(result.verdict), blocks, str(result.evaluations),
                         f"{result.seconds:.2f} s"))
        else:
            rows.append((result.model, Text("error", style="bold red"), _first_words(result.message), "-", "-"))
    title = Text("summary", style="bold")
    model = _Column("model", [r[0] for r in rows])
    verdict = _Column("verdict", [r[1] for r in rows])
    blocks = _Column("blocks", [r[2] for r in rows], wraps=True)
    evaluations = _Column("evaluations", [r[3] for r in rows], "right")
    time = _Column("time", [r[4] for r in rows], "right")
    totals_ = totals(results)
    for columns in ([model, verdict, blocks, evaluations, time], [model, verdict, blocks]):
        fixed = _table_width([c for c in columns if c is not blocks]) + GAP
        if fixed + min(blocks.width, _BLOCKS_MIN) <= width:
            return [title, _table(columns), totals_]
    records: list[RenderableType] = [title]
    for name, grade, what, count, seconds in rows:
        head = Text(f"{name}: ", style="bold")
        head.append_text(grade)
        records += [head, _Fields("  " + " · ".join([what] + ([f"{count} evaluations", seconds]
                                                              if count != "-" else [])))]
    return records + [totals_]


def totals(results) -> Text:
    """A run over several models, counted: "3 models: 1 pass, 1 fail, 1 error"."""
    verdicts = [r.verdict for r in results]
    return Text(f"{len(results)} models: " + ", ".join(
        f"{verdicts.count(v)} {v}" for v in ("pass", "warn", "fail", "error") if v in verdicts), style="bold")


def _first_words(message: str, limit: int = 100) -> str:
    """A message's first sentence (the whole message is said above the
    summary), ending at a word: never mid-word, never with an ellipsis."""
    line = message.splitlines()[0] if message else ""
    sentence = re.split(r"(?<=\.) ", line, maxsplit=1)[0]
    if len(sentence) <= limit:
        return sentence
    cut = sentence.rfind(" ", 0, limit)
    return sentence[:cut if cut > 0 else limit].rstrip(" ,;:") + " (see above)"


# ---------------------------------------------------------------- output


def to_html(report: Report, *, verbose: bool = False, every_value: str = EVERY_VALUE) -> str:
    """The text report as HTML with inline colours (for notebooks)."""
    import io

    console = Console(file=io.StringIO(), record=True, width=120, force_jupyter=False, markup=False, emoji=False)
    console.print(build(report, verbose=verbose, every_value=every_value))
    return console.export_html(inline_styles=True)


def render(report: Report, console: Console, *, verbose: bool = False, every_value: str = EVERY_VALUE) -> None:
    """Print the report."""
    console.print(build(report, verbose=verbose, every_value=every_value))
