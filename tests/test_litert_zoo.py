"""Every zoo model's ``.tflite`` (from ``rep-deploy tflite``) in Google's stock LiteRT 2.0.3 with
rep-deploy's LCE ops, on the emulated arm64 device through ``rep-deploy bench``'s own code path
(adb push of the bundle, tflite_bench under qemu, output read back), against LCE's x86 interpreter.

The agreement rule is bench's: top-1 equal and the largest difference within 0.1 of the largest
|logit| (float layers round differently on ARM; a value within rounding of a binarization
threshold can flip, see rep_deploy/device/bench.py TOLERANCE). Each case prints its numbers.
"""
from __future__ import annotations

import os
import shutil

import pytest
from _adb import DEBIAN_ADB, start_server
from _zoo import zoo_cases

from rep_deploy.device.adb import connect_server, open_device
from rep_deploy.device.bench import BenchOptions, bench_model

pytestmark = pytest.mark.skipif(shutil.which("qemu-aarch64-static") is None,
                                reason="qemu-aarch64-static (Debian qemu-user-static) not installed")


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    from rep_deploy.device.bundle import BUILD_COMMAND, find_bundle
    from rep_deploy.emulator import daemon

    try:
        if not find_bundle().has_tflite:
            pytest.skip(f"the bundle has no tflite_bench: rebuild it with `{BUILD_COMMAND}`")
    except FileNotFoundError:
        pytest.skip(f"no aarch64 bundle: build it with `{BUILD_COMMAND}` (scripts/test.sh does)")
    if not os.access(DEBIAN_ADB, os.X_OK):
        pytest.skip("Debian adb not installed")
    for server in start_server(DEBIAN_ADB, tmp_path_factory.mktemp("adbhome")):
        with daemon.emulated_device(adb=server.adb, adb_server=server.port,
                                    state_dir=tmp_path_factory.mktemp("emu")) as info:
            yield open_device(connect_server(server.port), info.serial)


@pytest.mark.parametrize("name,beta", zoo_cases())
def test_zoo_model_runs_in_stock_litert(name: str, beta: int | None, zoo_tflite, device) -> None:
    _, converted = zoo_tflite(name, beta)
    rec = bench_model(device, converted.tflite_path, BenchOptions(runs=1, warmup=0))
    a = rec["agreement"]
    assert rec["emulated"] and rec["runner"]["name"] == "rep-deploy tflite_bench"
    assert rec["kernel_path"] == "neon" and rec["runner"]["litert_version"]
    assert a["reference"] == "host LCE interpreter (x86)" and a["top1_agreement"] == 1.0 and a["passed"], a
    print(f"{name} beta {beta or 1}: LiteRT + rep-deploy LCE ops (qemu) vs LCE x86: max rel diff "
          f"{a['max_rel_diff']:.3g}, max abs {a['max_abs_diff']:.3g}")


@pytest.mark.slow
@pytest.mark.parametrize("name,beta", [("reactnet-a", None), ("rep-reactnet-a", 2)])
def test_onnx_and_tflite_forms_both_agree_on_the_device(name: str, beta: int | None, zoo_tflite, device) -> None:
    """The same model as .onnx (ort_bench: ONNX Runtime + rep-deploy's ONNX kernels) and as .tflite
    (tflite_bench: stock LiteRT + rep-deploy's LCE kernels), each against its host reference."""
    exported, converted = zoo_tflite(name, beta)
    for path, runner in ((exported.model_path, "rep-deploy ort_bench"), (converted.tflite_path, "rep-deploy tflite_bench")):
        rec = bench_model(device, path, BenchOptions(runs=1, warmup=0))
        a = rec["agreement"]
        assert rec["runner"]["name"] == runner and rec["emulated"] and "qemu" in rec["note"]
        assert rec["kernel_path"] == "neon" and a["passed"] and a["top1_agreement"] == 1.0, a
        print(f"{name} {path.suffix}: {a['reference']}: max rel diff {a['max_rel_diff']:.3g}")
