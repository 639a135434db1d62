"""The clock the benchmarks count cycles at, and the core-level tool's measured numbers.

Both per-layer benchmarks turn seconds into MACs per cycle (``bench_binary_conv.py``) or a popcount
bound (``bench_roofline.py``), so both take the clock from here: ``/proc/cpuinfo``'s model name
(``@ 2.60GHz``), else ``lscpu``'s max MHz, else the clock a chain of dependent adds runs at
(``bench_core --clock``, where runtimes/ort/run_cpp_tests.sh built it), else ``cpu MHz``. Cloud
guests often show only the TSC rate in ``cpu MHz``: a Zen 3 guest's said 2.45 GHz where the chain ran
at 3.19, which put its 3x3 layers at 105-123% of their bound and its MAC/cycle 30% too high.
"""
from __future__ import annotations

import pathlib
import re
import subprocess

from rep_deploy.export.provenance import cpu_name

# built by runtimes/ort/run_cpp_tests.sh (its BUILD_DIR; build/ort-tests by default)
BENCH_CORE = pathlib.Path(__file__).resolve().parent.parent / "build/ort-tests/core/bench_core"


def cpu_ghz() -> float:
    """``/proc/cpuinfo``'s first ``cpu MHz`` in GHz (2.5 where there is none): the current clock on
    bare metal, often the TSC rate on a guest."""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) / 1000.0
    except OSError:
        pass
    return 2.5


def bench_core_value(args: list[str], key: str) -> tuple[float | None, str]:
    """The number after ``key`` on the line of ``bench_core ARGS`` that starts with it, or None and
    why not."""
    if not BENCH_CORE.is_file():
        return None, f"{BENCH_CORE} not built (run runtimes/ort/run_cpp_tests.sh)"
    out = subprocess.run([str(BENCH_CORE), *args], capture_output=True, text=True, timeout=120)
    prefix = key.split()
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) > len(prefix) and parts[:len(prefix)] == prefix:
            return float(parts[len(prefix)]), f"bench_core {' '.join(args)}"
    said = (out.stderr or out.stdout).strip()[:200]
    return None, f"bench_core {' '.join(args)} gave no {key!r} line: {said}"


def nominal_ghz() -> tuple[float, str]:
    """(GHz, where it came from), in the order of the module docstring."""
    match = re.search(r"@\s*([\d.]+)\s*GHz", cpu_name())
    if match:
        return float(match.group(1)), "model name"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("CPU max MHz:"):
                return float(line.split(":")[1]) / 1000.0, "lscpu CPU max MHz"
    except OSError:
        pass
    clock, why_not = bench_core_value(["--clock"], "clock")
    if clock is not None:
        return clock, (f"bench_core --clock, dependent adds: no GHz in model name, no lscpu max MHz, "
                       f"and cpuinfo's {cpu_ghz():.2f} GHz may be the TSC")
    return cpu_ghz(), f"/proc/cpuinfo cpu MHz: no GHz in model name, no lscpu max MHz ({why_not})"
