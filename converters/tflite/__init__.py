"""ONNX (rep-deploy's op set) -> TensorFlow -> Larq Compute Engine -> verified ``.tflite``.

Importing this package loads neither TensorFlow nor LCE; :func:`convert_to_tflite` and
:class:`LceRunner` do, on first use (they are the optional ``[tflite]`` extra).

    from rep_deploy.converters.tflite import convert_to_tflite
    result = convert_to_tflite("out/demo/model.onnx", "out/demo/model.tflite", target="aarch64")
"""
from __future__ import annotations

from ._tf import TFLiteDependencyError
from .context import ConversionError
from .convert import TARGETS, ConversionResult, TFLiteVerificationError, convert_to_tflite, report_path_for
from .flatbuffer import inspect_tflite
from .interpreter import LceRunner

__all__ = ["convert_to_tflite", "ConversionResult", "ConversionError", "TFLiteDependencyError",
           "TFLiteVerificationError", "TARGETS", "LceRunner", "inspect_tflite", "report_path_for"]
