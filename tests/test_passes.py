"""Each graph rule on a tiny model: how often it fires, and that the numbers do not change."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from rep_deploy import ops, passes
from rep_deploy.export.finalize import finalize, op_histogram
from rep_deploy.export.patcher import export_patches
from rep_deploy.export.random_weights import randomize_for_verification
from rep_deploy.export.torchscript import trace_to_onnx
from rep_deploy.nn import BinaryActivation, LearnableBias, RepBConv2d, ScaledBinaryConv2d
from rep_deploy.validate import ort_runner, reference_evaluator_runner


class Block(nn.Module):
    """shift -> sign -> (Rep)BConv -> BN -> + x -> PReLU, the RepBNN block shape."""

    def __init__(self, c: int, beta: int, pad_value: int = 0) -> None:
        super().__init__()
        self.move = LearnableBias(c * beta)
        self.act = BinaryActivation()
        self.conv = (RepBConv2d(c, c, 3, beta=beta, padding=1, pad_value=pad_value) if beta > 1
                     else ScaledBinaryConv2d(c, c, 3, padding=1, pad_value=pad_value))
        self.bn = nn.BatchNorm2d(c * beta)
        self.prelu = nn.PReLU(c * beta)

    def forward(self, x):
        return self.prelu(self.bn(self.conv(self.act(self.move(x)))) + x)


def _traced(model: nn.Module, shape) -> onnx.ModelProto:
    randomize_for_verification(model, seed=3)
    model.eval()
    with export_patches(model):
        return trace_to_onnx(model, torch.zeros(shape))


def _check_same(model: nn.Module, proto: onnx.ModelProto, shape, exact_reference: bool = False) -> None:
    proto = finalize(proto, {"test": True})
    x = np.random.default_rng(0).standard_normal((2, *shape[1:])).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    for run in (ort_runner(proto), reference_evaluator_runner(proto)):
        got = next(iter(run(x).values()))
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("beta", [1, 2])
@pytest.mark.parametrize("fuse", [False, True])
def test_custom_pipeline_counts_and_numbers(beta: int, fuse: bool) -> None:
    model = nn.Sequential(Block(4, beta), Block(4, beta))
    shape = (1, 4 * beta, 6, 6)
    proto, counts = passes.run(_traced(model, shape), passes.custom_pipeline(fuse))
    assert counts["fold_binarize"] == 2
    assert counts["remove_noops"] == 0  # the tracer leaves none here; see the hand-built test
    assert counts["batchnorm_to_affine"] == 2
    assert counts["pack_binary_weights"] == 2
    hist = op_histogram(proto)
    if fuse:
        assert counts["fuse_binary_conv"] == 2
        assert hist["rep_deploy::BinaryConvFusedAdd"] == 2  # residual absorbed
        assert "BatchNormalization" not in hist and "rep_deploy::Repeat" not in hist
    else:
        assert hist["rep_deploy::BinaryConv"] == 2
        assert hist.get("rep_deploy::Repeat", 0) == (2 if beta > 1 else 0)
    assert "Where" not in hist
    packed = [t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.UINT8]
    assert len(packed) == 2 and all(list(t.dims) == [4 // beta, (4 * beta * 9 + 7) // 8] for t in packed)
    _check_same(model, proto, shape)


class _SharedConv(nn.Module):
    """The conv output is read twice: by the BN and by the final add."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = ScaledBinaryConv2d(3, 5, 3, padding=1)
        self.bn = nn.BatchNorm2d(5)

    def forward(self, x):
        c = self.conv(x)
        return self.bn(c) + c


class _SharedBN(_SharedConv):
    """The BN output is both a graph output and read again: fusable, but not its residual add."""

    def forward(self, x):
        y = self.bn(self.conv(x))
        return y, y + x[:, :1]


@pytest.mark.parametrize("model_cls,fused,fused_add", [(_SharedConv, 0, 0), (_SharedBN, 1, 0)])
def test_fusion_respects_other_readers(model_cls, fused: int, fused_add: int) -> None:
    model = model_cls()
    proto, counts = passes.run(_traced(model, (1, 3, 5, 5)), passes.custom_pipeline(True))
    assert counts["fuse_binary_conv"] == fused
    assert op_histogram(proto).get("rep_deploy::BinaryConvFusedAdd", 0) == fused_add
    proto = finalize(proto, {})
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5)).astype(np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x))
    ref = ref if isinstance(ref, tuple) else (ref,)
    got = list(ort_runner(proto)(x).values())
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pad_value", [0, 1, -1])
def test_standard_pipeline_leaves_only_standard_ops(pad_value: int) -> None:
    model = nn.Sequential(Block(4, 2, pad_value), Block(4, 2, pad_value))
    shape = (1, 8, 6, 6)
    proto, counts = passes.run(_traced(model, shape), passes.standard_pipeline())
    assert counts["lower_to_standard"] == 4  # 2 BinaryConv + 2 Repeat
    hist = op_histogram(proto)
    assert not any("::" in k for k in hist)
    assert hist["Conv"] == 2 and hist["Tile"] == 2 and hist.get("Pad", 0) == (2 if pad_value else 0)
    _check_same(model, proto, shape)


def test_pack_rejects_non_binary_weights() -> None:
    from rep_deploy.passes import pack_binary_weights

    model = nn.Sequential(ScaledBinaryConv2d(2, 2, 1))
    proto = _traced(model, (1, 2, 3, 3))
    for t in proto.graph.node:
        if t.op_type == "Constant":
            v = onnx.numpy_helper.to_array(t.attribute[0].t)
            if v.ndim == 4:
                t.attribute[0].t.CopyFrom(onnx.numpy_helper.from_array(v * 0.5, t.output[0]))
    with pytest.raises(pack_binary_weights.PackError, match="must be a 4-D tensor of \\+-1"):
        passes.run(proto, passes.custom_pipeline(False))


def test_remove_noops_on_a_hand_built_graph() -> None:
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Identity", ["x"], ["a"]),
             helper.make_node("Dropout", ["a"], ["b"]),
             ops.make_node("Repeat", ["b"], ["c"], repeats=1),
             ops.make_node("Repeat", ["c"], ["y"], repeats=2)]
    vi = lambda n, c: helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, c, 2, 2])  # noqa: E731
    model = helper.make_model(helper.make_graph(nodes, "g", [vi("x", 3)], [vi("y", 6)]),
                              opset_imports=ops.opset_imports(), ir_version=ops.IR_VERSION)
    out, counts = passes.run(model, [("remove_noops", passes.remove_noops.apply)])
    assert counts == {"remove_noops": 3}
    assert [n.op_type for n in out.graph.node] == ["Repeat"]
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)
    y = next(iter(ort_runner(finalize(out, {})) (x).values()))
    np.testing.assert_array_equal(y, np.tile(x, (1, 2, 1, 1)))


class RPReLUStage(nn.Module):
    """ReActNet's binary stage: shift -> sign -> RepBconv -> BN -> + x -> RPReLU (optionally doubled)."""

    def __init__(self, c: int, beta: int, double: bool) -> None:
        super().__init__()
        from rep_deploy.nn import RPReLU

        self.move = LearnableBias(c * beta)
        self.act = BinaryActivation()
        self.double = double
        n = 2 if double else 1
        self.convs = nn.ModuleList(RepBConv2d(c, c, 1, beta=beta) for _ in range(n))
        self.bns = nn.ModuleList(nn.BatchNorm2d(c * beta) for _ in range(n))
        self.rprelu = RPReLU(c * beta * n)

    def forward(self, x):
        xb = self.act(self.move(x))
        outs = [bn(conv(xb)) + x for conv, bn in zip(self.convs, self.bns)]
        return self.rprelu(torch.cat(outs, 1) if self.double else outs[0])


@pytest.mark.parametrize("double", [False, True])
def test_reactnet_stage_becomes_blocks(double: bool) -> None:
    model = nn.Sequential(RPReLUStage(4, 2, double))
    shape = (1, 8, 5, 5)
    proto, counts = passes.run(_traced(model, shape), passes.custom_pipeline(True))
    n = 2 if double else 1
    assert counts["fuse_binary_conv"] == n
    assert counts["distribute_over_concat"] == (3 if double else 0)  # Add, PRelu, Add
    assert counts["fuse_rprelu"] == n
    assert counts["fold_input_bias"] == 1  # one shift feeds both convs
    assert counts["merge_parallel_blocks"] == (1 if double else 0)
    hist = op_histogram(proto)
    assert hist == {"rep_deploy::BinaryConvBlock": 1}  # the pair: one op, no Concat
    if double:
        (node,) = proto.graph.node
        assert {a.name: a.i for a in node.attribute}["splits"] == 2
    _check_same(model, proto, shape)


def test_merge_parallel_blocks_needs_a_shared_shortcut() -> None:
    """Two blocks over the same input but with different shortcuts stay two ops and a Concat."""

    class TwoShortcuts(RPReLUStage):
        def forward(self, x):
            xb = self.act(self.move(x))
            outs = [bn(conv(xb)) + s for conv, bn, s in zip(self.convs, self.bns, (x, -x))]
            return self.rprelu(torch.cat(outs, 1))

    model = TwoShortcuts(4, 2, True)
    proto, counts = passes.run(_traced(model, (1, 8, 5, 5)), passes.custom_pipeline(True))
    assert counts["fuse_rprelu"] == 2 and counts["merge_parallel_blocks"] == 0
    assert op_histogram(proto)["Concat"] == 1
    _check_same(model, proto, (1, 8, 5, 5))


def test_fold_input_bias_keeps_add_read_elsewhere() -> None:
    """A shift whose output also feeds a non-binary op stays (threshold folding would change it)."""

    class Tap(RPReLUStage):
        def forward(self, x):
            shifted = self.move(x)
            y = self.rprelu(self.bns[0](self.convs[0](self.act(shifted))) + x)
            return y + shifted

    model = Tap(4, 2, False)
    proto, counts = passes.run(_traced(model, (1, 8, 5, 5)), passes.custom_pipeline(True))
    assert counts["fuse_rprelu"] == 1 and counts["fold_input_bias"] == 0
    _check_same(model, proto, (1, 8, 5, 5))


class DownsampleStage(RPReLUStage):
    """ReActNet's downsampling block: stride-2 binary conv + AvgPool2d(2) shortcut -> RPReLU."""

    def __init__(self, c: int, beta: int, pool: nn.Module) -> None:
        super().__init__(c, beta, False)
        from rep_deploy.nn import RPReLU

        self.convs = nn.ModuleList([RepBConv2d(c, c, 3, beta=beta, stride=2, padding=1)])
        self.pool = pool
        self.rprelu = RPReLU(c * beta)

    def forward(self, x):
        return self.rprelu(self.bns[0](self.convs[0](self.act(self.move(x)))) + self.pool(x))


@pytest.mark.parametrize("pool,size,folds", [
    (nn.AvgPool2d(2), 6, 1), (nn.AvgPool2d(2), 8, 1),
    (nn.AvgPool2d(3, stride=2, padding=1), 6, 0)])  # overlapping and padded: stays
def test_fold_residual_pool(pool: nn.Module, size: int, folds: int) -> None:
    """A non-overlapping unpadded AvgPool on the shortcut goes into the block; anything else stays."""
    shape = (1, 8, size, size)
    model = DownsampleStage(4, 2, pool)
    proto, counts = passes.run(_traced(model, shape), passes.custom_pipeline(True))
    assert counts["fold_residual_pool"] == folds
    assert ("AveragePool" in op_histogram(proto)) == (not folds)
    _check_same(model, proto, shape)

