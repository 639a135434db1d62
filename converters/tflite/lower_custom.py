"""Lowerings of the ``rep_deploy`` ops (rep_deploy/ops is their spec) to LCE-ready TensorFlow.

Every binary op becomes ``where -> Conv2D(+-s)`` (:func:`.conv.conv2d`) followed by the float parts
in the spec's order. What LCE can fold into LceBconv2d (the per-channel multiplier and bias right
after the conv) it folds; what it cannot stays as TFLite ops and is the honest cost of the structure:
a RepBNN's BatchNorm follows the channel tile (TILE + MUL + ADD per Rep block), ReActNet's shortcut
and RPReLU are ADD + PRELU + ADD.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from rep_deploy.ops import DOMAIN
from rep_deploy.ops.bitpack import unpack_weights

from .context import Act, Context, lowers
from .conv import conv2d, prelu


def _weights(ctx: Context, node: onnx.NodeProto, attrs: dict[str, Any]) -> np.ndarray:
    """The +-1 float weights (Cout, Cin/group, kh, kw) of a binary op's packed ``W``."""
    packed = ctx.const(node, 1)
    cin = ctx.shape(node.input[0])[1]
    kh, kw = attrs["kernel_shape"]
    if cin is None:
        raise ctx.fail(node, "input channel count unknown")
    return unpack_weights(packed, (packed.shape[0], int(cin) // int(attrs.get("group", 1)), kh, kw))


def _vec(ctx: Context, node: onnx.NodeProto, i: int) -> np.ndarray:
    return np.asarray(ctx.const(node, i), np.float32).reshape(-1)


def tile_channels(ctx: Context, x: Act, repeats: int) -> Act:
    """``Repeat``: copies of all channels, one after another (x.repeat(1, r, 1, 1))."""
    if repeats == 1:
        return x
    rank = len(x.t.shape)
    multiples = [1] * rank
    multiples[-1 if rank == 4 else 1] = repeats
    return Act(ctx.tf.tile(x.t, multiples), x.frame)


def _channel_map(ctx: Context, acc: Act, splits: int, repeats: int) -> Act:
    """BinaryConvBlock's output channels: each of ``splits`` parts tiled ``repeats`` times."""
    if splits == 1 or repeats == 1:
        return tile_channels(ctx, acc, repeats)
    parts = ctx.tf.split(acc.t, splits, axis=-1)
    return Act(ctx.tf.concat([ctx.tf.tile(p, [1, 1, 1, repeats]) for p in parts], axis=-1), acc.frame)


def _affine(ctx: Context, y: Act, mul: np.ndarray, add: np.ndarray) -> Act:
    """``y * mul + add`` per channel, as 1-D constants (the shape LCE folds into LceBconv2d)."""
    tf = ctx.tf
    t = y.t
    if not np.all(mul == 1.0):
        t = tf.multiply(t, mul)
    if np.any(add != 0.0):
        t = tf.add(t, add)
    return Act(t, y.frame)


def _add(ctx: Context, a: Act, b: Act) -> Act:
    """Two activations added in ``a``'s frame."""
    return Act(ctx.tf.add(a.t, ctx.in_frame(b, a.frame)), a.frame)


@lowers("BinaryConv", domain=DOMAIN)
def binary_conv(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    attrs = ctx.attrs(node)
    w = _weights(ctx, node, attrs) * _vec(ctx, node, 2).reshape(-1, 1, 1, 1)
    return [conv2d(ctx, node, ctx.act(node.input[0]), ctx.shape(node.input[0]), w, attrs, threshold=0.0)]


@lowers("BinaryConvFused", "BinaryConvFusedAdd", domain=DOMAIN)
def binary_conv_fused(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    attrs = ctx.attrs(node)
    y = conv2d(ctx, node, ctx.act(node.input[0]), ctx.shape(node.input[0]), _weights(ctx, node, attrs),
               attrs, threshold=0.0)
    y = _affine(ctx, tile_channels(ctx, y, int(attrs.get("repeats", 1))), _vec(ctx, node, 2),
                _vec(ctx, node, 3))
    if node.op_type == "BinaryConvFusedAdd":
        y = _add(ctx, y, ctx.act(node.input[4]))
    return [y]


@lowers("BinaryConvBlock", domain=DOMAIN)
def binary_conv_block(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    """threshold sign -> conv -> split/tile -> mul, add (+ pre: one bias, see below) -> + residual
    (pooled, tiled) -> PReLU(slope) -> + post.

    ``pre`` is added to the conv's bias instead of after the residual: LCE then folds it into
    LceBconv2d and one ADD per block goes. It moves a float rounding (a + r) + p -> (a + p) + r, a
    difference of about one ulp that verification measures like every other.
    """
    tf = ctx.tf
    attrs = ctx.attrs(node)
    x = ctx.act(node.input[0])
    threshold = ctx.const_in_frame(_vec(ctx, node, 2), ())  # per channel: the frame does not matter
    y = conv2d(ctx, node, x, ctx.shape(node.input[0]), _weights(ctx, node, attrs), attrs,
               threshold=threshold)
    mul, add, pre, slope, post = (_vec(ctx, node, i) for i in (3, 4, 6, 7, 8))
    y = _channel_map(ctx, y, int(attrs.get("splits", 1)), int(attrs.get("repeats", 1)))
    y = _affine(ctx, y, mul, add + pre)
    res = ctx.act(node.input[5])
    kh, kw = (int(v) for v in attrs.get("residual_pool", (1, 1)))
    if (kh, kw) != (1, 1):
        from .conv import pool2d

        res = pool2d(ctx, node, res, ctx.shape(node.input[5]), "avg",
                     {"kernel_shape": [kh, kw], "strides": [kh, kw]})
    width, cr = int(y.t.shape[-1]), int(res.t.shape[-1])
    res = tile_channels(ctx, res, width // cr)
    y = prelu(ctx, _add(ctx, y, res), slope)
    if np.any(post != 0.0):
        y = Act(tf.add(y.t, post), y.frame)
    return [y]


@lowers("Repeat", domain=DOMAIN)
def repeat(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    return [tile_channels(ctx, ctx.act(node.input[0]), int(ctx.attrs(node)["repeats"]))]
