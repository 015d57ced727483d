"""gradcheck-cli: check hand-written numpy gradients against finite differences.

    >>> from gradcheck_cli import check
    >>> report = check("sample_models/softmax.py")
    >>> report.verdict
    'pass'

Names are imported on first use, so that the command line's ``--help`` does
not pay for numpy and rich.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # (what a type checker sees; at run time each name is imported on first use)
    from .assertions import assert_gradients
    from .derivatives import check_derivatives
    from .errors import (CheckTimeout, ConfigError, GradcheckError, Interrupted, MethodError, ModelError,
                         NondeterminismError, OutputError, ParamsModifiedError, UserCodeError)
    from .layers import Layer, check_layer, check_layers, layer
    from .model import Model, load_model
    from .pipeline import Progress, check
    from .report import BlockResult, DimResult, Move, Regularization, Report
    from .sanity_checks import SanityReport, sanity
    from .settings import Settings, Thresholds
    from .startpoint import StartPoint
    from .sweeps import SweepReport, sweep
    from .taylors import TaylorReport, taylor

# public name -> module that defines it
_EXPORTS = {
    "check": "pipeline",
    "Progress": "pipeline",
    "sweep": "sweeps",
    "taylor": "taylors",
    "assert_gradients": "assertions",
    "check_layer": "layers",
    "check_layers": "layers",
    "check_derivatives": "derivatives",
    "layer": "layers",
    "Layer": "layers",
    "load_model": "model",
    "Model": "model",
    "Report": "report",
    "BlockResult": "report",
    "DimResult": "report",
    "Move": "report",
    "Regularization": "report",
    "StartPoint": "startpoint",
    "SweepReport": "sweeps",
    "TaylorReport": "taylors",
    "sanity": "sanity_checks",
    "SanityReport": "sanity_checks",
    "Settings": "settings",
    "Thresholds": "settings",
    "GradcheckError": "errors",
    "ModelError": "errors",
    "UserCodeError": "errors",
    "MethodError": "errors",
    "NondeterminismError": "errors",
    "ParamsModifiedError": "errors",
    "ConfigError": "errors",
    # (what check() raises besides a ModelError: each carries the report of what finished)
    "CheckTimeout": "errors",
    "Interrupted": "errors",
    "OutputError": "errors",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """The package, whose ``sanity`` stays the function. Importing a
    submodule sets the package's attribute of its name to the module, after
    the module ran, and ``gradcheck_cli.sanity`` is also sanity()'s old
    module (kept for imports): without this, ``from gradcheck_cli import
    sanity`` gave the function or the module by what was imported before."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "sanity" and isinstance(value, types.ModuleType):
            value = value.sanity
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
