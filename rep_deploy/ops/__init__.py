"""The ``rep_deploy`` ONNX op set, version 1: one module per op, this file is the registry.

Each op module holds its schema (inputs, attributes, defaults), its numpy reference (the test oracle
for every backend) and its ONNX function body in standard ops.
"""
from __future__ import annotations

import onnx

from . import binary_conv, bitpack, repeat
from .schema import DOMAIN, IR_VERSION, ONNX_OPSET, VERSION, Attr, OpSpec

#: Every op of the domain, by name.
OPS: dict[str, OpSpec] = {spec.name: spec for spec in (binary_conv.SPEC, repeat.SPEC)}

__all__ = ["DOMAIN", "VERSION", "ONNX_OPSET", "IR_VERSION", "OPS", "Attr", "OpSpec", "get",
           "function_protos", "opset_imports", "bitpack", "binary_conv", "repeat"]


def get(name: str) -> OpSpec:
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not an op of domain {DOMAIN!r}; known: {sorted(OPS)}") from None


def function_protos(names: set[str] | None = None) -> list[onnx.FunctionProto]:
    """Model-local function bodies for the named ops (all ops when None)."""
    return [OPS[n].function_body() for n in sorted(OPS) if names is None or n in names]


def opset_imports() -> list[onnx.OperatorSetIdProto]:
    return [onnx.helper.make_opsetid("", ONNX_OPSET), onnx.helper.make_opsetid(DOMAIN, VERSION)]
