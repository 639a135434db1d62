"""rep-deploy: take binary neural networks (RepBNNs above all) from PyTorch to edge devices.

The public surface is small and explicit; everything else is reachable through its submodule
(``rep_deploy.nn``, ``rep_deploy.ops``, ``rep_deploy.passes``, ...).
"""
from __future__ import annotations

__version__ = "0.1.0"

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
from .export import ExportError, ExportOptions, ExportResult, export_model  # noqa: E402
from .registry import ModelInfo, create_model, get_model_info, list_models  # noqa: E402
from .reptran import RepTranSpec, reptran  # noqa: E402
from .session import InferenceSession, InputError  # noqa: E402

__all__ = [
    "__version__", "create_model", "list_models", "get_model_info", "ModelInfo", "reptran",
    "RepTranSpec", "export_model", "ExportOptions", "ExportResult", "ExportError",
    "load_checkpoint", "save_checkpoint", "CheckpointError", "InferenceSession", "InputError",
]
