"""An exported ONNX model as the lowering sees it: constants folded, shapes known, nodes in order.

Shapes come from running the model once (ONNX Runtime, the ops' function bodies) on a zero image with
every intermediate value exposed as an output: ONNX shape inference does not see through the custom
ops, and the lowering needs every spatial size to pick padding geometry.

The TorchScript exporter leaves small shape computations in the graph (``ConstantOfShape -> Concat ->
Reshape -> Transpose -> Cast`` feeding a ``Pad``'s pads, for ResNet-20's channel-padding shortcut).
Their inputs are all constants, so they are evaluated here once, with ``onnx.reference`` (the ONNX
spec's own evaluator), and every lowering sees plain numpy constants instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["OnnxGraph", "load_graph"]


@dataclass
class OnnxGraph:
    """Nodes to lower (constant ones removed), constants by name, and NCHW shapes by value name."""

    nodes: list[onnx.NodeProto]
    constants: dict[str, np.ndarray]
    shapes: dict[str, tuple[int | None, ...]]
    input_name: str
    input_shape: tuple[int | None, ...]
    output_names: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)
    folded: int = 0

    def attrs(self, node: onnx.NodeProto) -> dict[str, Any]:
        return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _shape(vi: onnx.ValueInfoProto) -> tuple[int | None, ...]:
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim)


def _evaluate(node: onnx.NodeProto, inputs: list[np.ndarray], opset: int) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    names = [f"in{i}" if n else "" for i, n in enumerate(node.input)]
    one = helper.make_node(node.op_type, names, [f"out{i}" for i in range(len(node.output))],
                           domain=node.domain, **{a.name: helper.get_attribute_value(a) for a in node.attribute})
    graph = helper.make_graph([one], "fold", [], [helper.make_tensor_value_info(f"out{i}", 0, None)
                                                  for i in range(len(node.output))],
                              initializer=[numpy_helper.from_array(v, f"in{i}")
                                           for i, v in enumerate(inputs) if node.input[i]])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return [np.asarray(v) for v in ReferenceEvaluator(model).run(None, {})]


def load_graph(model: onnx.ModelProto) -> OnnxGraph:
    """Fold constant subgraphs and collect shapes of a (shape-inferred) rep-deploy export."""
    from rep_deploy.export.finalize import read_metadata
    from rep_deploy.inspect import value_shapes

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 18)
    constants = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in constants]
    if len(inputs) != 1:
        raise ValueError(f"the model has {len(inputs)} inputs; the TFLite converter takes one image batch")
    in_shape = _shape(inputs[0])
    if any(d is None for d in in_shape[1:]):
        raise ValueError(f"input shape {in_shape}: channels and image size must be fixed")
    shapes: dict[str, tuple[int | None, ...]] = dict(value_shapes(model, (1, *in_shape[1:])))  # type: ignore[arg-type]
    shapes[inputs[0].name] = (1, *_shape(inputs[0])[1:])
    nodes, folded = [], 0
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
            folded += 1
            continue
        real = [n for n in node.input if n]
        if node.domain in ("", "ai.onnx") and real and all(n in constants for n in real):
            values = _evaluate(node, [constants.get(n) for n in node.input], opset)
            constants.update(zip(node.output, values))
            folded += 1
            continue
        nodes.append(node)
    for name, value in constants.items():
        shapes.setdefault(name, tuple(value.shape))
    return OnnxGraph(nodes, constants, shapes, inputs[0].name, _shape(inputs[0]),
                     [o.name for o in model.graph.output], read_metadata(model), folded)
