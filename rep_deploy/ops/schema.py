"""The op-set definition shared by the exporter, the passes, the kernels' tests, converters and profiler.

Every op of domain ``rep_deploy`` (version 1) is described by one :class:`OpSpec`: its inputs,
outputs and attributes with defaults, a numpy reference (the test oracle), and the ONNX function body
in standard ops that lets the exported file run anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import onnx

DOMAIN = "rep_deploy"
VERSION = 1
#: Standard-op opset the function bodies and exported graphs use (Pad with ``axes`` needs 18).
ONNX_OPSET = 18
#: ONNX Runtime 1.31 accepts IR version <= 13 while onnx 1.23 writes 14; pin what we write.
IR_VERSION = 10


@dataclass(frozen=True)
class Attr:
    """One attribute: ONNX type, default (None = required) and what it means."""

    type: int  # onnx.AttributeProto.AttributeType
    default: Any
    doc: str


@dataclass(frozen=True)
class OpSpec:
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, Attr]
    doc: str
    reference: Callable[..., Any]
    function_body: Callable[[], onnx.FunctionProto]
    optional_inputs: tuple[str, ...] = field(default_factory=tuple)

    def resolve_attributes(self, given: dict[str, Any]) -> dict[str, Any]:
        """Fill defaults and reject unknown or missing attributes (names the offending one)."""
        unknown = sorted(set(given) - set(self.attributes))
        if unknown:
            raise ValueError(f"{self.name}: unknown attribute(s) {unknown}; known: "
                             f"{sorted(self.attributes)}")
        out = {}
        for name, attr in self.attributes.items():
            if name in given:
                out[name] = given[name]
            elif attr.default is None:
                raise ValueError(f"{self.name}: attribute {name!r} is required")
            else:
                out[name] = attr.default
        return out


def attr_ref(name: str, attr_type: int, source: str | None = None) -> onnx.AttributeProto:
    """Attribute ``name`` of a function-body node, taking the calling node's attribute ``source``
    (default: the same name)."""
    a = onnx.AttributeProto()
    a.name, a.ref_attr_name, a.type = name, source or name, attr_type
    return a


def attr_constant(out: str, source: str, attr_type: int) -> onnx.NodeProto:
    """A body node ``out = Constant(the calling node's int or ints attribute source)``: a scalar for
    INT, a 1-D tensor for INTS."""
    kind = {onnx.AttributeProto.INTS: "value_ints", onnx.AttributeProto.INT: "value_int"}[attr_type]
    node = onnx.helper.make_node("Constant", [], [out])
    node.attribute.append(attr_ref(kind, attr_type, source))
    return node


def attr_default(name: str, attr: Attr) -> onnx.AttributeProto:
    return onnx.helper.make_attribute(name, attr.default, attr_type=attr.type)


def declare_attributes(fn: onnx.FunctionProto, attributes: dict[str, Attr], doc: str | None) -> onnx.FunctionProto:
    """Declare a function's attributes (required ones by name, the rest with their defaults) and doc."""
    fn.attribute.extend(k for k, v in attributes.items() if v.default is None)
    fn.attribute_proto.extend(attr_default(k, v) for k, v in attributes.items() if v.default is not None)
    fn.doc_string = doc or ""
    return fn


def set_traced_shape(out: Any, like: Any, sizes: list[int | None] | None) -> Any:
    """Give a custom node's TorchScript output a type (the exporter cannot infer custom shapes)."""
    if sizes is not None:
        try:
            out.setType(like.type().with_sizes(sizes))
        except RuntimeError:  # a type without sizes: leave it to ONNX shape inference
            pass
    return out


def traced_sizes(value: Any) -> list[int | None] | None:
    """Static sizes of a TorchScript value, None where unknown (dynamic) or for unknown rank."""
    try:
        return list(value.type().varyingSizes())
    except RuntimeError:
        return None
