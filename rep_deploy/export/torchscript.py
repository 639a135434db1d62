"""The one place that calls PyTorch's ONNX exporter.

The TorchScript exporter (``dynamo=False``) is used because the dynamo exporter needs onnxscript,
which cannot share an environment with TensorFlow 2.16 / LCE (ml-dtypes pins; see docs/design.md, "Dependencies"). It is
deprecated but works in torch 2.13; switching exporters means changing this module only.
Custom ops reach the graph through ``symbolic`` methods of the autograd functions in ``rep_deploy.nn``.
"""
from __future__ import annotations

import io
import warnings

import onnx
import torch
from torch import nn

from rep_deploy import ops

__all__ = ["trace_to_onnx", "INPUT_NAME", "OUTPUT_NAME"]

INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def trace_to_onnx(model: nn.Module, example: torch.Tensor, *, dynamic_batch: bool = True) -> onnx.ModelProto:
    """Trace ``model`` on ``example`` into an ONNX model (custom ops still carry float weights)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter warns about its own deprecation and about custom-op shape
        # inference on every call; both are expected here.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (example,), buf, dynamo=False, opset_version=ops.ONNX_OPSET,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None,
            custom_opsets={ops.DOMAIN: ops.VERSION}, do_constant_folding=True,
        )
    return onnx.load_from_string(buf.getvalue())
