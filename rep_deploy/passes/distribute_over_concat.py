"""Move per-channel elementwise ops in front of a channel Concat.

``op(Concat(a, b), v) == Concat(op(a, v[:Ca]), op(b, v[Ca:]))`` for ``op`` in {Add, Mul, PRelu} with a
constant per-channel ``v``: exact, since each output element sees the same operands. ReActNet-A's
channel-doubling blocks apply RPReLU after concatenating two conv branches; distributing it lets
``fuse_rprelu`` absorb it into each branch's conv. Fires once per moved op (repeats until none move).

Checks: Concat on axis 1 of a rank-4 tensor; its output read only by this op and not a graph output;
every input's channel count known; the constant's channel axis unambiguous ((1,C,1,1), or (C,1,1)
for PRelu's slope).
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from ._graph import channel_vector, const, is_graph_output, is_op, only_consumer

NAME = "distribute_over_concat"


def _as_original_layout(vec: np.ndarray, like: np.ndarray) -> np.ndarray:
    shape = list(like.shape)
    shape[1 if like.ndim == 4 else 0] = vec.size
    return vec.reshape(shape).astype(like.dtype)


def _move_one(graph: gs.Graph, concat: gs.Node) -> bool:
    out = concat.outputs[0]
    op = None if is_graph_output(graph, out) else only_consumer(out)
    if not (is_op(op, "Add") or is_op(op, "Mul") or is_op(op, "PRelu")) or len(op.inputs) != 2:
        return False
    if is_op(op, "PRelu") and op.inputs[0] is not out:
        return False  # PRelu(slope=concat) is not per-channel in the concat
    other = op.inputs[1] if op.inputs[0] is out else op.inputs[0]
    v = const(other)
    widths = [t.shape[1] if t.shape is not None and len(t.shape) == 4 and isinstance(t.shape[1], int)
              else None for t in concat.inputs]
    if None in widths or concat.attrs.get("axis") not in (1, -3):
        return False
    vec = channel_vector(v, sum(widths))  # type: ignore[arg-type]
    if vec is None:
        return False
    new_inputs, start = [], 0
    for i, (t, w) in enumerate(zip(concat.inputs, widths)):
        piece = gs.Constant(f"{op.name}_part{i}", _as_original_layout(vec[start:start + w], v))
        y = gs.Variable(f"{op.name}_part{i}_out", dtype=t.dtype, shape=t.shape)
        operands = [t, piece] if op.inputs[0] is out else [piece, t]
        graph.nodes.append(gs.Node(op.op, f"{op.name}_part{i}", inputs=operands, outputs=[y]))
        new_inputs.append(y)
        start += w
    concat.inputs = new_inputs
    concat.outputs = [op.outputs[0]]
    op.outputs.clear()
    op.inputs.clear()
    return True


def apply(graph: gs.Graph) -> int:
    fired = 0
    moved = True
    while moved:
        moved = False
        for node in list(graph.nodes):
            if is_op(node, "Concat") and node.outputs and _move_one(graph, node):
                fired += 1
                moved = True
        graph.cleanup(remove_unused_graph_inputs=False)
    return fired
