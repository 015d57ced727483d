"""GitHub Actions workflow commands: ::error / ::warning annotations that
point at the model file (at the gradient's definition; a layer's at the
``layer(...)`` line that declares it: model.py's ``source_line``), so a
failing check shows up on the pull request's diff.

The runner reads every line of the log for commands: a line that starts
with `::` (after blanks), or, where that is not one, the legacy `##[`
anywhere in it. A path, block name or message is the user's: in a
command it is escaped as GitHub documents (data: %25, %0D, %0A;
properties also %3A, %2C), and on a plain line it can neither end the
line nor hold `##[`. Only the constant templates here begin a line.
"""

from __future__ import annotations

import os
from typing import TextIO

from ..report import FAIL, ModelFailure, PASS, OK, Report
from . import printable


# Line ends beyond CR and LF (printable leaves these two): the runner splits
# at CR and LF only, but a log viewer or a script reading the log may not.
_LINE_ENDS = {"\u2028": "\\u2028", "\u2029": "\\u2029"}


def _visible(text: str) -> str:
    text = printable(text)
    for end, escape in _LINE_ENDS.items():
        text = text.replace(end, escape)
    return text


def _data(text: str) -> str:
    # CR and LF take GitHub's escapes before printable() sees them, so that
    # the runner gives the text back whole (a file property must name the
    # file); the other control characters stay visible escapes.
    return _visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def plain(text: str) -> str:
    """User text for a plain log line (no workflow command): on one line,
    and no legacy `##[command]` in it, whatever it holds. The escapes are
    printable()'s (``\\n``, ``\\r``), since nothing decodes a plain line."""
    return _visible(text.replace("\n", "\\n").replace("\r", "\\r")).replace("##[", "#\\x23[")


def _location(source: str | None, line: int | None) -> str:
    if not source:
        return ""
    try:
        path = os.path.relpath(source)
    except ValueError:  # another drive, on Windows
        path = source
    return f"file={_property(path)}" + (f",line={line}" if line else "")


def annotation(level: str, title: str, message: str, source: str | None = None, line: int | None = None) -> str:
    """One workflow command line."""
    location = _location(source, line)
    properties = ",".join(p for p in (location, f"title={_property(title)}") if p)
    return f"::{level} {properties}::{_data(message)}"


def lines(result: Report | ModelFailure) -> list[str]:
    """The annotations for one model, then its verdict line."""
    if isinstance(result, ModelFailure):
        return [annotation("error", f"gradcheck: {result.model} cannot be checked", result.message, result.source)]
    out = []
    for check in result.checks():  # at the start point, the generic point, the data loss alone
        out += _annotations(check)
    # What the failures together suggest (right at the start point, wrong at the generic one; which part
    # of a regularized loss): beside the annotations it explains, as the text report says it under its tables.
    out += [annotation("notice", "gradcheck: hint", hint, result.source, result.source_line) for hint in result.hints]
    headline = "PARTIAL" if result.stopped else result.verdict.upper()  # (as the text report heads a stopped run)
    blocks = f"{len(result.blocks)} block{'s' if len(result.blocks) != 1 else ''}"
    what = "" if result.derivative == "gradient" else f" ({result.derivative})"
    out.append(f"{headline}  {plain(result.model)}{what}: {blocks} · {result.evaluations} evaluations · {result.seconds:.2f} s"
               + (f" · {plain(result.stopped)}" if result.stopped else ""))
    return out


def _annotations(result: Report) -> list[str]:
    out = []
    for block in result.blocks:
        if block.grade in (PASS, OK):
            continue
        worst = block.worst
        detail = ""
        if worst is not None:
            error = f"relative error {worst.rel_error:.1e} " if worst.rel_error is not None else ""
            detail = f": {error}at {worst.label}"
            if worst.message is None or "analytic" not in worst.message:  # (a confirmation says them itself)
                detail += f", analytic {worst.analytic:.6g}, numeric {worst.numeric:.6g}"
            if worst.message:
                detail += f" ({worst.message})"
        if block.diagnosis is not None:  # (what the disagreement looks like: a hint, on a line of its own)
            detail += f"\nhint: {block.diagnosis.text}"
        level = "error" if block.grade == FAIL else "warning"
        # (a Jacobian's, a Hessian's block is that matrix, not the gradient of a block of the same name)
        what = f"gradient of {block.name}" if result.derivative == "gradient" else \
            f"{result.derivative} {block.name}"
        out.append(annotation(level, f"gradcheck: {what} {block.grade}s" if block.grade == FAIL
                              else f"gradcheck: {what} ({block.grade})",
                              f"{result.model}, block {block.name}{detail}", result.source, result.source_line))
    for warning in result.warnings:
        out.append(annotation("warning", "gradcheck", warning, result.source, result.source_line))
    return out


def render(result: Report | ModelFailure, stream: TextIO) -> None:
    stream.write("\n".join(lines(result)) + "\n")
    stream.flush()
