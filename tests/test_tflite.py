"""``rep-deploy tflite``: ONNX -> TensorFlow -> LCE -> .tflite, checked against the op spec and ORT.

* Grid: single binary convs over awkward shapes (channels not a multiple of 8 or 32, stride 2 on odd
  and even maps, zero and +1 padding, groups, maps smaller than the kernel, 1x1, 5x5, batch > 1),
  converted by LCE and run in LCE's interpreter with scale 1, so the outputs are the integer
  accumulators: they must equal ``binary_conv.reference_accumulator`` exactly.
* Every zoo model at beta 1 and 2 (ImageNet ones ``slow``): every binary conv becomes an LceBconv2d
  and LCE's interpreter agrees with ONNX Runtime (top-1 100%, logits within the tolerance).
* The shipped demo keeps its accuracy; ``InferenceSession`` runs .tflite files; bad input fails clearly.

Inputs avoid NaN: LCE's LceQuantize tests ``x < 0`` (NaN -> +1) where the spec says -1.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

import rep_deploy as rd
from rep_deploy import ExportOptions, export_model, get_model_info, ops
from rep_deploy.cli import main
from rep_deploy.ops import binary_conv, binary_conv_block, bitpack

from _onnx import make_model
from _zoo import zoo_cases

tflite = pytest.importorskip("rep_deploy.converters.tflite")
try:
    from rep_deploy.converters.tflite._tf import load as _load_tf

    _load_tf()  # imports TF with the environment LCE needs (legacy Keras), before anything else does
except tflite.TFLiteDependencyError as e:  # pragma: no cover - the test environment installs it
    pytest.skip(f"the [tflite] extra is not installed: {e}", allow_module_level=True)


def _convert_in_memory(model_bytes: bytes) -> tuple[bytes, dict]:
    """lower -> LCE convert, without verification (the grid compares with numpy itself)."""
    from rep_deploy.converters.tflite._tf import load
    from rep_deploy.converters.tflite.lower import lower_to_keras

    lowered = lower_to_keras(onnx.load_from_string(model_bytes))
    data = load().lce.convert_keras_model(lowered.keras_model, target="arm")
    return data, tflite.inspect_tflite(data).op_histogram


# ---------------------------------------------------------------------------------------------
# the binary conv grid: exact integers
GRID = [  # cin, cout, size, k, stride, pad, pad_value, group
    (3, 5, 7, 3, 1, 1, 0, 1),
    (17, 8, 8, 3, 2, 1, 0, 1),     # stride 2 on an even map: PyTorch's padding is TF's flipped
    (40, 13, 9, 3, 2, 1, 0, 1),    # stride 2 on an odd map: TF SAME as is
    (64, 24, 6, 3, 1, 1, 1, 1),    # +1 padding (LCE pad_values=1)
    (33, 16, 7, 3, 2, 1, 1, 1),
    (32, 16, 8, 3, 2, 1, 1, 1),    # +1 padding in a flipped frame
    (70, 33, 5, 1, 1, 0, 0, 1),
    (64, 32, 8, 1, 2, 0, 0, 1),
    (48, 16, 2, 3, 1, 1, 0, 1),    # map smaller than the kernel: LCE's zero padding is wrong there
    (20, 8, 1, 3, 1, 1, 0, 1),
    (32, 16, 6, 3, 1, 1, 0, 2),    # groups: one LceBconv2d per group
    (96, 24, 5, 3, 2, 1, 0, 3),
    (16, 8, 10, 5, 1, 2, 0, 1),
    (8, 8, 9, 3, 1, 0, 0, 1),      # valid
]


@pytest.mark.parametrize("case", GRID, ids=lambda c: "cin{}-cout{}-{}px-k{}-s{}-p{}-pv{}-g{}".format(*c))
def test_binary_conv_grid_is_exact(case: tuple[int, ...]) -> None:
    cin, cout, size, k, stride, pad, pad_value, group = case
    rng = np.random.default_rng(zlib_seed(case))
    w = np.where(rng.standard_normal((cout, cin // group, k, k)) >= 0, 1.0, -1.0).astype(np.float32)
    attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, dilations=[1, 1],
                 group=group, pad_value=pad_value)
    packed = bitpack.pack_weights(w)
    node = ops.make_node("BinaryConv", ["x", "w", "s"], ["y"], name="conv", **attrs)
    model = make_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, size, size])],
                       ["y"], [("w", packed), ("s", np.ones(cout, np.float32))])
    data, hist = _convert_in_memory(model)
    assert hist.get("LceBconv2d", 0) >= group and "CONV_2D" not in hist and "TRANSPOSE" not in hist
    x = rng.standard_normal((3, cin, size, size)).astype(np.float32)
    x[rng.random(x.shape) < 0.05] = 0.0  # sign(0) = +1 in both
    got = tflite.LceRunner(data).run(x)
    want = binary_conv.reference_accumulator(x, packed, **attrs).astype(np.float32)
    np.testing.assert_array_equal(got, want)


def zlib_seed(case: tuple[int, ...]) -> int:
    import zlib

    return zlib.crc32(repr(case).encode())


def test_block_with_splits_pool_and_tiling_matches_the_reference() -> None:
    """BinaryConvBlock (thresholds, splits=2, repeats=2, pooled and tiled residual, RPReLU)."""
    rng = np.random.default_rng(5)
    cin, cc, size = 24, 16, 8
    attrs = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], dilations=[1, 1], group=1,
                 pad_value=0, repeats=2, splits=2, residual_pool=[2, 2])
    w = np.where(rng.standard_normal((cc, cin, 3, 3)) >= 0, 1.0, -1.0).astype(np.float32)
    width = cc * 2
    vec = lambda lo, hi: rng.uniform(lo, hi, width).astype(np.float32)  # noqa: E731
    consts = {"w": bitpack.pack_weights(w), "t": rng.normal(0, 0.3, cin).astype(np.float32),
              "mul": vec(0.02, 0.1), "add": vec(-0.5, 0.5), "pre": vec(-0.2, 0.2),
              "slope": vec(0.05, 0.5), "post": vec(-0.2, 0.2)}
    node = ops.make_node("BinaryConvBlock", ["x", "w", "t", "mul", "add", "r", "pre", "slope", "post"],
                         ["y"], name="block", **attrs)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, size, size]),
              helper.make_tensor_value_info("r", TensorProto.FLOAT, [1, width // 2, size, size])]
    # the residual is a second graph input here; the converter takes one, so feed it from x
    slice_node = helper.make_node("Slice", ["x", "s0", "s1", "ax"], ["r"], name="residual")
    model = make_model([slice_node, node], inputs[:1], ["y"],
                       [*consts.items(), ("s0", np.array([0], np.int64)),
                        ("s1", np.array([width // 2], np.int64)), ("ax", np.array([1], np.int64))])
    data, hist = _convert_in_memory(model)
    assert hist["LceBconv2d"] == 1 and hist["PRELU"] == 1
    x = rng.standard_normal((2, cin, size, size)).astype(np.float32)
    want = binary_conv_block.reference(x, consts["w"], consts["t"], consts["mul"], consts["add"],
                                       x[:, :width // 2], consts["pre"], consts["slope"], consts["post"],
                                       **attrs)
    got = tflite.LceRunner(data).run(x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# every zoo model
@pytest.mark.parametrize("name,beta", zoo_cases())
def test_every_zoo_model_converts_and_agrees(name: str, beta: int | None, zoo_tflite) -> None:
    exported, result = zoo_tflite(name, beta)  # conftest.py: converted once, also run in LiteRT
    r = result.report
    bc = r["binary_convs"]
    assert bc["onnx"] == sum(n for op, n in exported.report["op_histogram"].items()
                             if op.startswith("rep_deploy::BinaryConv"))
    assert bc["float_fallbacks"] == [] and r["op_histogram"]["LceBconv2d"] == bc["lce_bconv2d"]
    assert bc["lce_bconv2d"] >= bc["onnx"]
    # float convs: only the model's real float layers (the stem), never a binary one
    assert r["op_histogram"].get("CONV_2D", 0) == exported.report["op_histogram"].get("Conv", 0)
    # no layout shuffles around ops: at most one TRANSPOSE (VGG-small flattens a 4x4 map in NCHW
    # order for its classifier) and the one or two REVERSEs of the padding frames
    assert r["op_histogram"].get("TRANSPOSE", 0) <= 1 and r["added_ops"].get("REVERSE_V2", 0) <= 2
    v = r["verification"]
    assert v["passed"] and v["top1_agreement"] == 1.0
    print(f"{name} beta {beta or 1}: max abs {v['max_abs_diff']:.3g}, rel {v['max_rel_diff']:.3g}, "
          f"{r['file_bytes']} bytes = {r['size_ratio_to_ideal']:.3f} x ideal, ops {r['op_histogram']}")


@pytest.mark.parametrize("ops_,fuse", [("custom", False), ("standard", False)])
def test_every_export_form_converts_alike(ops_: str, fuse: bool, tmp_path: Path) -> None:
    """rep-resnet20 (beta 2) from unfused custom ops and from plain ONNX: the same binarized file."""
    shape = (1, *get_model_info("rep-resnet20").input_size)
    fused = export_model("rep-resnet20", tmp_path / "f", options=ExportOptions(
        input_shape=shape, reference_images=0, native=False))
    other = export_model("rep-resnet20", tmp_path / "o", options=ExportOptions(
        ops=ops_, fuse=fuse, input_shape=shape, reference_images=0, native=False))
    a = tflite.convert_to_tflite(fused.model_path, tmp_path / "a.tflite", images=4).report
    b = tflite.convert_to_tflite(other.model_path, tmp_path / "b.tflite", images=4).report
    assert b["verification"]["passed"]
    assert a["op_histogram"]["LceBconv2d"] == b["op_histogram"]["LceBconv2d"] == 18
    assert "TRANSPOSE" not in b["op_histogram"]


# ---------------------------------------------------------------------------------------------
# the shipped demo, through the CLI and the inference API
@pytest.fixture(scope="module")
def demo_tflite(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("demo")
    runner = CliRunner()
    r = runner.invoke(main, ["export", "rep-resnet20-digits", "--pretrained", "--reference-images", "0",
                             "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["tflite", str(out / "model.onnx"), "-o", str(out / "model.tflite")])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stderr.split())
    assert "top-1 agree 100.00%" in text and "accuracy 95.83%" in text and "wrote" in text
    return out / "model.onnx", out / "model.tflite"


def test_demo_keeps_its_accuracy(demo_tflite: tuple[Path, Path]) -> None:
    onnx_path, tflite_path = demo_tflite
    report = json.loads(tflite_path.with_name("model.report.json").read_text())
    v = report["verification"]
    assert v["images"] == 360 and v["accuracy"] == pytest.approx(345 / 360) and v["top1_agreement"] == 1.0
    assert v["max_rel_diff"] < 1e-4
    assert report["source"]["name"] == "model.onnx" and len(report["source"]["sha256"]) == 64
    assert report["binary_convs"]["onnx"] == 18 and report["file_bytes"] == tflite_path.stat().st_size


def test_inference_session_runs_tflite_like_onnx(demo_tflite: tuple[Path, Path]) -> None:
    from rep_deploy.models import demo

    onnx_path, tflite_path = demo_tflite
    x, y = demo.load_test_split()
    lite, ref = rd.InferenceSession(tflite_path), rd.InferenceSession(onnx_path)
    assert lite.backend == "lce" and lite.metadata["model"] == "rep-resnet20-digits"
    assert lite.input_shape == [None, 1, 8, 8]
    labels = lite.predict(np.round(x * 255).astype(np.uint8))  # same raw-image rules as .onnx
    assert (labels == ref.predict(np.round(x * 255).astype(np.uint8))).all()
    assert (lite.predict(x) == y).mean() == pytest.approx(345 / 360)
    with pytest.raises(rd.InputError, match="axis 2"):
        lite.run(np.zeros((1, 1, 9, 8), np.float32))


def test_cli_run_says_lce_ran_a_tflite(demo_tflite: tuple[Path, Path], tmp_path: Path) -> None:
    from rep_deploy.models import demo

    onnx_path, tflite_path = demo_tflite
    x, _ = demo.load_test_split()
    np.save(tmp_path / "x.npy", np.round(x[:5] * 255).astype(np.uint8))
    r = CliRunner().invoke(main, ["run", str(tflite_path), "--input", str(tmp_path / "x.npy"), "--normalize",
                                  "--json", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    assert "ran on LCE's x86 interpreter" in r.stderr and "function bodies" not in r.stderr
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["backend"] == "lce" and d["kernel_path"] is None and d["engine"].startswith("LCE's x86 interpreter")
    want = rd.InferenceSession(onnx_path).predict(np.round(x[:5] * 255).astype(np.uint8))
    assert [i["top"][0]["class"] for i in d["images"]] == want.tolist()
    r = CliRunner().invoke(main, ["run", str(tflite_path), "--input", str(tmp_path / "x.npy"), "--no-library"])
    assert r.exit_code != 0 and "--no-library applies to .onnx files" in r.output


def _with_int16_bconv_output(data: bytes) -> bytes:
    """The same file with its last LceBconv2d's output tensor declared int16 (which no LCE kernel writes)."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    graph = model.subgraphs[0]
    codes = [c.customCode.decode() if c.customCode else "" for c in model.operatorCodes]
    bconv = [op for op in graph.operators if codes[op.opcodeIndex] == "LceBconv2d"][-1]
    graph.tensors[bconv.outputs[0]].type = schema.TensorType.INT16
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_info_and_bench_name_what_stock_litert_cannot_run(demo_tflite: tuple[Path, Path], tmp_path: Path) -> None:
    from rep_deploy.device.bench import BenchError, BenchOptions, bench_model

    _, tflite_path = demo_tflite
    r = CliRunner().invoke(main, ["info", str(tflite_path), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["stock_litert_gaps"] == []
    assert "runs every custom op in it" in CliRunner().invoke(main, ["info", str(tflite_path)]).stdout
    bad = tmp_path / "int16.tflite"
    bad.write_bytes(_with_int16_bconv_output(tflite_path.read_bytes()))
    d = json.loads(CliRunner().invoke(main, ["info", str(bad), "--json"]).stdout)
    assert len(d["stock_litert_gaps"]) == 1 and d["bconvs"][-1]["output"] == "int16"
    assert d["stock_litert_gaps"][0].startswith("LceBconv2d with int16 output (implemented: float32 or int32 or "
                                                "int8): node ")
    r = CliRunner().invoke(main, ["info", str(bad)])
    assert r.exit_code == 0 and "cannot run: LceBconv2d with int16 output" in " ".join(r.stdout.split())
    # bench refuses before it touches the device (None here: any use would raise AttributeError)
    with pytest.raises(BenchError, match=r"^int16.tflite: stock LiteRT with rep-deploy's LCE ops cannot run "
                                         r"LceBconv2d with int16 output .*--runner ./lce_benchmark_model$"):
        bench_model(None, bad, BenchOptions())


def test_int8_io_tflite_is_refused_in_one_line(tmp_path: Path) -> None:
    """A quantized file with int8 input is named as such, not a traceback from LCE's interpreter."""
    from rep_deploy.converters.tflite._tf import load
    from rep_deploy.converters.tflite.lower import lower_to_keras

    cin = 16
    w = np.where(np.random.default_rng(0).standard_normal((8, cin, 3, 3)) >= 0, 1.0, -1.0).astype(np.float32)
    node = ops.make_node("BinaryConv", ["x", "w", "s"], ["y"], name="conv", kernel_shape=[3, 3], strides=[1, 1],
                         pads=[1] * 4, dilations=[1, 1], group=1, pad_value=1)
    model = make_model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, 6, 6])], ["y"],
                       [("w", bitpack.pack_weights(w)), ("s", np.ones(8, np.float32))])
    tf = load().tf
    data = load().lce.convert_keras_model(lower_to_keras(onnx.load_from_string(model)).keras_model,
                                          inference_input_type=tf.int8, inference_output_type=tf.int8,
                                          experimental_default_int8_range=(-3.0, 3.0))
    path = tmp_path / "quantized.tflite"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=r"quantized.tflite: its input and output are int8 / float32: rep-deploy runs"):
        rd.InferenceSession(path)
    np.save(tmp_path / "x.npy", np.zeros((1, cin, 6, 6), np.float32))
    r = CliRunner().invoke(main, ["run", str(path), "--input", str(tmp_path / "x.npy")])
    assert r.exit_code == 1 and "Traceback" not in r.output and "float32 input and output" in r.output


def test_info_reads_tflite(demo_tflite: tuple[Path, Path], tmp_path: Path) -> None:
    _, tflite_path = demo_tflite
    r = CliRunner().invoke(main, ["info", str(tflite_path), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["metadata"]["model"] == "rep-resnet20-digits" and len(d["bconvs"]) == d["op_histogram"]["LceBconv2d"]
    assert d["input_shape"] == [1, 8, 8, 1] and d["output_shape"] == [1, 10]
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(tflite_path.read_bytes()[:5000])
    r = CliRunner().invoke(main, ["info", str(cut)])
    assert r.exit_code == 1 and "damaged or truncated TFLite file" in r.output and "Traceback" not in r.output


# ---------------------------------------------------------------------------------------------
# bad input: one line, non-zero exit, nothing written
def _tiny_onnx(path: Path, op: str = "Sin") -> Path:
    node = helper.make_node(op, ["input"], ["logits"], name="my_node")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3, 4, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("setup,args,message", [
    ("unknown_op", [], "Sin node 'my_node': no TFLite lowering for this op"),
    ("not_onnx", [], "not a readable ONNX model"),
    ("missing", [], "no such file"),
    ("demo", ["--target", "riscv"], "Invalid value for '--target'"),
    ("demo_exists", [], "already exists; pass --force"),
])
def test_bad_input_is_one_line_and_writes_nothing(setup: str, args: list[str], message: str,
                                                   tmp_path: Path, demo_tflite) -> None:
    src = tmp_path / "in.onnx"
    out = tmp_path / "out.tflite"
    if setup == "unknown_op":
        _tiny_onnx(src)
    elif setup == "not_onnx":
        src.write_bytes(b"\x08garbage")
    elif setup.startswith("demo"):
        src.write_bytes(demo_tflite[0].read_bytes())
        if setup == "demo_exists":
            out.write_bytes(b"precious")
    r = CliRunner().invoke(main, ["tflite", str(src), "-o", str(out), *args])
    assert r.exit_code != 0
    assert message in " ".join(r.output.split()), r.output
    assert "Traceback" not in r.output
    assert out.read_bytes() == b"precious" if setup == "demo_exists" else not out.exists()
    assert not tflite.report_path_for(out).exists()


def test_missing_tensorflow_says_how_to_install(tmp_path: Path, monkeypatch, demo_tflite) -> None:
    import importlib

    from rep_deploy.converters.tflite import _tf

    real = importlib.import_module

    def no_lce(name: str, *a, **k):
        if name == "larq_compute_engine":
            raise ImportError("No module named 'larq_compute_engine'")
        return real(name, *a, **k)

    monkeypatch.setattr(_tf, "_LOADED", None)
    monkeypatch.setattr(_tf.importlib, "import_module", no_lce)
    r = CliRunner().invoke(main, ["tflite", str(demo_tflite[0]), "-o", str(tmp_path / "m.tflite")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    text = " ".join(r.output.split())
    assert "missing larq_compute_engine" in text and "pip install 'rep-deploy[tflite]'" in text
    assert not (tmp_path / "m.tflite").exists()


def test_padding_tensorflow_cannot_express_is_named(tmp_path: Path) -> None:
    """A binary conv padded 2 on each side with a 3x3 kernel: no SAME/VALID equivalent for LCE."""
    w = np.ones((4, 8, 3, 3), np.float32)
    node = ops.make_node("BinaryConv", ["input", "w", "s"], ["logits"], name="odd_pad",
                         kernel_shape=[3, 3], strides=[1, 1], pads=[2, 2, 2, 2], dilations=[1, 1],
                         group=1, pad_value=0)
    model = make_model([node], [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 8, 6, 6])],
                       ["logits"], [("w", bitpack.pack_weights(w)), ("s", np.ones(4, np.float32))])
    m = onnx.load_from_string(model)
    m.graph.output[0].CopyFrom(helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 4, 8, 8]))
    (tmp_path / "m.onnx").write_bytes(m.SerializeToString())
    with pytest.raises(tflite.ConversionError, match="BinaryConv node 'odd_pad': pads"):
        tflite.convert_to_tflite(tmp_path / "m.onnx", tmp_path / "m.tflite")
    assert not (tmp_path / "m.tflite").exists()


def test_xcore_lists_the_layers_it_leaves_in_float(tmp_path: Path) -> None:
    exported = export_model("rep-resnet20", tmp_path / "e", options=ExportOptions(
        input_shape=(1, 3, 32, 32), reference_images=0, native=False))
    r = tflite.convert_to_tflite(exported.model_path, tmp_path / "x.tflite", target="xcore", images=2).report
    fallbacks = r["binary_convs"]["float_fallbacks"]
    assert len(fallbacks) == 18 and r["op_histogram"].get("LceBconv2d", 0) == 0
    assert r["op_histogram"]["CONV_2D"] == 1 + 18 and r["verification"]["passed"]
