"""rep-deploy: take binary neural networks (RepBNNs above all) from PyTorch to edge devices.

The public surface is small and explicit; everything else is reachable through its submodule
(``rep_deploy.nn``, ``rep_deploy.ops``, ``rep_deploy.passes``, ...).

Names are imported on first use (PEP 562): ``import rep_deploy`` costs milliseconds, so commands that
need neither torch nor onnxruntime (``rep-deploy --help``, ``info``) do not pay seconds for them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "CheckpointError": "checkpoint", "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
    "ExportError": "export", "ExportOptions": "export", "ExportResult": "export",
    "export_model": "export",
    "ModelInfo": "registry", "create_model": "registry", "get_model_info": "registry",
    "list_models": "registry",
    "RepTranSpec": "reptran", "reptran": "reptran",
    "InferenceSession": "session", "InputError": "session",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: F401
    from .export import ExportError, ExportOptions, ExportResult, export_model  # noqa: F401
    from .registry import ModelInfo, create_model, get_model_info, list_models  # noqa: F401
    from .reptran import RepTranSpec, reptran  # noqa: F401
    from .session import InferenceSession, InputError  # noqa: F401
