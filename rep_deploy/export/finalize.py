"""Turn a traced, pass-processed graph into the file rep-deploy ships.

Attaches the function bodies of the custom ops the graph uses, pins the IR version ONNX Runtime 1.31
accepts, records metadata, runs shape inference and the full ONNX checker.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import onnx

from rep_deploy import ops

__all__ = ["finalize", "op_histogram", "read_metadata", "METADATA_KEY"]

METADATA_KEY = "rep_deploy"


def op_histogram(model: onnx.ModelProto) -> dict[str, int]:
    """``{"domain::Op" or "Op": count}`` over the main graph."""
    c = Counter((f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx") else n.op_type)
                for n in model.graph.node)
    return dict(sorted(c.items()))


def finalize(model: onnx.ModelProto, metadata: dict[str, Any]) -> onnx.ModelProto:
    """Functions, opsets, IR version, metadata, shapes; raises onnx's checker error if invalid."""
    used = {n.op_type for n in model.graph.node if n.domain == ops.DOMAIN}
    del model.functions[:]
    if used:
        model.functions.extend(ops.function_protos(used))
    del model.opset_import[:]
    model.opset_import.extend(ops.opset_imports() if used else [onnx.helper.make_opsetid("", ops.ONNX_OPSET)])
    model.ir_version = ops.IR_VERSION
    model.producer_name = "rep-deploy"
    model.producer_version = str(metadata.get("rep_deploy_version", ""))
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, {METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    del model.graph.value_info[:]
    model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def read_metadata(model: onnx.ModelProto) -> dict[str, Any]:
    """The metadata :func:`finalize` recorded ({} for files rep-deploy did not write)."""
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            return json.loads(p.value)
    return {}
