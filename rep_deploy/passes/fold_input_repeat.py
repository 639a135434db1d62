"""Fold a channel ``Repeat`` read only by BinaryConvBlocks into them (``input_tiles``, tiled residual).

A RepBNN widens its real-valued stem's output with ``Repeat`` (RepTran's first-layer rule) before the
first binary stage, which reads it twice: as X (threshold sign) and as the shortcut. As an op the
Repeat writes a second, wider copy of the stem's output (rep-reactnet-a, 1 thread: 1.9% of the
network's time). BinaryConvBlock reads X tiled along channels itself (``input_tiles``) and tiles a
residual with fewer channels than its output, so both reads can take the stem output directly.

Checks: the Repeat (domain ``rep_deploy``) is not a graph output and every reader is a
BinaryConvBlock taking it only as X (with ``input_tiles`` 1) and/or as the residual, whose channel
count then still divides the block's output width.
"""
from __future__ import annotations

import onnx_graphsurgeon as gs

from ._graph import const, is_graph_output, is_op

NAME = "fold_input_repeat"
_X, _MUL, _RESIDUAL = 0, 3, 5  # BinaryConvBlock inputs


def _foldable(reader: gs.Node, out: gs.Tensor, channels: int) -> bool:
    if not is_op(reader, "BinaryConvBlock", custom=True):
        return False
    uses = [i for i, t in enumerate(reader.inputs) if t is out]
    if not uses or any(i not in (_X, _RESIDUAL) for i in uses):
        return False
    if _X in uses and int(reader.attrs.get("input_tiles", 1)) != 1:
        return False
    if _RESIDUAL in uses:
        mul = const(reader.inputs[_MUL])  # one value per output channel
        if mul is None or mul.size % channels:
            return False
    return True


def apply(graph: gs.Graph) -> int:
    fired = 0
    for rep in list(graph.nodes):
        if not is_op(rep, "Repeat", custom=True) or len(rep.outputs) != 1:
            continue
        src, out = rep.inputs[0], rep.outputs[0]
        repeats = int(rep.attrs.get("repeats", 1))
        shape = src.shape
        if is_graph_output(graph, out) or not out.outputs or shape is None or len(shape) != 4 \
                or not isinstance(shape[1], int):
            continue
        readers = list(out.outputs)
        if not all(_foldable(r, out, shape[1]) for r in readers):
            continue
        for r in readers:
            if r.inputs[_X] is out:
                r.attrs["input_tiles"] = repeats
            r.inputs = [src if t is out else t for t in r.inputs]
        rep.outputs.clear()
        fired += 1
    return fired
