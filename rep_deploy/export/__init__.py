"""Export: PyTorch -> ONNX with rep-deploy custom ops (see :func:`export_model`).

``rep_deploy.export.finalize`` (metadata, op histogram) is imported by commands that only read ONNX
files, so the torch-heavy :mod:`.main` is imported on first use of its names, not with the package.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["export_model", "ExportOptions", "ExportResult", "ExportError", "ideal_size_bytes",
           "read_metadata"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'rep_deploy.export' has no attribute {name!r}")
    module = importlib.import_module(".finalize" if name == "read_metadata" else ".main", __name__)
    return getattr(module, name)


if TYPE_CHECKING:
    from .finalize import read_metadata  # noqa: F401
    from .main import ExportError, ExportOptions, ExportResult, export_model, ideal_size_bytes  # noqa: F401
