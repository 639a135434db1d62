"""The emulated arm64 adb device (rep_deploy.emulator) against the real adb servers and clients.

Both adb binaries are exercised: Debian's adb 29 (/usr/bin/adb) and the adb 36 bundled in the
adbutils wheel. Each gets a private adb server (a free port, HOME in a temporary directory) that is
killed at the end; every emulated device started here is stopped.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from _adb import ADBS, BUNDLED_ADB, AdbServer, start_server
from click.testing import CliRunner

from rep_deploy.emulator import daemon
from rep_deploy.emulator.devshell import translate
from rep_deploy.emulator.faults import parse_die_during

QEMU = shutil.which("qemu-aarch64-static")
CROSS_GCC = shutil.which("aarch64-linux-gnu-gcc")
SYSROOT_LIB = Path("/usr/aarch64-linux-gnu/lib")


@pytest.fixture(scope="module", params=ADBS)
def adb_server(request, tmp_path_factory):
    yield from start_server(request.param, tmp_path_factory.mktemp("adbhome"))


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("emustate")


@pytest.fixture(scope="module")
def device(adb_server, state_dir):
    with daemon.emulated_device(adb=adb_server.adb, adb_server=adb_server.port, state_dir=state_dir) as info:
        yield info


def _start(adb_server: AdbServer, state_dir: Path, **faults):
    return daemon.emulated_device(adb=adb_server.adb, adb_server=adb_server.port, state_dir=state_dir, **faults)


def _wait_not_device(server: AdbServer, serial: str, timeout: float = 10.0) -> str | None:
    deadline = time.monotonic() + timeout
    state = server.state_of(serial)
    while state == "device" and time.monotonic() < deadline:
        time.sleep(0.1)
        state = server.state_of(serial)
    return state


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


# --- pure functions -------------------------------------------------------------------------------

def test_translate_maps_device_paths_and_routes_path_commands_through_the_runner():
    root, runner = "/S/root", "/S/host/rdrun"
    bench = translate("cd /data/local/tmp/rep-deploy/run-1 && ./ld-linux-aarch64.so.1 --library-path . "
                      "./ort_bench --model m.onnx --json out.json", root, runner)
    assert bench == ("cd /S/root/data/local/tmp/rep-deploy/run-1 && /S/host/rdrun ./ld-linux-aarch64.so.1 "
                     "--library-path . ./ort_bench --model m.onnx --json out.json")
    assert translate("chmod 755 /data/local/tmp/x/prog", root, runner) == "chmod 755 /S/root/data/local/tmp/x/prog"
    assert (translate("/data/local/tmp/p --graph=/data/local/tmp/m > /data/o 2>&1 || echo no", root, runner)
            == "/S/host/rdrun /S/root/data/local/tmp/p --graph=/S/root/data/local/tmp/m > /S/root/data/o 2>&1 "
               "|| echo no")
    assert translate("taskset f0 ./bm; X=1 ./a | ./b", root, runner) == (
        "taskset f0 /S/host/rdrun ./bm; X=1 /S/host/rdrun ./a | /S/host/rdrun ./b")
    # not paths of the device / not in command position: unchanged
    assert translate("ls /database; echo ./x '/tmp/data'", root, runner) == "ls /database; echo ./x '/tmp/data'"


def test_parse_die_during():
    assert parse_die_during("ort_bench:2.5") == ("ort_bench", 2.5)
    assert parse_die_during("a:b") == ("a:b", 1.0)
    assert parse_die_during("sleep") == ("sleep", 1.0)


# --- the device through adb -------------------------------------------------------------------------

def test_devices_lists_the_emulated_model(adb_server, device):
    out = adb_server.run("devices", "-l").stdout
    line = next((ln for ln in out.splitlines() if ln.startswith(device.serial)), "")
    assert line.split()[1] == "device", out
    assert "model:rep_deploy_emulated_arm64" in line


def test_shell_v2_exit_code_and_separate_streams(adb_server, device):
    r = adb_server.run("-s", device.serial, "shell", "echo hi; echo err >&2; exit 7")
    assert (r.returncode, r.stdout, r.stderr) == (7, "hi\n", "err\n")
    ok = adb_server.run("-s", device.serial, "shell", "uname -m && getprop ro.build.version.release")
    assert ok.returncode == 0 and ok.stdout.split() == ["aarch64", "14"]


def test_exec_out_raw_bytes_and_shell_stdin(adb_server, device):
    raw = adb_server.run_bytes("-s", device.serial, "exec-out", "printf '\\000\\001bin\\377'")
    assert raw.stdout == b"\x00\x01bin\xff"
    # shell v2 forwards stdin and its end (close-stdin packet), so cat terminates
    fed = subprocess.run([adb_server.adb, "-s", device.serial, "shell", "cat; echo done"], input=b"fed\n",
                         env=adb_server.env, capture_output=True, timeout=30)
    assert fed.stdout == b"fed\ndone\n"
    # no command: a shell reading commands from stdin, each line mapped like a device command
    session = subprocess.run([adb_server.adb, "-s", device.serial, "shell"], input=b"ls /\nexit 4\n",
                             env=adb_server.env, capture_output=True, timeout=30)
    assert session.returncode == 4
    assert session.stdout.split() == [b"data", b"proc", b"sdcard", b"sys", b"system"]  # no lib, no usr


def test_adbutils_shell2_v1_and_v2(adb_server, device):
    d = adb_server.client().device(serial=device.serial)
    v2 = d.shell2("echo out; echo err >&2; exit 5", v2=True)
    assert (v2.returncode, v2.stdout, v2.stderr) == (5, "out\n", "err\n")
    v1 = d.shell2("echo one; false", v2=False)  # v1: exit code through adbutils' X4EXIT marker
    assert v1.returncode == 1 and v1.output.strip() == "one"
    assert "emulated" in d.prop.model
    assert d.shell("getprop ro.product.cpu.abi").strip() == "arm64-v8a"


def test_push_pull_roundtrip_with_parent_mkdir_and_ls(adb_server, device, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 12345)  # many 64 KiB sync chunks, several 1 MiB WRTEs
    src = tmp_path / "blob.bin"
    src.write_bytes(data)
    remote = "/data/local/tmp/deep/er/blob.bin"  # parents do not exist yet: fixed_push_mkdir
    assert adb_server.run("-s", device.serial, "push", str(src), remote).returncode == 0
    assert (device.root / remote.lstrip("/")).read_bytes() == data
    back = tmp_path / "back.bin"
    assert adb_server.run("-s", device.serial, "pull", remote, str(back)).returncode == 0
    assert back.read_bytes() == data
    listing = adb_server.run("-s", device.serial, "ls", "/data/local/tmp/deep/er").stdout.split("\n")
    row = next(ln for ln in listing if ln.endswith(" blob.bin"))
    assert int(row.split()[1], 16) == len(data)
    assert adb_server.run("-s", device.serial, "shell", f"cmp -s {remote} {remote}; echo $?").stdout == "0\n"
    missing = adb_server.run("-s", device.serial, "pull", "/data/local/tmp/nope", str(tmp_path / "x"))
    assert missing.returncode != 0
    # adbutils' sync client uses the v1 messages (STAT, LIST, SEND, RECV)
    d = adb_server.client().device(serial=device.serial)
    d.sync.push(data[:100_000], "/data/local/tmp/v1/small.bin", mode=0o644)
    assert d.sync.read_bytes("/data/local/tmp/v1/small.bin") == data[:100_000]
    assert "small.bin" in [e.path for e in d.sync.list("/data/local/tmp/v1")]
    assert d.sync.stat("/data/local/tmp/v1/small.bin").size == 100_000


@pytest.fixture(scope="module")
def aarch64_hello(tmp_path_factory) -> Path:
    if CROSS_GCC is None or not (SYSROOT_LIB / "libc.so.6").exists():
        pytest.skip("aarch64-linux-gnu-gcc / the arm64 cross glibc (libc6-arm64-cross) not installed")
    work = tmp_path_factory.mktemp("hello")
    (work / "hello.c").write_text(
        "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <signal.h>\n"
        "int main(int argc, char **argv) {\n"
        "  if (argc > 1 && strcmp(argv[1], \"segv\") == 0) raise(SIGSEGV);\n"
        "  char buf[4096] = \"\"; FILE *f = fopen(\"/proc/cpuinfo\", \"r\");\n"
        "  if (f) { buf[fread(buf, 1, sizeof buf - 1, f)] = 0; fclose(f); }\n"
        "  const char *cpu = strstr(buf, \"CPU implementer\\t: 0x41\") ? \"arm64-cpuinfo\" : \"other-cpuinfo\";\n"
        "  printf(\"hello aarch64 %s|%s\\n\", argc > 2 ? argv[2] : \"-\", cpu);\n"
        "  fprintf(stderr, \"to stderr\\n\");\n"
        "  return argc > 1 ? atoi(argv[1]) : 0;\n}\n")
    subprocess.run([CROSS_GCC, "-O1", "-o", str(work / "hello"), str(work / "hello.c")], check=True)
    return work / "hello"


def test_aarch64_program_runs_with_its_own_loader(adb_server, device, aarch64_hello):
    run = "/data/local/tmp/rep-deploy/run-1"
    s = device.serial
    assert adb_server.run("-s", s, "shell", f"mkdir -p {run}").returncode == 0
    files = [str(aarch64_hello), str(SYSROOT_LIB / "ld-linux-aarch64.so.1"), str(SYSROOT_LIB / "libc.so.6")]
    assert adb_server.run("-s", s, "push", *files, run + "/").returncode == 0
    assert adb_server.run("-s", s, "shell", f"chmod 755 {run}/hello {run}/ld-linux-aarch64.so.1").returncode == 0
    r = adb_server.run("-s", s, "shell",
                       f"cd {run} && ./ld-linux-aarch64.so.1 --library-path . ./hello 42 /data/local/tmp/x")
    assert r.returncode == 42, r.stderr
    # the guest saw its arguments unchanged in meaning and the fake arm64 cpuinfo
    assert r.stdout == "hello aarch64 /data/local/tmp/x|arm64-cpuinfo\n"
    assert r.stderr == "to stderr\n"
    # output redirected into the device's filesystem, then read back with a host tool
    r = adb_server.run("-s", s, "shell", f"cd / && {run}/ld-linux-aarch64.so.1 --library-path {run} {run}/hello 0"
                                         f" {run} >{run}/out.txt && cat {run}/out.txt")
    assert r.returncode == 0 and r.stdout == f"hello aarch64 {run}|arm64-cpuinfo\n"
    # without its loader the program cannot run: the device has no /lib (no glibc), like a phone
    bare = adb_server.run("-s", s, "shell", f"{run}/hello 3")
    assert bare.returncode not in (0, 3) and "hello aarch64" not in bare.stdout
    segv = adb_server.run("-s", s, "shell", f"cd {run} && ./ld-linux-aarch64.so.1 --library-path . ./hello segv")
    assert segv.returncode == 139
    # nested `sh -c` and a pushed #!/system/bin/sh script get the same device paths and qemu routing
    nested = adb_server.run("-s", s, "shell", f"sh -c 'cd {run} && ./ld-linux-aarch64.so.1 --library-path . ./hello 9'")
    assert nested.returncode == 9 and nested.stdout.startswith("hello aarch64")
    script = f"#!/system/bin/sh\ncd {run}\n./ld-linux-aarch64.so.1 --library-path . ./hello \"$1\"\n"
    (device.root / run.lstrip("/") / "run.sh").write_text(script)
    by_shebang = adb_server.run("-s", s, "shell", f"chmod 755 {run}/run.sh && {run}/run.sh 11")
    assert by_shebang.returncode == 11 and by_shebang.stdout.startswith("hello aarch64"), by_shebang.stderr
    assert adb_server.run("-s", s, "shell", f"rm -rf {run} && ls /data/local/tmp/rep-deploy").stdout == ""


def test_device_without_shell_v2_uses_the_v1_paths(adb_server, state_dir):
    with _start(adb_server, state_dir, features=()) as dev:
        r = adb_server.run("-s", dev.serial, "shell", "echo out; echo err >&2; exit 3")
        # v1: one merged stream and no exit status (adb reports 0), as with a real old device
        assert r.returncode == 0 and sorted(r.stdout.split()) == ["err", "out"]
        d = adb_server.client().device(serial=dev.serial)
        assert d.shell2("echo x; false", v2=False).returncode == 1  # adbutils' marker still works


# --- fault injection ----------------------------------------------------------------------------------

def test_quota_fails_the_push_and_removes_the_partial_file(adb_server, state_dir, tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(600_000))
    with _start(adb_server, state_dir, quota=1_000_000) as dev:
        first = adb_server.run("-s", dev.serial, "push", str(blob), "/data/local/tmp/a.bin")
        assert first.returncode == 0
        second = adb_server.run("-s", dev.serial, "push", str(blob), "/data/local/tmp/b.bin")
        assert second.returncode != 0
        assert "No space left on device" in second.stdout + second.stderr
        assert not (dev.root / "data/local/tmp/b.bin").exists()
        assert (dev.root / "data/local/tmp/a.bin").stat().st_size == 600_000
        # replacing a file counts its new size only, and the device still works after the failure
        again = adb_server.run("-s", dev.serial, "push", str(blob), "/data/local/tmp/a.bin")
        assert again.returncode == 0
        assert adb_server.run("-s", dev.serial, "shell", "ls /data/local/tmp").stdout.split() == ["a.bin"]


def test_die_after_push_bytes_kills_the_device_mid_push(adb_server, state_dir, tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(os.urandom(2_000_000))
    with _start(adb_server, state_dir, die_after_push_bytes=300_000) as dev:
        r = adb_server.run("-s", dev.serial, "push", str(blob), "/data/local/tmp/big.bin")
        assert r.returncode != 0
        assert _wait_not_device(adb_server, dev.serial) != "device"
        deadline = time.monotonic() + 5
        while _pid_alive(dev.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _pid_alive(dev.pid)
        assert [i.running for i in daemon.status(state_dir=state_dir) if i.pid == dev.pid] == [False]


def test_die_during_kills_the_device_mid_run(adb_server, state_dir):
    with _start(adb_server, state_dir, die_during="sleep 30:0.5") as dev:
        t0 = time.monotonic()
        r = adb_server.run("-s", dev.serial, "shell", "echo started; sleep 30; echo finished")
        elapsed = time.monotonic() - t0
        assert elapsed < 10
        assert r.stdout.startswith("started") and "finished" not in r.stdout
        if adb_server.adb == BUNDLED_ADB:
            assert r.returncode != 0  # adb 36 reports the lost stream; adb 29 returns 0 without an exit packet
        assert _wait_not_device(adb_server, dev.serial) != "device"
        # adbutils' shell v2 client sees the stream end without an exit status
        with _start(adb_server, state_dir, die_during="sleep 30:0.3") as dev2:
            d = adb_server.client().device(serial=dev2.serial)
            with pytest.raises(Exception):  # noqa: B017 - EOFError / AdbError depending on timing
                d.shell2("sleep 30", v2=True, timeout=10)
        ok = adb_server.run("-s", dev.serial, "shell", "true")  # the device is gone
        assert ok.returncode != 0


# --- lifecycle and CLI --------------------------------------------------------------------------------

def test_cli_start_status_stop(adb_server, tmp_path):
    from rep_deploy.emulator.cli import emulator

    env = {"REP_DEPLOY_EMULATOR_DIR": str(tmp_path / "state"), "ANDROID_ADB_SERVER_PORT": str(adb_server.port),
           "HOME": adb_server.env["HOME"]}
    runner = CliRunner()
    started = runner.invoke(emulator, ["start", "--adb", adb_server.adb, "--json", "--cores", "2"], env=env)
    assert started.exit_code == 0, started.output
    import json

    info = json.loads(started.output)
    serial, pid = info["serial"], info["pid"]
    assert adb_server.state_of(serial) == "device"
    cpus = adb_server.run("-s", serial, "shell", "cat /sys/devices/system/cpu/possible")
    assert cpus.stdout == "0-1\n"
    status = runner.invoke(emulator, ["status"], env=env)
    assert status.exit_code == 0 and serial in status.output and " running" in status.output

    # a forged record pointing at an unrelated process: stop must not kill it
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        forged = dict(info, pid=bystander.pid, port=1, serial="127.0.0.1:1",
                      state_file=str(tmp_path / "state" / "emulator-1.json"), base=str(tmp_path / "nothing"),
                      log=str(tmp_path / "nothing.log"))
        Path(forged["state_file"]).write_text(json.dumps(forged))
        stopped = runner.invoke(emulator, ["stop"], env=env)
        assert stopped.exit_code == 0, stopped.output
        assert f"stopped {serial}" in stopped.output
        assert bystander.poll() is None  # still alive
    finally:
        bystander.kill()
        bystander.wait()
    assert not _pid_alive(pid)
    assert adb_server.state_of(serial) is None  # disconnected
    after = runner.invoke(emulator, ["status"], env=env)
    assert "not running" in after.output
    assert runner.invoke(emulator, ["stop", "127.0.0.1:9"], env=env).exit_code == 1


def test_start_errors_are_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(daemon.EmulatorError, match="qemu-user-static"):
        daemon.start(state_dir=tmp_path)
