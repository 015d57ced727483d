"""The JSON report (the schema of ``Report.to_dict``; CI scripts read it)."""

from __future__ import annotations

import json
import math
from numbers import Integral, Real
from typing import Any, TextIO

from ..report import Report


def finite_or_null(value: Any) -> Any:
    """``value`` as strict JSON can hold it: every number that is not finite
    becomes None, wherever it is nested. A report carries numbers the model
    chose (a strength ``reg = nan``, a loss that is inf at a probe), and
    to_dict() cannot be trusted to have caught each one: one missed value
    made json refuse the whole document. numpy's scalars and arrays become
    Python's (np.float32 is not a float, and json would refuse it too)."""
    if isinstance(value, dict):
        # (json takes numbers as keys too, and refuses a nan one as it does a value)
        return {finite_or_null(k) if isinstance(k, Real) else k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    if isinstance(value, (str, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):  # a numpy scalar or array
        return finite_or_null(value.tolist())
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def _dumps(document: Any) -> str:
    # allow_nan=False stays: a non-finite number that got past finite_or_null
    # is a bug to hear about, not a NaN to hand a strict reader.
    return json.dumps(finite_or_null(document), indent=2, allow_nan=False)


def dumps(report: Report) -> str:
    """The report as a JSON document (strict JSON: a number that is not
    finite is null)."""
    return _dumps(report.to_dict())


def render(report, stream: TextIO, *, config: dict | None = None) -> None:
    """Write the report to ``stream``, newline-terminated; ``config``: what a
    configuration file supplied (config.Origin.to_dict()), None for none."""
    stream.write(_dumps({**report.to_dict(), "config": config}) + "\n")
    stream.flush()


# error (the model could not be checked) outranks fail, fail outranks warn.
_RANK = {"pass": 0, "warn": 1, "fail": 2, "error": 3}


def render_many(results, stream: TextIO, *, config: dict | None = None) -> None:
    """Several models: {"verdict": the worst, "config": as for ``render``,
    "models": [each report, or its error]}."""
    worst = max((r.verdict for r in results), key=_RANK.__getitem__, default="pass")
    document = {"verdict": worst, "config": config, "models": [r.to_dict() for r in results]}
    stream.write(_dumps(document) + "\n")
    stream.flush()
