"""The JSON report (the schema of ``Report.to_dict``; CI scripts read it)."""

from __future__ import annotations

import json
from typing import TextIO

from ..report import Report


def dumps(report: Report) -> str:
    """The report as a JSON document (strict JSON: no NaN or Infinity)."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False)


def render(report, stream: TextIO) -> None:
    """Write the report (or a --reg split) to ``stream``, newline-terminated."""
    stream.write(dumps(report) + "\n")
    stream.flush()


# error (the model could not be checked) outranks fail, fail outranks warn.
_RANK = {"pass": 0, "warn": 1, "fail": 2, "error": 3}


def render_many(results, stream: TextIO) -> None:
    """Several models: {"verdict": the worst, "models": [each report, or its error]}."""
    worst = max((r.verdict for r in results), key=_RANK.__getitem__, default="pass")
    document = {"verdict": worst, "models": [r.to_dict() for r in results]}
    stream.write(json.dumps(document, indent=2, allow_nan=False) + "\n")
    stream.flush()
