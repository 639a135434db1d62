"""ONNX (a rep-deploy export) -> a tf_keras model in the forms LCE's converter binarizes.

The graph is walked once in order; each node goes to its registered lowering (:mod:`.lower_custom`
for the ``rep_deploy`` ops, :mod:`.lower_standard` for the rest). The Keras model takes NHWC images
and returns what the ONNX model returns, NHWC where that is rank 4 (no TRANSPOSE in the file);
NCHW stays an ONNX-side concept, kept by :class:`.interpreter.LceRunner`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import onnx

from . import lower_custom, lower_standard  # noqa: F401  (register the lowerings)
from ._tf import load
from .context import LOWERINGS, Act, ConversionError, Context
from .onnx_graph import OnnxGraph, load_graph

__all__ = ["Lowered", "lower_to_keras", "supported_ops"]


@dataclass
class Lowered:
    keras_model: Any
    graph: OnnxGraph
    #: per binary conv of the ONNX graph: node name, TF padding, pad value, axes reversed first
    binary_convs: list[dict[str, Any]]
    #: ops the lowering added that the ONNX graph did not have (REVERSE_V2 for padding frames)
    extra_ops: dict[str, int]


def supported_ops() -> list[str]:
    return sorted(f"{d}::{op}" if d else op for d, op in LOWERINGS)


def lower_to_keras(model: onnx.ModelProto, outputs: list[str] | None = None) -> Lowered:
    """Build the Keras model (batch 1: TFLite interpreters run one image per invoke).

    Args:
        model: a rep-deploy export (or any ONNX model within the supported op set).
        outputs: ONNX value names to return instead of the graph outputs (for localizing a
            difference layer by layer); rank-4 values come back NHWC (``LceRunner`` makes them NCHW).

    Raises:
        ConversionError: an op (or an attribute of one) the converter cannot lower, named with its node.
        TFLiteDependencyError: TensorFlow / tf_keras / LCE missing.
    """
    stack = load()
    graph = load_graph(model)
    n, c, h, w = graph.input_shape
    if None in (c, h, w):
        raise ConversionError(f"input shape {graph.input_shape}: channels and image size must be fixed")
    ctx = Context(graph, stack.tf, stack.keras)
    inp = stack.keras.Input(shape=(h, w, c), batch_size=1, name="input")
    ctx.values[graph.input_name] = Act(inp)
    for node in graph.nodes:
        fn = LOWERINGS.get((node.domain if node.domain != "ai.onnx" else "", node.op_type))
        if fn is None:
            dom = f"{node.domain}::" if node.domain not in ("", "ai.onnx") else ""
            raise ConversionError(f"{dom}{node.op_type} node {node.name!r}: no TFLite lowering for this "
                                  f"op (supported: {', '.join(supported_ops())})")
        outs = fn(ctx, node)
        for name, value in zip(node.output, outs):
            ctx.values[name] = value
    results = []
    for name in outputs or graph.output_names:
        a = ctx.act(name)
        results.append(ctx.plain(a))  # rank-4 outputs stay NHWC, as TFLite users expect
    keras_model = stack.keras.Model(inp, results[0] if len(results) == 1 else results)
    return Lowered(keras_model, graph, ctx.binary_convs, dict(ctx.extra_ops))
