"""Sessions fuse each linked block and the 1x1 block after it (rep_deploy/block_pairs.py): same bits.

rep-reactnet-a exported at 128x128: its blocks' maps are 64, 32, 16, 8 and 4 wide, so the pairs at
64x64 and 32x32 (64 and 16 tiles of 64 pixels) run fused and the smaller ones run their two halves
one after the other (the kernel's kPairMinTiles = 12): both forms, on every kernel path, at 1 and 2
threads, batch 2. The fused form's edge cases (odd channel counts, stride 2, pads, repeats, splits,
pooled outputs) are in the core's C++ grid (runtimes/core/tests/test_core.cc, test_block_pairs).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import rep_deploy as rd
from rep_deploy.block_pairs import PAIR, find_pairs, fuse_block_pairs
from rep_deploy.link_signs import LINKED, RUNTIME_DOMAIN, link_signs
from rep_deploy.runtime import make_session_options

from _paths import PATHS, exported_session, same_bits, session_output


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rep-reactnet-a-128")
    opts = rd.ExportOptions(input_shape=(1, 3, 128, 128), reference_images=0)
    return rd.export_model("rep-reactnet-a", out, options=opts).model_path


def _attr(node: onnx.NodeProto, name: str) -> object:
    return next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name), None)


def test_every_block_fuses_its_two_convs(exported: Path) -> None:
    linked, _ = link_signs(onnx.load(exported))
    fused, n = fuse_block_pairs(linked)
    assert n == 13  # ReActNet-A's 13 blocks: 3x3 then 1x1 (or the channel-doubling 1x1 pair)
    runtime = [node for node in fused.graph.node if node.domain == RUNTIME_DOMAIN]
    assert [node.op_type for node in runtime] == [PAIR] * 13
    assert len(fused.graph.node) == len(linked.graph.node) - 13
    first, last = runtime[0], runtime[-1]
    assert len(first.input) == 18 and len(first.output) == 2  # signs in from nowhere, out to the next
    assert first.input[10] == ""  # the first block binarizes its own input
    assert len(last.input) == 17 and len(last.output) == 1  # the last pair's output goes to the pool
    # P's attributes as they were, C's prefixed c_: the 1x1, its repeats, the pooled producers
    assert [_attr(first, "c_kernel_shape"), _attr(first, "c_repeats")] == [[1, 1], 4]
    assert _attr(first, "x_repeats") == 2  # the folded stem Repeat stays P's
    assert sum(_attr(node, "c_y_pool") == 1 for node in runtime) == 4
    assert sum(_attr(node, "c_splits") == 2 for node in runtime) == 5  # the channel-doubling blocks
    assert fuse_block_pairs(fused) == (fused, 0)  # nothing left to fuse: the model itself


def test_a_pair_whose_middle_is_read_elsewhere_is_not_fused(exported: Path) -> None:
    linked, _ = link_signs(onnx.load(exported))
    pairs = find_pairs(linked.graph)
    p = linked.graph.node[pairs[2][0]]
    linked.graph.node.append(onnx.helper.make_node("Identity", [p.output[0]], ["y1_copy"]))
    linked.graph.output.append(onnx.helper.make_tensor_value_info("y1_copy", onnx.TensorProto.FLOAT, None))
    left = find_pairs(linked.graph)
    assert len(left) == 12 and pairs[2] not in left


@pytest.mark.parametrize("path", PATHS)
def test_fused_session_gives_the_same_bits(exported: Path, path: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(7).standard_normal((2, 3, 128, 128)).astype(np.float32)
    plain = exported_session(exported, path, monkeypatch)
    want = plain.run(None, {"input": x})[0]
    fused, n = fuse_block_pairs(link_signs(onnx.load(exported))[0])
    assert n == 13
    for threads in (1, 2):
        got = session_output(fused.SerializeToString(), x, threads)
        assert same_bits(got, want), (threads, np.abs(got - want).max())


def test_sessions_fuse_by_default(exported: Path) -> None:
    from rep_deploy.runtime import session_model

    def pairs(source: str | bytes) -> int:
        assert isinstance(source, bytes)
        return sum(node.op_type == PAIR for node in onnx.load_from_string(source).graph.node)

    assert pairs(session_model(exported)) == 13
    assert pairs(session_model(exported, fuse_pairs=False)) == 0


def _first_pair(model: onnx.ModelProto) -> onnx.NodeProto:
    return next(node for node in model.graph.node if node.op_type == PAIR)


def _run(model: onnx.ModelProto) -> None:
    sess = ort.InferenceSession(model.SerializeToString(), make_session_options(1),
                                providers=["CPUExecutionProvider"])
    sess.run(None, {"input": np.zeros((1, 3, 128, 128), np.float32)})


def test_a_pair_whose_second_conv_is_not_1x1_is_a_clear_error(exported: Path) -> None:
    fused, _ = fuse_block_pairs(link_signs(onnx.load(exported))[0])
    next(a for a in _first_pair(fused).attribute if a.name == "c_kernel_shape").ints[:] = [3, 3]
    with pytest.raises(Exception, match="C must be a 1x1 conv of stride 1, no padding and one group"):
        _run(fused)


def test_a_pair_without_its_second_threshold_is_a_clear_error(exported: Path) -> None:
    fused, _ = fuse_block_pairs(link_signs(onnx.load(exported))[0])
    _first_pair(fused).input[9] = ""
    with pytest.raises(Exception, match="input 9, C's threshold, is required"):
        _run(fused)


def test_linked_nodes_stay_when_nothing_fuses(exported: Path) -> None:
    linked, _ = link_signs(onnx.load(exported))
    for node in linked.graph.node:  # no 1x1 second conv anywhere: nothing to fuse
        if node.op_type == LINKED and _attr(node, "kernel_shape") == [1, 1]:
            next(a for a in node.attribute if a.name == "strides").ints[:] = [1, 1]
            node.attribute.append(onnx.helper.make_attribute("x_repeats", 2))
    assert fuse_block_pairs(linked) == (linked, 0)


def test_the_profiler_reports_a_pair_under_its_first_block(exported: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from rep_deploy.profile.latency import profile_latency

    monkeypatch.chdir(tmp_path)  # ORT's profile prefix
    # the profiler runs the graph as sessions do (session_model: pairs fused)
    prof = profile_latency(exported, backend="ort-native", threads=1, runs=2, warmup=1)
    blocks = [n.name for n in onnx.load(exported).graph.node if n.op_type == "BinaryConvBlock"]
    timed = [n for n in prof.per_node if n.name in blocks]
    assert len(blocks) == 26 and len(timed) == 13  # each pair's time under its 3x3
    assert all(n.ort_nodes == (n.name,) and n.median_ms > 0 for n in timed)
    assert not set(blocks) & set(prof.unprofiled_nodes)  # the 1x1s are absorbed, not missing
