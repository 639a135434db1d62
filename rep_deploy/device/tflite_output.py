"""Parse the text that TFLite's ``benchmark_model`` and LCE's ``lce_benchmark_model`` print.

Both tools (LCE's is TFLite's with LCE's ops registered) write no JSON, only text. Two forms carry
the timings, and a run prints one or both:

* the statistics lines of each phase, warm-up first, then the timed runs (microseconds)::

      count=2 first=339304 curr=266325 min=266325 max=339304 avg=302814 std=36489
      count=50 first=266601 curr=266931 min=265837 max=268116 avg=266473 std=419

* the summary line (newer tools; microseconds, averages may be fractional)::

      Inference timings in us: Init: 20283, First inference: 339304, Warmup (avg): 302814, Inference (avg): 266473

plus, optionally, ``Initialized session in 20.283ms.`` and ``Peak memory footprint (MB): init=3.2
overall=18.5`` (with ``--report_peak_memory_footprint``). :func:`parse_benchmark_output` maps
either form to the same fields as rep-deploy's own runner reports (``timings_us`` with min / mean /
std / count; ``init_us``, ``first_us``, ``warmup_avg_us``; ``peak_rss_kb``), so records compare
across runners. ``median`` is not printed by these tools and stays ``None``.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["BenchmarkOutputError", "parse_benchmark_output"]

_STATS = re.compile(r"count=(\d+)\s+first=(\d+)\s+curr=(\d+)\s+min=(\d+)\s+max=(\d+)\s+"
                    r"avg=([\d.eE+-]+)\s+std=(\d+)")
_SUMMARY = re.compile(r"Inference timings in us:\s*Init:\s*([\d.]+),\s*First inference:\s*([\d.]+),\s*"
                      r"Warmup \(avg\):\s*([\d.eE+-]+),\s*Inference \(avg\):\s*([\d.eE+-]+)")
_INIT_MS = re.compile(r"Initialized session in ([\d.]+)\s*ms")
_PEAK_MB = re.compile(r"Peak memory footprint \(MB\):\s*init=([\d.]+)\s+overall=([\d.]+)")
_VERSION = re.compile(r"(?:TF(?:Lite)? version|Version)[:\s]+(\S+)")


class BenchmarkOutputError(ValueError):
    """The text holds no timings: not a benchmark_model output, or the run failed early."""


def parse_benchmark_output(text: str) -> dict[str, Any]:
    """Timings and memory from a ``benchmark_model`` / ``lce_benchmark_model`` stdout.

    Returns a dict with ``init_us``, ``first_us``, ``warmup_avg_us``, ``timings_us`` (``min``,
    ``max``, ``mean``, ``std``, ``median`` None, ``count``), ``peak_rss_kb`` (None unless the tool
    reported it), ``format`` (``"stats+summary"``, ``"stats"`` or ``"summary"``).

    Raises:
        BenchmarkOutputError: neither form is present (the message quotes the last line).
    """
    stats = [_stat(m) for m in _STATS.finditer(text)]
    summary = _SUMMARY.search(text)
    if not stats and not summary:
        last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "no output")
        raise BenchmarkOutputError(f"no benchmark timings in the runner's output (last line: {last[:120]!r})")
    timed = stats[-1] if stats else None
    warm = stats[-2] if len(stats) >= 2 else None
    out: dict[str, Any] = {
        "format": "stats+summary" if stats and summary else "stats" if stats else "summary",
        "init_us": None, "first_us": None, "warmup_avg_us": None,
        "timings_us": {"min": None, "max": None, "mean": None, "std": None, "median": None, "count": None},
        "peak_rss_kb": None,
    }
    if timed:
        out["timings_us"].update(min=timed["min"], max=timed["max"], mean=timed["avg"],
                                 std=timed["std"], count=timed["count"])
    if warm:
        out["first_us"] = warm["first"]
        out["warmup_avg_us"] = warm["avg"]
    if summary:
        init, first, warmup, avg = (float(g) for g in summary.groups())
        out["init_us"], out["first_us"], out["warmup_avg_us"] = init, first, warmup
        if out["timings_us"]["mean"] is None:
            out["timings_us"]["mean"] = avg
    elif (m := _INIT_MS.search(text)):
        out["init_us"] = float(m.group(1)) * 1e3
    if (m := _PEAK_MB.search(text)):
        out["peak_rss_kb"] = float(m.group(2)) * 1024
    if (m := _VERSION.search(text)):
        out["runner_version"] = m.group(1)
    return out


def _stat(m: re.Match[str]) -> dict[str, float]:
    count, first, curr, lo, hi, avg, std = m.groups()
    return {"count": int(count), "first": float(first), "curr": float(curr), "min": float(lo),
            "max": float(hi), "avg": float(avg), "std": float(std)}
