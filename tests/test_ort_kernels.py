"""The ONNX Runtime custom-op library against the op spec's numpy references, on every kernel path.

Tier 3 of the kernel tests (tier 1: runtimes/core/tests/test_core.cc, optimized kernels vs the C++
reference; tier 2 is this file's ORT plumbing). Every comparison is exact, bit for bit:

* the integer accumulator (a BinaryConv with scale = 1 outputs float(acc), exact below 2**24) must
  equal ``binary_conv.reference_accumulator``;
* the outputs of BinaryConv, BinaryConvFused, BinaryConvFusedAdd and BinaryConvBlock must equal the
  numpy ``reference`` functions, which round after every float32 multiply and add, as the kernels do.
  BinaryConvBlock's per-channel thresholds include 0 and values taken from the input itself (ties
  binarize to +1), and its RPReLU parameters make both branches (and the u = 0 boundary) occur.

Each forced kernel path (``REP_DEPLOY_KERNEL``, read at session creation) runs the whole grid; paths
this CPU cannot run are skipped. Sessions use two intra-op threads so ORT's thread pool is in play.
"""
from __future__ import annotations

import concurrent.futures
import itertools
import zlib
from typing import Any, Iterator

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from rep_deploy import ops
from rep_deploy.ops import binary_conv, binary_conv_block, binary_conv_fused, bitpack, repeat
from rep_deploy.runtime import KERNEL_ENV, library_path, make_session_options

from _onnx import make_model
from _paths import ALL_PATHS, same_bits

PATHS = list(ALL_PATHS)


# ---------------------------------------------------------------------------------------------
# model building

def session(model: bytes, path: str | None, monkeypatch: pytest.MonkeyPatch | None = None,
            threads: int = 2) -> ort.InferenceSession:
    """A CPU session with the library; ``path`` forces the kernel (env var read right here)."""
    if monkeypatch is not None:
        if path is None:
            monkeypatch.delenv(KERNEL_ENV, raising=False)
        else:
            monkeypatch.setenv(KERNEL_ENV, path)
    return ort.InferenceSession(model, make_session_options(threads),
                                providers=["CPUExecutionProvider"])


def random_input(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal values plus exact zeros (sign(0) = +1), negative zeros and NaNs (binarize to -1)."""
    x = rng.standard_normal(shape).astype(np.float32)
    special = rng.random(shape)
    x[special < 0.06] = 0.0
    x[(special >= 0.06) & (special < 0.09)] = -0.0
    x[(special >= 0.09) & (special < 0.10)] = np.nan
    return x


# ---------------------------------------------------------------------------------------------
# kernel paths

_SUPPORT: dict[str, str | None] = {}


def path_error(path: str) -> str | None:
    """None when this build and CPU run ``path``, else the library's error message (cached)."""
    if path not in _SUPPORT:
        model = conv_case_model(dict(n=1, cin=3, h=3, w=3, cout=2, k=(1, 1), stride=1, dil=1,
                                     pad=0, pad_value=0, group=1, repeats=1),
                                np.random.default_rng(0))[0]
        with pytest.MonkeyPatch.context() as mp:
            try:
                session(model, path, mp)
                _SUPPORT[path] = None
            except Exception as e:  # noqa: BLE001 - the message is what we keep
                _SUPPORT[path] = str(e)
    return _SUPPORT[path]


@pytest.fixture(params=PATHS)
def kernel_path(request: pytest.FixtureRequest) -> str:
    err = path_error(request.param)
    if err is not None:
        pytest.skip(f"kernel path {request.param} unavailable here: {err.splitlines()[-1][:200]}")
    return request.param


def test_library_is_built() -> None:
    assert library_path().is_file()


def test_default_and_portable_paths_exist() -> None:
    assert path_error("reference") is None and path_error("portable") is None


# ---------------------------------------------------------------------------------------------
# the BinaryConv grid

def grid() -> Iterator[dict[str, Any]]:
    """Padding 0/1/2 x pad_value 0/+1/-1 x stride 1/2 x dilation 1/2 (all 36 combinations), with
    channel counts from 1 to 300 (not only multiples of 8 or 64), groups 1-4 and batch 1-3 cycled
    through them; then edge cases: 1x1 and non-square kernels, asymmetric strides, rows wider than
    64 pixels (several pixel tiles), Cout past one 64-channel task, tiny images."""
    cins = [1, 3, 8, 17, 31, 64, 65, 100, 127, 129, 200, 300]
    couts = [1, 5, 8, 13, 24, 33, 64, 70]
    groups = [1, 1, 2, 1, 3, 4]
    i = 0
    for pad, pad_value, stride, dil in itertools.product((0, 1, 2), (0, 1, -1), (1, 2), (1, 2)):
        g = groups[i % len(groups)]
        cin = cins[i % len(cins)] * g
        if cin > 300:
            cin = cins[i % 4] * g
        yield dict(n=1 + i % 3, cin=cin, h=5 + i % 5, w=5 + (i * 7) % 9, cout=couts[i % len(couts)] * g,
                   k=(3, 3), stride=stride, dil=dil, pad=pad, pad_value=pad_value, group=g,
                   repeats=1 + i % 3)
        i += 1
    yield dict(n=2, cin=300, h=6, w=6, cout=40, k=(3, 3), stride=1, dil=1, pad=1, pad_value=0,
               group=1, repeats=2)
    yield dict(n=1, cin=77, h=7, w=9, cout=19, k=(1, 1), stride=1, dil=1, pad=0, pad_value=0,
               group=1, repeats=4)
    yield dict(n=3, cin=64, h=5, w=70, cout=8, k=(3, 3), stride=1, dil=1, pad=1, pad_value=0,
               group=1, repeats=1)
    yield dict(n=1, cin=32, h=9, w=130, cout=72, k=(3, 3), stride=2, dil=1, pad=1, pad_value=1,
               group=2, repeats=2)
    yield dict(n=1, cin=130, h=4, w=4, cout=130, k=(3, 3), stride=1, dil=1, pad=1, pad_value=-1,
               group=1, repeats=1)
    yield dict(n=2, cin=12, h=8, w=8, cout=12, k=(1, 3), stride=(1, 2), dil=(2, 1),
               pad=(0, 1, 2, 0), pad_value=0, group=3, repeats=1)
    yield dict(n=1, cin=9, h=3, w=3, cout=7, k=(5, 5), stride=1, dil=1, pad=2, pad_value=0,
               group=1, repeats=1)
    yield dict(n=1, cin=256, h=1, w=1, cout=16, k=(3, 3), stride=1, dil=1, pad=1, pad_value=0,
               group=1, repeats=1)
    # channel counts with dedicated kernels (dot products of 8, 16, 72, 144 words)
    for cin, k in ((512, (1, 1)), (1024, (1, 1)), (512, (3, 3)), (1024, (3, 3))):
        yield dict(n=1, cin=cin, h=3, w=5, cout=12, k=k, stride=1, dil=1, pad=k[0] // 2,
                   pad_value=0, group=1, repeats=2)
    # seeded random draws over the same space (any channel count 1..300)
    rng = np.random.default_rng(20261122)
    for _ in range(24):
        g = int(rng.choice([1, 1, 1, 2, 3]))
        k = tuple(int(v) for v in rng.choice([1, 2, 3, 3, 5], 2)) if rng.random() < 0.3 else (3, 3)
        dil = int(rng.integers(1, 3))
        h, w = (max(int(rng.integers(3, 12)), (kk - 1) * dil + 1) for kk in k)  # output >= 1
        yield dict(n=int(rng.integers(1, 4)), cin=int(rng.integers(1, 301 // g)) * g, h=h, w=w,
                   cout=int(rng.integers(1, 90)) * g, k=k, stride=int(rng.integers(1, 3)),
                   dil=dil, pad=int(rng.integers(0, 3)), pad_value=int(rng.integers(-1, 2)),
                   group=g, repeats=int(rng.integers(1, 4)))


CASES = list(grid())


def pair(v: int | tuple[int, int]) -> list[int]:
    return [v, v] if isinstance(v, int) else list(v)


def conv_attrs(c: dict[str, Any]) -> dict[str, Any]:
    pads = [c["pad"]] * 4 if isinstance(c["pad"], int) else list(c["pad"])
    return dict(kernel_shape=list(c["k"]), strides=pair(c["stride"]), pads=pads,
                dilations=pair(c["dil"]), group=c["group"], pad_value=c["pad_value"])


def conv_case_model(c: dict[str, Any], rng: np.random.Generator
                    ) -> tuple[bytes, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Five nodes on one input: BinaryConv with scale 1 (the accumulator) and with a random scale,
    BinaryConvFused, BinaryConvFusedAdd and BinaryConvBlock. Returns (model, feeds, expected
    outputs)."""
    attrs = conv_attrs(c)
    kh, kw = c["k"]
    wf = np.where(rng.standard_normal((c["cout"], c["cin"] // c["group"], kh, kw)) >= 0, 1.0, -1.0)
    w = bitpack.pack_weights(wf)
    x = random_input(rng, (c["n"], c["cin"], c["h"], c["w"]))
    acc = binary_conv.reference_accumulator(x, w, **attrs)
    width = c["cout"] * c["repeats"]
    scale = rng.uniform(-1.5, 1.5, c["cout"]).astype(np.float32)
    mul = rng.uniform(-1.5, 1.5, width).astype(np.float32)
    add = rng.uniform(-3, 3, width).astype(np.float32)
    y_shape = (c["n"], width) + acc.shape[2:]
    residual = rng.uniform(-3, 3, y_shape).astype(np.float32)
    fused_attrs = dict(attrs, repeats=c["repeats"])
    # per input channel: 0, -0, a value of x itself (a tie: +1) or a random value
    flat = x[np.isfinite(x)].ravel()
    threshold = np.where(rng.random(c["cin"]) < 0.5, rng.choice(flat, c["cin"]) if flat.size else 0.0,
                         rng.uniform(-1, 1, c["cin"])).astype(np.float32)
    threshold[rng.random(c["cin"]) < 0.2] = 0.0
    threshold[rng.random(c["cin"]) < 0.1] = -0.0
    pre = rng.uniform(-2, 2, width).astype(np.float32)
    slope = rng.uniform(-0.5, 1.5, width).astype(np.float32)
    post = rng.uniform(-2, 2, width).astype(np.float32)
    # the channel-doubling pair form: accumulator splits, residual tiled along channels
    splits = int(rng.choice([d for d in (1, 2, 3) if c["cout"] % d == 0]))
    res_tiles = int(rng.choice([d for d in (1, 2, 4) if width % d == 0]))
    res_small = np.ascontiguousarray(residual[:, :width // res_tiles])
    # ReActNet's downsampling shortcut: the residual average-pooled inside the op (an extra row or
    # column past the last whole window is dropped, as AvgPool's floor)
    pool = [int(rng.integers(1, 4)), int(rng.integers(1, 3))]
    extra = [int(rng.integers(0, 2)) if k > 1 else 0 for k in pool]
    res_big = rng.uniform(-3, 3, (c["n"], width // res_tiles, y_shape[2] * pool[0] + extra[0],
                                  y_shape[3] * pool[1] + extra[1])).astype(np.float32)
    nodes = [
        ops.make_node("BinaryConv", ["x", "W", "ones"], ["acc"], **attrs),
        ops.make_node("BinaryConv", ["x", "W", "scale"], ["y"], **attrs),
        ops.make_node("BinaryConvFused", ["x", "W", "mul", "add"], ["fused"], **fused_attrs),
        ops.make_node("BinaryConvFusedAdd", ["x", "W", "mul", "add", "res"], ["fused_add"],
                      **fused_attrs),
        ops.make_node("BinaryConvBlock", ["x", "W", "threshold", "mul", "add", "res", "pre", "slope",
                                          "post"], ["block"], **fused_attrs),
        ops.make_node("BinaryConvBlock", ["x", "W", "threshold", "mul", "add", "res_small", "pre",
                                          "slope", "post"], ["block_split"], splits=splits,
                      **fused_attrs),
        ops.make_node("BinaryConvBlock", ["x", "W", "threshold", "mul", "add", "res_big", "pre",
                                          "slope", "post"], ["block_pool"], splits=splits,
                      residual_pool=pool, **fused_attrs),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape)),
              helper.make_tensor_value_info("res", TensorProto.FLOAT, list(y_shape)),
              helper.make_tensor_value_info("res_small", TensorProto.FLOAT, list(res_small.shape)),
              helper.make_tensor_value_info("res_big", TensorProto.FLOAT, list(res_big.shape))]
    inits = [("W", w), ("ones", np.ones(c["cout"], np.float32)), ("scale", scale), ("mul", mul),
             ("add", add), ("threshold", threshold), ("pre", pre), ("slope", slope), ("post", post)]
    model = make_model(nodes, inputs, OUTPUTS, inits)
    expected = {
        "acc": acc,
        "y": binary_conv.reference(x, w, scale, **attrs),
        "fused": binary_conv_fused.reference(x, w, mul, add, **fused_attrs),
        "fused_add": binary_conv_fused.reference(x, w, mul, add, residual, **fused_attrs),
        "block": binary_conv_block.reference(x, w, threshold, mul, add, residual, pre, slope, post,
                                             **fused_attrs),
        "block_split": binary_conv_block.reference(x, w, threshold, mul, add, res_small, pre, slope,
                                                   post, splits=splits, **fused_attrs),
        "block_pool": binary_conv_block.reference(x, w, threshold, mul, add, res_big, pre, slope,
                                                  post, splits=splits, residual_pool=pool,
                                                  **fused_attrs),
    }
    return model, {"x": x, "res": residual, "res_small": res_small, "res_big": res_big}, expected


OUTPUTS = ["acc", "y", "fused", "fused_add", "block", "block_split", "block_pool"]


def case_id(c: dict[str, Any]) -> str:
    return (f"n{c['n']}-c{c['cin']}-{c['h']}x{c['w']}-o{c['cout']}-k{c['k'][0]}x{c['k'][1]}"
            f"-s{c['stride']}-d{c['dil']}-p{c['pad']}-v{c['pad_value']}-g{c['group']}-r{c['repeats']}"
            ).replace(" ", "").replace("(", "").replace(")", "").replace(",", ".")


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_binary_conv_grid(case: dict[str, Any], kernel_path: str,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(zlib.crc32(case_id(case).encode()))  # reproducible per case
    model, feeds, expected = conv_case_model(case, rng)
    sess = session(model, kernel_path, monkeypatch)
    got = dict(zip(OUTPUTS, sess.run(None, feeds)))
    acc = got["acc"]
    assert acc.shape == expected["acc"].shape
    bad = np.flatnonzero(acc.astype(np.int64).ravel() != expected["acc"].ravel())
    assert bad.size == 0, (f"{bad.size} accumulators differ, first at {np.unravel_index(bad[0], acc.shape)}: "
                           f"{acc.ravel()[bad[0]]} != {expected['acc'].ravel()[bad[0]]}")
    for name in OUTPUTS[1:]:
        assert same_bits(got[name], expected[name]), f"{name} differs from the numpy reference"


def test_declared_output_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """InferOutputShapeFn: (N, Cout*repeats, Ho, Wo), N symbolic when the input's is."""
    c = dict(n=1, cin=16, h=9, w=7, cout=6, k=(3, 3), stride=2, dil=1, pad=1, pad_value=0, group=1,
             repeats=3)
    model, _, expected = conv_case_model(c, np.random.default_rng(1))
    sess = session(model, None, monkeypatch)
    shapes = {o.name: o.shape for o in sess.get_outputs()}
    assert shapes["acc"] == list(expected["acc"].shape)
    assert shapes["fused"] == list(expected["fused"].shape)


# ---------------------------------------------------------------------------------------------
# weight packing: pre-packed at creation, packed at first run, packed per call

def single_conv_model(w: np.ndarray, scale: np.ndarray, x_shape: list[Any], attrs: dict[str, Any],
                      w_as_input: bool = False) -> bytes:
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)]
    inits: list[tuple[str, np.ndarray]] = [("scale", scale)]
    if w_as_input:
        # dynamic dims: ORT itself would reject a mis-shaped feed against static ones
        inputs.append(helper.make_tensor_value_info("W", TensorProto.UINT8, ["cout", "bytes"]))
    else:
        inits.append(("W", w))
    return make_model([ops.make_node("BinaryConv", ["x", "W", "scale"], ["y"], **attrs)],
                      inputs, ["y"], inits)


def test_first_run_packing_with_dynamic_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels unknown at session creation: the constant W is packed at the first run, and
    repacked when a call brings another channel count that fits the same packed rows."""
    rng = np.random.default_rng(2)
    attrs = dict(kernel_shape=[1, 1], pads=[0, 0, 0, 0])
    w = rng.integers(0, 256, (4, 1), dtype=np.uint8)  # 1 byte per row: Cin 1..8 all fit
    scale = rng.uniform(-1, 1, 4).astype(np.float32)
    sess = session(single_conv_model(w, scale, ["N", "C", "H", "W"], attrs), None, monkeypatch)
    for cin in (5, 8, 5, 3):
        x = random_input(rng, (2, cin, 3, 4))
        w_valid = bitpack.pack_weights(bitpack.unpack_weights(w, (4, cin, 1, 1)))
        want = binary_conv.reference(x, w_valid, scale, **attrs)
        assert same_bits(sess.run(None, {"x": x})[0], want), f"Cin={cin}"


def test_weight_as_graph_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-constant W is packed on every call, so feeding new weights takes effect."""
    rng = np.random.default_rng(3)
    attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    scale = np.ones(10, np.float32)
    x = random_input(rng, (1, 20, 6, 6))
    sess = session(single_conv_model(np.zeros((10, 23), np.uint8), scale, [1, 20, 6, 6], attrs,
                                     w_as_input=True), None, monkeypatch)
    for _ in range(2):
        w = bitpack.pack_weights(np.where(rng.standard_normal((10, 20, 3, 3)) >= 0, 1.0, -1.0))
        got = sess.run(None, {"x": x, "W": w})[0]
        assert same_bits(got, binary_conv.reference(x, w, scale, **attrs))


# ---------------------------------------------------------------------------------------------
# Repeat

@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8, np.float16])
@pytest.mark.parametrize("shape,repeats", [((2, 3), 2), ((1, 5, 4, 4), 4), ((3, 2, 2, 3, 2), 3),
                                           ((2, 1, 7), 1), ((0, 3, 2), 2)])
def test_repeat(dtype: type, shape: tuple[int, ...], repeats: int,
                monkeypatch: pytest.MonkeyPatch) -> None:
    onnx_type = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    node = ops.make_node("Repeat", ["x"], ["y"], repeats=repeats)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", onnx_type, list(shape))],
                              [helper.make_tensor_value_info("y", onnx_type, None)])
    model = helper.make_model(graph, opset_imports=ops.opset_imports(),
                              functions=ops.function_protos({"Repeat"}))
    model.ir_version = ops.IR_VERSION
    x = (np.random.default_rng(4).standard_normal(shape) * 50).astype(dtype)
    y = session(model.SerializeToString(), None, monkeypatch).run(None, {"x": x})[0]
    want = repeat.reference(x, repeats=repeats)
    assert y.dtype == want.dtype and np.array_equal(y, want)


# ---------------------------------------------------------------------------------------------
# errors: clear ORT exceptions naming the problem, never a crash

def test_unknown_op_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    node = helper.make_node("NoSuchOp", ["x"], ["y"], domain=ops.DOMAIN)
    model = make_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                       ["y"], [])
    with pytest.raises(Exception, match="NoSuchOp"):
        session(model, None, monkeypatch)


def test_wrong_input_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    w = np.zeros((4, 5), np.uint8)  # 3x3, Cin 4: 36 bits
    model = single_conv_model(w, np.ones(4, np.float32), ["a", "b", "c"],
                              dict(kernel_shape=[3, 3]))
    sess = session(model, None, monkeypatch)
    with pytest.raises(Exception, match=r"X must be a float32 NCHW tensor \(rank 4\), got float32 \[4,6,6\]"):
        sess.run(None, {"x": np.zeros((4, 6, 6), np.float32)})


def test_wrong_constant_weight_shape_fails_at_session_creation(monkeypatch: pytest.MonkeyPatch) -> None:
    w = np.zeros((4, 7), np.uint8)  # Cin 4, 3x3 needs ceil(36/8) = 5 bytes per row
    model = single_conv_model(w, np.ones(4, np.float32), [1, 4, 6, 6], dict(kernel_shape=[3, 3]))
    with pytest.raises(Exception, match=r"W must be uint8 of shape .* = \(4, 5\) .* got \(4, 7\)"):
        session(model, None, monkeypatch)


def test_wrong_runtime_weight_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    model = single_conv_model(np.zeros((4, 5), np.uint8), np.ones(4, np.float32), [1, 4, 6, 6],
                              dict(kernel_shape=[3, 3]), w_as_input=True)
    sess = session(model, None, monkeypatch)
    with pytest.raises(Exception, match=r"got \(4, 6\)"):
        sess.run(None, {"x": np.zeros((1, 4, 6, 6), np.float32), "W": np.zeros((4, 6), np.uint8)})


@pytest.mark.parametrize("attrs,message", [
    (dict(kernel_shape=[3, 3], pad_value=2), "pad_value must be 0, 1 or -1"),
    (dict(kernel_shape=[3]), "kernel_shape must have 2 values"),
    (dict(kernel_shape=[3, 3], strides=[0, 1]), "strides must be >= 1"),
])
def test_bad_attributes_fail_at_session_creation(attrs: dict[str, Any], message: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    node = helper.make_node("BinaryConv", ["x", "W", "scale"], ["y"], domain=ops.DOMAIN, **attrs)
    model = make_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                       ["y"], [("W", np.zeros((4, 5), np.uint8)), ("scale", np.ones(4, np.float32))])
    with pytest.raises(Exception, match=message):
        session(model, None, monkeypatch)


def test_wrong_scale_and_group(monkeypatch: pytest.MonkeyPatch) -> None:
    model = single_conv_model(np.zeros((4, 5), np.uint8), np.ones(3, np.float32), [1, 4, 6, 6],
                              dict(kernel_shape=[3, 3]))
    with pytest.raises(Exception, match=r"scale must be float32 of shape \[4\], got float32 \[3\]"):
        session(model, None, monkeypatch).run(None, {"x": np.zeros((1, 4, 6, 6), np.float32)})
    model = single_conv_model(np.zeros((4, 3), np.uint8), np.ones(4, np.float32), ["N", 6, 6, 6],
                              dict(kernel_shape=[3, 3], group=4))
    with pytest.raises(Exception, match="divisible by group=4"):
        session(model, None, monkeypatch).run(None, {"x": np.zeros((1, 6, 6, 6), np.float32)})


@pytest.mark.parametrize("splits,res_channels,message", [
    (3, 8, r"splits=3 must divide the 4 rows of W"),
    (2, 3, r"residual must be float32 of the output shape \[1,8,6,6\] \(or with a channel count "
           r"dividing it\), got float32 \[1,3,6,6\]")])
def test_block_split_and_residual_errors(splits: int, res_channels: int, message: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    node = ops.make_node("BinaryConvBlock", ["x", "W", "t", "v", "v", "r", "v", "v", "v"], ["y"],
                         kernel_shape=[1, 1], repeats=2, splits=splits)
    vi = helper.make_tensor_value_info
    model = make_model([node], [vi("x", TensorProto.FLOAT, [1, 4, 6, 6]),
                                vi("r", TensorProto.FLOAT, [1, res_channels, 6, 6])],
                       ["y"], [("W", np.zeros((4, 1), np.uint8)), ("t", np.zeros(4, np.float32)),
                               ("v", np.ones(8, np.float32))])
    feeds = {"x": np.zeros((1, 4, 6, 6), np.float32), "r": np.zeros((1, res_channels, 6, 6), np.float32)}
    with pytest.raises(Exception, match=message):
        session(model, None, monkeypatch).run(None, feeds)


def test_block_vectors_fed_per_run_are_read_per_run(kernel_path: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernels keep a table of each output channel's constants when the transform's vectors
    are initializers (built once); vectors fed as graph inputs may change from run to run, and
    each run must read its own (two runs with different vectors, each against the reference)."""
    rng = np.random.default_rng(17)
    cin, cout, repeats, hw = 12, 6, 2, 7
    wf = np.where(rng.standard_normal((cout, cin, 3, 3)) >= 0, 1.0, -1.0)
    w, threshold = bitpack.pack_weights(wf), rng.uniform(-1, 1, cin).astype(np.float32)
    attrs = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1], repeats=repeats)
    names = ["mul", "add", "pre", "slope", "post"]
    vi = helper.make_tensor_value_info
    node = ops.make_node("BinaryConvBlock", ["x", "W", "t", "mul", "add", "x", "pre", "slope", "post"],
                         ["y"], **attrs)
    model = make_model([node], [vi("x", TensorProto.FLOAT, [1, cin, hw, hw])] +
                       [vi(n, TensorProto.FLOAT, [cout * repeats]) for n in names],
                       ["y"], [("W", w), ("t", threshold)])
    sess = session(model, kernel_path, monkeypatch)
    x = rng.uniform(-2, 2, (1, cin, hw, hw)).astype(np.float32)
    for _ in range(2):
        vec = {n: rng.uniform(-1.5, 1.5, cout * repeats).astype(np.float32) for n in names}
        (got,) = sess.run(None, {"x": x, **vec})
        want = binary_conv_block.reference(x, w, threshold, vec["mul"], vec["add"], x, vec["pre"],
                                           vec["slope"], vec["post"], **attrs)
        assert same_bits(got, want)


def chained_blocks_model(rng: np.random.Generator, height: int = 10) -> tuple[bytes, np.ndarray]:
    """A Repeat (35 -> 70 channels) and four BinaryConvBlocks, each reading the one before as X and
    residual, 70 channels between them: 3x3 (35 x 2 repeats, 10x62, zero padding), 1x1 (splits 5), 3x3 stride 2 with the residual
    pooled (62 -> 31 wide), 1x1 (35 x 4, the residual tiled). Their consumers' maps are 62 wide
    (bits cut into rows: > 57 and not byte-aligned) and 31 wide (one load per row piece); batch 2.
    Linked, b writes c's pooled residual: 62-wide rows whose vectors straddle rows of windows.
    ``height``: the input's (10; even)."""
    def block(name: str, x: str, cin: int, cout: int, k: int, **attrs: Any) -> tuple[Any, list]:
        width = cout * attrs.get("repeats", 1)
        wf = np.where(rng.standard_normal((cout, cin, k, k)) >= 0, 1.0, -1.0)
        vec = {v: rng.uniform(lo, hi, width).astype(np.float32)
               for v, lo, hi in (("mul", -1.5, 1.5), ("add", -1, 1), ("pre", -1, 1), ("slope", -0.5, 1.5),
                                 ("post", -1, 1))}
        t = rng.uniform(-0.5, 0.5, cin).astype(np.float32)
        t[rng.random(cin) < 0.2] = 0.0
        inits = [(f"{name}_W", bitpack.pack_weights(wf)), (f"{name}_t", t)] + [
            (f"{name}_{v}", a) for v, a in vec.items()]
        node = ops.make_node("BinaryConvBlock", [x, f"{name}_W", f"{name}_t", f"{name}_mul", f"{name}_add", x,
                                                 f"{name}_pre", f"{name}_slope", f"{name}_post"], [name],
                             kernel_shape=[k, k], pads=[k // 2] * 4, **attrs)
        return node, inits
    nodes, inits = [ops.make_node("Repeat", ["x35"], ["x"], repeats=2)], []  # folded into block a
    for spec in (("a", "x", 70, 35, 3, dict(repeats=2)), ("b", "a", 70, 35, 1, dict(repeats=2, splits=5)),
                 ("c", "b", 70, 70, 3, dict(strides=[2, 2], residual_pool=[2, 2])),
                 ("d", "c", 70, 35, 1, dict(repeats=4))):
        node, more = block(*spec[:5], **spec[5])
        nodes.append(node)
        inits += more
    x = random_input(rng, (2, 35, height, 62))
    model = make_model(nodes, [helper.make_tensor_value_info("x35", TensorProto.FLOAT, list(x.shape))],
                       ["d"], inits)
    return model, x


def test_linked_blocks_give_the_same_bits(kernel_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """rep-deploy's sessions link block pairs (rep_deploy/link_signs.py: the sign bits go from one
    block to the next, BinaryConvBlockLinked); the output must not change by a bit."""
    import onnx

    from rep_deploy.link_signs import link_signs

    model, x = chained_blocks_model(np.random.default_rng(11))
    linked, done = link_signs(onnx.load_from_string(model))
    assert done == (3, 1, 1)  # b writes c's pooled residual (10x62 -> 5x31), c reads only its signs
    want = session(model, kernel_path, monkeypatch).run(None, {"x35": x})[0]
    got = session(linked.SerializeToString(), kernel_path, monkeypatch).run(None, {"x35": x})[0]
    assert same_bits(got, want), f"{kernel_path}: {np.nanmax(np.abs(got - want))}"


def test_fused_block_pairs_give_the_same_bits(kernel_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """rep-deploy's sessions also fuse a linked block and the 1x1 block after it
    (rep_deploy/block_pairs.py, BinaryConvBlockPair): a -> b on a 24x62 map (24 tiles of 64 pixels:
    fused, b writing c's pooled residual) and c -> d on 12x31 (6 tiles: the two halves in sequence)."""
    import onnx

    from rep_deploy.block_pairs import fuse_block_pairs
    from rep_deploy.link_signs import link_signs

    model, x = chained_blocks_model(np.random.default_rng(12), height=24)
    fused, n = fuse_block_pairs(link_signs(onnx.load_from_string(model))[0])
    assert n == 2
    want = session(model, kernel_path, monkeypatch).run(None, {"x35": x})[0]
    got = session(fused.SerializeToString(), kernel_path, monkeypatch).run(None, {"x35": x})[0]
    assert same_bits(got, want), f"{kernel_path}: {np.nanmax(np.abs(got - want))}"


def test_repeat_rank_error(monkeypatch: pytest.MonkeyPatch) -> None:
    node = ops.make_node("Repeat", ["x"], ["y"], repeats=2)
    model = make_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])], ["y"], [])
    with pytest.raises(Exception, match=r"rank >= 2 .* got \[5\]"):
        session(model, None, monkeypatch).run(None, {"x": np.zeros(5, np.float32)})


def test_bad_kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    model = conv_case_model(CASES[0], np.random.default_rng(5))[0]
    with pytest.raises(Exception, match="REP_DEPLOY_KERNEL=bogus is not a kernel path .* choose one of: .*portable"):
        session(model, "bogus", monkeypatch)


# ---------------------------------------------------------------------------------------------
# concurrency

def test_concurrent_runs_share_one_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Four Python threads call run on one session (itself using two intra-op threads): every
    result equals the sequential one, so kernels keep no shared mutable scratch."""
    c = dict(n=2, cin=96, h=14, w=14, cout=40, k=(3, 3), stride=1, dil=1, pad=1, pad_value=0,
             group=1, repeats=2)
    rng = np.random.default_rng(6)
    model, case_feeds, _ = conv_case_model(c, rng)
    sess = session(model, None, monkeypatch)
    feeds = [{name: (random_input(rng, v.shape) if name == "x"
                     else rng.standard_normal(v.shape).astype(np.float32))
              for name, v in case_feeds.items()} for _ in range(8)]
    sequential = [sess.run(None, f) for f in feeds]

    def work(i: int) -> bool:
        ok = True
        for rep in range(6):
            k = (i + rep) % len(feeds)
            out = sess.run(None, feeds[k])
            ok &= all(same_bits(a, b) for a, b in zip(out, sequential[k]))
        return ok

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(4)))
