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
from .schema import DOMAIN, ONNX_OPSET, VERSION, Attr, OpSpec, attr_default, attr_ref

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


def _body(with_residual: bool) -> onnx.FunctionProto:
    """Calls BinaryConv (scale 1) and Repeat, then Mul/Add: nested model-local functions."""
    i64 = TensorProto.INT64
    conv = helper.make_node("BinaryConv", ["X", "W", "ones"], ["acc"], domain=DOMAIN)
    conv.attribute.extend(attr_ref(k, binary_conv.ATTRIBUTES[k].type) for k in _CONV_ATTRS)
    rep = helper.make_node("Repeat", ["acc"], ["tiled"], domain=DOMAIN)
    rep.attribute.append(attr_ref("repeats", A.INT))
    nodes = [
        helper.make_node("Shape", ["W"], ["cout_1d"], start=0, end=1),
        helper.make_node("ConstantOfShape", ["cout_1d"], ["ones"],
                         value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
        conv, rep,
        helper.make_node("Constant", [], ["chan_shape"],
                         value=helper.make_tensor("s", i64, [4], [1, -1, 1, 1])),
        helper.make_node("Reshape", ["mul", "chan_shape"], ["mul4"]),
        helper.make_node("Reshape", ["add", "chan_shape"], ["add4"]),
        helper.make_node("Mul", ["tiled", "mul4"], ["scaled"]),
        helper.make_node("Add", ["scaled", "add4"], ["Y" if not with_residual else "affine"]),
    ]
    inputs = ["X", "W", "mul", "add"]
    if with_residual:
        nodes.append(helper.make_node("Add", ["affine", "residual"], ["Y"]))
        inputs.append("residual")
    fn = helper.make_function(DOMAIN, NAME_ADD if with_residual else NAME, inputs, ["Y"], nodes,
                              [helper.make_opsetid("", ONNX_OPSET),
                               helper.make_opsetid(DOMAIN, VERSION)])
    fn.attribute.extend(k for k, v in ATTRIBUTES.items() if v.default is None)
    fn.attribute_proto.extend(attr_default(k, v) for k, v in ATTRIBUTES.items()
                              if v.default is not None)
    fn.doc_string = __doc__ or ""
    return fn


SPEC = OpSpec(name=NAME, inputs=("X", "W", "mul", "add"), outputs=("Y",), attributes=ATTRIBUTES,
              doc=__doc__ or "", reference=reference, function_body=lambda: _body(False))
SPEC_ADD = OpSpec(name=NAME_ADD, inputs=("X", "W", "mul", "add", "residual"), outputs=("Y",),
                  attributes=ATTRIBUTES, doc=__doc__ or "", reference=reference,
                  function_body=lambda: _body(True))
