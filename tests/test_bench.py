"""``rep-deploy bench`` end to end: the real adb servers (Debian's adb 29 and adbutils' adb 36), the
emulated arm64 device, rep-deploy's aarch64 bundle under qemu; and every fault the issue names.

Timings under qemu mean nothing, so no test looks at a time beyond its being positive and ordered;
the outputs are real (aarch64 ONNX Runtime + rep-deploy's NEON kernels) and must match the host.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from _adb import ADBS, DEBIAN_ADB, free_port, start_server
from click.testing import CliRunner

from rep_deploy.cli import main
from rep_deploy.emulator import daemon

QEMU = shutil.which("qemu-aarch64-static")
pytestmark = pytest.mark.skipif(QEMU is None, reason="qemu-aarch64-static (Debian qemu-user-static) not installed")


@pytest.fixture(scope="module")
def bundle():
    from rep_deploy.device.bundle import BUILD_COMMAND, find_bundle

    try:
        return find_bundle()
    except FileNotFoundError:
        pytest.skip(f"no aarch64 bundle: build it with `{BUILD_COMMAND}` (scripts/test.sh does, before pytest)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, bundle) -> dict[str, Path]:
    """The shipped demo model, exported with rep-deploy's ops and as standard ONNX."""
    from rep_deploy.export import ExportOptions, export_model
    from rep_deploy.models import demo as demo_model

    out = tmp_path_factory.mktemp("bench_models")
    return {ops: export_model(demo_model.DEMO_MODEL, out / ops, checkpoint=str(demo_model.checkpoint_path()),
                              options=ExportOptions(ops=ops, reference_images=0)).model_path
            for ops in ("custom", "standard")}


@pytest.fixture(scope="module", params=ADBS)
def adb_server(request, tmp_path_factory):
    yield from start_server(request.param, tmp_path_factory.mktemp("adbhome"))


@pytest.fixture(scope="module")
def adb29(tmp_path_factory):
    if not os.access(DEBIAN_ADB, os.X_OK):
        pytest.skip("Debian adb not installed")
    yield from start_server(DEBIAN_ADB, tmp_path_factory.mktemp("adbhome29"))


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("emustate")


def _device(server, state_dir: Path, **faults):
    return daemon.emulated_device(adb=server.adb, adb_server=server.port, state_dir=state_dir, **faults)


def _bench(server_port: int, *args: str):
    return CliRunner().invoke(main, ["bench", *args], env={"ANDROID_ADB_SERVER_PORT": str(server_port)})


def _leftovers(info) -> list[str]:
    """What rep-deploy left in the device's /data/local/tmp/rep-deploy/."""
    top = info.root / "data/local/tmp/rep-deploy"
    return sorted(p.name for p in top.iterdir()) if top.is_dir() else []


def _one_line_error(r, *needles: str) -> None:
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    for n in needles:
        assert n in lines[0], lines[0]


# --- end to end ---------------------------------------------------------------------------------

def test_bench_onnx_on_the_emulated_device(adb_server, state_dir, demo, tmp_path):
    """Two models (the demo with rep-deploy ops, and as standard ONNX), a complete record each,
    the device's outputs equal to the host's, the comparison, nothing left on the device."""
    out = tmp_path / "bench.json"
    with _device(adb_server, state_dir) as info:
        r = _bench(adb_server.port, str(demo["custom"]), str(demo["standard"]), "--device", info.serial,
                   "--runs", "3", "--warmup", "1", "--json", str(out))
        assert r.exit_code == 0, r.output
        assert _leftovers(info) == []
    doc = json.loads(out.read_text())
    assert [rec["model"]["path"] for rec in doc["records"]] == [str(demo["custom"]), str(demo["standard"])]
    for rec, path in zip(doc["records"], (demo["custom"], demo["standard"])):
        import hashlib

        assert rec["emulated"] is True and "qemu" in rec["note"]
        d = rec["device"]
        assert d["serial"] == info.serial and d["abi"] == "arm64-v8a" and d["machine"] == "aarch64"
        assert d["kernel"] and d["android_release"] and "emulated" in d["model"]
        assert rec["model"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert rec["model"]["format"] == "onnx" and rec["model"]["bytes"] == path.stat().st_size
        assert rec["runner"]["name"] == "rep-deploy ort_bench" and rec["runner"]["version"]
        assert rec["runner"]["onnxruntime_version"] == "1.31.1" and rec["runner"]["machine"]["machine"] == "aarch64"
        assert (rec["threads"], rec["runs"], rec["warmup"]) == (1, 3, 1)
        t = rec["timings_us"]
        assert len(t["all"]) == 3 and 0 < t["min"] <= t["median"] and t["std"] >= 0
        assert rec["init_us"] > 0 and rec["first_us"] > 0 and rec["peak_rss_kb"] > 1000
        a = rec["agreement"]
        assert a["checked"] and a["passed"] and a["top1_agreement"] == 1.0, a
        assert a["max_rel_diff"] <= a["tolerance_rel"]
    assert doc["records"][0]["agreement"]["reference"].startswith("host ONNX Runtime with rep-deploy kernels")
    # the kernel path the device's library reports running: NEON on arm64; the standard file runs none
    assert doc["records"][0]["kernel_path"] == "neon" and doc["records"][1]["kernel_path"] is None
    (comp,) = doc["comparisons"]
    assert comp["device"] == info.serial and comp["median_ratio"] > 0 and comp["emulated"]
    text = " ".join(r.output.split())
    assert "top-1 100%" in text and "kernels: neon" in text and "emulated" in text and " over " in text


def test_bench_tflite_in_stock_litert(adb29, state_dir, zoo_tflite, tmp_path):
    """A .tflite without --runner: the bundle's tflite_bench (stock LiteRT + rep-deploy's LCE ops),
    compared with LCE's x86 interpreter on the host."""
    _, converted = zoo_tflite("rep-resnet20-digits", 2)  # shared with test_litert_zoo / test_tflite
    out = tmp_path / "t.json"
    with _device(adb29, state_dir) as info:
        r = _bench(adb29.port, str(converted.tflite_path), "--device", info.serial, "--runs", "2", "--json", str(out))
        assert r.exit_code == 0, r.output
        assert _leftovers(info) == []
    rec = json.loads(out.read_text())["records"][0]
    assert rec["runner"]["name"] == "rep-deploy tflite_bench" and rec["runner"]["litert_version"]
    assert rec["model"]["format"] == "tflite" and rec["kernel_path"] == "neon"
    a = rec["agreement"]
    assert a["passed"] and a["reference"] == "host LCE interpreter (x86)" and a["max_rel_diff"] < 1e-4, a


def test_emulated_flag_starts_and_stops_its_own_device(demo, tmp_path, monkeypatch):
    port = free_port()
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("REP_DEPLOY_EMULATOR_DIR", str(tmp_path / "emu"))
    try:
        r = _bench(port, str(demo["custom"]), "--emulated", "--runs", "1", "--warmup", "0", "--json", "-")
        assert r.exit_code == 0, r.output
        rec = json.loads(r.stdout[r.stdout.index("{"):])["records"][0]
        assert rec["emulated"] and rec["agreement"]["passed"]
        assert daemon.status(state_dir=tmp_path / "emu") == []  # stopped, state removed
    finally:
        import subprocess

        subprocess.run([daemon.find_adb(), "-P", str(port), "kill-server"], capture_output=True, timeout=30)


def test_all_devices_run_in_parallel(adb29, state_dir, demo, tmp_path):
    out = tmp_path / "all.json"
    with _device(adb29, state_dir) as a, _device(adb29, state_dir) as b:
        r = _bench(adb29.port, str(demo["custom"]), "--all-devices", "--runs", "2", "--json", str(out))
        assert r.exit_code == 0, r.output
        assert _leftovers(a) == [] and _leftovers(b) == []
    records = json.loads(out.read_text())["records"]
    assert sorted(rec["device"]["serial"] for rec in records) == sorted([a.serial, b.serial])
    assert all(rec["agreement"]["passed"] for rec in records)


def test_devices_lists_abi_and_model(adb29, state_dir):
    with _device(adb29, state_dir) as info:
        r = CliRunner().invoke(main, ["devices", "--json"], env={"ANDROID_ADB_SERVER_PORT": str(adb29.port)})
        assert r.exit_code == 0, r.output
        (d,) = [d for d in json.loads(r.stdout) if d["serial"] == info.serial]
        assert d["state"] == "device" and d["abi"] == "arm64-v8a" and d["emulated"] and "emulated" in d["model"]


def test_keep_leaves_the_run_folder(adb29, state_dir, demo):
    with _device(adb29, state_dir) as info:
        r = _bench(adb29.port, str(demo["custom"]), "--device", info.serial, "--runs", "1", "--keep")
        assert r.exit_code == 0, r.output
        (run,) = _leftovers(info)
        kept = info.root / "data/local/tmp/rep-deploy" / run
        assert {"ort_bench", "model.onnx", "input.npy", "output.npy", "record.json"} <= {p.name for p in kept.iterdir()}


# --- .tflite with a user runner ------------------------------------------------------------------

STATS = ("count=2 first=339304 curr=266325 min=266325 max=339304 avg=302814 std=36489\n"
         "count=50 first=266601 curr=266931 min=265837 max=268116 avg=266473 std=419\n")
SUMMARY = "Inference timings in us: Init: 20283, First inference: 339304, Warmup (avg): 302814, Inference (avg): 266473\n"


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_tflite_runner_output_in_both_formats(adb29, state_dir, tmp_path):
    """Stand-in runners (shell scripts printing the real benchmark_model text; no LCE binary can be
    fetched here) in the two formats give records with the same fields and timings."""
    model = tmp_path / "model.tflite"
    model.write_bytes(b"TFL3 stand-in")
    say = lambda text: f"cat <<'END'\n{text}END\n"  # noqa: E731
    runners = {  # the runner checks it was given the pushed model, as --graph=FILE
        "stats": _script(tmp_path / "benchmark_model",
                         'test -f "${1#--graph=}" || exit 2\n' + say("Initialized session in 20.283ms.\n" + STATS)),
        "summary": _script(tmp_path / "lce_benchmark_model", say(STATS + SUMMARY)),
    }
    records = {}
    with _device(adb29, state_dir) as info:
        for form, runner in runners.items():
            out = tmp_path / f"{form}.json"
            r = _bench(adb29.port, str(model), "--device", info.serial, "--runner", str(runner), "--json", str(out))
            assert r.exit_code == 0, r.output
            records[form] = json.loads(out.read_text())["records"][0]
        assert _leftovers(info) == []
    a, b = records["stats"], records["summary"]
    assert set(a) == set(b) and set(a["timings_us"]) == set(b["timings_us"])
    assert a["timings_us"]["mean"] == b["timings_us"]["mean"] == 266473.0
    assert a["timings_us"]["min"] == b["timings_us"]["min"] == 265837.0
    assert a["first_us"] == b["first_us"] == 339304.0 and a["warmup_avg_us"] == b["warmup_avg_us"] == 302814.0
    assert a["init_us"] == pytest.approx(b["init_us"]) == pytest.approx(20283.0)
    assert a["runner"]["output_format"] == "stats" and b["runner"]["output_format"] == "stats+summary"
    assert a["agreement"] == b["agreement"] and a["agreement"]["checked"] is False
    assert a["model"]["format"] == "tflite" and a["emulated"]


# --- faults: one line, exit 1, no JSON, nothing left on a reachable device -------------------------

def test_runner_killed_by_a_signal(adb29, state_dir, tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(b"x")
    runner = _script(tmp_path / "benchmark_model", "echo starting\nkill -SEGV $$\n")
    out = tmp_path / "out.json"
    with _device(adb29, state_dir) as info:
        r = _bench(adb29.port, str(model), "--device", info.serial, "--runner", str(runner), "--json", str(out))
        _one_line_error(r, "killed by SIGSEGV (exit 139)", info.serial)
        assert _leftovers(info) == []
    assert not out.exists()


@pytest.mark.parametrize("fault,needles,reachable", [
    ({"quota": 4_000_000}, ("push of", "refused the file", "no space left"), True),  # a full device
    ({"die_after_push_bytes": 3_000_000}, ("push of",), False),  # unplugged mid-push
    ({"die_during": "ort_bench:0.3"}, (), False),  # unplugged mid-run (50 runs take seconds under qemu)
], ids=["full", "killed-mid-push", "killed-mid-run"])
def test_device_faults(fault, needles, reachable, adb29, state_dir, demo, tmp_path):
    out = tmp_path / "out.json"
    with _device(adb29, state_dir, **fault) as info:
        r = _bench(adb29.port, str(demo["custom"]), "--device", info.serial, "--runs", "50", "--json", str(out))
        _one_line_error(r, info.serial, *needles)
        if reachable:
            assert _leftovers(info) == []
    assert not out.exists()


def test_wrong_serial(adb29, state_dir, demo, tmp_path):
    with _device(adb29, state_dir) as info:
        r = _bench(adb29.port, str(demo["custom"]), "--device", "no-such-phone")
        _one_line_error(r, "no device 'no-such-phone'", info.serial)


def test_no_adb_server(demo, tmp_path):
    out = tmp_path / "out.json"
    r = _bench(free_port(), str(demo["custom"]), "--all-devices", "--json", str(out))
    _one_line_error(r, "no adb server answers", "adb start-server")
    assert not out.exists()


@pytest.mark.parametrize("args,message", [
    (["{onnx}"], "choose the devices"),
    (["{onnx}", "--emulated", "--all-devices"], "choose the devices"),
    (["{onnx}", "--emulated", "--runner", "{tmp}/m.tflite"], "--runner is for .tflite files"),
    (["{tmp}/m.txt", "--emulated"], "runs .onnx or .tflite"),
    (["{tmp}/missing.onnx", "--emulated"], "no such file"),
])
def test_bad_arguments(args, message, demo, tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"x")
    (tmp_path / "m.txt").write_bytes(b"x")
    args = [a.replace("{onnx}", str(demo["custom"])).replace("{tmp}", str(tmp_path)) for a in args]
    _one_line_error(_bench(free_port(), *args), message)
