"""Several models of one file checked in one call, as the command line
checks them: a checks file's layers (``check_layers``), a file's
derivatives (``check_derivatives``). One report per model, by name, in
the file's order; one ``timeout`` for the whole call, as ``--timeout``
bounds a run; ``save_params`` only where there is one model to save."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Sequence

from .errors import CheckTimeout

if TYPE_CHECKING:
    from .report import Report


def check_each(path: str, names: Sequence[str], options: dict[str, Any], what: str) -> dict[str, Report]:
    """``check(f"{path}:{name}", **options)`` for each of ``names``
    (``options`` already handed on by the public function the user called;
    ``what`` names the models: "layers", "derivatives").
    The first unusable model ends the call with check()'s error."""
    from .pipeline import check

    options = dict(options)
    if options.get("save_params") is not None and len(names) > 1:
        raise ValueError(f"save_params writes one model's parameters; {path} defines {len(names)} {what} "
                         f"({', '.join(names)}): check one as '{path}:{names[0]}'")
    timeout = options.pop("timeout", None)
    ends = None if timeout is None else time.monotonic() + timeout
    reports: dict[str, Report] = {}
    for name in names:
        if ends is not None:
            left = ends - time.monotonic()
            if left <= 0:
                raise CheckTimeout(f"{path}: timed out after {timeout:g} s; not checked: "
                                   f"{', '.join(n for n in names if n not in reports)}")
            options["timeout"] = left
        reports[name] = check(f"{path}:{name}", **options)
    return reports
