"""Derivatives other than a params-dict model's gradient, checked by
reduction to the gradient check (issue 27).

:mod:`.scipy_conventions`: a target in scipy.optimize's conventions
(``fun``, ``jac``, ``x0``, optionally ``args``, ``hess``, ``hessp``); its
design note says what is done and what is next.

:mod:`.hvp`: a params-dict model's ``hvp(params, v)``, the target
``FILE:hvp`` (``FILE:OBJ:hvp``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..report import Report


def check_derivatives(path: str | os.PathLike[str], **options: Any) -> dict[str, Report]:
    """Check every derivative the file at ``path`` defines, as ``gradcheck
    FILE`` does: in scipy.optimize's conventions ``jac``, ``hess`` and
    ``hessp``; for a model with ``hvp(params, v)`` (or whose model object
    has one), ``hvp`` (its gradient is :func:`~gradcheck_cli.check`'s);
    each a model of its own checked as the target ``"FILE:name"`` with
    ``options`` (:func:`~gradcheck_cli.check`'s).

    Returns the reports by derivative's name, in that order (not one
    Report: check() returns one model's; ``check("FILE:hess")`` checks
    one). A ``timeout`` bounds the whole call. Raises
    :class:`~gradcheck_cli.errors.ModelError` for a file that defines no
    derivative to check, and whatever :func:`~gradcheck_cli.check` raises
    for one (the first unusable one ends the call)."""
    from ..each import check_each
    from ..errors import ModelError
    from ..options import handed_on
    from ..pipeline import check
    from ..values import CHECK
    from . import hvp
    from .scipy_conventions import declared

    options = handed_on("check_derivatives", options, check, CHECK)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelError(f"{path}: no such file (check_derivatives() takes a model file)")
    names = declared(path) or ([hvp.HVP] if hvp.declared(path) else [])
    if not names:
        raise ModelError(f"{path} defines no derivative to check beside a gradient (fun, jac and x0 in "
                         "scipy.optimize's conventions, or a model's hvp(params, v)): check a model with check()")
    return check_each(path, names, options, "derivatives")
