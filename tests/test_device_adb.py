"""The device layer (rep_deploy/device/adb.py) on adbutils, against the emulated device and a real
adb server: push with progress, run with exit code and separate streams, pull, remove, timeouts,
and the one-line errors."""
from __future__ import annotations

import os
import shutil

import pytest
from _adb import DEBIAN_ADB, start_server

from rep_deploy.device.adb import DeviceError, connect_server, list_devices, open_device

pytestmark = pytest.mark.skipif(shutil.which("qemu-aarch64-static") is None or not os.access(DEBIAN_ADB, os.X_OK),
                                reason="needs qemu-aarch64-static and Debian's adb (scripts/setup.sh --test-tools)")
RUN = "/data/local/tmp/rep-deploy/test-run"


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    from rep_deploy.emulator import daemon

    for server in start_server(DEBIAN_ADB, tmp_path_factory.mktemp("adbhome")):
        with daemon.emulated_device(adb=server.adb, adb_server=server.port,
                                    state_dir=tmp_path_factory.mktemp("emu")) as info:
            yield open_device(connect_server(server.port), info.serial), info, server


def test_info_and_listing(device):
    dev, info, server = device
    d = dev.info()
    assert (d.serial, d.state, d.abi, d.machine) == (info.serial, "device", "arm64-v8a", "aarch64")
    assert d.emulated and d.android_release and d.kernel
    listed = {x.serial: x for x in list_devices(connect_server(server.port))}
    assert listed[info.serial].abi == "arm64-v8a"


def test_push_progress_run_pull_remove(device, tmp_path):
    dev, info, _ = device
    src = tmp_path / "blob.bin"
    src.write_bytes(os.urandom(300_000))  # several sync chunks
    seen: list[int] = []
    dev.mkdir(RUN)
    assert dev.push(src, f"{RUN}/blob.bin", progress=seen.append) == 300_000
    assert seen == sorted(seen) and seen[-1] == 300_000 and len(seen) > 2
    r = dev.run(f"cd {RUN} && wc -c < blob.bin; echo oops >&2; exit 3", timeout=30)
    assert (r.returncode, r.stdout.strip(), r.stderr.strip()) == (3, "300000", "oops")
    assert r.first_error_line() == "oops"
    dev.pull(f"{RUN}/blob.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    dev.remove(RUN)
    assert not (info.root / RUN.lstrip("/")).exists()


@pytest.mark.parametrize("call,message", [
    (lambda dev, tmp: dev.pull("/data/local/tmp/rep-deploy/none", tmp / "x"),
     "pull of /data/local/tmp/rep-deploy/none failed"),
    (lambda dev, tmp: dev.check("ls /data/local/tmp/rep-deploy/none"), "exited 2: ls: cannot access"),
    (lambda dev, tmp: dev.remove("/data/local/tmp/other"), "refusing to remove /data/local/tmp/other"),
    (lambda dev, tmp: dev.run("sleep 5", timeout=1), "timed out"),
], ids=["pull-missing", "failing-command", "remove-outside", "timeout"])
def test_errors_are_one_line(call, message, device, tmp_path):
    dev = device[0]
    with pytest.raises(DeviceError, match=message) as e:
        call(dev, tmp_path)
    assert "\n" not in str(e.value) and str(e.value).startswith(dev.serial) or "refusing" in str(e.value)
    assert not (tmp_path / "x").exists()  # a failed pull leaves nothing


def test_wrong_serial_names_the_devices(device):
    _, info, server = device
    with pytest.raises(DeviceError, match=f"no device 'nope' on the adb server \\(devices: .*{info.serial}"):
        open_device(connect_server(server.port), "nope")
