"""Fold an inference BatchNormalization into a per-channel affine ``x * k + b``.

``BN(x) = (x - mean) / sqrt(var + eps) * gamma + beta = x * k + b`` with
``k = gamma / sqrt(var + eps)`` and ``b = beta - mean * k`` (computed in float64, stored as float32).
Legal when every BN parameter is a constant and the node is not in training mode. The affine form is
what the BinaryConv fusion absorbs, and what converters without BN handle.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from ._graph import const, is_op

NAME = "batchnorm_to_affine"


def affine_of(node: gs.Node) -> tuple[np.ndarray, np.ndarray] | None:
    """(k, b) of an inference BatchNormalization with constant parameters, else None."""
    if not is_op(node, "BatchNormalization") or node.attrs.get("training_mode", 0):
        return None
    if len(node.outputs) != 1:
        return None
    params = [const(t) for t in node.inputs[1:5]]
    if any(p is None for p in params):
        return None
    gamma, beta, mean, var = (p.astype(np.float64) for p in params)  # type: ignore[union-attr]
    k = gamma / np.sqrt(var + float(node.attrs.get("epsilon", 1e-5)))
    return k.astype(np.float32), (beta - mean * k).astype(np.float32)


def apply(graph: gs.Graph) -> int:
    fired = 0
    for node in list(graph.nodes):
        ab = affine_of(node)
        if ab is None:
            continue
        x, y = node.inputs[0], node.outputs[0]
        if x.shape is None:
            continue  # unknown rank: the broadcast shape of k and b cannot be chosen safely
        bshape = (-1,) + (1,) * max(len(x.shape) - 2, 0)
        k = gs.Constant(f"{node.name}_k", ab[0].reshape(bshape))
        b = gs.Constant(f"{node.name}_b", ab[1].reshape(bshape))
        mid = gs.Variable(f"{node.name}_scaled", dtype=x.dtype, shape=x.shape)
        node.outputs.clear()
        graph.nodes.append(gs.Node("Mul", f"{node.name}_mul", inputs=[x, k], outputs=[mid]))
        graph.nodes.append(gs.Node("Add", f"{node.name}_add", inputs=[mid, b], outputs=[y]))
        fired += 1
    return fired
