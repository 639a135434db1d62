"""Session-time rewrite: each BinaryConvBlock hands the block after it that block's input signs.

A ReActNet / RepBNN stage reads its input twice: once to binarize it (``x >= threshold``, a pass
over the whole float tensor) and once as the residual. The block that wrote that tensor had every
value in registers a moment before, so it can write the next block's sign bits too (one bit per
float, a 32nd of the bytes), and the next block skips its own pass over the floats (that pass was
about 11% of rep-reactnet-a's time on one core; linking saves 6%, see runtimes/ort/README.md).

This is a rewrite of a session's graph, never of an exported file: pairs ``P -> C`` of
``rep_deploy::BinaryConvBlock`` where P's output Y is read by C alone, as C's input X (and
possibly also as its residual), and is not a graph output, become ``BinaryConvBlockLinked`` of the
``rep_deploy.runtime`` domain (runtimes/ort/ops/binary_conv_op.h): P gets C's threshold as input 9
and a second output ``Y_signs``, C reads ``Y_signs`` as input 10. The arithmetic is the same
comparison on the same float, so outputs are bit-identical (tests/test_link_signs.py); the file on
disk keeps the portable op set, its function bodies and the converters' view of it. Only sessions
that load rep-deploy's kernel library can run the result (:func:`rep_deploy.runtime.session_model`).

The same rewrite folds a ``rep_deploy::Repeat`` read only by one block (as its X, and maybe its
residual) into that block (attribute ``x_repeats``: channel c of the conv's input is channel
c mod C of the Repeat's input, and the residual is tiled as the op already allows). A RepBNN's stem
(``BN -> Repeat`` before the first block) then writes its float tensor once instead of beta times.

And a linked pair whose consumer is a downsampling block, reading P's output only through its
signs and as its 2x2-average-pooled residual (ReActNet's stride-2 blocks: ``residual_pool`` 2x2,
residual = X), has P write that pooled residual instead of its full output (attribute ``y_pool``;
C gets ``x_pooled`` and a residual it does not pool again). The pooling is the same four float
additions in the same order, so the bits stay the same; P writes a quarter of the floats and C's
pass over the full tensor goes: for rep-reactnet-a, whose float tensors are twice reactnet-a's,
that pass was 0.6 ms of ~21 at one thread (runtimes/ort/README.md). Only where the consumer's
geometry admits no odd input size (then P's output is even-sized in every valid run).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable, NamedTuple

import onnx

from rep_deploy import ops

RUNTIME_DOMAIN = "rep_deploy.runtime"
LINKED = "BinaryConvBlockLinked"
_BLOCK_INPUTS = 9  # X, W, threshold, mul, add, residual, pre, slope, post
X_SIGNS = 10  # a linked block's input X_signs (uint8); its output 1 is Y_signs
_X, _THRESHOLD, _RESIDUAL, _SIGN_THRESHOLD = 0, 2, 5, 9


class Rewrites(NamedTuple):
    pairs: int  # block pairs linked
    repeats: int  # Repeat nodes folded into the block reading them
    pools: int = 0  # of the pairs, those whose producer writes the consumer's pooled residual


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    return next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def _pools_only_even_maps(node: onnx.NodeProto) -> bool:
    """Whether ``node`` pools its residual (its X) 2x2 and its conv maps no odd input size H to
    H // 2 = the pooled size, along either axis: its input is then even-sized whenever the graph
    runs, which the producer's pooled output needs. (For stride 2 the difference between the two
    is the same for every odd H, so the sizes checked cover all.)"""
    if list(_attr(node, "residual_pool", [1, 1])) != [2, 2] or node.input[_RESIDUAL] != node.input[_X]:
        return False
    k = list(_attr(node, "kernel_shape", []))
    s = list(_attr(node, "strides", [1, 1]))
    p = list(_attr(node, "pads", [0, 0, 0, 0]))
    d = list(_attr(node, "dilations", [1, 1]))
    if len(k) != 2 or len(s) != 2 or len(p) != 4 or len(d) != 2:
        return False
    for ax in (0, 1):
        for h in range(1, 4097, 2):
            out = (h + p[ax] + p[ax + 2] - d[ax] * (k[ax] - 1) - 1) // s[ax] + 1
            if out >= 1 and out == h // 2:
                return False
    return True


def _is_block(node: onnx.NodeProto) -> bool:
    return (node.domain == ops.DOMAIN and node.op_type == "BinaryConvBlock"
            and len(node.input) == _BLOCK_INPUTS and len(node.output) == 1)


def _is_repeat(node: onnx.NodeProto) -> bool:
    return node.domain == ops.DOMAIN and node.op_type == "Repeat" and len(node.output) == 1


def _block_reader(graph: onnx.GraphProto, i: int, readers: dict[str, list[tuple[int, int]]],
                  outputs: set[str]) -> int | None:
    """The block that alone reads node i's output, as its X (and maybe its residual), or None."""
    y = graph.node[i].output[0]
    uses = readers[y]
    consumers = {j for j, _ in uses}
    if y in outputs or len(consumers) != 1:
        return None
    j = consumers.pop()
    ok = (_is_block(graph.node[j]) and any(k == _X for _, k in uses)
          and all(k in (_X, _RESIDUAL) for _, k in uses))
    return j if ok else None


def _find(graph: onnx.GraphProto, select: Callable[[onnx.NodeProto], bool]) -> list[tuple[int, int]]:
    """(node, block) index pairs: nodes ``select`` accepts whose output one block alone reads."""
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
           for n in graph.node for a in n.attribute):
        return []  # readers inside subgraphs are not visible here: leave such graphs alone
    readers: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, node in enumerate(graph.node):
        for k, name in enumerate(node.input):
            if name:
                readers[name].append((i, k))
    outputs = {o.name for o in graph.output}
    found = []
    for i, node in enumerate(graph.node):
        j = _block_reader(graph, i, readers, outputs) if select(node) else None
        if j is not None:
            found.append((i, j))
    return found


def find_links(graph: onnx.GraphProto) -> list[tuple[int, int]]:
    """(producer, consumer) node indices of the block pairs that can pass sign bits."""
    return _find(graph, _is_block)


def find_folds(graph: onnx.GraphProto) -> list[tuple[int, int]]:
    """(Repeat, block) node indices of the Repeats a block can take over."""
    return _find(graph, _is_repeat)


def link_signs(model: onnx.ModelProto, pool: bool = True) -> tuple[onnx.ModelProto, Rewrites]:
    """A copy of ``model`` with every linkable block pair and foldable Repeat rewritten, and how
    many of each there were. With neither, the model itself comes back, unchanged. ``pool``: also
    let producers write their downsampling consumer's pooled residual (False: for A/B runs).
    """
    links, folds = find_links(model.graph), find_folds(model.graph)
    if not links and not folds:
        return model, Rewrites(0, 0)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    nodes = out.graph.node
    taken = {name for n in nodes for name in (*n.input, *n.output)}
    linked: set[int] = set()
    pools = 0

    def make_linked(i: int) -> None:
        if i not in linked:
            linked.add(i)
            nodes[i].domain, nodes[i].op_type = RUNTIME_DOMAIN, LINKED
            nodes[i].input.extend([""] * (X_SIGNS + 1 - len(nodes[i].input)))

    for r, b in folds:
        make_linked(b)
        repeats = _attr(nodes[r], "repeats", 1)
        src, tiled = nodes[r].input[0], nodes[r].output[0]
        for k in (_X, _RESIDUAL):
            if nodes[b].input[k] == tiled:
                nodes[b].input[k] = src
        nodes[b].attribute.append(onnx.helper.make_attribute("x_repeats", int(repeats)))
    for p, c in links:
        for i in (p, c):
            make_linked(i)
        signs = f"{nodes[p].output[0]}__signs"
        while signs in taken:
            signs += "_"
        taken.add(signs)
        nodes[p].input[_SIGN_THRESHOLD] = nodes[c].input[_THRESHOLD]
        nodes[p].output.append(signs)
        nodes[c].input[X_SIGNS] = signs
        if pool and _pools_only_even_maps(nodes[c]):
            pools += 1
            nodes[p].attribute.append(onnx.helper.make_attribute("y_pool", 1))
            nodes[c].attribute.append(onnx.helper.make_attribute("x_pooled", 1))
            kept = [a for a in nodes[c].attribute if a.name != "residual_pool"]
            del nodes[c].attribute[:]
            nodes[c].attribute.extend(kept)  # X is the pooled residual already
    for i in linked:  # no trailing empty optional input
        while nodes[i].input and not nodes[i].input[-1]:
            del nodes[i].input[-1]
    for r in sorted((r for r, _ in folds), reverse=True):
        del nodes[r]
    out.opset_import.append(onnx.helper.make_opsetid(RUNTIME_DOMAIN, 1))
    return out, Rewrites(len(links), len(folds), pools)
