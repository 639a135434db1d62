"""benchmarks/bench_end_to_end.py's per-placement bookkeeping (the timing itself is a benchmark)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_end_to_end as e2e  # noqa: E402


def test_rounds_are_placed_by_both_probes() -> None:
    # least probe 60 ns: near is <= 120 ns before and after the round, far beyond it both times
    probes = [(60.0, 75.0), (330.0, 341.0), (70.0, 335.0), (119.0, 121.0)]
    assert e2e.placements(probes) == ["near", "far", "mixed", "mixed"]
    assert e2e.placements([]) == []
    # a run that never moved is all near: "near" is as near as the CPUs got in that run
    assert e2e.placements([(330.0, 340.0), (335.0, 331.0)]) == ["near", "near"]


def test_medians_use_only_the_given_rounds() -> None:
    def config(threads: int, times: list[float], warm: list[float]) -> dict:
        return {"model": "m", "variant": "v", "threads": threads, "times": times, "warm": warm}

    # 3 rounds, 2 back-to-back runs each; round 1 is the slow 2-thread one
    configs = [config(1, [8.0, 8.0, 9.0], [8.0, 8.0, 8.0, 8.0, 9.0, 9.0]),
               config(2, [4.0, 7.0, 5.0], [4.0, 4.0, 7.0, 7.0, 5.0, 5.0])]
    at = lambda t, rounds, field: e2e.median_over(configs, ("m", "v", t), rounds, field, 2)  # noqa: E731
    assert at(1, [0, 2], "times") / at(2, [0, 2], "times") == pytest.approx(8.5 / 4.5)
    assert at(1, [1], "times") / at(2, [1], "times") == pytest.approx(8.0 / 7.0)
    assert at(2, [0, 2], "warm") == pytest.approx(4.5)
    assert at(2, [1], "warm") == pytest.approx(7.0)
    assert at(1, [0, 1, 2], "warm") == pytest.approx(8.0)
