"""A fake arm64 CPU description for a sandbox root that aarch64 programs see through qemu-user.

qemu-aarch64 with ``-L ROOT`` (or ``QEMU_LD_PREFIX=ROOT``) opens absolute guest paths under ROOT
first, so ``ROOT/proc/cpuinfo`` and ``ROOT/sys/devices/system/cpu/...`` are what an emulated program
reads as its CPU. ONNX Runtime's CPU detection (pytorch/cpuinfo) reads both at ``dlopen`` and
segfaults on the host's x86 text (``../shared/research/adb_arm.md`` section 4), so every qemu root
that runs ONNX Runtime needs this tree. The CPU described is a Cortex-A76-like core (ARMv8.2 with
``asimddp``), so the runtime takes its NEON paths; nothing here changes what the emulator executes.
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["write_fake_cpu_tree"]

_FEATURES = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp"
_PART = "0xd0b"  # Cortex-A76
_MAX_KHZ = 2_400_000


def write_fake_cpu_tree(root: str | Path, cores: int = 4) -> None:
    """Write ``proc/cpuinfo`` and ``sys/devices/system/cpu/`` for ``cores`` arm64 cores under ``root``.

    Idempotent: existing files are overwritten with the same text.
    """
    if cores < 1:
        raise ValueError(f"cores must be >= 1, got {cores}")
    root = Path(root)
    proc = root / "proc"
    proc.mkdir(parents=True, exist_ok=True)
    blocks = [
        f"processor\t: {i}\nBogoMIPS\t: 50.00\nFeatures\t: {_FEATURES}\nCPU implementer\t: 0x41\n"
        f"CPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: {_PART}\nCPU revision\t: 1\n"
        for i in range(cores)
    ]
    (proc / "cpuinfo").write_text("\n".join(blocks) + "\n")
    cpu = root / "sys" / "devices" / "system" / "cpu"
    cpu.mkdir(parents=True, exist_ok=True)
    span = "0" if cores == 1 else f"0-{cores - 1}"
    for name in ("possible", "present", "online"):
        (cpu / name).write_text(span + "\n")
    for i in range(cores):
        core = cpu / f"cpu{i}"
        (core / "cpufreq").mkdir(parents=True, exist_ok=True)
        (core / "cpufreq" / "cpuinfo_max_freq").write_text(f"{_MAX_KHZ}\n")
        (core / "cpufreq" / "cpuinfo_min_freq").write_text("300000\n")
        topo = core / "topology"
        topo.mkdir(exist_ok=True)
        (topo / "physical_package_id").write_text("0\n")
        (topo / "core_id").write_text(f"{i}\n")
        (topo / "core_siblings_list").write_text(span + "\n")
        (topo / "thread_siblings_list").write_text(f"{i}\n")
        (topo / "cluster_id").write_text("0\n")
