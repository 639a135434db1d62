"""Merge parallel BinaryConvBlocks feeding one channel Concat into a single ``splits`` block.

ReActNet-A's channel-doubling stage is ``concat(block(x, W1), block(x, W2))``: two 1x1 binary blocks
over the same input, threshold and shortcut. As separate ops each binarizes ``x`` and writes its own
output, and the Concat then copies both (measured on rep-reactnet-a, 1 thread: the Concats alone were
6.5% of the network's time). ``BinaryConvBlock(x, [W1; W2], ..., splits=2)`` with the shortcut given
once (tiled along channels by the op) binarizes ``x`` once and writes both halves straight into the
concatenated output: the same numbers, see :mod:`rep_deploy.ops.binary_conv_block`.

Checks: Concat on axis 1 whose every input is the sole output of a BinaryConvBlock read only by this
Concat (not a graph output), with ``splits`` 1 and ``group`` 1 (grouped convs assign output
channels to groups by position, which stacking the weights would shift); all of them share X, the
threshold and the residual tensor and have equal attributes, equal weight shapes and constant
weights and vectors; the residual's channel count equals each block's output width.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from rep_deploy.ops.binary_conv_block import INPUTS

from ._graph import const, is_graph_output, is_op, only_consumer, producer

NAME = "merge_parallel_blocks"

_SHARED = tuple(INPUTS.index(n) for n in ("X", "threshold", "residual"))  # one tensor for all
_STACKED = tuple(i for i in range(len(INPUTS)) if i not in _SHARED)  # constants, stacked on axis 0
_RESIDUAL, _MUL = INPUTS.index("residual"), INPUTS.index("mul")


def _blocks(graph: gs.Graph, concat: gs.Node) -> list[gs.Node] | None:
    """The BinaryConvBlocks this Concat can absorb, or None."""
    if concat.attrs.get("axis") != 1 or len(concat.inputs) < 2:
        return None
    blocks = []
    for t in concat.inputs:
        node = producer(t)
        if (not is_op(node, "BinaryConvBlock", custom=True) or len(node.outputs) != 1
                or is_graph_output(graph, t) or only_consumer(t) is not concat
                or int(node.attrs.get("splits", 1)) != 1 or node in blocks):
            return None
        blocks.append(node)
    first = blocks[0]
    if int(first.attrs.get("group", 1)) != 1 or any(b.attrs != first.attrs for b in blocks):
        return None
    if any(b.inputs[i] is not first.inputs[i] for b in blocks for i in _SHARED):
        return None
    values = [[const(b.inputs[i]) for i in _STACKED] for b in blocks]
    if any(v is None for vs in values for v in vs):
        return None
    if any(vs[0].shape != values[0][0].shape or vs[0].dtype != values[0][0].dtype for vs in values):
        return None
    residual = first.inputs[_RESIDUAL]
    width = values[0][_STACKED.index(_MUL)].size  # one mul per output channel of a block
    if residual.shape is None or len(residual.shape) != 4 or residual.shape[1] != width:
        return None
    return blocks


def apply(graph: gs.Graph) -> int:
    fired = 0
    for concat in list(graph.nodes):
        if not is_op(concat, "Concat"):
            continue
        blocks = _blocks(graph, concat)
        if blocks is None:
            continue
        first = blocks[0]
        inputs = list(first.inputs)
        for i in _STACKED:
            stacked = np.concatenate([const(b.inputs[i]) for b in blocks], axis=0)
            inputs[i] = gs.Constant(f"{concat.name}_merged_{i}", stacked)
        attrs = dict(first.attrs, splits=len(blocks))
        graph.nodes.append(gs.Node("BinaryConvBlock", f"{concat.name}_merged", attrs=attrs,
                                   inputs=inputs, outputs=list(concat.outputs), domain=first.domain))
        concat.outputs.clear()
        for b in blocks:
            b.outputs.clear()
        fired += 1
    return fired
