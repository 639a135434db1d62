"""The op spec: numpy references vs PyTorch, and every function body vs its reference.

The function bodies are what stock ONNX Runtime and ``onnx.reference`` run when no custom-op library
is registered; the reference evaluator must match the numpy oracle exactly, and stock ORT within one
float rounding (its optimizer folds the scale Mul into the inlined Conv weights).
"""
from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from rep_deploy import ops
from rep_deploy.ops import binary_conv, binary_conv_fused, bitpack, repeat

RNG = np.random.default_rng(1234)


def _model(node: onnx.NodeProto, x: np.ndarray, y_shape, inits) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node], "t", [helper.make_tensor_value_info("X", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, y_shape)],
        [onnx.numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(graph, opset_imports=ops.opset_imports(),
                          functions=ops.function_protos({node.op_type}), ir_version=ops.IR_VERSION)
    onnx.checker.check_model(m, full_check=True)
    return m


def _run_both(m: onnx.ModelProto, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": x})[0], ReferenceEvaluator(m).run(None, {"X": x})[0]


def _random_case(n, c, h, w, cout, k, group):
    x = RNG.standard_normal((n, c, h, w)).astype(np.float32)
    x.flat[:: max(1, x.size // 7)] = 0.0  # exact zeros binarize to +1
    wt = np.where(RNG.standard_normal((cout, c // group, k, k)) >= 0, 1.0, -1.0).astype(np.float32)
    return x, wt, bitpack.pack_weights(wt)


@pytest.mark.parametrize("bits", [1, 7, 8, 9, 63, 64, 65, 300])
def test_bitpack_roundtrip_and_layout(bits: int) -> None:
    w = np.where(RNG.standard_normal((3, bits, 1, 1)) >= 0, 1.0, -1.0)
    packed = bitpack.pack_weights(w)
    assert packed.shape == (3, (bits + 7) // 8) and packed.dtype == np.uint8
    np.testing.assert_array_equal(bitpack.unpack_weights(packed, w.shape), w)
    # documented order: bit i of byte b is weight 8b+i, 1 = +1, pad bits 0
    row = w[0].reshape(-1)
    for i, v in enumerate(row):
        assert ((packed[0, i // 8] >> (i % 8)) & 1) == (v > 0)
    if bits % 8:
        assert packed[0, -1] >> (bits % 8) == 0


def test_bitpack_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="uint8 of shape"):
        bitpack.unpack_weights(np.zeros((2, 3), np.uint8), (2, 4, 3, 3))


CASES = [  # n, c, h, w, cout, k, stride, pad, dilation, group, pad_value
    (1, 3, 5, 5, 4, 3, 1, 1, 1, 1, 0),
    (2, 10, 7, 6, 6, 3, 2, 1, 1, 2, 1),
    (1, 9, 8, 8, 5, 3, 1, 2, 2, 1, -1),
    (3, 64, 6, 6, 8, 1, 1, 0, 1, 1, 0),
    (2, 65, 5, 7, 7, 3, 2, 1, 1, 1, 0),
    (1, 12, 9, 9, 6, 5, 1, 2, 1, 3, -1),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c)))
def test_binary_conv_reference_matches_torch_and_bodies(case) -> None:
    n, c, h, w, cout, k, s, p, d, g, pv = case
    x, wt, wp = _random_case(n, c, h, w, cout, k, g)
    scale = RNG.random(cout).astype(np.float32) + 0.1
    attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=[p] * 4, dilations=[d, d], group=g,
                 pad_value=pv)
    ref = binary_conv.reference(x, wp, scale, **attrs)
    xb = torch.where(torch.from_numpy(x) >= 0, 1.0, -1.0)
    xb = F.pad(xb, (p, p, p, p), value=float(pv))
    expect = F.conv2d(xb, torch.from_numpy(wt), None, s, 0, d, g) * torch.from_numpy(scale).view(1, -1, 1, 1)
    np.testing.assert_array_equal(ref, expect.numpy())
    assert ref.shape == binary_conv.output_shape(x.shape, cout, **attrs)
    node = ops.make_node("BinaryConv", ["X", "W", "scale"], ["Y"], **attrs)
    y_ort, y_ref = _run_both(_model(node, x, ref.shape, [("W", wp), ("scale", scale)]), x)
    np.testing.assert_array_equal(y_ref, ref)
    np.testing.assert_allclose(y_ort, ref, rtol=1e-6, atol=1e-6)


def test_zero_padding_is_not_binary_padding() -> None:
    """pad_value 0 (zero padding after sign) and +-1 differ exactly at the border."""
    x, _, wp = _random_case(1, 4, 4, 4, 2, 3, 1)
    common = dict(kernel_shape=[3, 3], pads=[1] * 4)
    acc0 = binary_conv.reference_accumulator(x, wp, pad_value=0, **common)
    acc1 = binary_conv.reference_accumulator(x, wp, pad_value=1, **common)
    assert np.array_equal(acc0[..., 1:-1, 1:-1], acc1[..., 1:-1, 1:-1])
    assert not np.array_equal(acc0, acc1)
    assert (np.abs(acc0) <= 4 * 9).all() and ((acc1 - 4 * 9) % 2 == 0).all()


@pytest.mark.parametrize("shape,r", [((2, 3, 4, 4), 4), ((1, 5), 2), ((1, 2, 3), 3), ((1, 1, 1, 1), 1)])
def test_repeat_is_torch_tile(shape, r) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    expect = torch.from_numpy(x).repeat(1, r, *([1] * (x.ndim - 2))).numpy()
    np.testing.assert_array_equal(repeat.reference(x, repeats=r), expect)
    if r > 1:
        interleaved = torch.from_numpy(x).repeat_interleave(r, dim=1).numpy()
        assert not np.array_equal(expect, interleaved)
    node = ops.make_node("Repeat", ["X"], ["Y"], repeats=r)
    for y in _run_both(_model(node, x, expect.shape, []), x):
        np.testing.assert_array_equal(y, expect)


@pytest.mark.parametrize("with_residual,repeats", list(itertools.product([False, True], [1, 4])))
def test_fused_reference_and_bodies(with_residual: bool, repeats: int) -> None:
    x, _, wp = _random_case(2, 13, 6, 5, 3, 3, 1)
    width = 3 * repeats
    mul = RNG.standard_normal(width).astype(np.float32)
    add = RNG.standard_normal(width).astype(np.float32)
    res = RNG.standard_normal((2, width, 6, 5)).astype(np.float32)
    attrs = dict(kernel_shape=[3, 3], pads=[1] * 4, repeats=repeats)
    ref = binary_conv_fused.reference(x, wp, mul, add, res if with_residual else None, **attrs)
    acc = binary_conv.reference_accumulator(x, wp, kernel_shape=[3, 3], pads=[1] * 4)
    expect = np.tile(acc.astype(np.float32), (1, repeats, 1, 1)) * mul[None, :, None, None] + add[None, :, None, None]
    if with_residual:
        expect = expect + res
    np.testing.assert_array_equal(ref, expect)
    name = binary_conv_fused.NAME_ADD if with_residual else binary_conv_fused.NAME
    inputs = ["X", "W", "mul", "add"] + (["res"] if with_residual else [])
    inits = [("W", wp), ("mul", mul), ("add", add)] + ([("res", res)] if with_residual else [])
    node = ops.make_node(name, inputs, ["Y"], **attrs)
    y_ort, y_ref = _run_both(_model(node, x, ref.shape, inits), x)
    np.testing.assert_array_equal(y_ref, ref)
    np.testing.assert_allclose(y_ort, ref, rtol=1e-5, atol=1e-5)


def test_attribute_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match="unknown attribute.*stride"):
        binary_conv.SPEC.resolve_attributes({"kernel_shape": [3, 3], "stride": [1, 1]})
    with pytest.raises(ValueError, match="'kernel_shape' is required"):
        binary_conv.SPEC.resolve_attributes({})
    with pytest.raises(KeyError, match="not an op of domain"):
        ops.get("BinaryDense")


def test_every_op_has_a_checked_function_body() -> None:
    for fn in ops.function_protos():
        assert fn.domain == ops.DOMAIN and fn.name in ops.OPS
    assert {f.name for f in ops.function_protos({"BinaryConvFused"})} == {
        "BinaryConv", "Repeat", "BinaryConvFused"}


def _block_params(c: int, width: int) -> tuple[np.ndarray, ...]:
    """Random BinaryConvBlock vectors: threshold (c,), then mul, add, pre, slope, post (width,)."""
    vec = lambda: RNG.standard_normal(width).astype(np.float32)  # noqa: E731
    threshold = (RNG.standard_normal(c) * 0.5).astype(np.float32)
    return threshold, vec(), vec(), vec(), RNG.random(width).astype(np.float32), vec()


def _check_block_bodies(x, wp, threshold, mul, add, res, pre, slope, post, attrs, ref,
                        exact_reference: bool = True) -> None:
    """Run a BinaryConvBlock node's function body in onnx.reference (equal to ``ref`` bit for bit,
    unless ``exact_reference`` is False: then within 1e-5) and in stock ORT (within 1e-5)."""
    inits = [("W", wp), ("threshold", threshold), ("mul", mul), ("add", add), ("res", res),
             ("pre", pre), ("slope", slope), ("post", post)]
    node = ops.make_node("BinaryConvBlock", ["X", "W", "threshold", "mul", "add", "res", "pre",
                                             "slope", "post"], ["Y"], **attrs)
    y_ort, y_ref = _run_both(_model(node, x, ref.shape, inits), x)
    if exact_reference:
        np.testing.assert_array_equal(y_ref, ref)
    else:
        np.testing.assert_allclose(y_ref, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(y_ort, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("repeats,pad_value", [(1, 0), (4, 0), (4, -1)])
def test_block_reference_and_body(repeats: int, pad_value: int) -> None:
    from rep_deploy.ops import binary_conv_block as block

    n, c, cc = 2, 11, 3
    x, _, wp = _random_case(n, c, 5, 6, cc, 3, 1)
    width = cc * repeats
    threshold, mul, add, pre, slope, post = _block_params(c, width)
    res = RNG.standard_normal((n, width, 5, 6)).astype(np.float32)
    attrs = dict(kernel_shape=[3, 3], pads=[1] * 4, repeats=repeats, pad_value=pad_value)
    ref = block.reference(x, wp, threshold, mul, add, res, pre, slope, post, **attrs)
    # the same computation from the primitives: threshold sign == sign of (x - threshold)
    xs = np.where(x >= threshold[None, :, None, None], 1.0, -1.0).astype(np.float32)
    fused = binary_conv_fused.reference(xs, wp, mul, add, res, **attrs)
    u = fused + pre[None, :, None, None]
    expect = np.where(u >= 0, u, u * slope[None, :, None, None]) + post[None, :, None, None]
    np.testing.assert_array_equal(ref, expect)
    _check_block_bodies(x, wp, threshold, mul, add, res, pre, slope, post, attrs, ref)


@pytest.mark.parametrize("splits,repeats,res_tiles", [(2, 1, 2), (2, 4, 2), (3, 2, 3), (2, 4, 1), (1, 4, 4)])
def test_block_splits_and_tiled_residual(splits: int, repeats: int, res_tiles: int) -> None:
    """``splits``: concat over S accumulator parts of tile(part, R); a residual with 1/T of the
    output channels is tiled T times. Checked against the pair of plain blocks it replaces."""
    from rep_deploy.ops import binary_conv_block as block

    n, c, m = 2, 10, 3  # m accumulator channels per part
    x, wt, wp = _random_case(n, c, 4, 5, splits * m, 1, 1)
    width = splits * m * repeats
    threshold, mul, add, pre, slope, post = _block_params(c, width)
    res = RNG.standard_normal((n, width // res_tiles, 4, 5)).astype(np.float32)
    attrs = dict(kernel_shape=[1, 1], repeats=repeats, splits=splits)
    ref = block.reference(x, wp, threshold, mul, add, res, pre, slope, post, **attrs)
    # the same as `splits` separate blocks (weights rows s*m..), concatenated
    full_res = np.tile(res, (1, res_tiles, 1, 1))
    parts = []
    for s in range(splits):
        sl = slice(s * m * repeats, (s + 1) * m * repeats)
        parts.append(block.reference(x, bitpack.pack_weights(wt[s * m:(s + 1) * m]), threshold,
                                     mul[sl], add[sl], full_res[:, sl], pre[sl], slope[sl], post[sl],
                                     kernel_shape=[1, 1], repeats=repeats))
    np.testing.assert_array_equal(ref, np.concatenate(parts, axis=1))
    _check_block_bodies(x, wp, threshold, mul, add, res, pre, slope, post, attrs, ref)


def test_block_rejects_bad_splits_and_residual() -> None:
    from rep_deploy.ops import binary_conv_block as block

    x, _, wp = _random_case(1, 4, 3, 3, 4, 1, 1)
    v = np.ones(4, np.float32)
    with pytest.raises(ValueError, match="splits=3 must be >= 1 and divide the 4"):
        block.reference(x, wp, v, v, v, np.zeros((1, 4, 3, 3), np.float32), v, v, v,
                        kernel_shape=[1, 1], splits=3)
    with pytest.raises(ValueError, match="channel count dividing 4"):
        block.reference(x, wp, v, v, v, np.zeros((1, 3, 3, 3), np.float32), v, v, v,
                        kernel_shape=[1, 1])


@pytest.mark.parametrize("pool,extra,res_tiles", [((2, 2), (0, 0), 1), ((2, 2), (1, 1), 2), ((3, 2), (2, 1), 1)])
def test_block_residual_pool(pool: tuple[int, int], extra: tuple[int, int], res_tiles: int) -> None:
    """``residual_pool``: the shortcut is average-pooled (window = stride, no padding; odd sizes
    floor) before it is tiled and added, as ReActNet's downsampling ``AvgPool2d(2)``."""
    from rep_deploy.ops import binary_conv_block as block

    n, c, cc, repeats = 2, 6, 4, 2
    x, _, wp = _random_case(n, c, 8, 6, cc, 3, 1)
    attrs = dict(kernel_shape=[3, 3], pads=[1] * 4, strides=[2, 2], repeats=repeats,
                 residual_pool=list(pool))
    ho, wo = 4, 3
    width = cc * repeats
    threshold, mul, add, pre, slope, post = _block_params(c, width)
    res = RNG.standard_normal((n, width // res_tiles, ho * pool[0] + extra[0],
                               wo * pool[1] + extra[1])).astype(np.float32)
    ref = block.reference(x, wp, threshold, mul, add, res, pre, slope, post, **attrs)
    pooled = F.avg_pool2d(torch.from_numpy(res), pool, pool).numpy()
    np.testing.assert_allclose(block.pool_residual(res, *pool), pooled, rtol=1e-6, atol=1e-6)
    plain = block.reference(x, wp, threshold, mul, add, block.pool_residual(res, *pool), pre, slope,
                            post, **dict(attrs, residual_pool=[1, 1]))
    np.testing.assert_array_equal(ref, plain)
    # the bodies use AveragePool, whose summation order the ONNX spec leaves open
    _check_block_bodies(x, wp, threshold, mul, add, res, pre, slope, post, attrs, ref,
                        exact_reference=False)

