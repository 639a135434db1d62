"""Sessions link BinaryConvBlock pairs (rep_deploy/link_signs.py): same bits, every kernel path.

The exported file keeps the portable op set; rep-deploy's sessions rewrite block pairs so that each
block writes the next one's sign bits (BinaryConvBlockLinked, runtime domain), and the producers of the stride-2 blocks' inputs write their
pooled residual instead of their full output. Input 96x96 gives
ReActNet maps 48, 24, 12, 6 and 3 wide (row pieces that do not start on a byte), batch 3. Rows the
fast path cannot take (wider than 57 bits and not byte-aligned: ReActNet never has them) are in the
core's C++ grid (runtimes/core/tests/test_core.cc), with the sign output on every path.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import rep_deploy as rd
from rep_deploy import ops
from rep_deploy.link_signs import LINKED, RUNTIME_DOMAIN, find_links, link_signs
from rep_deploy.runtime import make_session_options, session_model

from _paths import PATHS, exported_session, same_bits, session_output


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rep-reactnet-a-96")
    opts = rd.ExportOptions(input_shape=(1, 3, 96, 96), reference_images=0)
    return rd.export_model("rep-reactnet-a", out, options=opts).model_path


def _blocks(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    return [n for n in model.graph.node if n.op_type == "BinaryConvBlock" and n.domain == ops.DOMAIN]


def test_every_block_pair_links(exported: Path) -> None:
    model = onnx.load(exported)
    n_blocks = len(_blocks(model))
    linked, done = link_signs(model)
    assert n_blocks == 26 and done.pairs == n_blocks - 1  # one chain: stem -> 26 blocks -> pool
    assert done.repeats == 1  # the stem's BN -> Repeat, folded into the first block
    assert not any(n.op_type == "Repeat" for n in linked.graph.node)
    first = next(n for n in linked.graph.node if n.domain == RUNTIME_DOMAIN)
    assert [a.i for a in first.attribute if a.name == "x_repeats"] == [2]
    kinds = [(n.op_type, n.domain, len(n.input), len(n.output)) for n in linked.graph.node
             if n.domain == RUNTIME_DOMAIN]
    assert len(kinds) == n_blocks and all(k[0] == LINKED for k in kinds)
    assert kinds[0][2:] == (10, 2)  # first block: gives signs, binarizes its own input
    assert kinds[-1][2:] == (11, 1)  # last block: takes signs, its output goes to the pool
    assert sum(k[2:] == (11, 2) for k in kinds) == n_blocks - 2
    assert not _blocks(linked) and _blocks(model)  # a copy: the loaded model is unchanged
    assert any(o.domain == RUNTIME_DOMAIN for o in linked.opset_import)
    # the four stride-2 blocks' producers write their pooled residual
    assert done.pools == 4
    by_output = {o: n for n in linked.graph.node for o in n.output}
    consumers = [n for n in linked.graph.node if _attr(n, "x_pooled") == 1]
    assert len(consumers) == 4
    for c in consumers:
        assert _attr(c, "residual_pool") is None and list(_attr(c, "strides")) == [2, 2]
        assert c.input[0] == c.input[5] and _attr(by_output[c.input[0]], "y_pool") == 1
    assert sum(_attr(n, "y_pool") == 1 for n in linked.graph.node) == 4
    _, unpooled = link_signs(model, pool=False)
    assert unpooled == (n_blocks - 1, 1, 0)


def _attr(node: onnx.NodeProto, name: str) -> object:
    return next((onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name), None)


def test_a_geometry_that_fits_odd_maps_is_not_pooled(exported: Path) -> None:
    # unpadded 3x3, stride 2: an odd map 2k + 1 gives k outputs, as its 2x2 pool does, so the
    # producer's output could be odd-sized and is left alone
    model = onnx.load(exported)
    stride2 = [n for n in _blocks(model) if _attr(n, "residual_pool") == [2, 2]]
    for a in stride2[0].attribute:
        if a.name == "pads":
            a.ints[:] = [0, 0, 0, 0]
    _, done = link_signs(model)
    assert done.pools == len(stride2) - 1 == 3


def test_a_pool_flag_other_than_0_or_1_is_a_clear_error(exported: Path) -> None:
    linked, _ = link_signs(onnx.load(exported))
    producer = next(n for n in linked.graph.node if _attr(n, "y_pool") == 1)
    next(a for a in producer.attribute if a.name == "y_pool").i = 2
    with pytest.raises(Exception, match="attribute y_pool must be 0 or 1, got 2"):
        ort.InferenceSession(linked.SerializeToString(), make_session_options(1),
                             providers=["CPUExecutionProvider"])


def test_a_block_read_twice_or_returned_is_not_linked(exported: Path) -> None:
    model = onnx.load(exported)
    blocks = _blocks(model)
    graph_out = onnx.helper.make_tensor_value_info(blocks[3].output[0], onnx.TensorProto.FLOAT, None)
    model.graph.output.append(graph_out)  # block 3's output is now also a graph output
    model.graph.node.append(onnx.helper.make_node("Identity", [blocks[7].output[0]], ["extra"]))
    model.graph.output.append(onnx.helper.make_tensor_value_info("extra", onnx.TensorProto.FLOAT, None))
    links = find_links(model.graph)
    producers = {model.graph.node[p].name for p, _ in links}
    assert len(links) == 25 - 2 and blocks[3].name not in producers and blocks[7].name not in producers


@pytest.mark.parametrize("path", PATHS)
def test_linked_session_gives_the_same_bits(exported: Path, path: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(5).standard_normal((3, 3, 96, 96)).astype(np.float32)
    plain = exported_session(exported, path, monkeypatch)
    want = plain.run(None, {"input": x})[0]
    source = session_model(exported, fuse_pairs=False)  # linked only (fused: test_block_pairs)
    assert isinstance(source, bytes)
    got = session_output(source, x, 2)
    assert same_bits(got, want), np.abs(got - want).max()
    session = rd.InferenceSession(exported)  # rep-deploy's own session links too
    assert same_bits(session.run(x), want)


def test_signs_without_their_output_is_a_clear_error(exported: Path) -> None:
    linked, _ = link_signs(onnx.load(exported))
    first = next(n for n in linked.graph.node if n.domain == RUNTIME_DOMAIN)
    consumer = next(n for n in linked.graph.node if len(n.input) > 10 and n.input[10] == first.output[1])
    del first.output[1]
    consumer.input[10] = ""
    sess = ort.InferenceSession(linked.SerializeToString(), make_session_options(1),
                                providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, 96, 96), np.float32)
    with pytest.raises(Exception, match="sign_threshold is given, so the node needs its Y_signs output"):
        sess.run(None, {"input": x})


def test_file_without_blocks_loads_from_its_path(tmp_path: Path) -> None:
    out = rd.export_model("rep-resnet20", tmp_path / "r20", options=rd.ExportOptions(reference_images=0))
    assert session_model(out.model_path) == str(out.model_path)
