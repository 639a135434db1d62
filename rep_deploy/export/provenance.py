"""What produced an export: versions, machine, time, checkpoint identity, kernel path.

A report is evidence only if it says where it came from. The checkpoint is identified by its base
name and sha256, never by an absolute path (which names the user's machine and proves nothing about
the content).
"""
from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import os
import platform
import sys
from pathlib import Path
from typing import Any

__all__ = ["environment", "file_identity", "cpu_name"]

_PACKAGES = ("rep-deploy", "torch", "onnx", "onnxruntime", "onnx-graphsurgeon", "numpy")


def cpu_name() -> str:
    """The CPU model as the OS names it (``/proc/cpuinfo`` on Linux), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """Versions of rep-deploy and its runtime stack, the CPU, and a UTC timestamp."""
    return {
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": {name: _version(name) for name in _PACKAGES} | {"python": sys.version.split()[0]},
        "machine": platform.machine(), "cpu": cpu_name(), "cpu_count": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
    }


def file_identity(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``{"name": base name, "bytes": size, "sha256": hex digest}`` of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"name": os.path.basename(os.fspath(path)), "bytes": os.path.getsize(path),
            "sha256": h.hexdigest()}
