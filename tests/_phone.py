"""A phone-like qemu root for running the aarch64 bundle directly (without adb): no lib/, a fake
arm64 CPU tree (ONNX Runtime's CPU detection needs it under qemu), the bundle in DEVICE_DIR."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

QEMU = shutil.which("qemu-aarch64-static")
DEVICE_DIR = "data/local/tmp/b"


def phone_root(tmp: Path, bundle) -> Path:
    """``tmp`` laid out like a phone with the bundle copied into ``tmp / DEVICE_DIR`` (skips the
    test without qemu)."""
    if QEMU is None:
        pytest.skip("qemu-aarch64-static not installed (Debian qemu-user-static; scripts/setup.sh --test-tools)")
    from rep_deploy.emulator.fake_cpu import write_fake_cpu_tree

    write_fake_cpu_tree(tmp, 4)
    folder = tmp / DEVICE_DIR
    folder.mkdir(parents=True)
    for name in bundle.files:
        shutil.copy2(bundle.dir / name, folder / name)
    assert not (tmp / "lib").exists() and not (tmp / "usr").exists()
    return tmp


def run_in(root: Path, argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run an aarch64 command line from the bundle folder under qemu, the root as its /."""
    return subprocess.run([QEMU, "-L", str(root), *argv], cwd=root / DEVICE_DIR, check=False,
                          capture_output=True, text=True, timeout=timeout)
