"""``BinaryConvBlock``: a whole ReActNet / RepBNN binary stage as one op.

``BinaryConvBlock(X, W, threshold, mul, add, residual, pre, slope, post) -> Y`` computes, with ``acc``
BinaryConv's integer accumulator (Cc = W.shape[0] channels) and j over the Cc*repeats output channels:

1. ``Xb[n, c] = +1 if X[n, c] >= threshold[c] else -1``: a per-input-channel threshold. It absorbs
   ReActNet's learnable bias in front of the sign: ``x + b >= 0`` iff ``x >= -b`` exactly in IEEE
   float (a sum of two floats rounds to 0 only when it is exactly 0, given subnormals);
2. ``acc`` = conv of Xb (padded with ``pad_value``) with the packed weights, as BinaryConv;
3. ``v = float(acc[n, src(j)]) * mul[j] + add[j] + residual[n, j mod Cr]`` (BN folded into mul/add,
   as in BinaryConvFusedAdd). With ``splits`` = S the accumulator's channels are S equal consecutive
   parts of m = Cc/S channels, each tiled ``repeats`` = R times, the results concatenated: output
   channel ``j = s*m*R + r*m + i`` reads ``src(j) = s*m + i`` (S = 1: ``j mod Cc``, plain tiling).
   The residual has Cr channels, Cr dividing Cc*R, and is tiled along channels to the output's width.
   With ``residual_pool`` = (kh, kw) other than (1, 1) it is first average-pooled, window (kh, kw),
   stride (kh, kw), no padding (its H, W floor-divide to the output's): each window summed in
   row-major order starting from its first value, one float32 rounding per addition, then divided
   by kh*kw (ReActNet's downsampling shortcut ``AvgPool2d(2)``, the ``fold_residual_pool`` pass);
4. RPReLU: ``u = v + pre[j]``; ``u = u if u >= 0 else u * slope[j]``; ``Y = u + post[j]``.

Every step is one float32 rounding in this order, no fused multiply-add. This is the block
``shift -> sign -> RepBconv -> BN -> + shortcut -> RPReLU`` of ReActNet-A and Rep_AdamBNN in a single
pass over memory; the ``fuse_rprelu`` and ``fold_input_bias`` passes produce it. ``splits`` and the
tiled residual express ReActNet's channel-doubling pair ``concat(block1(x), block2(x))`` (two 1x1
blocks over the same input, threshold and shortcut) as ONE op (the ``merge_parallel_blocks`` pass):
the input is binarized once and both halves are written straight into the concatenated output.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from . import binary_conv
from .schema import (DOMAIN, ONNX_OPSET, VERSION, Attr, OpSpec, attr_constant, attr_ref,
                     declare_attributes)

A = onnx.AttributeProto
NAME = "BinaryConvBlock"
ATTRIBUTES: dict[str, Attr] = {
    **binary_conv.ATTRIBUTES,
    "repeats": Attr(A.INT, 1, "channel tiles written from the accumulator (beta**2 for RepBconv)"),
    "splits": Attr(A.INT, 1, "accumulator parts, each tiled `repeats` times, then concatenated"),
    "residual_pool": Attr(A.INTS, [1, 1], "average-pool window = stride applied to the residual"),
}
INPUTS = ("X", "W", "threshold", "mul", "add", "residual", "pre", "slope", "post")
_CONV_ATTRS = tuple(binary_conv.ATTRIBUTES)


def pool_residual(residual: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """Average pool, window = stride = (kh, kw), in the spec's summation order (module doc, step 3)."""
    if (kh, kw) == (1, 1):
        return residual.astype(np.float32)
    if kh < 1 or kw < 1:
        raise ValueError(f"residual_pool must be positive, got {[kh, kw]}")
    ho, wo = residual.shape[2] // kh, residual.shape[3] // kw
    r = residual.astype(np.float32)
    total = None
    for dy in range(kh):
        for dx in range(kw):
            part = r[:, :, dy:dy + ho * kh:kh, dx:dx + wo * kw:kw]
            total = part.copy() if total is None else total + part
    assert total is not None
    return total / np.float32(kh * kw)


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
    cc, reps, splits = w_packed.shape[0], int(a["repeats"]), int(a["splits"])
    if splits < 1 or cc % splits:
        raise ValueError(f"splits={splits} must be >= 1 and divide the {cc} accumulator channels")
    width = cc * reps
    vecs = {}
    for name, v in (("mul", mul), ("add", add), ("pre", pre), ("slope", slope), ("post", post)):
        v = np.asarray(v, np.float32)
        if v.shape != (width,):
            raise ValueError(f"{name} must have shape ({width},) = Cout*repeats, got {v.shape}")
        vecs[name] = v.reshape(1, -1, 1, 1)
    n, _, ho, wo = acc.shape
    residual = pool_residual(residual, *(int(k) for k in a["residual_pool"]))
    tiled = np.tile(acc.reshape(n, splits, 1, cc // splits, ho, wo), (1, 1, reps, 1, 1, 1))
    v = tiled.reshape(n, width, ho, wo) * vecs["mul"]
    v = v + vecs["add"]
    cr = residual.shape[1] if residual.ndim == 4 else 0
    if residual.ndim != 4 or (residual.shape[0], *residual.shape[2:]) != (n, ho, wo) or cr == 0 \
            or width % cr:
        raise ValueError(f"residual shape {residual.shape} must be the output shape {v.shape} with a "
                         f"channel count dividing {width}")
    v = v + np.tile(residual.astype(np.float32), (1, width // cr, 1, 1))
    u = v + vecs["pre"]
    u = np.where(u >= 0, u, u * vecs["slope"])
    return (u + vecs["post"]).astype(np.float32)


def function_body() -> onnx.FunctionProto:
    """Threshold sign, BinaryConv, split-and-tile by reshapes, affine, tiled residual, RPReLU."""
    i64, f32 = TensorProto.INT64, TensorProto.FLOAT

    def ints(name: str, values: list[int]) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, i64, [len(values)], values))

    conv = helper.make_node("BinaryConv", ["Xb", "W", "ones"], ["acc"], domain=DOMAIN)
    pool = helper.make_node("AveragePool", ["residual"], ["res_pooled"])  # (1, 1): the identity
    pool.attribute.extend(attr_ref(k, A.INTS, "residual_pool") for k in ("kernel_shape", "strides"))
    conv.attribute.extend(attr_ref(k, binary_conv.ATTRIBUTES[k].type) for k in _CONV_ATTRS)
    nodes = [
        ints("chan_shape", [1, -1, 1, 1]), ints("slope_shape", [-1, 1, 1]),
        ints("k0", [0]), ints("k1", [1]), ints("km1", [-1]), ints("one_d", [1]),
        helper.make_node("Constant", [], ["one"], value=helper.make_tensor("o", f32, [], [1.0])),
        helper.make_node("Constant", [], ["minus_one"], value=helper.make_tensor("m", f32, [], [-1.0])),
        helper.make_node("Reshape", ["threshold", "chan_shape"], ["t4"]),
        helper.make_node("GreaterOrEqual", ["X", "t4"], ["above"]),
        helper.make_node("Where", ["above", "one", "minus_one"], ["Xb"]),
        helper.make_node("Shape", ["W"], ["cout"], start=0, end=1),
        helper.make_node("ConstantOfShape", ["cout"], ["ones"], value=helper.make_tensor("v", f32, [1], [1.0])),
        conv,
        # (N, S*m, H, W) -> (N, S, 1, m, H, W) -> tile R on axis 2 -> (N, S*R*m, H, W)
        attr_constant("S_scalar", "splits", A.INT), attr_constant("R_scalar", "repeats", A.INT),
        helper.make_node("Reshape", ["S_scalar", "one_d"], ["S"]),
        helper.make_node("Reshape", ["R_scalar", "one_d"], ["R"]),
        helper.make_node("Shape", ["acc"], ["hw"], start=2),
        helper.make_node("Concat", ["k0", "S", "k1", "km1", "hw"], ["split_shape"], axis=0),
        helper.make_node("Concat", ["k1", "k1", "R", "k1", "k1", "k1"], ["tile_reps"], axis=0),
        helper.make_node("Concat", ["k0", "km1", "hw"], ["flat_shape"], axis=0),
        helper.make_node("Reshape", ["acc", "split_shape"], ["parts"]),
        helper.make_node("Tile", ["parts", "tile_reps"], ["tiled_parts"]),
        helper.make_node("Reshape", ["tiled_parts", "flat_shape"], ["tiled"]),
        helper.make_node("Reshape", ["mul", "chan_shape"], ["mul4"]),
        helper.make_node("Reshape", ["add", "chan_shape"], ["add4"]),
        helper.make_node("Mul", ["tiled", "mul4"], ["scaled"]),
        helper.make_node("Add", ["scaled", "add4"], ["affine"]),
        # residual pooled, then tiled along channels to the output's width
        helper.make_node("Shape", ["affine"], ["y_c"], start=1, end=2),
        pool,
        helper.make_node("Shape", ["res_pooled"], ["r_c"], start=1, end=2),
        helper.make_node("Div", ["y_c", "r_c"], ["r_tiles"]),
        helper.make_node("Concat", ["k1", "r_tiles", "k1", "k1"], ["res_reps"], axis=0),
        helper.make_node("Tile", ["res_pooled", "res_reps"], ["res_tiled"]),
        helper.make_node("Reshape", ["pre", "chan_shape"], ["pre4"]),
        helper.make_node("Reshape", ["post", "chan_shape"], ["post4"]),
        helper.make_node("Reshape", ["slope", "slope_shape"], ["slope3"]),
        helper.make_node("Add", ["affine", "res_tiled"], ["summed"]),
        helper.make_node("Add", ["summed", "pre4"], ["shifted"]),
        helper.make_node("PRelu", ["shifted", "slope3"], ["activated"]),
        helper.make_node("Add", ["activated", "post4"], ["Y"]),
    ]
    fn = helper.make_function(DOMAIN, NAME, list(INPUTS), ["Y"], nodes,
                              [helper.make_opsetid("", ONNX_OPSET), helper.make_opsetid(DOMAIN, VERSION)])
    return declare_attributes(fn, ATTRIBUTES, __doc__)


SPEC = OpSpec(name=NAME, inputs=INPUTS, outputs=("Y",), attributes=ATTRIBUTES, doc=__doc__ or "",
              reference=reference, function_body=function_body)
