"""The JSON report (the schema of ``Report.to_dict``; CI scripts read it)."""

from __future__ import annotations

import json
from typing import TextIO

from ..report import Report


def dumps(report: Report) -> str:
    """The report as a JSON document (strict JSON: no NaN or Infinity)."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False)


def render(report: Report, stream: TextIO) -> None:
    """Write the report to ``stream``, newline-terminated."""
    stream.write(dumps(report) + "\n")
    stream.flush()
