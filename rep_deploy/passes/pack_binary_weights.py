"""Store binary weights bit-packed: float +-1 initializers of BinaryConv-family nodes -> uint8.

One bit per weight in the layout of :mod:`rep_deploy.ops.bitpack`. A weight tensor that is not
exactly +-1 means something upstream went wrong, so it is an error naming the node, not a silent
re-binarization.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from rep_deploy.ops import BINARY_OPS, bitpack

from ._graph import const, is_op

NAME = "pack_binary_weights"


class PackError(ValueError):
    pass


def apply(graph: gs.Graph) -> int:
    fired = 0
    packed: dict[int, gs.Constant] = {}
    for node in graph.nodes:
        if not any(is_op(node, op, custom=True) for op in BINARY_OPS):
            continue
        w_t = node.inputs[1]
        if id(w_t) in packed:
            node.inputs[1] = packed[id(w_t)]
            continue
        w = const(w_t)
        if w is None:
            raise PackError(f"{node.name}: binary weights are not a constant initializer")
        if w.dtype == np.uint8:
            continue  # already packed
        if w.ndim != 4 or not np.all(np.abs(w) == 1):
            raise PackError(f"{node.name}: weights must be a 4-D tensor of +-1 before packing "
                            f"(shape {w.shape}, values {np.unique(w)[:5]})")
        packed[id(w_t)] = gs.Constant(f"{w_t.name}_packed", bitpack.pack_weights(w))
        node.inputs[1] = packed[id(w_t)]
        fired += 1
    return fired
