"""``rep_deploy::Repeat(X) -> Y``: tile X ``repeats`` times along the channel axis (axis 1).

``Y[:, j] = X[:, j mod C]`` for j < C*repeats: PyTorch's ``x.repeat(1, r, 1, 1)`` as the RepBNN code
uses it (not ``repeat_interleave``). Any rank >= 2.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

from .schema import (DOMAIN, ONNX_OPSET, Attr, OpSpec, attr_constant, declare_attributes,
                     set_traced_shape, traced_sizes)

A = onnx.AttributeProto
NAME = "Repeat"
ATTRIBUTES: dict[str, Attr] = {"repeats": Attr(A.INT, None, "number of copies along axis 1 (>= 1)")}


def reference(x: np.ndarray, **attrs: Any) -> np.ndarray:
    a = SPEC.resolve_attributes(attrs)
    r = int(a["repeats"])
    if r < 1 or x.ndim < 2:
        raise ValueError(f"Repeat needs repeats >= 1 and rank >= 2, got repeats={r}, shape {x.shape}")
    return np.tile(x, (1, r) + (1,) * (x.ndim - 2))


def function_body() -> onnx.FunctionProto:
    """Tile(X, [1, repeats, 1, ...]) built from the attribute and the input's rank."""
    i64 = TensorProto.INT64
    rep = attr_constant("r", "repeats", A.INT)
    nodes = [
        rep,
        helper.make_node("Constant", [], ["one_1d"], value=helper.make_tensor("one_1d", i64, [1], [1])),
        helper.make_node("Constant", [], ["two"], value=helper.make_tensor("two", i64, [], [2])),
        helper.make_node("Constant", [], ["zero_axis"], value=helper.make_tensor("za", i64, [1], [0])),
        helper.make_node("Unsqueeze", ["r", "zero_axis"], ["r_1d"]),
        helper.make_node("Shape", ["X"], ["shape"]),
        helper.make_node("Size", ["shape"], ["rank"]),
        helper.make_node("Sub", ["rank", "two"], ["rest"]),
        helper.make_node("Unsqueeze", ["rest", "zero_axis"], ["rest_1d"]),
        helper.make_node("ConstantOfShape", ["rest_1d"], ["ones"],
                         value=helper.make_tensor("v", i64, [1], [1])),
        helper.make_node("Concat", ["one_1d", "r_1d", "ones"], ["reps"], axis=0),
        helper.make_node("Tile", ["X", "reps"], ["Y"]),
    ]
    fn = helper.make_function(DOMAIN, NAME, ["X"], ["Y"], nodes, [helper.make_opsetid("", ONNX_OPSET)])
    return declare_attributes(fn, ATTRIBUTES, __doc__)


def emit(g: Any, x: Any, *, repeats: int) -> Any:
    """TorchScript-exporter symbolic: one Repeat node."""
    out = g.op(f"{DOMAIN}::{NAME}", x, repeats_i=int(repeats))
    sizes = traced_sizes(x)
    if sizes is not None and len(sizes) >= 2:
        sizes[1] = None if sizes[1] is None else sizes[1] * int(repeats)
    return set_traced_shape(out, x, sizes)


SPEC = OpSpec(name=NAME, inputs=("X",), outputs=("Y",), attributes=ATTRIBUTES, doc=__doc__ or "",
              reference=reference, function_body=function_body)
