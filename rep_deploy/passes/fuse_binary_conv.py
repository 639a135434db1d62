"""Fuse ``BinaryConv [-> Repeat] [-> Mul(k) -> Add(b) [-> Add(residual)]]`` into one fused op.

With ``acc`` the BinaryConv accumulator, ``s`` its scale and Cc its output channels, the chain computes
``((acc * s[j mod Cc]) tiled) * k[j] + b[j] (+ residual)``. The fused op computes
``acc[j mod Cc] * mul[j] + add[j] (+ residual)`` with ``mul[j] = s[j mod Cc] * k[j]`` (float32
product) and ``add = b``: the same function, rounded once less, and no tiled tensor in memory.
Runs after ``batchnorm_to_affine`` so an inference BatchNorm appears as Mul + Add. A Repeat with no
affine after it (VGG-small: tile, then MaxPool, then BN) fuses with ``k = 1, b = 0``.

Checks (each a reason not to fuse): every intermediate has exactly one reader and is not a graph
output; k and b are constants with one value per output channel (or a scalar); the residual is a
non-constant tensor of the output's exact shape.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from rep_deploy import ops
from rep_deploy.ops import binary_conv_fused

from ._graph import channel_vector, const, const_operand, is_op
from ._graph import next_reader as _next

NAME = "fuse_binary_conv"


def _per_channel(v: np.ndarray | None, width: int) -> np.ndarray | None:
    return channel_vector(v, width, allow_scalar=True)


def _same_shape(a: gs.Tensor, b: gs.Tensor) -> bool:
    """Equal static shapes; a symbolic size is accepted on the batch axis only.

    Shape inference through function bodies names the batch dimension afresh per node, so two
    tensors of one batch can carry different symbols there; anywhere else an unknown size could hide
    a broadcast, which the fused op does not do.
    """
    if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
        return False
    for axis, (x, y) in enumerate(zip(a.shape, b.shape)):
        if isinstance(x, int) and isinstance(y, int):
            if x != y:
                return False
        elif axis != 0:
            return False
    return True


def apply(graph: gs.Graph) -> int:
    fired = 0
    for conv in list(graph.nodes):
        if not is_op(conv, "BinaryConv", custom=True):
            continue
        scale = const(conv.inputs[2])
        if scale is None:
            continue
        chain, nxt = [conv], _next(graph, conv)
        repeats = 1
        if is_op(nxt, "Repeat", custom=True):
            repeats = int(nxt.attrs["repeats"])
            chain.append(nxt)
            nxt = _next(graph, nxt)
        width = scale.size * repeats
        k = b = None
        if is_op(nxt, "Mul"):
            k = _per_channel(const_operand(nxt, chain[-1].outputs[0]), width)
            after_mul = _next(graph, nxt) if k is not None else None
            if is_op(after_mul, "Add"):
                b = _per_channel(const_operand(after_mul, nxt.outputs[0]), width)
            if b is not None:
                chain += [nxt, after_mul]
        if b is None:
            if repeats == 1:
                continue  # a bare BinaryConv: nothing to gain
            k, b = np.ones(width, np.float32), np.zeros(width, np.float32)  # BinaryConv + Repeat only
        out = chain[-1].outputs[0]
        residual = None
        res_add = _next(graph, chain[-1]) if len(chain) > 2 else None
        if is_op(res_add, "Add"):
            other = [t for t in res_add.inputs if t is not out]
            if len(other) == 1 and const(other[0]) is None and _same_shape(other[0], out):
                residual = other[0]
                chain.append(res_add)
                out = res_add.outputs[0]
        mul = np.tile(scale.astype(np.float32).reshape(-1), repeats) * k
        attrs = {**{a: conv.attrs[a] for a in ops.binary_conv.ATTRIBUTES}, "repeats": repeats}
        name = binary_conv_fused.NAME_ADD if residual is not None else binary_conv_fused.NAME
        inputs = [conv.inputs[0], conv.inputs[1], gs.Constant(f"{conv.name}_mul", mul),
                  gs.Constant(f"{conv.name}_add", b)] + ([residual] if residual is not None else [])
        for n in chain:
            n.outputs.clear()
        graph.nodes.append(gs.Node(name, f"{conv.name}_fused", attrs=attrs, inputs=inputs,
                                   outputs=[out], domain=ops.DOMAIN))
        fired += 1
    return fired
