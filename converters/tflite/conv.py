"""Convolutions and pools in the forms LCE's converter recognizes, with ONNX's exact padding.

A binary convolution reaches LCE as ``Conv2D(where(x >= t, 1.0, -1.0), W)`` with ``W`` equal to
``+-s[o]`` per output channel: LCE turns the ``where`` into LceQuantize and the conv into LceBconv2d
with ``s`` as its multiplier, and folds a following per-channel MUL / ADD into the same op. Padding:
zero padding after binarization is TF SAME with LCE's ``pad_values=0`` (corrected exactly in its
kernel); +1 padding is an explicit PAD of the binarized tensor that LCE folds (``pad_values=1``);
LCE has no -1 padding. The geometry (SAME / VALID / flipped frame) comes from :mod:`.geometry`.

One LCE defect is worked around here: its LceBconv2d computes zero (``pad_values=0``) SAME padding
wrongly when the feature map is smaller than the kernel (3x3 on 1x1 or 2x2: errors of 40-60 on
outputs of magnitude ~100, with both its optimized and reference kernels; 3x3 and larger maps are
right; measured with LCE 0.16's x86 interpreter). Subtracting the +1 border's constant contribution
instead trips another LCE defect (its converter folds the per-pixel constant into the per-channel bias
and the model fails to load). So such layers are written as two +1-padded binary convs, of sign(x)
and of -sign(x): ``(conv1(xb) - conv1(-xb)) / 2`` is exactly the zero-padded conv (the border terms
cancel), at twice the binary work of a layer of at most (k-1) x (k-1) pixels.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from .context import Act, ConversionError, Context
from .geometry import conv_geometry

__all__ = ["conv2d", "pool2d", "binarize", "prelu"]


def binarize(ctx: Context, x: Any, threshold: np.ndarray | float, *, negate: bool = False) -> Any:
    """``where(x >= threshold, 1, -1)`` with scalar 1/-1 (or -1/1 when ``negate``): the patterns
    LCE's converter quantizes."""
    tf = ctx.tf
    thr = np.asarray(threshold, np.float32)
    cond = tf.greater_equal(x, float(thr) if thr.ndim == 0 else thr)
    return tf.where(cond, -1.0, 1.0) if negate else tf.where(cond, 1.0, -1.0)


def _weights_hwio(w_oihw: np.ndarray, frame: tuple[int, ...]) -> np.ndarray:
    """ONNX (O, I/g, kh, kw) -> TF (kh, kw, I/g, O), flipped along the axes the input is flipped."""
    w = np.asarray(w_oihw, np.float32)
    for axis in frame:  # NHWC axis 1 (H) is OIHW axis 2, axis 2 (W) is OIHW axis 3
        w = np.flip(w, axis + 1)
    return np.ascontiguousarray(np.transpose(w, (2, 3, 1, 0)))


def conv2d(ctx: Context, node: onnx.NodeProto, x: Act, in_shape: tuple[int | None, ...],
           w_oihw: np.ndarray, attrs: dict[str, Any], *,
           threshold: np.ndarray | float | None = None) -> Act:
    """ONNX Conv (``threshold`` None) or binary conv on ``where(x >= threshold, 1, -1)``.

    Args:
        x: the float input (binarized here when ``threshold`` is given, after any frame change,
            so LCE sees the ``where`` right before the conv).
        in_shape: ``x``'s NCHW shape (H and W must be known).
        w_oihw: float weights; for a binary conv +-s per output channel.
        attrs: ONNX Conv attributes (kernel_shape, strides, pads, dilations, group, pad_value).

    Returns:
        The conv output, in the frame the geometry left it in.
    """
    tf = ctx.tf
    kh, kw = (int(v) for v in attrs.get("kernel_shape", w_oihw.shape[2:]))
    strides = tuple(int(v) for v in attrs.get("strides", (1, 1)))
    dilations = tuple(int(v) for v in attrs.get("dilations", (1, 1)))
    pads = tuple(int(v) for v in attrs.get("pads", (0, 0, 0, 0)))
    group = int(attrs.get("group", 1))
    pad_value = int(attrs.get("pad_value", 0))
    binary = threshold is not None
    if in_shape[2] is None or in_shape[3] is None:
        raise ctx.fail(node, f"input spatial size unknown ({in_shape}); export with a fixed image size")
    if max(strides) > 1 and max(dilations) > 1:
        raise ctx.fail(node, f"strides {strides} with dilations {dilations}: TensorFlow convolutions "
                             f"take one or the other")
    if binary and pad_value == -1 and any(pads):
        raise ctx.fail(node, "pad_value -1: LCE pads binary convolutions with 0 or +1 only")
    hw = (int(in_shape[2]), int(in_shape[3]))
    geo = conv_geometry(hw, (kh, kw), strides, dilations, pads, x.frame)
    if geo is None:
        if binary:
            raise ctx.fail(node, f"pads {list(pads)} on a {hw[0]}x{hw[1]} input with stride "
                                 f"{list(strides)} have no TensorFlow SAME/VALID equivalent, which LCE "
                                 f"needs to binarize the convolution")
        return _explicit_pad_conv(ctx, x, hw, w_oihw, strides, dilations, pads, group)
    frame = tuple(sorted(set(x.frame) ^ set(geo.flip_axes)))
    t = ctx.in_frame(x, frame)
    w = _weights_hwio(w_oihw, frame)
    if group > 1 and w.shape[2] * group != (in_shape[1] or 0):
        raise ctx.fail(node, f"group {group} does not divide the {in_shape[1]} input channels")
    conv = lambda v, padding: _conv_layer(ctx, v, w, strides, padding, dilations)  # noqa: E731
    small = geo.padding == "SAME" and (hw[0] < kh or hw[1] < kw)
    info = {"node": node.name, "padding": geo.padding, "pad_value": pad_value,
            "reversed_input_axes": list(geo.flip_axes), "small_map_workaround": False}
    if not binary:
        return Act(conv(t, geo.padding), frame)
    if group > 1:
        # LCE binarizes a grouped conv only with a multiple of 32 input channels per group, and runs
        # it only with its indirect-BGEMM kernel (not the default one: "Grouped binary convolutions
        # are not supported with this kernel"). One dense binary conv per group runs everywhere.
        cin_g, cout_g = w.shape[2], w.shape[3] // group
        parts = []
        for g in range(group):
            sub = Act(tf.slice(t, [0, 0, 0, g * cin_g], [-1, -1, -1, cin_g]), frame)
            thr = threshold if np.ndim(threshold) == 0 else np.asarray(threshold)[g * cin_g:(g + 1) * cin_g]
            sub_attrs = {**attrs, "group": 1}
            parts.append(conv2d(ctx, node, sub, (in_shape[0], cin_g, *in_shape[2:]),
                                w_oihw[g * cout_g:(g + 1) * cout_g], sub_attrs, threshold=thr).t)
        ctx.extra_ops["LceBconv2d (one per group of a grouped binary conv)"] += group - 1
        return Act(tf.concat(parts, axis=-1), frame)
    if geo.padding == "SAME" and (pad_value == 1 or small):
        # explicit +1 padding, which LCE folds into LceBconv2d (pad_values=1), in TF-SAME amounts
        pads_tf = [[0, 0], *(_same_pads(hw[i], (kh, kw)[i], strides[i], dilations[i]) for i in (0, 1)), [0, 0]]
        one = lambda v: tf.pad(v, pads_tf, constant_values=1.0)  # noqa: E731
        y = conv(one(binarize(ctx, t, threshold)), "VALID")  # type: ignore[arg-type]
        if pad_value == 0:  # maps smaller than the kernel: see the module docstring
            y_neg = conv(one(binarize(ctx, t, threshold, negate=True)), "VALID")  # type: ignore[arg-type]
            y = tf.multiply(tf.subtract(y, y_neg), 0.5)
            ctx.extra_ops["LceBconv2d (zero padding on maps smaller than the kernel)"] += 1
            info["small_map_workaround"] = True
        info["padding"] = "VALID (explicit +1 PAD)"
    else:
        y = conv(binarize(ctx, t, threshold), geo.padding)  # type: ignore[arg-type]
    ctx.binary_convs.append(info)
    return Act(y, frame)


def _same_pads(size: int, k: int, s: int, d: int) -> list[int]:
    """TF SAME's (before, after) padding on one axis."""
    k_eff = d * (k - 1) + 1
    total = max((-(-size // s) - 1) * s + k_eff - size, 0)
    return [total // 2, total - total // 2]


def _border_sum(hw: tuple[int, int], pad_hw: list[list[int]], w_hwio: np.ndarray,
                strides: tuple[int, ...], dilations: tuple[int, ...]) -> np.ndarray:
    """(1, OH, OW, Cout): what a +1 padding border adds to each output of a VALID conv of the padded
    map (the sum of the weights whose taps fall in the border)."""
    kh, kw, _, cout = w_hwio.shape
    border = np.ones((hw[0] + sum(pad_hw[0]), hw[1] + sum(pad_hw[1])), np.float64)
    border[pad_hw[0][0]:pad_hw[0][0] + hw[0], pad_hw[1][0]:pad_hw[1][0] + hw[1]] = 0.0
    tap_sums = w_hwio.astype(np.float64).sum(axis=2)  # (kh, kw, Cout): the +1 input summed over Cin
    oh = (border.shape[0] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (border.shape[1] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    out = np.zeros((1, oh, ow, cout), np.float64)
    for i in range(kh):
        for j in range(kw):
            rows = border[i * dilations[0]: i * dilations[0] + (oh - 1) * strides[0] + 1: strides[0],
                          j * dilations[1]: j * dilations[1] + (ow - 1) * strides[1] + 1: strides[1]]
            out[0] += rows[:, :, None] * tap_sums[i, j][None, None, :]
    return out.astype(np.float32)


def _conv_layer(ctx: Context, x: Any, w_hwio: np.ndarray, strides: tuple[int, ...], padding: str,
                dilations: tuple[int, ...]) -> Any:
    """A Keras Conv2D holding ``w_hwio`` as its (frozen at conversion) weight.

    A layer, not ``tf.nn.conv2d`` with a numpy filter: Keras stores such a filter as an argument of
    the op and TF embeds a copy per trace, which made LCE's conversion of ReActNet-A take minutes.
    """
    layer = ctx.keras.layers.Conv2D(w_hwio.shape[3], w_hwio.shape[:2], strides=tuple(strides),
                                    padding=padding.lower(), dilation_rate=tuple(dilations),
                                    use_bias=False)
    y = layer(x)
    layer.set_weights([w_hwio])
    return y


def _explicit_pad_conv(ctx: Context, x: Act, hw: tuple[int, int], w_oihw: np.ndarray,
                       strides: tuple[int, ...], dilations: tuple[int, ...],
                       pads: tuple[int, ...], group: int) -> Act:
    """A float conv whose padding TF cannot express: PAD with zeros, then VALID (natural frame)."""
    tf = ctx.tf
    t = tf.pad(ctx.plain(x), [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]])
    w = _weights_hwio(w_oihw, ())
    return Act(_conv_layer(ctx, t, w, strides, "VALID", dilations))


def pool2d(ctx: Context, node: onnx.NodeProto, x: Act, in_shape: tuple[int | None, ...], kind: str,
           attrs: dict[str, Any]) -> Act:
    """ONNX AveragePool / MaxPool (no ceil mode) in the input's frame where the geometry allows."""
    tf = ctx.tf
    kernel = tuple(int(v) for v in attrs["kernel_shape"])
    strides = tuple(int(v) for v in attrs.get("strides", (1, 1)))
    pads = tuple(int(v) for v in attrs.get("pads", (0, 0, 0, 0)))
    if attrs.get("ceil_mode", 0):
        raise ctx.fail(node, "ceil_mode=1 is not supported")
    if tuple(attrs.get("dilations", (1, 1))) != (1, 1):
        raise ctx.fail(node, "dilated pooling is not supported")
    hw = (int(in_shape[2]), int(in_shape[3]))  # type: ignore[arg-type]
    geo = conv_geometry(hw, kernel, strides, (1, 1), pads, x.frame)
    # TF's SAME average pool leaves padding out of the count; ONNX's count_include_pad=1 counts it
    if geo is not None and geo.padding == "SAME" and kind == "avg" and attrs.get("count_include_pad", 0):
        geo = None
    fn = tf.nn.avg_pool2d if kind == "avg" else tf.nn.max_pool2d
    if geo is None:
        t = ctx.plain(x)
        fill = 0.0 if kind == "avg" else float(np.finfo(np.float32).min)
        t = tf.pad(t, [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]], constant_values=fill)
        return Act(fn(t, ksize=[1, *kernel, 1], strides=[1, *strides, 1], padding="VALID"))
    frame = tuple(sorted(set(x.frame) ^ set(geo.flip_axes)))
    t = ctx.in_frame(x, frame)
    return Act(fn(t, ksize=[1, *kernel, 1], strides=[1, *strides, 1], padding=geo.padding), frame)


def prelu(ctx: Context, x: Act, slope: np.ndarray) -> Act:
    """Per-channel PReLU as TFLite's PRELU op (a Keras PReLU layer with the slopes loaded)."""
    slope = np.asarray(slope, np.float32).reshape(-1)
    rank = len(x.t.shape)
    if rank == 4:
        layer = ctx.keras.layers.PReLU(shared_axes=[1, 2])
        y = layer(x.t)
        layer.set_weights([np.broadcast_to(slope, (1, 1, slope.size)).copy()
                           if slope.size > 1 else np.full((1, 1, int(x.t.shape[-1])), slope[0], np.float32)])
    elif rank == 2:
        layer = ctx.keras.layers.PReLU()
        y = layer(x.t)
        layer.set_weights([np.broadcast_to(slope, (int(x.t.shape[-1]),)).copy()])
    else:
        raise ConversionError(f"PReLU on a rank-{rank} tensor is not supported")
    return Act(y, x.frame)
