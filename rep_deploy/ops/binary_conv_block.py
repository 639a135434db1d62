"""``BinaryConvBlock``: a whole ReActNet / RepBNN binary stage as one op.

``BinaryConvBlock(X, W, threshold, mul, add, residual, pre, slope, post) -> Y`` computes, with ``acc``
BinaryConv's integer accumulator (Cc = W.shape[0] channels) and j over the Cc*repeats output channels:

1. ``Xb[n, c] = +1 if X[n, c] >= threshold[c] else -1``: a per-input-channel threshold. It absorbs
   ReActNet's learnable bias in front of the sign: ``x + b >= 0`` iff ``x >= -b`` exactly in IEEE
   float (a sum of two floats rounds to 0 only when it is exactly 0, given subnormals);
2. ``acc`` = conv of Xb (padded with ``pad_value``) with the packed weights, as BinaryConv;
3. ``v = float(acc[n, j mod Cc]) * mul[j] + add[j] + residual[n, j]`` (BN folded into mul/add, as in
   BinaryConvFusedAdd);
4. RPReLU: ``u = v + pre[j]``; ``u = u if u >= 0 else u * slope[j]``; ``Y = u + post[j]``.

Every step is one float32 rounding in this order, no fused multiply-add. This is the block
``shift -> sign -> RepBconv -> BN -> + shortcut -> RPReLU`` of ReActNet-A and Rep_AdamBNN in a single
pass over memory; the ``fuse_rprelu`` and ``fold_input_bias`` passes produce it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from . import binary_conv
from .binary_conv_fused import conv_tile_affine_nodes
from .schema import DOMAIN, ONNX_OPSET, VERSION, Attr, OpSpec, declare_attributes

A = onnx.AttributeProto
NAME = "BinaryConvBlock"
ATTRIBUTES: dict[str, Attr] = {
    **binary_conv.ATTRIBUTES,
    "repeats": Attr(A.INT, 1, "channel tiles written from the accumulator (beta**2 for RepBconv)"),
}
INPUTS = ("X", "W", "threshold", "mul", "add", "residual", "pre", "slope", "post")
_CONV_ATTRS = tuple(binary_conv.ATTRIBUTES)


def reference(x: np.ndarray, w_packed: np.ndarray, threshold: np.ndarray, mul: np.ndarray,
              add: np.ndarray, residual: np.ndarray, pre: np.ndarray, slope: np.ndarray,
              post: np.ndarray, **attrs: Any) -> np.ndarray:
    """numpy oracle (steps 1-4 of the module doc)."""
    a = SPEC.resolve_attributes(attrs)
    c = x.shape[1]
    threshold = np.asarray(threshold, np.float32)
    if threshold.shape != (c,):
        raise ValueError(f"threshold must have shape ({c},) = input channels, got {threshold.shape}")
    xb = np.where(x >= threshold.reshape(1, -1, 1, 1), 1.0, -1.0).astype(np.float32)
    conv_attrs = {k: a[k] for k in _CONV_ATTRS}
    acc = binary_conv.reference_accumulator(xb, w_packed, **conv_attrs).astype(np.float32)
    width = w_packed.shape[0] * int(a["repeats"])
    vecs = {}
    for name, v in (("mul", mul), ("add", add), ("pre", pre), ("slope", slope), ("post", post)):
        v = np.asarray(v, np.float32)
        if v.shape != (width,):
            raise ValueError(f"{name} must have shape ({width},) = Cout*repeats, got {v.shape}")
        vecs[name] = v.reshape(1, -1, 1, 1)
    v = np.tile(acc, (1, int(a["repeats"]), 1, 1)) * vecs["mul"]
    v = v + vecs["add"]
    if residual.shape != v.shape:
        raise ValueError(f"residual shape {residual.shape} != output shape {v.shape}")
    v = v + residual.astype(np.float32)
    u = v + vecs["pre"]
    u = np.where(u >= 0, u, u * vecs["slope"])
    return (u + vecs["post"]).astype(np.float32)


def function_body() -> onnx.FunctionProto:
    """Threshold sign, then the fused ops' conv/tile/affine nodes, then residual and RPReLU."""
    i64, f32 = TensorProto.INT64, TensorProto.FLOAT
    nodes = [
        helper.make_node("Constant", [], ["chan_shape"], value=helper.make_tensor("s", i64, [4], [1, -1, 1, 1])),
        helper.make_node("Constant", [], ["slope_shape"], value=helper.make_tensor("p", i64, [3], [-1, 1, 1])),
        helper.make_node("Constant", [], ["one"], value=helper.make_tensor("o", f32, [], [1.0])),
        helper.make_node("Constant", [], ["minus_one"], value=helper.make_tensor("m", f32, [], [-1.0])),
        helper.make_node("Reshape", ["threshold", "chan_shape"], ["t4"]),
        helper.make_node("GreaterOrEqual", ["X", "t4"], ["above"]),
        helper.make_node("Where", ["above", "one", "minus_one"], ["Xb"]),
        *conv_tile_affine_nodes("Xb", "affine"),
        helper.make_node("Reshape", ["pre", "chan_shape"], ["pre4"]),
        helper.make_node("Reshape", ["post", "chan_shape"], ["post4"]),
        helper.make_node("Reshape", ["slope", "slope_shape"], ["slope3"]),
        helper.make_node("Add", ["affine", "residual"], ["summed"]),
        helper.make_node("Add", ["summed", "pre4"], ["shifted"]),
        helper.make_node("PRelu", ["shifted", "slope3"], ["activated"]),
        helper.make_node("Add", ["activated", "post4"], ["Y"]),
    ]
    fn = helper.make_function(DOMAIN, NAME, list(INPUTS), ["Y"], nodes,
                              [helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid(DOMAIN, VERSION)])
    return declare_attributes(fn, ATTRIBUTES, __doc__)


SPEC = OpSpec(name=NAME, inputs=INPUTS, outputs=("Y",), attributes=ATTRIBUTES, doc=__doc__ or "",
              reference=reference, function_body=function_body)
