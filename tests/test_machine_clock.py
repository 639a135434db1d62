"""benchmarks/machine_clock.py: the clock both per-layer benchmarks count cycles at.

On a cloud guest whose model name has no GHz and whose lscpu has no max MHz, ``cpu MHz`` is often
the TSC rate; the clock then comes from ``bench_core --clock`` where it is built.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import machine_clock as mc  # noqa: E402


def _no_lscpu_max(monkeypatch) -> None:
    """A CPU whose model name has no GHz and whose lscpu has no max MHz (a cloud guest's)."""
    run = mc.subprocess.run
    monkeypatch.setattr(mc, "cpu_name", lambda: "AMD EPYC")
    monkeypatch.setattr(mc.subprocess, "run", lambda cmd, *a, **k: (
        mc.subprocess.CompletedProcess(cmd, 0, "Model name: AMD EPYC\n", "") if cmd == ["lscpu"]
        else run(cmd, *a, **k)))
    monkeypatch.setattr(mc, "cpu_ghz", lambda: 2.45)


def test_clock_without_a_nominal_one_is_measured(monkeypatch, tmp_path) -> None:
    _no_lscpu_max(monkeypatch)
    fake = tmp_path / "bench_core"
    fake.write_text('#!/bin/sh\n[ "$1" = --clock ] && echo "clock 3.190 GHz (chains of adds)"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(mc, "BENCH_CORE", fake)
    ghz, source = mc.nominal_ghz()
    assert ghz == pytest.approx(3.19) and "bench_core --clock" in source and "2.45" in source
    # without the tool: cpuinfo's MHz, saying why
    monkeypatch.setattr(mc, "BENCH_CORE", tmp_path / "missing")
    ghz, source = mc.nominal_ghz()
    assert ghz == 2.45 and "not built" in source


def test_bench_core_clock_measures_a_plausible_clock() -> None:
    if not mc.BENCH_CORE.is_file():
        pytest.skip(f"{mc.BENCH_CORE} not built (runtimes/ort/run_cpp_tests.sh builds it)")
    ghz, source = mc.bench_core_value(["--clock"], "clock")
    # a chain the compiler or CPU shortened (independent adds) would read several times too fast
    assert ghz is not None and 0.5 < ghz < 7.0, source
