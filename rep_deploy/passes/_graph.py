"""Small onnx-graphsurgeon helpers the rules share: matching, constants, single-use checks."""
from __future__ import annotations

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx_graphsurgeon.logger import G_LOGGER

from rep_deploy import ops

G_LOGGER.severity = G_LOGGER.ERROR  # graphsurgeon logs INFO by default


def is_op(node: gs.Node | None, op: str, custom: bool = False) -> bool:
    """``node`` is ``op`` in the standard domain, or in ``rep_deploy`` when ``custom``.

    graphsurgeon's own matching ignores domains, so every rule checks it here.
    """
    if node is None or node.op != op:
        return False
    return node.domain == ops.DOMAIN if custom else node.domain in (None, "", "ai.onnx")


def producer(t: gs.Tensor) -> gs.Node | None:
    return t.inputs[0] if len(t.inputs) == 1 else None


def const(t: gs.Tensor) -> np.ndarray | None:
    """The value of a constant tensor (an initializer), else None."""
    return t.values if isinstance(t, gs.Constant) else None


def only_consumer(t: gs.Tensor) -> gs.Node | None:
    """The single node reading ``t``, or None when ``t`` has several readers or is a graph output."""
    return t.outputs[0] if len(t.outputs) == 1 else None


def is_graph_output(graph: gs.Graph, t: gs.Tensor) -> bool:
    return any(o is t for o in graph.outputs)


def next_reader(graph: gs.Graph, node: gs.Node) -> gs.Node | None:
    """The single reader of ``node``'s output, None when it has several or is a graph output."""
    out = node.outputs[0]
    return None if is_graph_output(graph, out) else only_consumer(out)


def channel_vector(v: np.ndarray | None, channels: int, *, allow_scalar: bool = False) -> np.ndarray | None:
    """``v`` as a float32 (C,) vector when it broadcasts per channel over an NCHW tensor, else None.

    Per channel means shape (1, C, 1, 1) or (C, 1, 1) (PRelu's slope); a 1-D (C,) constant broadcasts
    along W, not channels, and is rejected. ``allow_scalar`` also accepts one value for all channels.
    """
    if v is None:
        return None
    if allow_scalar and v.size == 1:
        return np.full(channels, v.reshape(-1)[0], np.float32)
    if v.size != channels:
        return None
    if v.ndim == 4 and v.shape[1] == channels or v.ndim == 3 and v.shape[0] == channels:
        return v.reshape(-1).astype(np.float32)
    return None


def const_operand(node: gs.Node, x: gs.Tensor) -> np.ndarray | None:
    """The constant other operand of a binary node one of whose inputs is ``x``."""
    other = [t for t in node.inputs if t is not x]
    return const(other[0]) if len(other) == 1 else None


def bypass(graph: gs.Graph, node: gs.Node) -> None:
    """Remove a one-in/one-out node by making its readers read its input instead."""
    src, dst = node.inputs[0], node.outputs[0]
    if is_graph_output(graph, dst):
        graph.outputs = [src if o is dst else o for o in graph.outputs]
        src.name, dst.name = dst.name, src.name + "_bypassed"
    for reader in list(dst.outputs):
        reader.inputs = [src if t is dst else t for t in reader.inputs]
    node.outputs.clear()


def constants_to_initializers(model: onnx.ModelProto) -> onnx.ModelProto:
    """Turn tensor-valued ``Constant`` nodes into initializers so the rules see them as constants."""
    keep = []
    for node in model.graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Constant" and node.domain == "" and "value" in attrs:
            t = onnx.TensorProto()
            t.CopyFrom(attrs["value"].t)
            t.name = node.output[0]
            model.graph.initializer.append(t)
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model
