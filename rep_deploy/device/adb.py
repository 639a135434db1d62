"""The device layer: devices reached through an adb server, on adbutils.

    from rep_deploy.device.adb import connect_server, open_device
    client = connect_server()                      # ANDROID_ADB_SERVER_PORT or 5037
    for d in list_devices(client): print(d.serial, d.abi, d.model)
    dev = open_device(client, "127.0.0.1:5555")
    dev.push("model.onnx", "/data/local/tmp/rep-deploy/run/model.onnx", progress=cb)
    r = dev.run("cd /data/local/tmp/rep-deploy/run && ./prog", timeout=600)   # r.returncode, r.stdout, r.stderr
    dev.pull("/data/local/tmp/rep-deploy/run/out.json", "out.json")
    dev.remove("/data/local/tmp/rep-deploy/run")

Why adbutils: it speaks the adb server's smart-socket protocol itself (no adb CLI per call), and
its ``shell2(v2=True)`` uses shell v2, the only way to get a command's exit code with stdout and
stderr apart (shell v1 merges them and loses the code). Every call has a timeout: the socket
timeout of the client (``io_timeout``) bounds each read and write, and ``run`` bounds the
command. Everything that goes wrong raises :class:`DeviceError` with one line saying what and
what to do; the adbutils exception types stay inside this module.
"""
from __future__ import annotations

import os
import posixpath
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable

__all__ = ["DeviceError", "DeviceInfo", "Device", "RunResult", "connect_server", "list_devices",
           "open_device", "server_port"]

DEFAULT_PORT = 5037
IO_TIMEOUT = 60.0  # seconds a single socket read / write may block
_PROPS = ("ro.product.cpu.abi", "ro.product.model", "ro.build.version.release", "ro.build.version.sdk",
          "ro.kernel.qemu", "ro.rep_deploy.emulated")


class DeviceError(RuntimeError):
    """A device step failed: the message is one line that names the step and what to do."""


@dataclass(frozen=True)
class DeviceInfo:
    """What ``rep-deploy bench`` records about a device."""

    serial: str
    state: str  # "device", "offline", "unauthorized", ...
    abi: str | None = None  # ro.product.cpu.abi, e.g. "arm64-v8a"
    model: str | None = None  # ro.product.model
    android_release: str | None = None  # ro.build.version.release (None on a plain Linux board)
    sdk: str | None = None  # ro.build.version.sdk
    kernel: str | None = None  # uname -r
    machine: str | None = None  # uname -m
    emulated: bool = False  # ro.kernel.qemu=1 or rep-deploy's emulator

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class RunResult:
    """A device command's exit code and its output streams, kept apart (shell v2)."""

    returncode: int
    stdout: str
    stderr: str

    def first_error_line(self) -> str:
        """The last non-empty stderr line (a program's own error message comes last), else stdout's."""
        for text in (self.stderr, self.stdout):
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            if lines:
                return lines[-1]
        return ""


def server_port() -> int:
    """The adb server port the adb CLI would use: ``ANDROID_ADB_SERVER_PORT`` or 5037."""
    value = os.environ.get("ANDROID_ADB_SERVER_PORT", "")
    try:
        return int(value) if value else DEFAULT_PORT
    except ValueError:
        raise DeviceError(f"ANDROID_ADB_SERVER_PORT={value!r} is not a port number") from None


def _adbutils() -> Any:
    try:
        import adbutils
    except ImportError:
        raise DeviceError("rep-deploy's device commands need adbutils: pip install 'rep-deploy[device]' "
                          "(or bash scripts/setup.sh)") from None
    return adbutils


def connect_server(port: int | None = None, *, io_timeout: float = IO_TIMEOUT) -> Any:
    """An adbutils client of the adb server on 127.0.0.1:``port``, checked to answer.

    The server is the user's (``adb start-server``, or any adb command starts one); rep-deploy does
    not start one behind the user's back, except for ``--emulated`` runs.
    """
    adbutils = _adbutils()
    port = server_port() if port is None else port
    # Probe first: adbutils would otherwise spawn a server itself (and print adb's start-up text).
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError as e:
        raise DeviceError(f"no adb server answers on 127.0.0.1:{port} ({e.strerror or e}): start one with "
                          "`adb start-server` (or use --emulated)") from None
    client = adbutils.AdbClient(host="127.0.0.1", port=port, socket_timeout=io_timeout)
    try:
        client.server_version()
    except Exception as e:  # noqa: BLE001 - adbutils raises AdbError / OSError subtypes
        raise DeviceError(f"no adb server answers on 127.0.0.1:{port} ({_reason(e)}): start one with "
                          "`adb start-server` (or use --emulated)") from None
    return client


def list_devices(client: Any, *, with_props: bool = True) -> list[DeviceInfo]:
    """Every device the server knows, online ones with their ABI, model and versions."""
    try:
        entries = client.list()
    except Exception as e:  # noqa: BLE001
        raise DeviceError(f"cannot list devices: {_reason(e)}") from None
    out = []
    for e in entries:
        if e.state == "device" and with_props:
            out.append(open_device(client, e.serial).info())
        else:
            out.append(DeviceInfo(serial=e.serial, state=e.state))
    return out


def open_device(client: Any, serial: str) -> Device:
    """The device ``serial``, which must be online; a wrong serial names the ones there are."""
    try:
        entries = {e.serial: e.state for e in client.list()}
    except Exception as e:  # noqa: BLE001
        raise DeviceError(f"cannot list devices: {_reason(e)}") from None
    if serial not in entries:
        have = ", ".join(sorted(entries)) or "none"
        raise DeviceError(f"no device {serial!r} on the adb server (devices: {have}); see `adb devices`")
    if entries[serial] != "device":
        raise DeviceError(f"device {serial} is {entries[serial]}: reconnect it (adb reconnect) and retry")
    return Device(client.device(serial=serial), serial)


class Device:
    """One online device: push, run, pull and remove, each bounded in time."""

    def __init__(self, handle: Any, serial: str) -> None:
        self._d = handle
        self.serial = serial

    def info(self) -> DeviceInfo:
        """ABI, model, Android version, kernel; ``emulated`` when the device says it is."""
        r = self.run("for p in " + " ".join(_PROPS) + "; do echo \"$p=$(getprop $p 2>/dev/null)\"; done; "
                     "echo \"kernel=$(uname -r)\"; echo \"machine=$(uname -m)\"", timeout=30)
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        get = lambda k: kv.get(k, "").strip() or None  # noqa: E731
        return DeviceInfo(serial=self.serial, state="device", abi=get("ro.product.cpu.abi"),
                          model=get("ro.product.model"), android_release=get("ro.build.version.release"),
                          sdk=get("ro.build.version.sdk"), kernel=get("kernel"), machine=get("machine"),
                          emulated=get("ro.kernel.qemu") == "1" or get("ro.rep_deploy.emulated") == "1")

    def run(self, command: str, *, timeout: float) -> RunResult:
        """Run a shell command; its exit code and stdout / stderr (shell v2)."""
        try:
            r = self._d.shell2(command, timeout=timeout, v2=True)
        except Exception as e:  # noqa: BLE001
            raise DeviceError(f"{self.serial}: running `{_short(command)}` failed: {_reason(e)}") from None
        return RunResult(int(r.returncode), r.stdout or "", r.stderr or "")

    def check(self, command: str, *, timeout: float = 60) -> str:
        """Run a command that must succeed; its stdout."""
        r = self.run(command, timeout=timeout)
        if r.returncode != 0:
            raise DeviceError(f"{self.serial}: `{_short(command)}` exited {r.returncode}: "
                              f"{r.first_error_line() or 'no output'}")
        return r.stdout

    def push(self, local: str | os.PathLike[str], remote: str, *, mode: int = 0o644,
             progress: Callable[[int], None] | None = None) -> int:
        """Copy a file to the device (sync SEND); ``progress(bytes)`` is called as it goes."""
        size = os.path.getsize(local)
        try:
            with open(local, "rb") as f:
                src: BinaryIO = _Counting(f, progress) if progress else f
                sent = self._d.sync.push(src, remote, mode=mode)
        except Exception as e:  # noqa: BLE001
            why = _reason(e)
            if why == "FAIL":  # adbutils drops the device's message; a refused SEND is nearly always space
                why = (f"the device refused the file (usually no space left on the device: check "
                       f"`adb -s {self.serial} shell df /data/local/tmp`)")
            raise DeviceError(f"{self.serial}: push of {Path(local).name} to {remote} failed: {why}") from None
        if sent != size:
            raise DeviceError(f"{self.serial}: push of {Path(local).name} sent {sent} of {size} bytes")
        return sent

    def pull(self, remote: str, local: str | os.PathLike[str]) -> None:
        """Copy a device file to ``local`` (sync RECV); nothing is left at ``local`` on failure."""
        try:
            data = self._d.sync.read_bytes(remote)
        except Exception as e:  # noqa: BLE001
            raise DeviceError(f"{self.serial}: pull of {remote} failed: {_reason(e)}") from None
        from rep_deploy.fileio import write_bytes_atomic

        write_bytes_atomic(local, data)

    def read_bytes(self, remote: str) -> bytes:
        """A device file's content."""
        try:
            return self._d.sync.read_bytes(remote)
        except Exception as e:  # noqa: BLE001
            raise DeviceError(f"{self.serial}: reading {remote} failed: {_reason(e)}") from None

    def mkdir(self, remote: str) -> None:
        self.check(f"mkdir -p {shlex.quote(remote)}")

    def remove(self, remote: str) -> None:
        """Remove a device folder rep-deploy made (only under /data/local/tmp/rep-deploy/)."""
        path = posixpath.normpath(remote)
        if not path.startswith("/data/local/tmp/rep-deploy/"):
            raise DeviceError(f"refusing to remove {remote}: not under /data/local/tmp/rep-deploy/")
        self.check(f"rm -rf {shlex.quote(path)}", timeout=60)


class _Counting:
    """A read-only file wrapper that reports the bytes read so far (push progress)."""

    def __init__(self, f: BinaryIO, progress: Callable[[int], None]) -> None:
        self._f, self._progress, self._n = f, progress, 0

    def read(self, n: int = -1) -> bytes:
        chunk = self._f.read(n)
        self._n += len(chunk)
        self._progress(self._n)
        return chunk

    def close(self) -> None:
        self._f.close()


def _short(command: str, limit: int = 80) -> str:
    return command if len(command) <= limit else command[: limit - 3] + "..."


def _reason(e: BaseException) -> str:
    """One line out of an adbutils / socket exception."""
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, TimeoutError) or "timed out" in text.lower() or "timeout" in text.lower():
        return f"timed out ({text})"
    if isinstance(e, ConnectionError) or "Connection refused" in text or "reset by peer" in text:
        return f"connection lost ({text}): is the device still attached?"
    return text
