"""Private adb servers for tests: both adb binaries (Debian's adb 29, the adb 36 in adbutils' wheel),
each on a free port with HOME in a temporary folder, killed at the end."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

DEBIAN_ADB = "/usr/bin/adb"


def bundled_adb() -> str | None:
    """The adb binary inside adbutils' wheel, if installed."""
    try:
        import adbutils
    except ImportError:
        return None
    path = Path(adbutils.__file__).parent / "binaries" / "adb"
    return str(path) if path.is_file() else None


BUNDLED_ADB = bundled_adb()
ADBS = [
    pytest.param(DEBIAN_ADB, id="adb29",
                 marks=pytest.mark.skipif(not os.access(DEBIAN_ADB, os.X_OK), reason="Debian adb not installed")),
    pytest.param(BUNDLED_ADB, id="adb36",
                 marks=pytest.mark.skipif(BUNDLED_ADB is None, reason="adbutils with its bundled adb not installed")),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AdbServer:
    """A private adb server: its binary, port and environment."""

    def __init__(self, adb: str, port: int, home: Path) -> None:
        self.adb = adb
        self.port = port
        self.env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port), "HOME": str(home)}

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.adb, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def run_bytes(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([self.adb, *args], env=self.env, capture_output=True, timeout=timeout)

    def state_of(self, serial: str) -> str | None:
        """The serial's state in ``adb devices`` (None when not listed)."""
        for line in self.run("devices").stdout.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 2 and parts[0] == serial:
                return parts[1]
        return None

    def client(self):
        import adbutils

        return adbutils.AdbClient(host="127.0.0.1", port=self.port)


def start_server(adb: str, home: Path):
    """Start a private server; a generator for a module fixture: yields the AdbServer, then kills it.
    HOME points at ``home`` meanwhile (adb writes ~/.android there, not in the real HOME)."""
    server = AdbServer(adb, free_port(), home)
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    started = server.run("start-server")
    assert started.returncode == 0, started.stderr
    try:
        yield server
    finally:
        server.run("kill-server")
        if old_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = old_home
