"""The aarch64 device bundle (runtimes/bench/build_bundle.sh), run the way a phone runs it.

The bundle is copied into a sandbox root that has no ``lib`` directory, only the fake arm64 CPU tree,
and ``ort_bench`` is started through the bundled loader under ``qemu-aarch64-static -L <root>``: if the
bundle relied on anything from the device's ``/lib``, it would fail here. Outputs are compared with
the host's ONNX Runtime and rep-deploy's x86 kernels; timings under qemu mean nothing, so only their
structure is checked. The host build of ``ort_bench`` (same source) is checked bit for bit.

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

from rep_deploy.device.bundle import BUILD_COMMAND, Bundle, find_bundle, parse_runner_json

REPO = Path(__file__).resolve().parents[1]
HOST_RUNNER = REPO / "build" / "bench-host" / "ort_bench"


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    try:
        return find_bundle()
    except FileNotFoundError as e:
        pytest.skip(f"{e} (scripts/test.sh does that before pytest)")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo model with rep-deploy's custom ops and as standard ONNX (pretrained weights)."""
    from rep_deploy.models import demo

    from rep_deploy.export import ExportOptions, export_model

    out = tmp_path_factory.mktemp("models")
    paths = {}
    for ops in ("custom", "standard"):
        result = export_model(demo.DEMO_MODEL, out / ops, checkpoint=str(demo.checkpoint_path()),
                              options=ExportOptions(ops=ops, reference_images=0))
        paths[ops] = result.model_path
    return paths


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """24 real test digits, normalized as the model expects, and their labels."""
    from rep_deploy.models import demo

    x, y = demo.load_test_split()
    return np.ascontiguousarray(demo.normalize(x[:24])), y[:24]


def _host_reference(model: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    from rep_deploy.runtime import make_session_options

    session = ort.InferenceSession(str(model), make_session_options(1), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


@pytest.fixture(scope="module")
def device(bundle: Bundle, models: dict[str, Path], digits, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sandbox root like a phone's: no lib/, a fake arm64 CPU, the bundle + models + input in DEVICE_DIR."""
    root = phone_root(tmp_path_factory.mktemp("device"), bundle)
    folder = root / DEVICE_DIR
    for ops, path in models.items():
        shutil.copy(path, folder / f"{ops}.onnx")
    np.save(folder / "x.npy", digits[0])
    return root


def _run_device(root: Path, bundle: Bundle, model: str, *, input: str = "x.npy", output: str,
                json_out: str | None = None, threads: int = 1, runs: int = 2,
                warmup: int = 1) -> subprocess.CompletedProcess:
    """Run the bundle's own device command (from its manifest) in the sandbox under qemu."""
    command = bundle.command(model, input, output, json_out, threads=threads, runs=runs, warmup=warmup)
    assert command.startswith("./ld-linux-aarch64.so.1 --library-path . ./ort_bench ")
    return run_in(root, shlex.split(command))


def _check_record(record: dict, *, runs: int, machine: str, out_shape: list[int]) -> None:
    assert record["runner"] == "rep-deploy ort_bench" and record["onnxruntime_version"] == "1.31.1"
    assert record["machine"]["machine"] == machine and record["machine"]["sysname"] == "Linux"
    assert record["runs"] == runs and len(record["timings_us"]["all"]) == runs
    assert record["init_us"] > 0 and record["first_us"] > 0 and record["warmup_avg_us"] > 0
    t = record["timings_us"]
    assert 0 < t["min"] <= t["median"] <= max(t["all"]) and t["min"] <= t["mean"] and t["std"] >= 0
    assert record["peak_rss_kb"] > 1000
    assert record["input"]["shape"] == [24, 1, 8, 8] and record["output"]["shape"] == out_shape


# Two threads only with the bit-packed kernels: ORT's spinning thread pool makes the float
# convolutions of the standard export ten times slower under qemu on a 2-core host.
@pytest.mark.parametrize("ops, threads", [("custom", 2), ("standard", 1)])
def test_device_outputs_match_host(device: Path, bundle: Bundle, models: dict[str, Path], digits, ops: str,
                                   threads: int) -> None:
    folder = device / DEVICE_DIR
    r = _run_device(device, bundle, f"{ops}.onnx", output=f"y_{ops}.npy", json_out=f"r_{ops}.json", threads=threads)
    assert r.returncode == 0, r.stderr
    record = parse_runner_json(r.stdout)
    assert record["threads"] == threads
    assert record == json.loads((folder / f"r_{ops}.json").read_text())
    _check_record(record, runs=2, machine="aarch64", out_shape=[24, 10])
    y = np.load(folder / f"y_{ops}.npy")
    ref = _host_reference(models[ops], digits[0])
    assert y.dtype == np.float32 and y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5 * float(np.abs(ref).max()))
    assert np.array_equal(y.argmax(1), ref.argmax(1))
    assert (y.argmax(1) == digits[1]).mean() > 0.9  # real digits, the pretrained model


@pytest.mark.parametrize("case", ["missing model", "corrupt npy", "wrong shape"])
def test_device_faults_are_one_line(device: Path, bundle: Bundle, case: str) -> None:
    folder = device / DEVICE_DIR
    model, input = "custom.onnx", "x.npy"
    if case == "missing model":
        model = "nothing.onnx"
    elif case == "corrupt npy":
        input = "corrupt.npy"
        (folder / input).write_bytes(b"\x93NUMPY\x01\x00garbage")
    else:
        input = "wrong.npy"
        np.save(folder / input, np.zeros((2, 3, 8, 8), np.float32))
    tag = case.replace(" ", "_")
    r = _run_device(device, bundle, model, input=input, output=f"{tag}.npy", json_out=f"{tag}.json")
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ort_bench: error: "), r.stderr
    named = {"missing model": "nothing.onnx", "corrupt npy": "corrupt.npy", "wrong shape": "[2, 3, 8, 8]"}[case]
    assert named in lines[0]
    assert not list(folder.glob(f"{tag}.*")) and not list(folder.glob("*.tmp"))


# --- the host build of the same runner: exact, and fast enough for the details --------------------

@pytest.fixture(scope="module")
def host_runner(bundle: Bundle) -> list[str]:
    import onnxruntime

    from rep_deploy.runtime import library_path

    if not HOST_RUNNER.is_file():
        pytest.skip(f"no host ort_bench at {HOST_RUNNER}; build it with `{BUILD_COMMAND}`")
    ort_lib = next(Path(onnxruntime.__file__).parent.glob("capi/libonnxruntime.so.1*"))
    return [str(HOST_RUNNER), "--ort", str(ort_lib), "--custom-ops", str(library_path())]


def _run_host(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, check=False, capture_output=True, text=True, timeout=120)


def test_host_runner_is_bit_exact(host_runner: list[str], models: dict[str, Path], digits, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", digits[0])
    r = _run_host([*host_runner, "--model", str(models["custom"]), "--input", "x.npy", "--output", "y.npy",
                   "--threads", "1", "--runs", "3", "--warmup", "2"], tmp_path)
    assert r.returncode == 0, r.stderr
    record = parse_runner_json(r.stdout)
    _check_record(record, runs=3, machine="x86_64", out_shape=[24, 10])
    assert record["warmup"] == 2 and record["threads"] == 1
    assert np.array_equal(np.load(tmp_path / "y.npy"), _host_reference(models["custom"], digits[0]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]  # no --json: no record file


@pytest.mark.parametrize("args, message", [
    (["--runs", "0"], "--runs needs an integer >= 1"),
    (["--bogus", "1"], "unknown option --bogus"),
    (["--ort", "/nonexistent/libonnxruntime.so.1"], "cannot load ONNX Runtime"),
    (["--custom-ops", "/nonexistent/lib.so"], "custom-op library not found"),
])
def test_host_runner_argument_errors(host_runner: list[str], models: dict[str, Path], digits, tmp_path: Path,
                                     args: list[str], message: str) -> None:
    np.save(tmp_path / "x.npy", digits[0])
    r = _run_host([*host_runner, "--model", str(models["custom"]), "--input", "x.npy", "--output", "y.npy",
                   "--json", "r.json", *args], tmp_path)
    assert r.returncode == 1 and r.stderr.startswith("ort_bench: error: ") and message in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_npy_round_trip_shapes(host_runner: list[str], tmp_path: Path) -> None:
    """The runner's .npy writer: numpy reads back 1-d and 0-d outputs (header forms "(n,)" and "()")."""
    import onnx
    from onnx import TensorProto, helper

    for shape in ([5], []):
        graph = helper.make_graph([helper.make_node("Neg", ["x"], ["y"])], "neg",
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.save(model, tmp_path / "neg.onnx")
        x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
        np.save(tmp_path / "x.npy", x)
        r = _run_host([*host_runner[:3], "--model", "neg.onnx", "--input", "x.npy", "--output", "y.npy",
                       "--runs", "1", "--warmup", "0"], tmp_path)
        assert r.returncode == 0, r.stderr
        assert parse_runner_json(r.stdout)["warmup_avg_us"] is None
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), -x)


# --- the host-side module -------------------------------------------------------------------------

def test_find_bundle_names_the_build_command(tmp_path: Path, bundle: Bundle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REP_DEPLOY_BUNDLE", str(tmp_path / "none"))
    with pytest.raises(FileNotFoundError, match="runtimes/bench/build_bundle.sh"):
        find_bundle()
    copy = tmp_path / "copy"
    shutil.copytree(bundle.dir, copy)
    assert find_bundle(copy).files == bundle.files
    with (copy / "LICENSE.onnxruntime").open("a") as f:
        f.write("changed")
    with pytest.raises(FileNotFoundError, match=r"LICENSE.onnxruntime does not match .*build_bundle.sh"):
        find_bundle(copy)
    (copy / "ort_bench").unlink()
    with pytest.raises(FileNotFoundError, match="missing ort_bench"):
        find_bundle(copy, verify=False)


def test_manifest_lists_loader_runtime_and_versions(bundle: Bundle) -> None:
    m = bundle.manifest
    assert m["format"] == 1 and m["arch"] == "aarch64" and bundle.onnxruntime_version == "1.31.1"
    assert len(m["onnxruntime_wheel"]["sha256"]) == 64
    for lib in ("ld-linux-aarch64.so.1", "libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
                "libonnxruntime.so.1", "librep_deploy_ort.so", "ort_bench"):
        assert lib in bundle.files
    assert sorted(p.name for p in bundle.dir.iterdir()) == sorted([*bundle.files, "manifest.json"])
    cmd = bundle.command("/data/local/tmp/m x.onnx", "x.npy", "y.npy", threads=4, runs=20, warmup=3)
    assert cmd == ("./ld-linux-aarch64.so.1 --library-path . ./ort_bench --ort libonnxruntime.so.1 "
                   "--custom-ops ./librep_deploy_ort.so --model '/data/local/tmp/m x.onnx' --input x.npy "
                   "--output y.npy --threads 4 --runs 20 --warmup 3")
    with pytest.raises(ValueError):
        bundle.command("m.onnx", "x.npy", "y.npy", runs=0)


@pytest.mark.parametrize("text, message", [
    ("", "no JSON object"),
    ("{not json", "invalid JSON"),
    ('{"runner": "other"}', "runner is 'other'"),
])
def test_parse_runner_json_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_runner_json(text)


def test_parse_runner_json_names_the_bad_field(host_runner: list[str], models: dict[str, Path], digits,
                                               tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", digits[0])
    r = _run_host([*host_runner, "--model", str(models["standard"]), "--input", "x.npy", "--output", "y.npy",
                   "--runs", "2"], tmp_path)
    record = parse_runner_json("adb noise\n" + r.stdout)
    record["timings_us"]["all"] = [1.0]
    with pytest.raises(ValueError, match="timings_us.all"):
        parse_runner_json(json.dumps(record))
