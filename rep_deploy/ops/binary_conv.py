"""``rep_deploy::BinaryConv(X, W, scale) -> Y``: binary convolution on bit-packed weights.

Semantics (NCHW, float32 X and Y):

1. ``Xb = +1 where X >= 0 else -1`` (sign(0) = +1: a packed bit cannot hold 0).
2. ``Xb`` is padded by ``pads`` (top, left, bottom, right) with ``pad_value``: 0 reproduces PyTorch's
   zero padding *after* binarization (border taps contribute nothing), +1/-1 pad with that binary value.
3. ``acc = conv(Xb_padded, unpack(W))`` with ``strides``, ``dilations`` and ``group``: an integer,
   exact in float32 because |acc| <= Cin/group*kh*kw.
4. ``Y = acc * scale[c]`` per output channel (one float32 multiply).

W is uint8 (Cout, ceil(Cin/group*kh*kw / 8)); see :mod:`rep_deploy.ops.bitpack` for the bit order.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper

from .bitpack import unpack_weights
from .schema import (DOMAIN, ONNX_OPSET, Attr, OpSpec, attr_constant, attr_ref,
                     declare_attributes, set_traced_shape, traced_sizes)

A = onnx.AttributeProto
NAME = "BinaryConv"

ATTRIBUTES: dict[str, Attr] = {
    "kernel_shape": Attr(A.INTS, None, "(kh, kw)"),
    "strides": Attr(A.INTS, [1, 1], "(sh, sw)"),
    "pads": Attr(A.INTS, [0, 0, 0, 0], "(top, left, bottom, right), as ONNX Conv"),
    "dilations": Attr(A.INTS, [1, 1], "(dh, dw)"),
    "group": Attr(A.INT, 1, "groups, as ONNX Conv"),
    "pad_value": Attr(A.INT, 0, "0: zero padding after binarization; 1 or -1: binary padding"),
}


def output_size(size: int, k: int, stride: int, pad_begin: int, pad_end: int, dilation: int) -> int:
    """Conv output length along one axis (ONNX/PyTorch floor rule)."""
    return (size + pad_begin + pad_end - dilation * (k - 1) - 1) // stride + 1


def output_shape(x_shape: Sequence[int], cout: int, **attrs: Any) -> tuple[int, int, int, int]:
    a = SPEC.resolve_attributes(attrs)
    n, _, h, w = x_shape
    (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw) = (a["kernel_shape"], a["strides"], a["pads"],
                                                      a["dilations"])
    return (n, cout, output_size(h, kh, sh, pt, pb, dh), output_size(w, kw, sw, pl, pr, dw))


def reference_accumulator(x: np.ndarray, w_packed: np.ndarray, **attrs: Any) -> np.ndarray:
    """The integer part of BinaryConv (steps 1-3), int32 (N, Cout, Ho, Wo): the kernels' exact oracle."""
    a = SPEC.resolve_attributes(attrs)
    (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw) = (a["kernel_shape"], a["strides"], a["pads"],
                                                      a["dilations"])
    group, pad_value = int(a["group"]), int(a["pad_value"])
    if x.ndim != 4:
        raise ValueError(f"BinaryConv expects NCHW input, got shape {x.shape}")
    n, c, h, w = x.shape
    if c % group:
        raise ValueError(f"input channels {c} not divisible by group={group}")
    cout = w_packed.shape[0]
    wf = unpack_weights(w_packed, (cout, c // group, kh, kw)).astype(np.float64)
    xb = np.where(x >= 0, 1.0, -1.0)
    xp = np.pad(xb, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=float(pad_value))
    ho = output_size(h, kh, sh, pt, pb, dh)
    wo = output_size(w, kw, sw, pl, pr, dw)
    if ho <= 0 or wo <= 0:
        raise ValueError(f"input {h}x{w} too small for kernel {kh}x{kw} (pads {a['pads']}, "
                         f"dilations {a['dilations']})")
    # im2col: taps[n, c, i, j, y, x] = xp[n, c, y*sh + i*dh, x*sw + j*dw]
    taps = np.empty((n, c, kh, kw, ho, wo))
    for i in range(kh):
        for j in range(kw):
            taps[:, :, i, j] = xp[:, :, i * dh: i * dh + sh * (ho - 1) + 1: sh,
                                  j * dw: j * dw + sw * (wo - 1) + 1: sw]
    cin_g, cout_g = c // group, cout // group
    out = np.empty((n, cout, ho, wo), dtype=np.int32)
    for g in range(group):
        t = taps[:, g * cin_g:(g + 1) * cin_g]            # (n, cin_g, kh, kw, ho, wo)
        wg = wf[g * cout_g:(g + 1) * cout_g]               # (cout_g, cin_g, kh, kw)
        # float64 sums of +-1/0 terms are exact integers here
        acc = np.tensordot(wg, t, axes=([1, 2, 3], [1, 2, 3]))  # (cout_g, n, ho, wo)
        out[:, g * cout_g:(g + 1) * cout_g] = np.rint(acc).astype(np.int32).transpose(1, 0, 2, 3)
    return out


def reference(x: np.ndarray, w_packed: np.ndarray, scale: np.ndarray, **attrs: Any) -> np.ndarray:
    """Full BinaryConv in numpy: ``acc * scale[c]`` in float32."""
    acc = reference_accumulator(x, w_packed, **attrs)
    scale = np.asarray(scale, dtype=np.float32)
    if scale.shape != (w_packed.shape[0],):
        raise ValueError(f"scale must have shape ({w_packed.shape[0]},), got {scale.shape}")
    return acc.astype(np.float32) * scale.reshape(1, -1, 1, 1)


def function_body() -> onnx.FunctionProto:
    """BinaryConv in standard ops (opset 18): Where-binarize, Pad, unpack bits, Conv, Mul."""
    ints, i64 = A.INTS, TensorProto.INT64

    def const(name: str, value: Any, dtype: int = TensorProto.FLOAT, dims: Sequence[int] = ()) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(
            name, dtype, list(dims), value if isinstance(value, (list, tuple)) else [value]))

    conv = helper.make_node("Conv", ["Xp", "Wpm"], ["Acc"])
    for attr in ("kernel_shape", "strides", "dilations"):
        conv.attribute.append(attr_ref(attr, ints))
    conv.attribute.append(attr_ref("group", A.INT))
    nodes = [
        const("zero", 0.0), const("one", 1.0), const("minus_one", -1.0), const("two", 2.0),
        helper.make_node("GreaterOrEqual", ["X", "zero"], ["nonneg"]),
        helper.make_node("Where", ["nonneg", "one", "minus_one"], ["Xb"]),
        # Reshape gives shape inference the static lengths a referenced attribute hides
        attr_constant("pads_raw", "pads", A.INTS),
        const("four", [4], i64, [1]),
        helper.make_node("Reshape", ["pads_raw", "four"], ["pads_t"]),
        attr_constant("pad_value_i", "pad_value", A.INT),
        helper.make_node("Cast", ["pad_value_i"], ["pad_value_f"], to=TensorProto.FLOAT),
        const("hw_axes", [2, 3], i64, [2]),
        helper.make_node("Pad", ["Xb", "pads_t", "pad_value_f", "hw_axes"], ["Xp"], mode="constant"),
        # unpack W: (Cout, B) uint8 -> (Cout, B, 8) bits, little bit order -> first K bits
        const("last_axis", [-1], i64, [1]),
        helper.make_node("Unsqueeze", ["W", "last_axis"], ["W3"]),
        const("shifts", list(range(8)), TensorProto.UINT8, [8]),
        helper.make_node("BitShift", ["W3", "shifts"], ["Wsh"], direction="RIGHT"),
        const("one_u8", 1, TensorProto.UINT8),
        helper.make_node("BitwiseAnd", ["Wsh", "one_u8"], ["bits"]),
        const("flat_shape", [0, -1], i64, [2]),
        helper.make_node("Reshape", ["bits", "flat_shape"], ["bits2"]),
        helper.make_node("Shape", ["X"], ["c_1d"], start=1, end=2),
        attr_constant("group_i", "group", A.INT),
        const("zero_axis", [0], i64, [1]),
        helper.make_node("Unsqueeze", ["group_i", "zero_axis"], ["group_1d"]),
        helper.make_node("Div", ["c_1d", "group_1d"], ["cg_1d"]),
        attr_constant("kshape_raw", "kernel_shape", A.INTS),
        const("two_1d", [2], i64, [1]),
        helper.make_node("Reshape", ["kshape_raw", "two_1d"], ["kshape"]),
        helper.make_node("ReduceProd", ["kshape"], ["kprod"], keepdims=1),
        helper.make_node("Mul", ["cg_1d", "kprod"], ["k_1d"]),
        const("zero_1d", [0], i64, [1]),
        const("one_axis", [1], i64, [1]),
        helper.make_node("Slice", ["bits2", "zero_1d", "k_1d", "one_axis"], ["bitsK"]),
        helper.make_node("Shape", ["W"], ["cout_1d"], start=0, end=1),
        helper.make_node("Concat", ["cout_1d", "cg_1d", "kshape"], ["w_shape"], axis=0),
        helper.make_node("Reshape", ["bitsK", "w_shape"], ["Wbits"]),
        helper.make_node("Cast", ["Wbits"], ["Wf"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["Wf", "two"], ["W2"]),
        helper.make_node("Sub", ["W2", "one"], ["Wpm"]),
        conv,
        const("scale_shape", [1, -1, 1, 1], i64, [4]),
        helper.make_node("Reshape", ["scale", "scale_shape"], ["scale4"]),
        helper.make_node("Mul", ["Acc", "scale4"], ["Y"]),
    ]
    fn = helper.make_function(DOMAIN, NAME, ["X", "W", "scale"], ["Y"], nodes,
                              [helper.make_opsetid("", ONNX_OPSET)])
    return declare_attributes(fn, ATTRIBUTES, __doc__)


def emit(g: Any, x: Any, w: Any, scale: Any, *, kernel_shape: Sequence[int], strides: Sequence[int],
         pads: Sequence[int], dilations: Sequence[int], group: int, pad_value: int) -> Any:
    """TorchScript-exporter symbolic: one BinaryConv node. W is still float +-1 here; the exporter's
    packing step replaces it with the packed uint8 initializer."""
    out = g.op(f"{DOMAIN}::{NAME}", x, w, scale, kernel_shape_i=list(kernel_shape),
               strides_i=list(strides), pads_i=list(pads), dilations_i=list(dilations),
               group_i=int(group), pad_value_i=int(pad_value))
    xs, ws = traced_sizes(x) or [None] * 4, traced_sizes(w) or [None] * 4
    spatial = [None if xs[2 + i] is None else
               output_size(xs[2 + i], kernel_shape[i], strides[i], pads[i], pads[i + 2], dilations[i])
               for i in range(2)] if len(xs) == 4 else [None, None]
    return set_traced_shape(out, x, [xs[0], ws[0], *spatial])


SPEC = OpSpec(name=NAME, inputs=("X", "W", "scale"), outputs=("Y",), attributes=ATTRIBUTES,
              doc=__doc__ or "", reference=reference, function_body=function_body)
