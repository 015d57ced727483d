"""Where the sanity gate lived before release 4: it is
``gradcheck_cli.sanity_checks`` now, so that ``gradcheck_cli.sanity`` can
be the function (``from gradcheck_cli import sanity``).

A package's submodule and an attribute of the same name cannot both be
had: importing a submodule sets the package's attribute to the module. So
this module, which keeps ``import gradcheck_cli.sanity`` and ``from
gradcheck_cli.sanity import sanity, SanityReport`` working, is callable as
the function too: after such an import, ``gradcheck_cli.sanity(model)``
still runs the gate.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .sanity_checks import SKIP, SanityCheck, SanityReport, sanity

__all__ = ["SKIP", "SanityCheck", "SanityReport", "sanity"]
__wrapped__ = sanity  # (inspect.signature(gradcheck_cli.sanity) is the function's, whichever it is)


class _Callable(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # (pytest: the user's call, not this frame)
        return sanity(*args, **kwargs)


sys.modules[__name__].__class__ = _Callable
