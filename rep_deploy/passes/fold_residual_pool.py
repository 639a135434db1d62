"""Fold the average pool on a block's shortcut into the block (``residual_pool``).

ReActNet-A's downsampling blocks add ``AvgPool2d(2)(x)`` to a stride-2 binary conv. As a separate
op the pool reads the whole input, writes a quarter-size copy that the block reads again, and ONNX
Runtime wraps it in layout conversions (on rep-reactnet-a, 1 thread: AveragePool 3.4% plus
Reorder 8% of the network's time). ``BinaryConvBlock(..., residual=x, residual_pool=[2, 2])`` pools
inside the output transform, from the tile it is writing: see :mod:`rep_deploy.ops.binary_conv_block`.

Checks: AveragePool over a rank-4 tensor with stride equal to its window, no padding (explicit pads
all 0, ``auto_pad`` NOTSET or VALID), ``ceil_mode`` 0, no dilation; its output read only by
BinaryConvBlocks, each taking it as the residual and nothing else, with no pooling of their own; not a
graph output. ``count_include_pad`` does not matter without padding.
"""
from __future__ import annotations

import onnx_graphsurgeon as gs

from rep_deploy.ops.binary_conv_block import INPUTS

from ._graph import is_graph_output, is_op

NAME = "fold_residual_pool"
_RESIDUAL = INPUTS.index("residual")


def _window(pool: gs.Node) -> list[int] | None:
    """The pool's window when it is a plain non-overlapping average pool, else None."""
    a = pool.attrs
    k = [int(v) for v in a.get("kernel_shape", [])]
    x = pool.inputs[0]
    if len(k) != 2 or x.shape is None or len(x.shape) != 4:
        return None
    if [int(v) for v in a.get("strides", [1, 1])] != k or any(int(p) for p in a.get("pads", [0] * 4)):
        return None
    auto_pad = a.get("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad not in ("NOTSET", "VALID") or int(a.get("ceil_mode", 0)):
        return None
    if any(int(d) != 1 for d in a.get("dilations", [1, 1])):
        return None
    return k


def apply(graph: gs.Graph) -> int:
    fired = 0
    for pool in list(graph.nodes):
        if not is_op(pool, "AveragePool") or len(pool.outputs) != 1:
            continue
        out = pool.outputs[0]
        window = _window(pool)
        readers = list(out.outputs)
        if window is None or window == [1, 1] or is_graph_output(graph, out) or not readers:
            continue
        if not all(is_op(r, "BinaryConvBlock", custom=True)
                   and [i for i, t in enumerate(r.inputs) if t is out] == [_RESIDUAL]
                   and [int(v) for v in r.attrs.get("residual_pool", [1, 1])] == [1, 1]
                   for r in readers):
            continue
        for r in readers:
            r.inputs[_RESIDUAL] = pool.inputs[0]
            r.attrs["residual_pool"] = window
        pool.outputs.clear()
        fired += 1
    return fired
