"""Fold the learnable bias in front of a sign into the binarization threshold.

``BinaryConvBlock(Add(x, b), ...)`` with threshold 0 binarizes ``x + b >= 0``, which is exactly
``x >= -b`` in IEEE float (a float sum rounds to 0 only when it is exactly 0, given subnormals), so it
becomes ``BinaryConvBlock(x, ..., threshold=-b)`` and the Add (a pass over the feature map) goes.

Checks: b constant and per-channel; every reader of the Add is a BinaryConvBlock taking it as X with
an all-zero threshold; the Add's output is not a graph output.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from ._graph import channel_vector, const, is_graph_output, is_op

NAME = "fold_input_bias"


def apply(graph: gs.Graph) -> int:
    fired = 0
    for add in list(graph.nodes):
        if not is_op(add, "Add") or not add.outputs or is_graph_output(graph, add.outputs[0]):
            continue
        out = add.outputs[0]
        readers = list(out.outputs)
        if not readers or not all(is_op(r, "BinaryConvBlock", custom=True) and r.inputs[0] is out
                                  and out not in r.inputs[1:] for r in readers):
            continue
        channels = out.shape[1] if out.shape is not None and len(out.shape) == 4 else None
        if not isinstance(channels, int):
            continue
        for x_idx in (0, 1):
            b = channel_vector(const(add.inputs[1 - x_idx]), channels)
            if b is not None and const(add.inputs[x_idx]) is None:
                break
        else:
            continue
        thresholds = [const(r.inputs[2]) for r in readers]
        if any(t is None or np.any(t != 0) for t in thresholds):
            continue
        x = add.inputs[x_idx]
        threshold = gs.Constant(f"{add.name}_threshold", (-b).astype(np.float32))
        for r in readers:
            r.inputs[0] = x
            r.inputs[2] = threshold
        add.outputs.clear()
        fired += 1
    return fired
