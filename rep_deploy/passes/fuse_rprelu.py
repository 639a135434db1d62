"""Absorb ReActNet's RPReLU (``Add(pre) -> PRelu(slope) -> Add(post)``) into the conv before it.

``BinaryConvFusedAdd -> Add -> PRelu -> Add`` becomes one ``BinaryConvBlock`` (threshold 0, which is
the plain sign), so the three elementwise passes over a beta-times-wider feature map disappear. The
float steps and their order are those of the unfused graph (see :mod:`rep_deploy.ops.binary_conv_block`).

Checks: each intermediate read once and not a graph output; pre, slope and post constant and
per-channel; the input's channel count known (for the threshold vector).
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from rep_deploy import ops

from ._graph import channel_vector, const, const_operand, is_op
from ._graph import next_reader as _next

NAME = "fuse_rprelu"


def _operand(node: gs.Node, x: gs.Tensor, width: int) -> np.ndarray | None:
    return channel_vector(const_operand(node, x), width)


def apply(graph: gs.Graph) -> int:
    fired = 0
    for conv in list(graph.nodes):
        if not is_op(conv, "BinaryConvFusedAdd", custom=True):
            continue
        x = conv.inputs[0]
        if x.shape is None or len(x.shape) != 4 or not isinstance(x.shape[1], int):
            continue
        width = int(const(conv.inputs[2]).size)  # type: ignore[union-attr]
        add_pre = _next(graph, conv)
        if not is_op(add_pre, "Add"):
            continue
        pre = _operand(add_pre, conv.outputs[0], width)
        prelu = _next(graph, add_pre) if pre is not None else None
        if not is_op(prelu, "PRelu") or prelu.inputs[0] is not add_pre.outputs[0]:
            continue
        slope = channel_vector(const(prelu.inputs[1]), width)
        add_post = _next(graph, prelu) if slope is not None else None
        if not is_op(add_post, "Add"):
            continue
        post = _operand(add_post, prelu.outputs[0], width)
        if post is None:
            continue
        inputs = [x, conv.inputs[1], gs.Constant(f"{conv.name}_threshold", np.zeros(x.shape[1], np.float32)),
                  conv.inputs[2], conv.inputs[3], conv.inputs[4], gs.Constant(f"{conv.name}_pre", pre),
                  gs.Constant(f"{conv.name}_slope", slope), gs.Constant(f"{conv.name}_post", post)]
        out = add_post.outputs[0]
        for n in (conv, add_pre, prelu, add_post):
            n.outputs.clear()
        graph.nodes.append(gs.Node("BinaryConvBlock", f"{conv.name}_block", attrs=dict(conv.attrs),
                                   inputs=inputs, outputs=[out], domain=ops.DOMAIN))
        fired += 1
    return fired
