"""The JSON documents gradcheck writes (docs/json.md documents every key;
CI scripts read them).

Every document -- from ``check``, ``sweep`` and ``sanity``, for one model
or several, a model that could not be loaded, a run stopped by --timeout
or Ctrl-C, a usage or configuration error, the exit guard's when user code
ends the process -- has one top-level shape (:func:`document`)::

    {"schema_version": 2, "tool_version": "0.1.0", "verdict": ..., "config": ...,
     "models": [one entry per model: its report's to_dict(), or its error], "error": ...}

Free of the checker's imports (numpy, the report types): the exit guard
writes an error document from a process that never imported them, and a
model may have broken them by then.
"""

from __future__ import annotations

import json
import math
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Iterable, TextIO

from .._version import __version__

if TYPE_CHECKING:
    from ..report import Report

# The version of the documents' shape (docs/json.md, "Schema versions").
# Bump it with any change an existing reader could trip on: a key removed
# or renamed, a value's type or meaning changed, an object moved. Adding a
# key, or a value docs/json.md already says a key may take, is no bump
# (readers ignore keys they do not know). Say what changed in docs/json.md
# and give a migration note there.
#   1: release 0.1 -- one model's report at the top level, several as
#      {"verdict", "config", "models"}, errors as {"verdict": "error", ...}
#   2: one shape for everything: {"schema_version", "tool_version",
#      "verdict", "config", "models": [...], "error"}
SCHEMA_VERSION = 2

# error (the model could not be checked) outranks fail, fail outranks warn.
_RANK = {"pass": 0, "warn": 1, "fail": 2, "error": 3}


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


def worst(verdicts: Iterable[str | None]) -> str | None:
    """The worst of ``verdicts`` (error > fail > warn > pass); None where
    none has one (a sweep judges nothing)."""
    known = [v for v in verdicts if v in _RANK]
    return max(known, key=_RANK.__getitem__) if known else None


def document(entries: Iterable[Any] = (), *, config: dict | None = None, error: str | None = None) -> dict:
    """The one top-level shape: ``entries`` are the models' results (each
    with ``to_dict()``: a Report, a ModelFailure, a SweepReport, a
    SanityReport) or their dicts; ``config`` what a configuration file
    supplied (config.Origin.to_dict()), None for none; ``error`` a message
    for a run that failed as a whole, before or outside any model's entry
    (a usage error, the exit guard's)."""
    entries = list(entries)
    models = [entry if isinstance(entry, dict) else entry.to_dict() for entry in entries]
    verdicts = (entry.get("verdict") if isinstance(entry, dict) else getattr(entry, "verdict", None)
                for entry in entries)
    verdict = "error" if error is not None else worst(verdicts)
    return {"schema_version": SCHEMA_VERSION, "tool_version": __version__, "verdict": verdict,
            "config": config, "models": models, "error": error}


def dumps(report: "Report", *, config: dict | None = None) -> str:
    """The document for one report, as ``gradcheck check --format json``
    writes it (strict JSON: a number that is not finite is null)."""
    return _dumps(document([report], config=config))


def render(report, stream: TextIO, *, config: dict | None = None) -> None:
    """Write the document for one model's result to ``stream``,
    newline-terminated; ``config``: what a configuration file supplied
    (config.Origin.to_dict()), None for none."""
    render_many([report], stream, config=config)


def render_many(results, stream: TextIO, *, config: dict | None = None) -> None:
    """Write the document for several models' results (each a report, or
    its error), in order; ``config`` as for :func:`render`."""
    stream.write(_dumps(document(results, config=config)) + "\n")
    stream.flush()


def error_document(message: str, model: str | None = None) -> str:
    """The document for a run with nothing else to report: with ``model``,
    that model's error as its entry (the shape of report.ModelFailure);
    without, the run's ``error`` and no entries (a usage error, a process
    user code ended). Newline-terminated."""
    if model is None:
        return _dumps(document(error=message)) + "\n"
    return _dumps(document([{"verdict": "error", "model": model, "source": None, "error": message}])) + "\n"
