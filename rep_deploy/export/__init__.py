"""Export: PyTorch -> ONNX with rep-deploy custom ops (see :func:`export_model`)."""
from .finalize import read_metadata
from .main import ExportError, ExportOptions, ExportResult, export_model, ideal_size_bytes

__all__ = ["export_model", "ExportOptions", "ExportResult", "ExportError", "ideal_size_bytes",
           "read_metadata"]
