"""Where the sanity gate lived before release 4: it is
``gradcheck_cli.sanity_checks`` now, so that ``gradcheck_cli.sanity`` can
be the function (``from gradcheck_cli import sanity``).

Importing this module keeps working (``from gradcheck_cli.sanity import
sanity, SanityReport``), but it does not take the package's name: an
import binds a submodule to the package's attribute of its name, which
the package turns back into the function (``gradcheck_cli._Package``).
So ``import gradcheck_cli.sanity as old`` gives the function too, and the
function carries the names this module has, for code that reads them
from it (``old.SanityReport``).
"""

from __future__ import annotations

from .sanity_checks import SKIP, SanityCheck, SanityReport, sanity

__all__ = ["SKIP", "SanityCheck", "SanityReport", "sanity"]

for _name in __all__:
    if _name != "sanity":
        setattr(sanity, _name, globals()[_name])
sanity.sanity = sanity  # type: ignore[attr-defined]  (old.sanity, as `from gradcheck_cli.sanity import sanity` reads)
del _name
