"""Start, stop and inspect emulated devices: the background daemon process and its adb connection.

``start()`` spawns ``python -m rep_deploy.emulator serve`` in its own session, waits until it listens,
records its PID, port and options in a JSON state file, makes sure an adb server runs and
``adb connect``s the device, so ``adb devices`` lists it. ``stop()`` disconnects it and terminates
exactly the recorded PID, and only after checking that the PID's command line is that daemon (a PID
reused by an unrelated process is left alone). State lives in ``$REP_DEPLOY_EMULATOR_DIR`` or
``~/.cache/rep-deploy/emulator/``: per device ``emulator-PORT.json``, the sandbox ``device-XXXX/`` and
its log ``device-XXXX.log``, all removed by ``stop()``.

The adb server used is the one the environment selects (``ANDROID_ADB_SERVER_PORT``, default 5037);
the adb binary is ``adb=`` when given, else ``adb`` on PATH, else the one bundled in adbutils' wheel.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rep_deploy.emulator.faults import parse_die_during
from rep_deploy.emulator.sandbox import SandboxError, find_qemu

__all__ = [
    "STATE_DIR_ENV", "EmulatorError", "EmulatorInfo", "default_state_dir", "find_adb", "adb_server_port",
    "start", "stop", "status", "emulated_device",
]

STATE_DIR_ENV = "REP_DEPLOY_EMULATOR_DIR"
ADB_HINT = ("adb not found: install the Debian package adb (apt-get install adb) or the Python package "
            "adbutils (it bundles one), or pass an explicit adb path")
_DAEMON_MODULE = "rep_deploy.emulator"
_START_TIMEOUT = 15.0
_STOP_TIMEOUT = 5.0
_spawned: dict[int, subprocess.Popen[bytes]] = {}  # reaped by stop() when started by this process


class EmulatorError(Exception):
    """A one-line, user-facing failure to start or stop an emulated device."""


@dataclass
class EmulatorInfo:
    """What is recorded about one emulated device (the state file's content)."""

    pid: int
    port: int
    serial: str
    base: str  # sandbox directory; the device's "/" is base/root
    log: str
    state_file: str
    started_at: float
    cores: int
    adb: str | None = None
    adb_server_port: int | None = None
    connected: bool = False
    faults: dict = field(default_factory=dict)
    features: list[str] | None = None  # None: the default set (services.FEATURES)
    running: bool = True

    @property
    def root(self) -> Path:
        """The host directory behind the device's ``/``."""
        return Path(self.base) / "root"

    def to_dict(self) -> dict:
        return asdict(self)


def default_state_dir() -> Path:
    env = os.environ.get(STATE_DIR_ENV)
    return Path(env) if env else Path.home() / ".cache" / "rep-deploy" / "emulator"


def adb_server_port() -> int:
    """The adb server port the environment selects (``ANDROID_ADB_SERVER_PORT``, default 5037)."""
    try:
        return int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))
    except ValueError:
        raise EmulatorError("ANDROID_ADB_SERVER_PORT is not a port number") from None


def find_adb(adb: str | None = None) -> str:
    """An adb binary: ``adb`` if given (must exist), else adb on PATH, else adbutils' bundled one."""
    if adb:
        path = shutil.which(adb)
        if path is None:
            raise EmulatorError(f"adb not found at {adb!r}")
        return path
    path = shutil.which("adb")
    if path:
        return path
    try:
        import adbutils  # noqa: PLC0415 - optional
    except ImportError:
        raise EmulatorError(ADB_HINT) from None
    bundled = Path(adbutils.__file__).parent / "binaries" / "adb"
    if bundled.is_file() and os.access(bundled, os.X_OK):
        return str(bundled)
    raise EmulatorError(ADB_HINT)


def _adb_env(server_port: int) -> dict[str, str]:
    return {**os.environ, "ANDROID_ADB_SERVER_PORT": str(server_port)}


def _run_adb(adb: str, server_port: int, *args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([adb, *args], env=_adb_env(server_port), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EmulatorError(f"`adb {' '.join(args)}` did not finish within {timeout:.0f} s") from None


def _adb_failure(text: str) -> str:
    """The line of adb's start-up text that says why (its fatal log line, e.g. "Cannot mkdir
    '/home/x/.android': No such file or directory"), else its last line: one line for the user."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if " F " in ln and "] " in ln:  # adb's log format: "adb F 12-02 ... file.cpp:316] message"
            return ln.split("] ", 1)[1]
    return lines[-1] if lines else "no output"


def _server_listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _connect(adb: str, server_port: int, serial: str, timeout: float) -> None:
    """Start the adb server if needed and connect ``serial``; wait until it is a ``device``."""
    started = _run_adb(adb, server_port, "start-server")
    if started.returncode != 0:
        raise EmulatorError(f"adb start-server failed: {_adb_failure(started.stderr or started.stdout)}")
    # A stale transport for the same address (a previous daemon on this port) stays "offline" and
    # makes connect answer "already connected"; drop it first.
    _run_adb(adb, server_port, "disconnect", serial)
    result = _run_adb(adb, server_port, "connect", serial)
    text = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or "connected to" not in text:
        raise EmulatorError(f"adb connect {serial} failed: {text}")
    deadline = time.monotonic() + timeout
    while True:
        state = _run_adb(adb, server_port, "-s", serial, "get-state").stdout.strip()
        if state == "device":
            return
        if time.monotonic() > deadline:
            raise EmulatorError(f"{serial} did not come online in adb (state {state or 'unknown'!r})")
        time.sleep(0.1)


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def _is_our_daemon(info: EmulatorInfo) -> bool:
    """Whether ``info.pid`` is alive and is the daemon serving ``info.base`` (not a reused PID)."""
    args = _cmdline(info.pid)
    return (
        _DAEMON_MODULE in args and "serve" in args and info.base in args and not _is_zombie(info.pid)
    )


def _reap(pid: int) -> None:
    proc = _spawned.pop(pid, None)
    if proc is not None:
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass


def _write_state(info: EmulatorInfo) -> None:
    path = Path(info.state_file)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info.to_dict(), indent=2) + "\n")
    os.replace(tmp, path)


def _read_states(sdir: Path) -> list[EmulatorInfo]:
    infos = []
    for path in sorted(sdir.glob("emulator-*.json")):
        try:
            data = json.loads(path.read_text())
            data.pop("running", None)
            info = EmulatorInfo(**data)
        except (OSError, ValueError, TypeError):
            continue
        info.running = _is_our_daemon(info)
        infos.append(info)
    return infos


def _log_tail(log: Path, lines: int = 3) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def start(
    *,
    port: int = 0,
    cores: int = 4,
    adb: str | None = None,
    connect: bool = True,
    quota: int | None = None,
    die_after_push_bytes: int | None = None,
    die_during: str | None = None,
    state_dir: str | Path | None = None,
    adb_server: int | None = None,
    features: Sequence[str] | None = None,
    timeout: float = _START_TIMEOUT,
) -> EmulatorInfo:
    """Start an emulated arm64 device on 127.0.0.1:``port`` (0: a free port) and connect adb to it.

    Fault injection (for tests of tools that drive devices): ``quota`` bytes allowed under
    /data/local/tmp; ``die_after_push_bytes`` makes the daemon exit abruptly after that much pushed
    file data; ``die_during="SUBSTRING[:SECONDS]"`` makes it exit abruptly SECONDS (default 1) after a
    shell command containing SUBSTRING started. ``connect=False`` skips adb entirely;
    ``adb_server`` picks the adb server port (default: ``ANDROID_ADB_SERVER_PORT`` or 5037);
    ``features`` replaces the advertised adbd features (``()``: an old device, shell v1 only).
    """
    if cores < 1:
        raise EmulatorError(f"cores must be >= 1, got {cores}")
    if quota is not None and quota < 0:
        raise EmulatorError(f"quota must be >= 0, got {quota}")
    if die_after_push_bytes is not None and die_after_push_bytes < 1:
        raise EmulatorError(f"die_after_push_bytes must be >= 1, got {die_after_push_bytes}")
    if die_during is not None:
        try:
            parse_die_during(die_during)
        except ValueError as exc:
            raise EmulatorError(str(exc)) from None
    try:
        find_qemu()
    except SandboxError as exc:
        raise EmulatorError(str(exc)) from None
    adb_path = find_adb(adb) if connect else None
    server_port = (adb_server or adb_server_port()) if connect else None

    sdir = Path(state_dir) if state_dir is not None else default_state_dir()
    sdir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="device-", dir=sdir)).resolve()
    log = base.with_name(base.name + ".log")
    ready = base.with_name(base.name + ".ready")
    cmd = [sys.executable, "-m", _DAEMON_MODULE, "serve", "--port", str(port), "--base", str(base),
           "--cores", str(cores), "--ready-file", str(ready), "--log", str(log)]
    if quota is not None:
        cmd += ["--quota", str(quota)]
    if die_after_push_bytes is not None:
        cmd += ["--die-after-push-bytes", str(die_after_push_bytes)]
    if die_during is not None:
        cmd += ["--die-during", die_during]
    if features is not None:
        cmd += ["--features", ",".join(features)]
    package_parent = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (package_parent, os.environ.get("PYTHONPATH", "")) if p)}
    with open(log, "ab") as log_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                start_new_session=True, env=env, cwd=str(sdir))
    _spawned[proc.pid] = proc

    def abandon(message: str) -> EmulatorError:
        if proc.poll() is None:
            proc.kill()
        _reap(proc.pid)
        tail = _log_tail(log)
        shutil.rmtree(base, ignore_errors=True)
        ready.unlink(missing_ok=True)
        return EmulatorError(f"{message}{': ' + tail if tail else ''} (log: {log})")

    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise abandon(f"the emulator daemon exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise abandon(f"the emulator daemon did not start listening within {timeout:.0f} s")
        time.sleep(0.02)
    actual_port = int(ready.read_text().strip())
    ready.unlink(missing_ok=True)
    serial = f"127.0.0.1:{actual_port}"
    info = EmulatorInfo(
        pid=proc.pid, port=actual_port, serial=serial, base=str(base), log=str(log),
        state_file=str(sdir / f"emulator-{actual_port}.json"), started_at=time.time(), cores=cores,
        adb=adb_path, adb_server_port=server_port,
        faults={"quota": quota, "die_after_push_bytes": die_after_push_bytes, "die_during": die_during},
        features=list(features) if features is not None else None,
    )
    _write_state(info)
    if connect and adb_path is not None and server_port is not None:
        try:
            _connect(adb_path, server_port, serial, timeout)
        except EmulatorError:
            _stop_one(info)
            raise
        info.connected = True
        _write_state(info)
    return info


def _select(infos: list[EmulatorInfo], target: str | int | None) -> list[EmulatorInfo]:
    if target is None:
        return infos
    text = str(target)
    return [i for i in infos if text in (i.serial, str(i.port), str(i.pid))]


def _stop_one(info: EmulatorInfo) -> None:
    if info.adb and info.adb_server_port and _server_listening(info.adb_server_port):
        try:
            _run_adb(info.adb, info.adb_server_port, "disconnect", info.serial, timeout=10)
        except EmulatorError:
            pass
    if _is_our_daemon(info):
        try:
            os.kill(info.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + _STOP_TIMEOUT
        while _is_our_daemon(info) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _is_our_daemon(info):
            try:
                os.kill(info.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    _reap(info.pid)
    shutil.rmtree(info.base, ignore_errors=True)
    for path in (info.log, info.state_file):
        Path(path).unlink(missing_ok=True)
    info.running = False
    info.connected = False


def stop(target: str | int | None = None, *, state_dir: str | Path | None = None) -> list[EmulatorInfo]:
    """Stop the recorded devices (all, or the one whose serial, port or PID is ``target``).

    Returns what was stopped (also devices whose daemon had already died: their files are cleaned up).
    Only a PID whose command line is the recorded daemon is signalled.
    """
    sdir = Path(state_dir) if state_dir is not None else default_state_dir()
    chosen = _select(_read_states(sdir), target) if sdir.is_dir() else []
    if target is not None and not chosen:
        raise EmulatorError(f"no emulated device {target} is recorded in {sdir}")
    for info in chosen:
        _stop_one(info)
    return chosen


def status(*, state_dir: str | Path | None = None) -> list[EmulatorInfo]:
    """The recorded devices, each with ``running`` telling whether its daemon is alive."""
    sdir = Path(state_dir) if state_dir is not None else default_state_dir()
    return _read_states(sdir) if sdir.is_dir() else []


@contextmanager
def emulated_device(**options) -> Iterator[EmulatorInfo]:  # noqa: ANN003 - start()'s keywords
    """``with emulated_device(quota=10**6) as dev: ...``: a device for the block, always stopped after."""
    info = start(**options)
    try:
        yield info
    finally:
        _stop_one(info)  # idempotent: also cleans up after a daemon that a fault made die
