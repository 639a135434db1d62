"""ONNX-side OPs counter (rep_deploy/profile/onnx_ops.py): the three export forms agree with each
other and with the PyTorch-side ``count_ops``, and the paper's numbers come out."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import rep_deploy
from rep_deploy.nn import RepeatedBatchNorm2d, ScaledBinaryConv2d
from rep_deploy.profile import count_ops
from rep_deploy.profile.onnx_ops import (
    CATEGORIES,
    OnnxOpCount,
    bn_flops_paper,
    bn_share_factor,
    count_onnx_ops,
)

FORMS = {"fused": ("custom", True), "unfused": ("custom", False), "standard": ("standard", False)}
COMPARED = ("conv_macs", "fc_macs", "binary_macs", "binary_out_elements", "bn_elements", "folded_bn_elements")
SMALL = [n for n in rep_deploy.list_models() if max(rep_deploy.get_model_info(n).input_size[1:]) <= 64]


def _sig4(x: float) -> float:
    return float(f"{x:.4g}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Export on demand, once per (model, form), and count."""
    root = tmp_path_factory.mktemp("onnx_ops")
    cache: dict[tuple[str, str], OnnxOpCount] = {}

    def get(name: str, form: str) -> OnnxOpCount:
        if (name, form) not in cache:
            info = rep_deploy.get_model_info(name)
            ops, fuse = FORMS[form]
            out = root / f"{name}-{form}"
            rep_deploy.export_model(name, out, options=rep_deploy.ExportOptions(
                ops=ops, fuse=fuse, input_shape=(1, *info.input_size), reference_images=0, native=False))
            cache[name, form] = count_onnx_ops(out / "model.onnx")
        return cache[name, form]
    return get


def _torch_side(name: str):
    """count_ops on the PyTorch model, the binary convs' pre-tile output elements, and the BN
    elements that sit directly on a plain (non-binary, non-tiled) Conv2d's output: the ones the
    TorchScript exporter folds into that conv."""
    info = rep_deploy.get_model_info(name)
    model = rep_deploy.create_model(name)
    assert not any(type(m) is nn.Conv2d and m.bias is not None for m in model.modules()), \
        "the folded-BN rule assumes FP convs without a bias of their own"
    counted = count_ops(model, info.input_size)
    modules = dict(model.named_modules())
    pre_tile = 0
    for layer in counted.layers:
        if layer.kind == "bconv":
            m = modules[layer.name]
            assert isinstance(m, ScaledBinaryConv2d)
            pre_tile += m.out_channels * layer.out_shape[-2] * layer.out_shape[-1]
    conv_outputs: list[torch.Tensor] = []  # kept alive, so identity checks cannot hit a reused id
    folded = 0

    def conv_hook(m, inputs, output):
        conv_outputs.append(output)

    def bn_hook(m, inputs):
        nonlocal folded
        # a RepeatedBatchNorm2d in "repeat_bn" order tiles first: Conv -> Tile -> BN is not folded
        tiled_first = isinstance(m, RepeatedBatchNorm2d) and m.order == "repeat_bn"
        if any(inputs[0] is t for t in conv_outputs) and not tiled_first:
            folded += m.num_features * math.prod(inputs[0].shape[2:])

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if type(m) is nn.Conv2d]
    hooks += [m.register_forward_pre_hook(bn_hook) for m in model.modules()
              if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, *info.input_size))
    finally:
        for h in hooks:
            h.remove()
    return counted, pre_tile, folded


def _check_model(name: str, exported) -> dict[str, OnnxOpCount]:
    counts = {form: exported(name, form) for form in FORMS}
    ref = counts["fused"]
    for form, c in counts.items():
        for f in COMPARED:
            assert getattr(c, f) == getattr(ref, f), (name, form, f)
        assert c.ops() == ref.ops() and c.ops(with_bn=True) == ref.ops(with_bn=True)
    torch_count, pre_tile, folded = _torch_side(name)
    assert ref.conv_macs == torch_count.conv_macs
    assert ref.fc_macs == torch_count.fc_macs
    assert ref.binary_macs == torch_count.binary_macs > 0
    assert ref.binary_out_elements == pre_tile
    # PyTorch counts every BN; the export folds the ones on a plain conv's output into its bias
    assert ref.folded_bn_elements == folded
    assert ref.bn_elements + ref.folded_bn_elements == torch_count.bn_elements
    assert ref.bn_flops() == torch_count.bn_flops
    assert ref.ops(bops="macs") == torch_count.ops()
    assert ref.ops(with_bn=True, bops="macs") == torch_count.ops(with_bn=True)
    info = rep_deploy.get_model_info(name)
    assert ref.beta == info.beta
    return counts


@pytest.mark.parametrize("name", SMALL)
def test_forms_agree_and_match_pytorch(name, exported):
    counts = _check_model(name, exported)
    c = counts["fused"]
    cats = c.by_category()
    assert set(cats) <= set(CATEGORIES)
    for f in COMPARED:
        assert sum(t[f] for t in cats.values()) == getattr(c, f)
    assert sum(t["nodes"] for t in cats.values()) == len(c.per_node)
    assert cats["binary_conv"]["binary_macs"] == c.binary_macs
    assert cats["conv"]["conv_macs"] == c.conv_macs and cats["fc"]["fc_macs"] == c.fc_macs
    std = counts["standard"].by_category()
    assert std["bn"]["nodes"] == sum(1 for n in counts["standard"].per_node if n.op_type == "BatchNormalization")
    if rep_deploy.get_model_info(name).beta > 1:
        assert std["tile"]["tile_elements"] > 0


def test_small_zoo_is_covered():
    assert {"resnet20", "rep-resnet20", "vgg-small", "rep-vgg-small"} <= set(SMALL)
    assert "reactnet-a" not in SMALL


def test_resnet20_table2(exported):
    """Table 2's ResNet-20 1,069,696 OPs: stem 442,368 + FC 640 + 40,108,032 pure binary MACs / 64."""
    c = exported("resnet20", "fused")
    assert (c.conv_macs, c.fc_macs, c.binary_macs) == (442_368, 640, 40_108_032)
    assert c.ops(bops="macs") == 1_069_696
    # the Table 1 convention (+ 172,032 pre-tile output elements) does not give Table 2's figure
    assert c.binary_out_elements == 172_032
    assert c.ops(bops="paper") == 1_069_696 + 172_032 / 64 == 1_072_384
    rep = exported("rep-resnet20", "standard")
    # "solution 1": FC on all beta*64 = 128 features; stem and binary MACs unchanged
    assert (rep.conv_macs, rep.fc_macs, rep.binary_macs) == (442_368, 1_280, 40_108_032)
    assert rep.ops(bops="macs") == 1_070_336
    assert rep.binary_out_elements == 172_032 // 2  # Cout/beta pre-tile channels


def test_vgg_small_bn_after_pool(exported):
    """Rep-VGG-small: tile -> MaxPool -> BN; the fused op holds only the tile (k=1, b=0), so BN is
    not double-counted."""
    c = exported("vgg-small", "fused")
    assert _sig4(c.ops(bops="macs")) == 1.306e7
    rep = exported("rep-vgg-small", "fused")
    fused = [n for n in rep.per_node if n.op_type == "BinaryConvFused"]
    assert sorted(n.bn_elements > 0 for n in fused) == [False, False, False, True, True]


def test_bn_paper_convention_arithmetic():
    assert bn_share_factor(1) == 1.0
    assert bn_share_factor(2) == 1.25
    assert bn_share_factor(4) == pytest.approx(2.125)
    with pytest.raises(ValueError):
        bn_share_factor(0)
    paper = bn_flops_paper(10_085_376, 2)
    assert paper == 12_606_720 and _sig4(paper) == 1.261e7
    assert _sig4(88_186_276 + paper) == 1.008e8
    # the literal Rep count does not give the paper's figure
    assert _sig4(88_186_276 + 19_367_936) != 1.008e8


def test_ops_rejects_unknown_bops():
    with pytest.raises(ValueError):
        OnnxOpCount().ops(bops="flops")


# ---- hand-built graphs: the structural rules --------------------------------------------------------

def _typed(v) -> np.ndarray:
    a = np.asarray(v)
    return a.astype(np.int64) if np.issubdtype(a.dtype, np.integer) else a.astype(np.float32)


def _model(nodes, inits, out_shape):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        initializer=[numpy_helper.from_array(_typed(v), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_structural_rules_on_a_hand_built_graph(tmp_path: Path):
    rng = np.random.default_rng(0)
    inits = {
        "w0": rng.standard_normal((4, 2, 3, 3)), "b0": rng.standard_normal(4),  # FP conv with bias
        "k": rng.standard_normal((1, 4, 1, 1)), "b": rng.standard_normal((4, 1, 1)),  # BN as Mul/Add
        "zero": 0.0, "one": 1.0, "minus_one": -1.0,
        "wb": np.sign(rng.standard_normal((3, 4, 3, 3))),  # binary conv 4 -> 3
        "reps": np.array([1, 2, 1, 1]),
        "g": np.ones(6), "be": np.zeros(6), "mu": np.zeros(6), "var": np.ones(6),
        "s": 2.0, "t": 1.0,  # scalar Mul/Add: not a BN
        "k2": rng.standard_normal((1, 6, 1, 1)),  # per-channel Mul then a non-constant Add: not a BN
        "zero_one": 0.0, "fc": rng.standard_normal((6, 5)),
        "pads": np.array([0, 0, 1, 1, 0, 0, 1, 1]),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c0", "k"], ["m0"]),
        helper.make_node("Add", ["b", "m0"], ["a0"]),  # constant first: still the BN pair
        helper.make_node("GreaterOrEqual", ["a0", "zero"], ["ge"]),
        helper.make_node("Where", ["ge", "one", "minus_one"], ["sgn"]),
        helper.make_node("Pad", ["sgn", "pads", "one"], ["sgnp"]),
        helper.make_node("Conv", ["sgnp", "wb"], ["bc"]),  # binary: 3 x 4*9 x 4 x 4
        helper.make_node("Tile", ["bc", "reps"], ["tl"]),
        helper.make_node("BatchNormalization", ["tl", "g", "be", "mu", "var"], ["bn"]),
        helper.make_node("Mul", ["bn", "s"], ["ms"]),
        helper.make_node("Add", ["ms", "t"], ["as"]),
        helper.make_node("Mul", ["as", "k2"], ["mk"]),
        helper.make_node("Add", ["mk", "bn"], ["res"]),
        # Where(x >= 0, 1, 0) is not a sign: the conv after it stays full precision
        helper.make_node("Where", ["ge", "one", "zero_one"], ["step"]),
        helper.make_node("Conv", ["step", "wb"], ["fpc"], pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["res"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc"], ["mm"]),
        helper.make_node("ReduceSum", ["fpc"], ["fs"], keepdims=0),
        helper.make_node("Add", ["mm", "fs"], ["y"]),
    ]
    model = _model(nodes, inits, [1, 5])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    with pytest.raises(ValueError, match="input_shape"):
        count_onnx_ops(path)  # symbolic image size
    c = count_onnx_ops(path, input_shape=(2, 4, 4))
    assert c.input_shape == (1, 2, 4, 4) and c.beta is None
    hw = 4 * 4
    assert c.conv_macs == 4 * 2 * 9 * hw + 3 * 4 * 9 * hw  # stem + the Where(.., 1, 0) conv
    assert c.folded_bn_elements == 4 * hw
    assert c.binary_macs == 3 * 4 * 9 * hw and c.binary_out_elements == 3 * hw
    assert c.bn_elements == 4 * hw + 6 * hw  # Mul/Add pair + BatchNormalization
    assert c.fc_macs == 6 * 5
    assert c.tile_elements == 6 * hw and c.pool_elements == 6 * hw
    by_type = [(n.op_type, n.category) for n in c.per_node]
    assert ("Mul+Add", "bn") in by_type
    assert by_type.count(("Mul", "elementwise")) == 2 and by_type.count(("Add", "elementwise")) == 3
    assert sum(1 for _, cat in by_type if cat == "bn") == 2
    assert c.ops() == c.fp_macs + (c.binary_macs + c.binary_out_elements) / 64
    assert c.ops(with_bn=True, include_folded_bn=False) == c.ops() + 2 * c.bn_elements
    # the counts follow the input size
    assert count_onnx_ops(model, input_shape=(2, 8, 8)).binary_macs == 3 * 4 * 9 * 64


# ---- ImageNet size ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_reactnet_a_table1(exported):
    c = _check_model("reactnet-a", exported)["standard"]
    assert c.fc_macs == 1_024_000 and c.conv_macs == 10_838_016
    assert c.binary_macs == 4_816_896_000 and c.binary_out_elements == 4_641_280
    assert c.bops == 4_821_537_280 and _sig4(c.bops) == 4.822e9
    # the stem BN (32 x 112 x 112) is folded into the stem conv by the exporter
    assert c.folded_bn_elements == 401_408
    assert c.bn_flops() == 10_085_376 and c.bn_flops(include_folded=False) == 10_085_376 - 2 * 401_408
    assert c.ops() == 87_198_536 and c.ops(with_bn=True) == 97_283_912
    assert c.ops(bops="macs") == 87_126_016  # pure MACs: 0.871e8, the paper prints 0.872e8


@pytest.mark.slow
def test_rep_reactnet_a_table1(exported):
    c = _check_model("rep-reactnet-a", exported)["fused"]
    base = exported("reactnet-a", "fused")
    assert c.fc_macs == 2_048_000 and c.conv_macs == 10_838_016
    assert c.binary_macs == base.binary_macs and c.binary_out_elements == 2_320_640
    assert c.ops() == 88_186_276 and _sig4(c.ops()) == 0.8819e8
    assert c.bn_flops() == 19_367_936  # literal: stem BN on 32 channels, block BNs on beta*C
    paper = bn_flops_paper(base.bn_flops(), c.beta)
    assert paper == 12_606_720
    assert _sig4(c.ops() + paper) == 1.008e8
