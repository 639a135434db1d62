"""The ``rep_deploy`` ONNX op set, version 1: one module per op, this file is the registry.

Each op module holds its schema (inputs, attributes, defaults), its numpy reference (the test oracle
for every backend) and its ONNX function body in standard ops.
"""
from __future__ import annotations

import onnx

from . import binary_conv, binary_conv_block, binary_conv_fused, bitpack, repeat
from .schema import DOMAIN, IR_VERSION, ONNX_OPSET, VERSION, Attr, OpSpec

#: Every op of the domain, by name.
OPS: dict[str, OpSpec] = {spec.name: spec for spec in (
    binary_conv.SPEC, repeat.SPEC, binary_conv_fused.SPEC, binary_conv_fused.SPEC_ADD,
    binary_conv_block.SPEC)}

#: Ops whose input 1 is a bit-packed binary weight (``W``, layout of :mod:`.bitpack`).
BINARY_OPS: tuple[str, ...] = (binary_conv.NAME, binary_conv_fused.NAME, binary_conv_fused.NAME_ADD,
                               binary_conv_block.NAME)

__all__ = ["DOMAIN", "VERSION", "ONNX_OPSET", "IR_VERSION", "OPS", "BINARY_OPS", "Attr", "OpSpec", "get",
           "function_protos", "opset_imports", "make_node", "bitpack", "binary_conv", "binary_conv_fused", "binary_conv_block",
           "repeat"]


def get(name: str) -> OpSpec:
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not an op of domain {DOMAIN!r}; known: {sorted(OPS)}") from None


def function_protos(names: set[str] | None = None) -> list[onnx.FunctionProto]:
    """Model-local function bodies for the named ops and the ops their bodies call (all when None)."""
    wanted = set(OPS) if names is None else set(names)
    # fused ops' bodies call BinaryConv and Repeat
    if wanted & {binary_conv_fused.NAME, binary_conv_fused.NAME_ADD, binary_conv_block.NAME}:
        wanted |= {binary_conv.NAME, repeat.NAME}
    # callees before callers: onnx.reference resolves function calls in list order
    return [OPS[n].function_body() for n in OPS if n in wanted]


def opset_imports() -> list[onnx.OperatorSetIdProto]:
    return [onnx.helper.make_opsetid("", ONNX_OPSET), onnx.helper.make_opsetid(DOMAIN, VERSION)]


def make_node(op_type: str, inputs: list[str], outputs: list[str], *, name: str | None = None,
              **attrs: object) -> onnx.NodeProto:
    """A node of this domain with *every* attribute written out (defaults resolved from the spec).

    Writing defaults explicitly keeps files unambiguous for runtimes that do not apply function
    attribute defaults (``onnx.reference`` does not, for attributes linked into nested calls).
    """
    spec = get(op_type)
    return onnx.helper.make_node(op_type, inputs, outputs, name=name, domain=DOMAIN,
                                 **spec.resolve_attributes(dict(attrs)))


def complete_attributes(node: onnx.NodeProto) -> None:
    """Write out, in place, every attribute of a node of this domain that it leaves to its default.

    Graph rules build nodes from other nodes' attributes; this keeps their output as explicit as
    :func:`make_node`'s (an attribute added to the spec later reaches old rules' nodes too).
    """
    if node.domain != DOMAIN or node.op_type not in OPS:
        return
    given = {a.name for a in node.attribute}
    for name, attr in OPS[node.op_type].attributes.items():
        if name not in given and attr.default is not None:
            node.attribute.append(onnx.helper.make_attribute(name, attr.default, attr_type=attr.type))
