"""gradcheck-cli: check hand-written numpy gradients against finite differences.

    >>> from gradcheck_cli import check
    >>> report = check("sample_models/softmax.py")
    >>> report.verdict
    'pass'
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .check import check
from .errors import GradcheckError, MethodError, ModelError, NondeterminismError, ParamsModifiedError, UserCodeError
from .model import Model, load_model
from .report import BlockResult, DimResult, Report
from .settings import Settings, Thresholds

try:
    __version__ = version("gradcheck-cli")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "check",
    "load_model",
    "Model",
    "Report",
    "BlockResult",
    "DimResult",
    "Settings",
    "Thresholds",
    "GradcheckError",
    "ModelError",
    "UserCodeError",
    "MethodError",
    "NondeterminismError",
    "ParamsModifiedError",
    "__version__",
]
