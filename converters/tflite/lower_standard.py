"""Lowerings of the standard ONNX ops that rep-deploy exports contain (custom, unfused, standard).

The op set is small and known (the exporter writes it): Conv, Gemm, BatchNormalization, elementwise
ops with per-channel constants, Clip / PRelu, pooling, Flatten, Concat / Slice / Pad / Tile along
channels, and ``--ops standard``'s binarization ``Where(x >= 0, 1, -1)``. An op outside it is a
:class:`ConversionError` naming the op and the node, never a guess.
"""
from __future__ import annotations

import numpy as np
import onnx

from .context import Act, Context, Lazy, lowers
from .conv import binarize, conv2d, pool2d, prelu
from .layout import axis_to_nhwc, const_to_nhwc

# --- binarization of --ops standard files: folded into the conv that reads it ----------------------


def _binarized(ctx: Context, name: str) -> tuple[str, np.ndarray] | None:
    """(x, threshold) when ``name`` is ``Where(GreaterOrEqual(x, t), 1, -1)`` with constant t."""
    return ctx.binarized.get(name)


@lowers("GreaterOrEqual")
def greater_or_equal(ctx: Context, node: onnx.NodeProto) -> list[object]:
    x, t = node.input
    if not ctx.is_const(t):
        return [Act(ctx.tf.greater_equal(ctx.plain(ctx.act(x)), ctx.plain(ctx.act(t))))]
    thr = ctx.graph.constants[t]

    def build() -> Act:
        a = ctx.act(x)
        c = const_to_nhwc(thr) if len(a.t.shape) == 4 else thr
        return Act(ctx.tf.greater_equal(a.t, ctx.const_in_frame(c, a.frame)), a.frame)

    ctx.comparisons[node.output[0]] = (x, thr)
    return [Lazy(build)]


@lowers("Where")
def where(ctx: Context, node: onnx.NodeProto) -> list[object]:
    cond, a, b = node.input
    pm1 = (ctx.is_const(a) and ctx.is_const(b) and np.all(ctx.graph.constants[a] == 1)
           and np.all(ctx.graph.constants[b] == -1) and ctx.graph.constants[a].size == 1
           and ctx.graph.constants[b].size == 1)
    comparison = ctx.comparisons.get(cond)
    if pm1 and comparison is not None and np.asarray(comparison[1]).size == 1:
        ctx.binarized[node.output[0]] = comparison

        def build() -> Act:
            src = ctx.act(comparison[0])
            return Act(binarize(ctx, src.t, comparison[1]), src.frame)

        return [Lazy(build)]
    c = ctx.act(cond)
    vals = []
    for name in (a, b):
        if ctx.is_const(name):
            v = ctx.graph.constants[name]
            vals.append(float(v) if v.size == 1 else ctx.const_in_frame(const_to_nhwc(v), c.frame))
        else:
            vals.append(ctx.in_frame(ctx.act(name), c.frame))
    return [Act(ctx.tf.where(c.t, *vals), c.frame)]


# --- convolution, dense, normalization ---------------------------------------------------------------


@lowers("Conv")
def conv(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    attrs = ctx.attrs(node)
    w = np.asarray(ctx.const(node, 1), np.float32)
    bias = ctx.optional_const(node, 2)
    src = _binarized(ctx, node.input[0])
    if src is not None:  # Conv(Where(x >= t, 1, -1)): a binary conv on x
        x_name, thr = src
        y = conv2d(ctx, node, ctx.act(x_name), ctx.shape(x_name), w, attrs,
                   threshold=float(np.asarray(thr).reshape(-1)[0]))
    else:
        y = conv2d(ctx, node, ctx.act(node.input[0]), ctx.shape(node.input[0]), w, attrs)
    if bias is not None and np.any(bias != 0):
        y = Act(ctx.tf.add(y.t, np.asarray(bias, np.float32)), y.frame)
    return [y]


@lowers("Gemm")
def gemm(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    attrs = ctx.attrs(node)
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        raise ctx.fail(node, "only Gemm with transA=0, alpha=1, beta=1 (a Linear layer) is supported")
    x = ctx.act(node.input[0])
    w = np.asarray(ctx.const(node, 1), np.float32)
    w = w.T if attrs.get("transB", 0) else w  # (in, out)
    bias = ctx.optional_const(node, 2)
    # a Dense layer, not tf.matmul with a numpy matrix (see conv._conv_layer: copies per trace)
    layer = ctx.keras.layers.Dense(w.shape[1], use_bias=bias is not None)
    y = layer(x.t)
    layer.set_weights([w] if bias is None else [w, np.asarray(bias, np.float32).reshape(-1)])
    return [Act(y)]


@lowers("BatchNormalization")
def batch_norm(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    x = ctx.act(node.input[0])
    eps = float(ctx.attrs(node).get("epsilon", 1e-5))
    gamma, beta, mean, var = (np.asarray(ctx.const(node, i), np.float32) for i in (1, 2, 3, 4))
    k = (gamma / np.sqrt(var + np.float32(eps))).astype(np.float32)
    b = (beta - mean * k).astype(np.float32)
    return [Act(ctx.tf.add(ctx.tf.multiply(x.t, k), b), x.frame)]


# --- elementwise -----------------------------------------------------------------------------------


def _operand(ctx: Context, name: str, like: Act) -> object:
    if ctx.is_const(name):
        v = np.asarray(ctx.graph.constants[name], np.float32)
        if len(like.t.shape) == 4:
            v = ctx.const_in_frame(const_to_nhwc(v), like.frame)
            return v.reshape(-1) if v.ndim == 4 and v.shape[:3] == (1, 1, 1) else v
        return v
    return ctx.in_frame(ctx.act(name), like.frame)


def _binary_elementwise(fn_name: str):
    def lower(ctx: Context, node: onnx.NodeProto) -> list[Act]:
        a_name, b_name = node.input
        first = b_name if ctx.is_const(a_name) else a_name
        like = ctx.act(first)
        a, b = _operand(ctx, a_name, like), _operand(ctx, b_name, like)
        return [Act(getattr(ctx.tf, fn_name)(a, b), like.frame)]
    return lower


for _op, _fn in (("Add", "add"), ("Sub", "subtract"), ("Mul", "multiply"), ("Div", "divide")):
    lowers(_op)(_binary_elementwise(_fn))


@lowers("Clip")
def clip(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    x = ctx.act(node.input[0])
    lo, hi = ctx.optional_const(node, 1), ctx.optional_const(node, 2)
    t = x.t
    if lo is not None:
        t = ctx.tf.maximum(t, float(lo))
    if hi is not None:
        t = ctx.tf.minimum(t, float(hi))
    return [Act(t, x.frame)]


@lowers("Relu")
def relu(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    x = ctx.act(node.input[0])
    return [Act(ctx.tf.nn.relu(x.t), x.frame)]


@lowers("PRelu")
def prelu_op(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    return [prelu(ctx, ctx.act(node.input[0]), np.asarray(ctx.const(node, 1), np.float32))]


@lowers("Identity")
def identity(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    return [ctx.act(node.input[0])]


# --- pooling and shapes ------------------------------------------------------------------------------


@lowers("AveragePool", "MaxPool")
def pool(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    kind = "avg" if node.op_type == "AveragePool" else "max"
    if len(node.output) > 1 and node.output[1]:
        raise ctx.fail(node, "MaxPool indices output is not supported")
    return [pool2d(ctx, node, ctx.act(node.input[0]), ctx.shape(node.input[0]), kind, ctx.attrs(node))]


@lowers("GlobalAveragePool")
def global_average_pool(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    x = ctx.act(node.input[0])  # a mean over H and W does not care about the frame
    return [Act(ctx.tf.reduce_mean(x.t, axis=[1, 2], keepdims=True))]


@lowers("Flatten")
def flatten(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    x = ctx.act(node.input[0])
    if int(ctx.attrs(node).get("axis", 1)) != 1:
        raise ctx.fail(node, "only Flatten(axis=1) is supported")
    if len(x.t.shape) != 4:
        return [Act(ctx.tf.reshape(x.t, [-1, int(np.prod(x.t.shape[1:]))]))]
    t = x.t if tuple(x.t.shape[1:3]) == (1, 1) else ctx.tf.transpose(ctx.plain(x), [0, 3, 1, 2])
    return [Act(ctx.tf.reshape(t, [-1, int(np.prod(x.t.shape[1:]))]))]


@lowers("Concat")
def concat(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    parts = [ctx.act(n) for n in node.input]
    rank = len(parts[0].t.shape)
    axis = axis_to_nhwc(int(ctx.attrs(node)["axis"]), rank)
    if rank == 4 and axis in (1, 2):
        parts = [Act(ctx.plain(p)) for p in parts]
    frame = parts[0].frame
    return [Act(ctx.tf.concat([ctx.in_frame(p, frame) for p in parts], axis=axis), frame)]


@lowers("Tile")
def tile(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    x = ctx.act(node.input[0])
    reps = [int(v) for v in ctx.const(node, 1)]
    if len(reps) == 4:
        reps = [reps[0], reps[2], reps[3], reps[1]]
        if reps[1] != 1 or reps[2] != 1:
            x = Act(ctx.plain(x))
    return [Act(ctx.tf.tile(x.t, reps), x.frame)]


@lowers("Pad")
def pad(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    x = ctx.act(node.input[0])
    attrs = ctx.attrs(node)
    if attrs.get("mode", b"constant") not in (b"constant", "constant"):
        raise ctx.fail(node, f"Pad mode {attrs.get('mode')!r} is not supported")
    pads = [int(v) for v in ctx.const(node, 1)]
    value = ctx.optional_const(node, 2)
    axes = ctx.optional_const(node, 3)
    rank = len(x.t.shape)
    axes_l = [int(a) % rank for a in axes] if axes is not None else list(range(rank))
    pairs = [[0, 0] for _ in range(rank)]
    for i, a in enumerate(axes_l):
        pairs[axis_to_nhwc(a, rank)] = [pads[i], pads[i + len(axes_l)]]
    for axis in x.frame:  # stored reversed along this axis: what comes before is after
        pairs[axis] = pairs[axis][::-1]
    fill = float(value) if value is not None and np.asarray(value).size else 0.0
    return [Act(ctx.tf.pad(x.t, pairs, constant_values=fill), x.frame)]


@lowers("Slice")
def slice_(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    x = ctx.act(node.input[0])
    starts, ends = ctx.const(node, 1), ctx.const(node, 2)
    axes = ctx.optional_const(node, 3)
    steps = ctx.optional_const(node, 4)
    rank = len(x.t.shape)
    axes_l = [int(a) % rank for a in axes] if axes is not None else list(range(len(starts)))
    shape = [int(d) if d is not None else None for d in x.t.shape]
    begin, end, stride = [0] * rank, list(shape), [1] * rank
    t = x.t
    if any(axis_to_nhwc(a, rank) in x.frame for a in axes_l):
        t, x = ctx.plain(x), Act(ctx.plain(x))
    for i, a in enumerate(axes_l):
        ax = axis_to_nhwc(a, rank)
        step = int(steps[i]) if steps is not None else 1
        if step < 1:
            raise ctx.fail(node, "negative slice steps are not supported")
        size = shape[ax]
        s, e = int(starts[i]), int(ends[i])
        if size is not None:
            s = max(0, min(size, s + size if s < 0 else s))
            e = max(0, min(size, e + size if e < 0 else e))
        begin[ax], end[ax], stride[ax] = s, e, step
    end = [e if e is not None else 2**31 - 1 for e in end]
    return [Act(ctx.tf.strided_slice(t, begin, end, stride), x.frame)]


@lowers("Reshape")
def reshape(ctx: Context, node: onnx.NodeProto) -> list[Act]:
    x = ctx.act(node.input[0])
    shape = [int(v) for v in ctx.const(node, 1)]
    if len(x.t.shape) == 4 or len(shape) == 4:
        raise ctx.fail(node, f"Reshape of a 4-D activation to {shape} is not supported")
    return [Act(ctx.tf.reshape(x.t, [-1 if i == 0 else d for i, d in enumerate(shape)]))]
