"""Session-time rewrite: a linked block and the 1x1 block that reads its output become one node.

In a ReActNet / RepBNN block the 3x3 conv's output Y1 is read only by the 1x1 conv after it: through
its sign bits (linked, :mod:`rep_deploy.link_signs`) and as that conv's residual. Written whole and
read back, Y1 goes through L3: at RepBNN widths a 56x56 Y1 is 3.2 MB against a 512 KiB L2. As one
``BinaryConvBlockPair`` of the ``rep_deploy.runtime`` domain (runtimes/ort/ops/binary_conv_op.h),
the two convs run tile by tile (``core::binary_block_pair_forward``): Y1's tile stays in cache and
is never written. The arithmetic is the same, so outputs are bit-identical (tests/test_block_pairs.py).
In ``bench_model --pairs`` the 112x112 to 28x28 blocks of rep-reactnet-a ran 10.67 -> 9.55 ms and
reactnet-a's 8.65 -> 8.17 ms (docs/speed_history.md, on a Zen 3). The kernel runs the two halves one after
the other on small maps (under 12 tiles of 64 pixels), where fusing gains nothing; there the node
costs what the two did (ORT's profiler, session 13). Sessions apply it by default
(:func:`rep_deploy.runtime.session_model`; ``fuse_pairs=False`` to leave the pairs linked): whole
models ran 2.6-4% faster at 1 thread on a VPOPCNTDQ Xeon, 4-8% by minimums at 2 (session 13).

Runs on a graph :func:`rep_deploy.link_signs.link_signs` has linked: a pair ``P -> C`` of
``BinaryConvBlockLinked`` where C is a 1x1 conv (stride 1, no padding, one group, no folded Repeat)
whose X and residual are P's output, read by C alone, and P writes neither a pooled output nor
splits its channels nor pools its residual. The pair node takes P's inputs (P's ``sign_threshold``,
input 9, is C's threshold), then C's W, mul, add, pre, slope, post and C's own ``sign_threshold``,
and gives C's outputs; P's attributes as they are, C's prefixed ``c_``.
"""
from __future__ import annotations

import onnx

from rep_deploy.link_signs import LINKED, RUNTIME_DOMAIN, X_SIGNS

PAIR = "BinaryConvBlockPair"
_W, _MUL, _ADD, _RESIDUAL, _PRE, _SLOPE, _POST, _SIGN_THRESHOLD = 1, 3, 4, 5, 6, 7, 8, 9
# C's attributes the pair node carries (prefixed c_); C's others are defaults the pair requires
_C_ATTRS = ("kernel_shape", "strides", "pads", "dilations", "group", "pad_value", "repeats",
            "splits", "y_pool")


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    return next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def _is_linked(node: onnx.NodeProto) -> bool:
    return node.domain == RUNTIME_DOMAIN and node.op_type == LINKED


def _fusable_producer(node: onnx.NodeProto) -> bool:
    return (_is_linked(node) and len(node.output) == 2 and _attr(node, "y_pool", 0) == 0
            and _attr(node, "splits", 1) == 1 and list(_attr(node, "residual_pool", [1, 1])) == [1, 1])


def _fusable_consumer(node: onnx.NodeProto) -> bool:
    return (_is_linked(node) and list(_attr(node, "kernel_shape", [])) == [1, 1]
            and list(_attr(node, "strides", [1, 1])) == [1, 1]
            and list(_attr(node, "pads", [0, 0, 0, 0])) == [0, 0, 0, 0]
            and _attr(node, "group", 1) == 1 and _attr(node, "x_repeats", 1) == 1
            and _attr(node, "x_pooled", 0) == 0 and list(_attr(node, "residual_pool", [1, 1])) == [1, 1])


def find_pairs(graph: onnx.GraphProto) -> list[tuple[int, int]]:
    """(P, C) node indices of the linked pairs that can run as one BinaryConvBlockPair."""
    readers: dict[str, list[int]] = {}
    for i, node in enumerate(graph.node):
        for name in node.input:
            if name:
                readers.setdefault(name, []).append(i)
    outputs = {o.name for o in graph.output}
    pairs, used = [], set()
    for p, node in enumerate(graph.node):
        if p in used or not _fusable_producer(node):
            continue
        y, signs = node.output
        if y in outputs or signs in outputs or len(set(readers.get(y, []))) != 1:
            continue
        c = readers[y][0]
        consumer = graph.node[c]
        if (c in used or not _fusable_consumer(consumer) or readers.get(signs) != [c]
                or consumer.input[0] != y or consumer.input[_RESIDUAL] != y
                or len(consumer.input) <= X_SIGNS or consumer.input[X_SIGNS] != signs):
            continue
        pairs.append((p, c))
        used.update((p, c))
    return pairs


def fuse_block_pairs(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A copy of a linked ``model`` with every fusable pair as one node, and how many there were.
    With none, the model itself comes back, unchanged."""
    pairs = find_pairs(model.graph)
    if not pairs:
        return model, 0
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes = out.graph.node
    for p, c in pairs:
        prod, cons = nodes[p], nodes[c]
        inputs = list(prod.input) + [""] * (X_SIGNS + 1 - len(prod.input))
        c_in = list(cons.input)
        inputs += [c_in[k] for k in (_W, _MUL, _ADD, _PRE, _SLOPE, _POST)]
        if len(c_in) > _SIGN_THRESHOLD and c_in[_SIGN_THRESHOLD]:
            inputs.append(c_in[_SIGN_THRESHOLD])
        attrs = list(prod.attribute) + [
            onnx.helper.make_attribute("c_" + a.name, onnx.helper.get_attribute_value(a))
            for a in cons.attribute if a.name in _C_ATTRS]
        fused = onnx.helper.make_node(PAIR, inputs, list(cons.output), name=prod.name,
                                      domain=RUNTIME_DOMAIN)
        fused.attribute.extend(attrs)
        nodes[p].CopyFrom(fused)
    for c in sorted((c for _, c in pairs), reverse=True):
        del nodes[c]
    return out, len(pairs)
