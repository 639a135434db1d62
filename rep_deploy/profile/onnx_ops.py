"""Count FLOPs, BOPs and OPs of an exported ONNX file the way the RepBNN paper's Tables 1-2 do.

This is the ONNX-side twin of :func:`rep_deploy.profile.opcount.count_ops` (the PyTorch side). It
reads any of the three export forms (custom fused, custom ``--no-fuse``, ``--ops standard``) and
gives the same counts for all three, and the same as ``count_ops`` on the PyTorch model.

Conventions (RepBNN, following XNOR-Net / Bi-Real / ReActNet; see ``docs/design.md`` section 9 and
the research notes' section 3):

* Full-precision ``Conv`` counts MACs, ``Cout * Cin/group * kh * kw * Ho * Wo``; ``Gemm`` / ``MatMul``
  count ``in * out`` MACs (no bias). FLOPs = conv MACs + FC MACs.
* Binary convs count binary MACs at their *own* (pre-tile) output channels, so a RepBNN has exactly
  its base's binary MACs. Binary convs are the ``rep_deploy`` ops ``BinaryConv``,
  ``BinaryConvFused``, ``BinaryConvFusedAdd`` and ``BinaryConvBlock`` (Cc = W's rows; K = Cin/group
  * kh * kw comes from X's channel count, as ``rep_deploy.inspect`` does, because the packed W does
  not store it) and, in ``--ops standard`` files, a ``Conv`` whose input is
  ``Where(GreaterOrEqual(x, c), 1, -1)`` (optionally through a ``Pad``).
* BOPs: the paper's ReActNet-A / Rep-ReActNet-A OPs (Table 1) need BOPs = binary MACs + the
  binary convs' pre-tile output elements; its ResNet-20 figure (Table 2) needs pure binary MACs.
  Both are kept: ``binary_macs`` and ``bops`` (= ``binary_macs + binary_out_elements``), and
  :meth:`OnnxOpCount.ops` takes ``bops="paper"`` or ``bops="macs"``.
* ``OPs = FLOPs + BOPs / 64``.
* BatchNorm counts 2 FLOPs per normalized element, reported separately (``ops(with_bn=True)``).
  In an export the BN takes one of four forms, all counted as the elements of the tensor it
  normalizes:

  - a ``BatchNormalization`` node (``--ops standard``);
  - ``Mul(x, k) -> Add(., b)`` with k and b constant and per channel (``batchnorm_to_affine``; the
    rule is structural, not by name: the Mul's only reader is the Add, and k and b broadcast along
    axis 1 only, with x's channel count);
  - inside ``BinaryConvFused*`` / ``BinaryConvBlock`` (the ``mul`` / ``add`` inputs): 2 x the op's
    output elements (post-tile channels, where the BN sits). ``fuse_binary_conv`` also fuses a bare
    tile with ``k = 1, b = 0``: a ``BinaryConvFused`` with repeats > 1, ``add == 0`` and ``mul``
    periodic with period Cc (i.e. just the tiled scale) holds no BN (Rep-VGG-small's tile -> MaxPool
    -> BN). A real BN with every ``beta - mean*k`` exactly 0 and a periodic k (an untrained BN)
    would be read the same way;
  - folded into the preceding full-precision conv by the TorchScript exporter (its eval-mode
    Conv+BN peephole): no trace but the conv's bias. The zoo's FP convs have no bias of their own,
    so a bias on an FP ``Conv`` is counted as a folded BN over the conv's output elements
    (``folded_bn_elements``, included by default). This is how ReActNet-A's stem BN (32 x 112 x 112
    = 401,408 elements) is recovered from the file, and why the PyTorch-side ``bn_elements``
    equals ``bn_elements + folded_bn_elements`` here.

* Tiles (``Repeat`` / ``Tile``, and the channel map inside fused ops), pooling, PReLU, bias adds,
  residual adds and sign count 0 in OPs. They are reported per category with element counts
  (output elements; input elements for pooling) for information only: those element counts follow
  the graph's nodes and so differ between export forms.

The paper's Rep BN figure is not a per-element count: see :func:`bn_flops_paper`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import onnx
from onnx import helper, numpy_helper

from rep_deploy import ops as rd_ops
from rep_deploy.inspect import value_shapes

from .opcount import paper_ops

__all__ = [
    "CATEGORIES",
    "NodeCost",
    "OnnxOpCount",
    "bn_flops_paper",
    "bn_share_factor",
    "count_onnx_ops",
]

CATEGORIES: tuple[str, ...] = ("conv", "fc", "binary_conv", "bn", "tile", "pooling", "elementwise", "other")

_POOL = {"AveragePool", "MaxPool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool"}
_TILE = {"Tile", "Repeat"}
_ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "PRelu", "Relu", "LeakyRelu", "Clip", "Sign", "Where",
                "GreaterOrEqual", "Greater", "Less", "LessOrEqual", "Tanh", "Sigmoid", "HardTanh",
                "HardSigmoid", "Neg", "Abs"}
_COUNT_FIELDS = ("conv_macs", "fc_macs", "binary_macs", "binary_out_elements", "bn_elements",
                 "folded_bn_elements", "tile_elements", "pool_elements", "elementwise_elements")


@dataclass(frozen=True)
class NodeCost:
    """The cost of one node (a BN's ``Mul -> Add`` pair is one entry, op type ``Mul+Add``).

    ``category`` is the node's main kind (one of :data:`CATEGORIES`); a fused op also fills the
    counts of what it absorbed (its BN, tile, residual add, RPReLU, residual pool).
    """

    name: str
    op_type: str
    category: str
    out_shape: tuple[int, ...]
    conv_macs: int = 0
    fc_macs: int = 0
    binary_macs: int = 0
    binary_out_elements: int = 0  # pre-tile output elements of a binary conv
    bn_elements: int = 0
    folded_bn_elements: int = 0  # FP conv bias = a BN folded in by the exporter
    tile_elements: int = 0
    pool_elements: int = 0
    elementwise_elements: int = 0


@dataclass
class OnnxOpCount:
    """Per-image cost of an exported model; totals of :attr:`per_node`."""

    conv_macs: int = 0
    fc_macs: int = 0
    binary_macs: int = 0
    binary_out_elements: int = 0
    bn_elements: int = 0
    folded_bn_elements: int = 0
    tile_elements: int = 0
    pool_elements: int = 0
    elementwise_elements: int = 0
    beta: int | None = None
    input_shape: tuple[int, ...] = ()
    per_node: list[NodeCost] = field(default_factory=list)

    @property
    def fp_macs(self) -> int:
        """FLOPs: full-precision conv + FC MACs."""
        return self.conv_macs + self.fc_macs

    @property
    def bops(self) -> int:
        """The paper's Table 1 BOPs: binary MACs + binary-conv output elements (pre-tile)."""
        return self.binary_macs + self.binary_out_elements

    def bn_flops(self, include_folded: bool = True) -> int:
        """Literal BN FLOPs: 2 per normalized element.

        Args:
            include_folded: also count BNs the exporter folded into an FP conv (its bias).

        Returns:
            2 x the BN elements.
        """
        return 2 * (self.bn_elements + (self.folded_bn_elements if include_folded else 0))

    def ops(self, with_bn: bool = False, bops: Literal["paper", "macs"] = "paper",
            include_folded_bn: bool = True) -> float:
        """OPs = FLOPs + BOPs/64 (+ literal BN FLOPs when ``with_bn``).

        Args:
            with_bn: add :meth:`bn_flops`.
            bops: ``"paper"`` (binary MACs + output elements; reproduces Table 1) or ``"macs"``
                (pure binary MACs; reproduces Table 2's ResNet-20 1,069,696).
            include_folded_bn: passed to :meth:`bn_flops`.

        Returns:
            The OPs for one image (a float: BOPs/64 need not be whole).
        """
        return paper_ops(self.fp_macs, self.binary_macs, self.binary_out_elements,
                         self.bn_flops(include_folded_bn) if with_bn else 0, bops=bops)

    def by_category(self) -> dict[str, dict[str, int]]:
        """Totals per node category: ``{category: {"nodes": n, <count field>: sum, ...}}``.

        Returns:
            One entry per category in :data:`CATEGORIES` that has nodes, with every count field.
        """
        out: dict[str, dict[str, int]] = {}
        for node in self.per_node:
            totals = out.setdefault(node.category, {"nodes": 0, **{f: 0 for f in _COUNT_FIELDS}})
            totals["nodes"] += 1
            for f in _COUNT_FIELDS:
                totals[f] += getattr(node, f)
        return {c: out[c] for c in CATEGORIES if c in out}


def bn_share_factor(beta: int) -> float:
    """The paper's Rep BN cost factor, ``1/(2*beta) + beta/2`` (= 1.25 at beta = 2).

    Args:
        beta: the RepTran replication factor (>= 1; 1 gives 1.0).

    Returns:
        The factor applied to the base model's literal BN FLOPs.
    """
    if beta < 1:
        raise ValueError(f"beta must be >= 1, got {beta}")
    return 1 / (2 * beta) + beta / 2


def bn_flops_paper(base_bn_flops: int, beta: int) -> float:
    """The RepBNN paper's BN FLOPs of a Rep model: ``base_bn_flops * (1/(2*beta) + beta/2)``.

    The paper reports Rep-ReActNet-A's BN as 1.261e7, while the literal 2-per-element count of
    the Rep model (BN after every beta^2-fold tile, on beta*C channels) is 19,367,936 = 1.937e7.
    The paper's figure is instead ReActNet-A's literal 10,085,376 times 1.25 = 12,606,720 =
    1.261e7, and 1.25 = 1/(2*beta) + beta/2 at beta = 2 ("shared normalization": read as
    one op per tiled beta*C element plus one per pre-tile C/beta element, i.e. C*(beta + 1/beta)
    = 2C * (beta/2 + 1/(2*beta)) per position instead of the base's 2C). Applied literally
    layer by layer that reading gives 1.241e7-1.281e7 depending on the stem, so the factor is
    applied to the base model's total, which is what reproduces the table. With it,
    Rep-ReActNet-A's OPs with BN are 88,186,276 + 12,606,720 = 100,792,996 = 1.008e8.

    Args:
        base_bn_flops: literal BN FLOPs (2 per element) of the *base* (beta = 1) model, e.g.
            ``count_onnx_ops(base).bn_flops()`` or ``count_ops(base, ...).bn_flops``.
        beta: the Rep model's replication factor.

    Returns:
        The paper-convention BN FLOPs of the Rep model.
    """
    return base_bn_flops * bn_share_factor(beta)


# --------------------------------------------------------------------------------------------------

def _vi_shape(vi: onnx.ValueInfoProto) -> tuple[int | None, ...]:
    return tuple(d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim)


def _per_channel(value: np.ndarray | None, shape: tuple[int, ...]) -> bool:
    """Whether a constant broadcast against ``shape`` varies along axis 1 only, with its full width."""
    if value is None or len(shape) < 2 or value.ndim > len(shape):
        return False
    aligned = (1,) * (len(shape) - value.ndim) + tuple(value.shape)
    return aligned[1] == shape[1] and all(d == 1 for i, d in enumerate(aligned) if i != 1)


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def count_onnx_ops(model: onnx.ModelProto | str | os.PathLike[str], *, beta: int | None = None,
                   input_shape: tuple[int, ...] | None = None) -> OnnxOpCount:
    """Count the OPs of an exported rep-deploy ONNX model (any export form) for one image.

    Args:
        model: an ``onnx.ModelProto`` or a path to an ``.onnx`` file.
        beta: the Rep factor to record in the result; default: the file's ``rep_deploy`` metadata
            (``None`` if absent). It does not change any count.
        input_shape: (C, H, W) or (1, C, H, W); default: the graph input's static shape.

    Returns:
        Totals and per-node costs (:class:`OnnxOpCount`).

    Raises:
        ValueError: the model does not have exactly one non-constant input, or its size is unknown.
    """
    if not isinstance(model, onnx.ModelProto):
        from rep_deploy.onnx_file import read_onnx

        model = read_onnx(model)
    graph = model.graph
    consts: dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.attribute:
            value = helper.get_attribute_value(node.attribute[0])
            if isinstance(value, onnx.TensorProto):
                consts[node.output[0]] = numpy_helper.to_array(value)
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1:
        raise ValueError(f"expected one image input, found {len(inputs)}")
    if input_shape is None:
        dims = _vi_shape(inputs[0])[1:]
        if any(d is None or d == 0 for d in dims):
            raise ValueError(f"input {inputs[0].name!r} has no static size {dims}; pass input_shape")
        input_shape = (1, *dims)
    elif len(input_shape) == len(_vi_shape(inputs[0])) - 1:
        input_shape = (1, *input_shape)
    input_shape = tuple(int(d) for d in input_shape)
    if input_shape[0] != 1:
        raise ValueError(f"count_onnx_ops counts one image; got batch {input_shape[0]}")
    shapes = value_shapes(model, input_shape)
    shapes[inputs[0].name] = input_shape
    for name, value in consts.items():
        shapes.setdefault(name, tuple(value.shape))

    if beta is None:
        try:
            from rep_deploy.export.finalize import read_metadata

            beta = read_metadata(model).get("beta")
        except Exception:  # noqa: BLE001 - metadata is informational only
            beta = None

    producer = {o: n for n in graph.node for o in n.output if o}
    readers: dict[str, list[onnx.NodeProto]] = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in graph.output}

    def numel(name: str) -> int:
        return math.prod(shapes[name])

    def is_binarized(name: str) -> bool:
        """``name`` = Where(GreaterOrEqual(x, const), 1, -1) [-> Pad]."""
        node = producer.get(name)
        if node is not None and node.op_type == "Pad":
            node = producer.get(node.input[0])
        if node is None or node.op_type != "Where" or len(node.input) != 3:
            return False
        one, minus = consts.get(node.input[1]), consts.get(node.input[2])
        cond = producer.get(node.input[0])
        return (one is not None and minus is not None and one.size == 1 and minus.size == 1
                and float(one.reshape(-1)[0]) == 1.0 and float(minus.reshape(-1)[0]) == -1.0
                and cond is not None and cond.op_type == "GreaterOrEqual" and cond.input[1] in consts)

    result = OnnxOpCount(beta=beta, input_shape=input_shape)
    absorbed: set[str] = set()  # outputs of Adds already counted as part of a BN pair
    for node in graph.node:
        if node.op_type == "Constant" or (node.output and node.output[0] in absorbed):
            continue
        out = node.output[0]
        out_shape = shapes.get(out, ())
        name = node.name or out
        cost: dict[str, int] = {}
        category, op_type = "other", node.op_type
        if node.domain == rd_ops.DOMAIN and node.op_type in rd_ops.BINARY_OPS:
            category = "binary_conv"
            a = _attrs(node)
            kh, kw = a["kernel_shape"]
            w = consts[node.input[1]]
            cc = int(w.shape[0])
            if w.dtype == np.uint8:  # packed: K is not stored, derive it from X
                k = shapes[node.input[0]][1] // int(a.get("group", 1)) * kh * kw
            else:
                k = math.prod(w.shape[1:])
            ho, wo = out_shape[2], out_shape[3]
            cost["binary_macs"] = cc * k * ho * wo
            cost["binary_out_elements"] = cc * ho * wo
            repeats = int(a.get("repeats", 1))
            if repeats > 1:
                cost["tile_elements"] = numel(out)
            if node.op_type != "BinaryConv":
                has_bn = True
                if node.op_type == "BinaryConvFused" and repeats > 1:
                    mul, add = consts.get(node.input[2]), consts.get(node.input[3])
                    if (mul is not None and add is not None and not np.any(add)
                            and np.array_equal(mul, np.tile(mul[:cc], repeats))):
                        has_bn = False  # a bare tile fused with k = 1, b = 0
                if has_bn:
                    cost["bn_elements"] = numel(out)
            if node.op_type == "BinaryConvFusedAdd":
                cost["elementwise_elements"] = numel(out)  # residual add
            elif node.op_type == "BinaryConvBlock":
                cost["elementwise_elements"] = 4 * numel(out)  # residual add, RPReLU's add/PReLU/add
                if list(a.get("residual_pool", [1, 1])) != [1, 1]:
                    cost["pool_elements"] = numel(node.input[5])
        elif node.op_type == "Conv":
            w = consts.get(node.input[1])
            wshape = shapes[node.input[1]] if w is None else w.shape
            macs = numel(out) * math.prod(wshape[1:])
            if is_binarized(node.input[0]):
                category = "binary_conv"
                cost["binary_macs"] = macs
                cost["binary_out_elements"] = numel(out)
            else:
                category = "conv"
                cost["conv_macs"] = macs
                if len(node.input) > 2 and node.input[2]:
                    cost["folded_bn_elements"] = numel(out)
        elif node.op_type in ("Gemm", "MatMul"):
            category = "fc"
            a_shape = shapes[node.input[0]]
            if node.op_type == "Gemm":
                k = a_shape[0] if _attrs(node).get("transA", 0) else a_shape[1]
            else:
                k = a_shape[-1]
            cost["fc_macs"] = numel(out) * k
        elif node.op_type == "BatchNormalization":
            category = "bn"
            cost["bn_elements"] = numel(node.input[0])
        elif node.op_type == "Mul" and (add := _bn_pair(node, consts, shapes, readers, graph_outputs)):
            absorbed.add(add.output[0])
            category, op_type = "bn", "Mul+Add"
            x = node.input[0] if node.input[0] not in consts else node.input[1]
            cost["bn_elements"] = numel(x)
            out_shape = shapes.get(add.output[0], out_shape)
        elif node.op_type in _TILE:
            category = "tile"
            cost["tile_elements"] = numel(out)
        elif node.op_type in _POOL:
            category = "pooling"
            cost["pool_elements"] = numel(node.input[0])
        elif node.op_type in _ELEMENTWISE:
            category = "elementwise"
            cost["elementwise_elements"] = numel(out)
        nc = NodeCost(name, op_type, category, tuple(out_shape), **cost)
        result.per_node.append(nc)
        for f, v in cost.items():
            setattr(result, f, getattr(result, f) + v)
    return result


def _bn_pair(mul: onnx.NodeProto, consts: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]],
             readers: dict[str, list[onnx.NodeProto]], graph_outputs: set[str]) -> onnx.NodeProto | None:
    """The ``Add`` of a folded BN ``Mul(x, k) -> Add(., b)`` starting at ``mul``, else None.

    k and b must be constants varying along the channel axis only, with x's channel count; x not
    constant; the Mul's output read only by that Add and not a graph output.
    """
    if len(mul.input) != 2:
        return None
    x, k = mul.input
    if x in consts:
        x, k = k, x
    if x in consts or x not in shapes or not _per_channel(consts.get(k), shapes[x]):
        return None
    out = mul.output[0]
    rd = readers.get(out, [])
    if out in graph_outputs or len(rd) != 1 or rd[0].op_type != "Add" or len(rd[0].input) != 2:
        return None
    add = rd[0]
    b = add.input[1] if add.input[0] == out else add.input[0]
    if not _per_channel(consts.get(b), shapes[x]):
        return None
    return add
