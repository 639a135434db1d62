"""tflite_bench: LCE .tflite files on Google's stock LiteRT with rep-deploy's own LCE kernels.

The bundle (runtimes/bench/build_bundle.sh) is copied into a sandbox root that has no ``lib``
directory, only the fake arm64 CPU tree, and ``tflite_bench`` is started with the bundle's own
device command under ``qemu-aarch64-static -L <root>``, as in tests/test_bundle.py. Outputs are
compared with LCE's x86 interpreter (``rep_deploy.InferenceSession`` on the same file): no x86 LiteRT
wheel exports the TFLite C API, so the device build is the only one. Timings under qemu mean nothing.

scripts/test.sh builds the bundle before pytest; a local run without it skips, naming the command.
"""
from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _phone import DEVICE_DIR, phone_root, run_in

from rep_deploy.device.bundle import BUILD_COMMAND, TFLITE_RUNNER_NAME, Bundle, find_bundle, parse_runner_json

N_DIGITS = 48


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    try:
        b = find_bundle()
    except FileNotFoundError as e:
        pytest.skip(f"{e} (scripts/test.sh does that before pytest)")
    if not b.has_tflite:
        pytest.skip(f"bundle {b.dir} has no tflite_bench (LiteRT parts); rebuild it with `{BUILD_COMMAND}`")
    return b


@pytest.fixture(scope="module")
def demo_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped demo (pretrained) as rep-deploy tflite writes it: LceQuantize + LceBconv2d + builtins."""
    tflite = pytest.importorskip("rep_deploy.converters.tflite")
    from rep_deploy.export import ExportOptions, export_model
    from rep_deploy.models import demo

    out = tmp_path_factory.mktemp("demo")
    result = export_model(demo.DEMO_MODEL, out, checkpoint=str(demo.checkpoint_path()),
                          options=ExportOptions(reference_images=0))
    try:
        tflite.convert_to_tflite(result.model_path, out / "model.tflite")
    except tflite.TFLiteDependencyError as e:
        pytest.skip(str(e))
    return out / "model.tflite"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Real test digits, normalized, NCHW (as rep-deploy's sessions take them), and their labels."""
    from rep_deploy.models import demo

    x, y = demo.load_test_split()
    return np.ascontiguousarray(demo.normalize(x[:N_DIGITS])), y[:N_DIGITS]


@pytest.fixture(scope="module")
def device(bundle: Bundle, demo_tflite: Path, digits, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A phone-like sandbox root: no lib/, a fake arm64 CPU, the bundle + model + NHWC input."""
    root = phone_root(tmp_path_factory.mktemp("device"), bundle)
    folder = root / DEVICE_DIR
    shutil.copy(demo_tflite, folder / "demo.tflite")
    # The file's input is NHWC (converters/tflite lowers NCHW graphs to NHWC); tflite_bench takes the
    # layout the model declares.
    np.save(folder / "x.npy", np.ascontiguousarray(digits[0].transpose(0, 2, 3, 1)))
    return root


def _run(root: Path, argv: list[str]) -> subprocess.CompletedProcess:
    return run_in(root, argv)


def _run_device(root: Path, bundle: Bundle, model: str, *, input: str = "x.npy", output: str,
                json_out: str | None = None, threads: int = 1, runs: int = 2) -> subprocess.CompletedProcess:
    command = bundle.tflite_command(model, input, output, json_out, threads=threads, runs=runs, warmup=1)
    assert command.startswith("./ld-linux-aarch64.so.1 --library-path . ./tflite_bench ")
    return _run(root, shlex.split(command))


@pytest.fixture(scope="module")
def lce_reference(demo_tflite: Path, digits) -> np.ndarray:
    """LCE's own x86 interpreter on the same file (NCHW in, the logits out)."""
    import rep_deploy as rd

    out = rd.InferenceSession(demo_tflite).run(digits[0])
    return np.asarray(out[0] if isinstance(out, (list, tuple)) else out)


@pytest.mark.parametrize("threads", [1, 2])
def test_demo_matches_lce(device: Path, bundle: Bundle, digits, lce_reference: np.ndarray, threads: int) -> None:
    folder = device / DEVICE_DIR
    r = _run_device(device, bundle, "demo.tflite", output=f"y{threads}.npy", json_out=f"r{threads}.json",
                    threads=threads)
    assert r.returncode == 0, r.stderr
    record = parse_runner_json(r.stdout, runner=TFLITE_RUNNER_NAME)
    assert record == json.loads((folder / f"r{threads}.json").read_text())
    assert record["litert_version"].startswith("2.21") and record["threads"] == threads
    assert record["kernel_path"] == "neon" and record["machine"]["machine"] == "aarch64"
    assert record["runs"] == 2 and len(record["timings_us"]["all"]) == 2 and record["peak_rss_kb"] > 1000
    assert record["input"]["shape"] == [N_DIGITS, 8, 8, 1] and record["output"]["shape"] == [N_DIGITS, 10]

    y = np.load(folder / f"y{threads}.npy")
    assert y.dtype == np.float32 and y.shape == lce_reference.shape
    max_rel = float(np.abs(y - lce_reference).max() / np.abs(lce_reference).max())
    print(f"threads {threads}: max |LiteRT+rep-deploy - LCE| / max |LCE| = {max_rel:.2e}")
    assert max_rel < 1e-5
    assert np.array_equal(y.argmax(1), lce_reference.argmax(1))  # top-1 agreement 100%
    assert (y.argmax(1) == digits[1]).mean() == (lce_reference.argmax(1) == digits[1]).mean() > 0.9


def test_threads_give_the_same_bits(device: Path, bundle: Bundle) -> None:
    """LiteRT gives custom ops no thread pool, so the LCE ops run on the library's own: with 1, 3 and
    0 (one per core) threads (tflite_bench sets both LiteRT's and the library's), the same bits."""
    folder = device / DEVICE_DIR
    outputs = []
    for threads in (1, 3, 0):
        r = _run_device(device, bundle, "demo.tflite", output=f"t{threads}.npy", threads=threads, runs=1)
        assert r.returncode == 0, r.stderr
        assert parse_runner_json(r.stdout, runner=TFLITE_RUNNER_NAME)["threads"] == threads
        outputs.append(np.load(folder / f"t{threads}.npy"))
    for y in outputs[1:]:
        assert np.array_equal(y.view(np.uint32), outputs[0].view(np.uint32))


@pytest.fixture(scope="module")
def pooled_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``rep-deploy tflite`` of MaxPool 3x3/2 (SAME-like, odd map) -> BinaryConv (70 channels: 3
    words) -> MaxPool 2x2/2 -> BinaryConv: LCE rewrites sign(MaxPool(x)) as LceBMaxPool2d of the
    packed signs, the first after an LceQuantize, the second after a conv writing bit-packed output."""
    tflite = pytest.importorskip("rep_deploy.converters.tflite")
    import onnx
    from onnx import TensorProto, helper

    from _onnx import make_model
    from rep_deploy import ops
    from rep_deploy.ops import bitpack

    rng = np.random.default_rng(25)
    sign = lambda shape: np.where(rng.standard_normal(shape) >= 0, 1.0, -1.0).astype(np.float32)  # noqa: E731
    conv = dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1] * 4, dilations=[1, 1], group=1, pad_value=0)
    nodes = [helper.make_node("MaxPool", ["x"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
             ops.make_node("BinaryConv", ["p1", "w1", "s1"], ["c1"], name="conv1", **conv),
             helper.make_node("MaxPool", ["c1"], ["p2"], kernel_shape=[2, 2], strides=[2, 2]),
             ops.make_node("BinaryConv", ["p2", "w2", "s2"], ["y"], name="conv2", **conv)]
    consts = [("w1", bitpack.pack_weights(sign((40, 70, 3, 3)))), ("s1", np.ones(40, np.float32)),
              ("w2", bitpack.pack_weights(sign((24, 40, 3, 3)))),
              ("s2", rng.uniform(0.5, 2.0, 24).astype(np.float32))]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 70, 13, 13])
    out = tmp_path_factory.mktemp("pooled")
    model = onnx.load_from_string(make_model(nodes, [x], ["y"], consts))
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 24, 3, 3]))
    onnx.save(model, out / "model.onnx")
    try:
        tflite.convert_to_tflite(out / "model.onnx", out / "model.tflite", images=POOL_BATCH)
    except tflite.TFLiteDependencyError as e:
        pytest.skip(str(e))
    hist = tflite.inspect_tflite((out / "model.tflite").read_bytes()).op_histogram
    assert hist.get("LceBMaxPool2d") == 2 and hist.get("LceBconv2d") == 2 and "MAX_POOL_2D" not in hist, hist
    return out / "model.tflite"


POOL_BATCH = 3


@pytest.mark.parametrize("threads", [1, 3])
def test_binary_maxpool_matches_lce(device: Path, bundle: Bundle, pooled_tflite: Path, threads: int) -> None:
    """LceBMaxPool2d on stock LiteRT (qemu) against LCE's x86 interpreter: a wrong bit in either pool
    moves a conv output by 2 (of the few tens they reach with 360 taps): percent, where LCE and
    LiteRT round the float multiplier apart by under 1e-6 of the largest output."""
    import rep_deploy as rd

    folder = device / DEVICE_DIR
    shutil.copy(pooled_tflite, folder / "pooled.tflite")
    x = np.random.default_rng(threads).standard_normal((POOL_BATCH, 70, 13, 13)).astype(np.float32)
    np.save(folder / "px.npy", np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    r = _run_device(device, bundle, "pooled.tflite", input="px.npy", output=f"py{threads}.npy", threads=threads)
    assert r.returncode == 0, r.stderr
    y = np.load(folder / f"py{threads}.npy").transpose(0, 3, 1, 2)  # the file's NHWC; the session's NCHW
    want = np.asarray(rd.InferenceSession(pooled_tflite).run(x))
    assert y.shape == want.shape == (POOL_BATCH, 24, 3, 3), (y.shape, want.shape)
    max_rel = float(np.abs(y - want).max() / np.abs(want).max())
    print(f"threads {threads}: LceBMaxPool2d model, max |LiteRT+rep-deploy - LCE| / max |LCE| = {max_rel:.2e}")
    assert max_rel < 1e-5


def _int8_output(data: bytes, op: str, scale: float, zero_point: int) -> bytes:
    """The model with ``op``'s first node writing int8 (``scale``, ``zero_point``) instead of float32,
    then a DEQUANTIZE, so the file's inputs and outputs stay float32: LCE ops meeting int8 tensors as
    in a quantization-aware-trained model (LCE's converter writes those only from fake-quantized
    graphs, which ``rep-deploy tflite`` never makes)."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    graph = model.subgraphs[0]
    codes = [c.customCode.decode() if c.customCode else None for c in model.operatorCodes]
    at = next(i for i, o in enumerate(graph.operators) if codes[o.opcodeIndex] == op)
    t = graph.operators[at].outputs[0]
    src = graph.tensors[t]
    assert src.type == schema.TensorType.FLOAT32
    dq = schema.TensorT()
    dq.shape, dq.shapeSignature, dq.type = src.shape, src.shapeSignature, schema.TensorType.FLOAT32
    dq.buffer, dq.name = 0, (src.name or b"t") + b"/dequantized"
    src.type = schema.TensorType.INT8
    src.quantization = schema.QuantizationParametersT()
    src.quantization.scale, src.quantization.zeroPoint = [scale], [zero_point]
    graph.tensors.append(dq)
    new = len(graph.tensors) - 1
    for o in graph.operators[at + 1:]:
        o.inputs = [new if i == t else i for i in o.inputs]
    graph.outputs = [new if i == t else i for i in graph.outputs]
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.DEQUANTIZE
    model.operatorCodes.append(code)
    deq = schema.OperatorT()
    deq.opcodeIndex, deq.inputs, deq.outputs = len(model.operatorCodes) - 1, [t], [new]
    graph.operators.insert(at + 1, deq)
    builder = flatbuffers.Builder(len(data) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


INT8_CHANNELS = 40


@pytest.fixture(scope="module")
def int8_tflites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sign(x) used as a float (LceQuantize + LceDequantize), plus -2.5 x, then a BinaryConv
    (LceQuantize + LceBconv2d), LCE-converted two ways: with float tensors, then LceDequantize's and
    LceBconv2d's outputs made int8 (``_int8_output``); and with LCE's default int8 range, where
    LceQuantize reads int8 (the converter's own quantized form)."""
    tflite = pytest.importorskip("rep_deploy.converters.tflite")
    import onnx
    from onnx import TensorProto, helper

    from _onnx import make_model
    from rep_deploy import ops
    from rep_deploy.converters.tflite._tf import load
    from rep_deploy.converters.tflite.lower import lower_to_keras
    from rep_deploy.ops import bitpack

    rng = np.random.default_rng(8)
    c = INT8_CHANNELS
    w = np.where(rng.standard_normal((c, c, 3, 3)) >= 0, 1.0, -1.0).astype(np.float32)
    conv = dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1] * 4, dilations=[1, 1], group=1, pad_value=1)
    nodes = [helper.make_node("GreaterOrEqual", ["x", "zero"], ["ge"]),
             helper.make_node("Where", ["ge", "one", "minus_one"], ["s"]),
             helper.make_node("Mul", ["x", "slope"], ["m"]),  # a = s - 2.5 x: around 0, where
             helper.make_node("Add", ["s", "m"], ["a"]),        # the zero point decides the sign
             ops.make_node("BinaryConv", ["a", "w", "scale"], ["y"], name="conv", **conv)]
    consts = [("zero", np.zeros(1, np.float32)), ("one", np.ones(1, np.float32)),
              ("minus_one", -np.ones(1, np.float32)), ("slope", np.full(1, -2.5, np.float32)),
              ("w", bitpack.pack_weights(w)),
              ("scale", rng.uniform(0.5, 1.5, c).astype(np.float32))]
    model = onnx.load_from_string(make_model(
        nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 9, 9])], ["y"], consts))
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, 9, 9]))
    try:
        lce = load().lce
    except tflite.TFLiteDependencyError as e:
        pytest.skip(str(e))
    keras_model = lower_to_keras(model).keras_model
    plain = lce.convert_keras_model(keras_model, target="arm")
    out = tmp_path_factory.mktemp("int8")
    files = {"int8 outputs": out / "int8_outputs.tflite", "int8 input": out / "int8_input.tflite"}
    files["int8 outputs"].write_bytes(_int8_output(_int8_output(plain, "LceDequantize", 1 / 3, 2),
                                                   "LceBconv2d", 0.75, -5))
    files["int8 input"].write_bytes(lce.convert_keras_model(keras_model, target="arm",
                                                            experimental_default_int8_range=(-3.0, 3.0)))
    ops_of = {k: tflite.inspect_tflite(f.read_bytes()).custom_ops for k, f in files.items()}
    assert {(n["op"], n["outputs"][0]) for n in ops_of["int8 outputs"]} >= {("LceDequantize", "int8"),
                                                                         ("LceBconv2d", "int8")}
    assert ("LceQuantize", "int8") in {(n["op"], n["inputs"][0]) for n in ops_of["int8 input"]}
    return files


@pytest.mark.parametrize("kind", ["int8 outputs", "int8 input"])
def test_int8_lce_ops_match_lce(device: Path, bundle: Bundle, int8_tflites: dict[str, Path], kind: str) -> None:
    """LCE's ops with int8 tensors on stock LiteRT (qemu) against LCE's x86 interpreter: the quantized
    +-1 of LceDequantize and LceBconv2d's fused int8 transform exactly, LceQuantize's zero point."""
    import rep_deploy as rd

    folder = device / DEVICE_DIR
    name = kind.replace(" ", "_") + ".tflite"
    shutil.copy(int8_tflites[kind], folder / name)
    x = np.random.default_rng(4).standard_normal((3, INT8_CHANNELS, 9, 9)).astype(np.float32)
    np.save(folder / "qx.npy", np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    r = _run_device(device, bundle, name, input="qx.npy", output="qy.npy", threads=2)
    assert r.returncode == 0, r.stderr
    y = np.load(folder / "qy.npy").transpose(0, 3, 1, 2)
    want = np.asarray(rd.InferenceSession(int8_tflites[kind]).run(x))
    assert y.shape == want.shape == (3, INT8_CHANNELS, 9, 9)
    levels = len(np.unique(want))
    print(f"{kind}: {levels} distinct output values; max |LiteRT+rep-deploy - LCE| = {np.abs(y - want).max():.3g}")
    assert levels > 20  # the int8 range is used, not saturated
    if kind == "int8 outputs":  # int8 all the way to the DEQUANTIZE: the same integers
        np.testing.assert_array_equal(y, want)
    else:  # LceBconv2d's float output: LCE's fused form rounds apart (lce.h), by < 1e-5 of the
        # largest output; a wrong sign bit would move an output by 2 x its multiplier (>= 1 here)
        assert np.abs(y - want).max() <= 1e-5 * np.abs(want).max()


def test_binary_maxpool_bad_option_is_one_line(device: Path, bundle: Bundle, pooled_tflite: Path) -> None:
    # Every LceBMaxPool2d loses its filter_height key (renamed, same length): named, nothing written.
    folder = device / DEVICE_DIR
    data = pooled_tflite.read_bytes()
    assert data.count(b"filter_height") >= 2
    (folder / "badpool.tflite").write_bytes(data.replace(b"filter_height", b"filter_heighx"))
    np.save(folder / "bx.npy", np.zeros((POOL_BATCH, 13, 13, 70), np.float32))
    line = _one_line_error(_run_device(device, bundle, "badpool.tflite", input="bx.npy", output="bad.npy",
                                       json_out="bad.json"), "LceBMaxPool2d (output '")
    assert "option filter_height is missing" in line and "(LceBMaxPool2d) failed to prepare" in line, line
    assert not list(folder.glob("bad.*")) and not list(folder.glob("*.tmp"))


def _one_line_error(r: subprocess.CompletedProcess, named: str) -> str:
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tflite_bench: error: "), r.stderr
    assert named in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("case", ["unknown op", "bad option", "missing model", "corrupt npy", "wrong shape"])
def test_faults_are_one_line(device: Path, bundle: Bundle, case: str) -> None:
    folder = device / DEVICE_DIR
    model, input, named = "demo.tflite", "x.npy", ""
    if case == "unknown op":
        # The same file with its LceQuantize op code renamed (same length, so the flatbuffer stays valid).
        data = (folder / "demo.tflite").read_bytes()
        assert data.count(b"LceQuantize") >= 1
        (folder / "mystery.tflite").write_bytes(data.replace(b"LceQuantize", b"RepMystery9"))
        model, named = "mystery.tflite", "RepMystery9"
    elif case == "bad option":
        # Every LceBconv2d's flexbuffer options lose their channels_in key (renamed, same length).
        data = (folder / "demo.tflite").read_bytes()
        (folder / "badopt.tflite").write_bytes(data.replace(b"channels_in", b"channels_xx"))
        model, named = "badopt.tflite", "LceBconv2d (output '"
    elif case == "missing model":
        model = named = "nothing.tflite"
    elif case == "corrupt npy":
        input = named = "corrupt.npy"
        (folder / input).write_bytes(b"\x93NUMPY\x01\x00garbage")
    else:
        input, named = "wrong.npy", "[2, 8, 9, 1]"
        np.save(folder / input, np.zeros((2, 8, 9, 1), np.float32))
    tag = case.replace(" ", "_")
    line = _one_line_error(_run_device(device, bundle, model, input=input, output=f"{tag}.npy",
                                       json_out=f"{tag}.json"), named)
    if case == "bad option":
        assert "option channels_in is missing" in line and "(LceBconv2d) failed to prepare" in line
    assert not list(folder.glob(f"{tag}.*")) and not list(folder.glob("*.tmp"))


def test_lce_ops_without_the_op_library_are_named(device: Path, bundle: Bundle) -> None:
    # Without --custom-ops, stock LiteRT knows none of LCE's ops: its message must reach the one line.
    command = bundle.tflite_command("demo.tflite", "x.npy", "plain.npy")
    argv = shlex.split(command.replace(" --custom-ops ./librep_deploy_litert.so", ""))
    _one_line_error(_run(device, argv), "LceQuantize")
    assert not (device / DEVICE_DIR / "plain.npy").exists()


def test_manifest_has_both_commands(bundle: Bundle) -> None:
    m = bundle.manifest
    assert m["command"] == m["commands"]["onnx"] and bundle.litert_version == "2.0.3"
    assert len(m["litert_wheel"]["sha256"]) == 64 and m["tflite_runner_version"]
    cmd = bundle.tflite_command("/data/local/tmp/m x.tflite", "x.npy", "y.npy", threads=4, runs=20, warmup=3)
    assert cmd == ("./ld-linux-aarch64.so.1 --library-path . ./tflite_bench --litert libLiteRtRuntimeCApi.so "
                   "--custom-ops ./librep_deploy_litert.so --model '/data/local/tmp/m x.tflite' --input x.npy "
                   "--output y.npy --threads 4 --runs 20 --warmup 3")
    with pytest.raises(ValueError):
        bundle.tflite_command("m.tflite", "x.npy", "y.npy", runs=0)


def test_parse_runner_json_keeps_runners_apart() -> None:
    record = {"runner": TFLITE_RUNNER_NAME, "runner_version": "1.0.0", "litert_version": "2.21.0"}
    with pytest.raises(ValueError, match="runner is 'rep-deploy tflite_bench'"):
        parse_runner_json(json.dumps(record))  # the default stays ort_bench
    with pytest.raises(ValueError, match="'machine'"):
        parse_runner_json(json.dumps(record), runner=TFLITE_RUNNER_NAME)  # got past the runner checks
    with pytest.raises(ValueError, match="litert_version"):
        parse_runner_json(json.dumps({**record, "litert_version": ""}), runner=TFLITE_RUNNER_NAME)
