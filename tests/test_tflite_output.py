"""Parsing TFLite's / LCE's benchmark_model text (rep_deploy/device/tflite_output.py).

The texts below follow the tools' real output (TFLite's tools/benchmark README and
lce_benchmark_model, which prints the same lines): the statistics lines of the warm-up and timed
phases, and the newer one-line summary. Both forms must give the same record fields.
"""
from __future__ import annotations

import pytest

from rep_deploy.device.tflite_output import BenchmarkOutputError, parse_benchmark_output

STATS_ONLY = """\
STARTING!
Log parameter values verbosely: [0]
Num threads: [4]
Graph: [/data/local/tmp/model.tflite]
#threads used for CPU inference: [4]
Loaded model /data/local/tmp/model.tflite
The input model file size (MB): 11.983
Initialized session in 20.283ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=2 first=339304 curr=266325 min=266325 max=339304 avg=302814 std=36489

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=266601 curr=266931 min=265837 max=268116 avg=266473 std=419
"""

WITH_SUMMARY = STATS_ONLY + """
Inference timings in us: Init: 20283, First inference: 339304, Warmup (avg): 302814, Inference (avg): 266473
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Memory footprint delta from the start of the tool (MB): init=3.14062 overall=17.4375
Peak memory footprint (MB): init=4.5 overall=18.5
"""

SUMMARY_ONLY = "Inference timings in us: Init: 20283, First inference: 339304, Warmup (avg): 302814, Inference (avg): 266473.5\n"


def test_both_forms_give_the_same_fields() -> None:
    a, b = parse_benchmark_output(STATS_ONLY), parse_benchmark_output(WITH_SUMMARY)
    assert a["format"] == "stats" and b["format"] == "stats+summary"
    for r in (a, b):
        assert r["timings_us"] == {"min": 265837.0, "max": 268116.0, "mean": 266473.0, "std": 419.0,
                                   "median": None, "count": 50}
        assert r["init_us"] == pytest.approx(20283.0)
        assert r["first_us"] == 339304.0 and r["warmup_avg_us"] == 302814.0
    assert a["peak_rss_kb"] is None and b["peak_rss_kb"] == 18.5 * 1024
    assert set(a) == set(b)


def test_summary_only() -> None:
    r = parse_benchmark_output(SUMMARY_ONLY)
    assert r["format"] == "summary" and r["timings_us"]["mean"] == 266473.5 and r["timings_us"]["min"] is None
    assert (r["init_us"], r["first_us"], r["warmup_avg_us"]) == (20283.0, 339304.0, 302814.0)


@pytest.mark.parametrize("text", ["", "ERROR: Could not open '/data/local/tmp/x.tflite'.\nAborted\n"])
def test_no_timings_is_an_error_quoting_the_last_line(text: str) -> None:
    with pytest.raises(BenchmarkOutputError, match="no benchmark timings") as e:
        parse_benchmark_output(text)
    if text:
        assert "Aborted" in str(e.value)
