"""Fused binary conv ops produced by the graph passes for the runtimes.

``BinaryConvFused(X, W, mul, add) -> Y`` and ``BinaryConvFusedAdd(X, W, mul, add, residual) -> Y``
replace the chain ``BinaryConv -> Repeat -> BatchNormalization (-> Add residual)``:

* ``acc`` is BinaryConv's integer accumulator (steps 1-3 of :mod:`.binary_conv`), Cc = W.shape[0]
  channels;
* the output has ``Cc * repeats`` channels and is computed straight from the accumulator, without
  materializing the tile: ``Y[n, j] = float(acc[n, j mod Cc]) * mul[j] + add[j]`` (then
  ``+ residual[n, j]`` for the ``Add`` form), each step one float32 rounding, no fused multiply-add;
* ``mul[j] = scale[j mod Cc] * gamma[j] / sqrt(var[j] + eps)`` and ``add[j] = beta[j] - mean[j] *
  gamma[j] / sqrt(var[j] + eps)`` fold the BinaryConv scale and an inference BatchNorm (see the
  ``fuse_binary_conv`` pass).

Two op names rather than one with an optional input, because an ONNX function body cannot test
whether an optional input was given, and every op must run from its body alone.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from . import binary_conv
from .schema import DOMAIN, ONNX_OPSET, VERSION, Attr, OpSpec, attr_ref, declare_attributes

A = onnx.AttributeProto
NAME = "BinaryConvFused"
NAME_ADD = "BinaryConvFusedAdd"
ATTRIBUTES: dict[str, Attr] = {
    **binary_conv.ATTRIBUTES,
    "repeats": Attr(A.INT, 1, "channel tiles written from the accumulator (beta**2 for RepBconv)"),
}
_CONV_ATTRS = tuple(binary_conv.ATTRIBUTES)


def reference(x: np.ndarray, w_packed: np.ndarray, mul: np.ndarray, add: np.ndarray,
              residual: np.ndarray | None = None, **attrs: Any) -> np.ndarray:
    """numpy oracle of both fused ops (``residual`` given: the ``Add`` form)."""
    a = SPEC.resolve_attributes(attrs)
    conv_attrs = {k: a[k] for k in _CONV_ATTRS}
    acc = binary_conv.reference_accumulator(x, w_packed, **conv_attrs).astype(np.float32)
    width = w_packed.shape[0] * int(a["repeats"])
    mul = np.asarray(mul, dtype=np.float32)
    add = np.asarray(add, dtype=np.float32)
    if mul.shape != (width,) or add.shape != (width,):
        raise ValueError(f"mul and add must have shape ({width},) = Cout*repeats, got {mul.shape}, "
                         f"{add.shape}")
    y = np.tile(acc, (1, int(a["repeats"]), 1, 1)) * mul.reshape(1, -1, 1, 1)
    y = y + add.reshape(1, -1, 1, 1)
    if residual is not None:
        if residual.shape != y.shape:
            raise ValueError(f"residual shape {residual.shape} != output shape {y.shape}")
        y = y + residual.astype(np.float32)
    return y


def conv_tile_affine_nodes(x: str, out: str) -> list[onnx.NodeProto]:
    """Function-body nodes ``out = Repeat(BinaryConv(x, W, 1)) * mul + add`` (nested function calls).

    Shared by BinaryConvFused and BinaryConvFusedAdd; reads the formal inputs ``W``, ``mul`` and ``add``
    and names its intermediates ``cta_*``.
    """
    i64, f32 = TensorProto.INT64, TensorProto.FLOAT
    conv = helper.make_node("BinaryConv", [x, "W", "cta_ones"], ["cta_acc"], domain=DOMAIN)
    conv.attribute.extend(attr_ref(k, binary_conv.ATTRIBUTES[k].type) for k in _CONV_ATTRS)
    rep = helper.make_node("Repeat", ["cta_acc"], ["cta_tiled"], domain=DOMAIN)
    rep.attribute.append(attr_ref("repeats", A.INT))
    return [
        helper.make_node("Shape", ["W"], ["cta_cout"], start=0, end=1),
        helper.make_node("ConstantOfShape", ["cta_cout"], ["cta_ones"],
                         value=helper.make_tensor("v", f32, [1], [1.0])),
        conv, rep,
        helper.make_node("Constant", [], ["cta_chan_shape"],
                         value=helper.make_tensor("s", i64, [4], [1, -1, 1, 1])),
        helper.make_node("Reshape", ["mul", "cta_chan_shape"], ["cta_mul4"]),
        helper.make_node("Reshape", ["add", "cta_chan_shape"], ["cta_add4"]),
        helper.make_node("Mul", ["cta_tiled", "cta_mul4"], ["cta_scaled"]),
        helper.make_node("Add", ["cta_scaled", "cta_add4"], [out]),
    ]


def _body(with_residual: bool) -> onnx.FunctionProto:
    """BinaryConv (scale 1) and Repeat as nested model-local functions, then Mul/Add (+ residual)."""
    nodes = conv_tile_affine_nodes("X", "affine" if with_residual else "Y")
    inputs = ["X", "W", "mul", "add"]
    if with_residual:
        nodes.append(helper.make_node("Add", ["affine", "residual"], ["Y"]))
        inputs.append("residual")
    fn = helper.make_function(DOMAIN, NAME_ADD if with_residual else NAME, inputs, ["Y"], nodes,
                              [helper.make_opsetid("", ONNX_OPSET),
                               helper.make_opsetid(DOMAIN, VERSION)])
    return declare_attributes(fn, ATTRIBUTES, __doc__)


SPEC = OpSpec(name=NAME, inputs=("X", "W", "mul", "add"), outputs=("Y",), attributes=ATTRIBUTES,
              doc=__doc__ or "", reference=reference, function_body=lambda: _body(False))
SPEC_ADD = OpSpec(name=NAME_ADD, inputs=("X", "W", "mul", "add", "residual"), outputs=("Y",),
                  attributes=ATTRIBUTES, doc=__doc__ or "", reference=reference,
                  function_body=lambda: _body(True))
