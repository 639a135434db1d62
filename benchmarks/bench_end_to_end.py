"""End-to-end latency: rep-deploy kernels vs the standard-ONNX export in stock ONNX Runtime.

For each model (default: reactnet-a and rep-reactnet-a at 224x224, batch 1) and thread count
(1 and 2), times

  (a) the custom-op export (fused) with rep-deploy's native kernels registered, and
  (b) the ``--ops standard`` export (float Conv with +-alpha weights) in stock ONNX Runtime with all
      graph optimizations,

interleaved round by round so both see the same machine load, and reports medians (``--stat min``:
the fastest round, which on a shared machine is the least disturbed one), the speed-up (b)/(a), the
Rep overhead (rep model / base model with our kernels) and the 2-thread scaling. Prints a table and
writes JSON (medians and minima both). Timings on a shared machine are noisy: compare ratios from
one run. The exports are cached in ``--cache``: delete it after changing the exporter.

Two latencies per configuration and round, because they differ more than any kernel change does:

- **after idle**: the round's first run, after the other configurations' runs (stock ORT's float
  weights, ~100 MB, have evicted this model's from the caches) and, above 1 thread, after idling
  0.05 s (the pool threads have parked): an app that classifies now and then;
- **back to back** (the round's other ``--burst`` - 1 runs): the same session again at once, its
  weights and buffers in cache and its pool threads awake: an app on a stream of frames.

Above 1 thread, where the threads run matters as much: before and after every round the benchmark
times a cache line's round trip between the first two CPUs this process may run on
(:func:`rep_deploy.runtime.cache_line_round_trip_ns`; on a 2-vCPU guest, the two cores a 2-thread
run uses). A cloud guest's vCPUs move between host cores: on an AMD EPYC Zen 4 guest the round trip
was 50-80 ns (the vCPUs sharing an L3) and, for tens of seconds at a time, ~330 ns, when two threads
ran rep-reactnet-a 1.6x slower and stock ORT 1.4x. So the 2-thread scaling is also reported per
placement: rounds whose two probes are both within 2x the least probe of the run ("near"), both
beyond it ("far"), or neither (excluded).

    .venv/bin/python benchmarks/bench_end_to_end.py [--models reactnet-a rep-reactnet-a]
        [--threads 1 2] [--rounds 15] [--burst 4] [--stat median|min] [--json out/bench_end_to_end.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rep_deploy import ExportOptions, export_model, get_model_info
from rep_deploy.runtime import cache_line_round_trip_ns, kernel_path, library_path, session_model


def _export(name: str, ops: str, cache: Path) -> Path:
    out = cache / f"{name}-{ops}"
    if not (out / "model.onnx").exists():
        print(f"exporting {name} ({ops}) ...", file=sys.stderr, flush=True)
        export_model(name, out, options=ExportOptions(ops=ops, input_shape=(1, *get_model_info(name).input_size),  # type: ignore[arg-type]
                                                      reference_images=0, native=False))
    return out / "model.onnx"


def _session(path: Path, threads: int, native: bool) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source: str | bytes = str(path)
    if native:  # as rep-deploy's own sessions load it (block pairs linked and fused)
        so.register_custom_ops_library(str(library_path()))
        source = session_model(path)
    return ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])


def median_over(configs: list[dict], key: tuple[str, str, int], rounds: list[int], field: str,
                per_round: int) -> float:
    """Median latency of one configuration (model, variant, threads) over the given rounds only:
    ``field`` "times" holds a run per round, "warm" ``per_round`` runs per round in order."""
    c = next(c for c in configs if (c["model"], c["variant"], c["threads"]) == key)
    size = 1 if field == "times" else per_round
    return statistics.median(v for r in rounds for v in c[field][r * size:(r + 1) * size])


def _probe_pair() -> tuple[int, int] | None:
    """The first two CPUs this process may run on (None with fewer, or no affinity API)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else None


def near_limit(probes: list[tuple[float, float]]) -> float:
    """The longest round trip still "near": twice the least probe of the run."""
    return 2 * min(min(p) for p in probes)


def placements(probes: list[tuple[float, float]]) -> list[str]:
    """Each round's placement from its (before, after) round trips: "near" when both are within
    :func:`near_limit`, "far" when both are beyond it, else "mixed" (it moved mid-round)."""
    if not probes:
        return []
    limit = near_limit(probes)
    return ["near" if max(p) <= limit else "far" if min(p) > limit else "mixed" for p in probes]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["reactnet-a", "rep-reactnet-a"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--rounds", type=int, default=15, help="timed runs per configuration")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--burst", type=int, default=4,
                    help="runs per configuration and round: the first after idle, the other burst - 1 "
                         "back to back (1: after-idle runs only)")
    ap.add_argument("--stat", choices=["median", "min"], default="median")
    ap.add_argument("--cache", type=Path, default=Path("out/bench_models"))
    ap.add_argument("--json", type=Path, default=Path("out/bench_end_to_end.json"))
    args = ap.parse_args(argv)
    if args.burst < 1:
        ap.error(f"--burst must be >= 1 (runs per configuration and round), got {args.burst}")

    configs = []  # (model, variant, threads, session, input)
    for name in args.models:
        x = np.random.default_rng(0).standard_normal((1, *get_model_info(name).input_size)).astype(np.float32)
        paths = {"rep-deploy kernels": (_export(name, "custom", args.cache), True),
                 "stock ORT, standard ops": (_export(name, "standard", args.cache), False)}
        for threads in args.threads:
            for variant, (path, native) in paths.items():
                sess = _session(path, threads, native)
                feed = {sess.get_inputs()[0].name: x}
                for _ in range(args.warmup):
                    sess.run(None, feed)
                configs.append({"model": name, "variant": variant, "threads": threads,
                                "run": (lambda s=sess, f=feed: s.run(None, f)), "times": [],
                                "warm": []})
    # a session's pool threads spin for a while after its run: idle first, so that they park and
    # leave the cores to the next configuration (as benchmarks/ab_latency.py --gap)
    gap = 0.05 if max(args.threads) > 1 else 0.0
    pair = _probe_pair() if max(args.threads) > 1 else None
    probe = lambda: cache_line_round_trip_ns(*pair)  # noqa: E731
    probes: list[tuple[float, float]] = []
    if pair:
        try:
            probe()
        except RuntimeError as e:
            print(f"no cache-line probe between CPUs {pair[0]} and {pair[1]}: {e}", file=sys.stderr)
            pair = None
    for _ in range(args.rounds):  # interleave: every configuration once per round
        before = probe() if pair else 0.0
        for c in configs:
            if gap:
                time.sleep(gap)
            t0 = time.perf_counter()
            c["run"]()
            c["times"].append(time.perf_counter() - t0)
            for _ in range(args.burst - 1):
                t0 = time.perf_counter()
                c["run"]()
                c["warm"].append(time.perf_counter() - t0)
        if pair:
            probes.append((before, probe()))

    stat = statistics.median if args.stat == "median" else min
    kinds = {"idle": "times", "warm": "warm"} if args.burst > 1 else {"idle": "times"}
    key = lambda c: (c["model"], c["variant"], c["threads"])  # noqa: E731
    med = {k: {key(c): stat(c[f]) * 1e3 for c in configs} for k, f in kinds.items()}
    mins = {k: {key(c): min(c[f]) * 1e3 for c in configs} for k, f in kinds.items()}
    medians = {k: {key(c): statistics.median(c[f]) * 1e3 for c in configs} for k, f in kinds.items()}
    label = {"idle": "after idle", "warm": "back to back"}
    suffix = {"idle": "", "warm": "_warm"}  # of the JSON keys: the after-idle ones keep their old names
    rows = []
    path = kernel_path()
    print(f"\n{args.stat} of {args.rounds} interleaved rounds ({args.burst - 1} back-to-back runs per "
          f"round after the first); rep-deploy kernel path: {path} (block pairs linked and fused, as "
          f"rep-deploy's sessions run them)")
    head = "".join(f" {label[k] + ': ours ms':>22s} {'stock ms':>9s} {'speed-up':>9s}" for k in kinds)
    print(f"{'model':16s} {'thr':>3s}{head}")
    for name in args.models:
        for t in args.threads:
            row: dict[str, object] = {"model": name, "threads": t}
            line = f"{name:16s} {t:3d}"
            for k in kinds:
                ours, std = med[k][(name, "rep-deploy kernels", t)], med[k][(name, "stock ORT, standard ops", t)]
                sfx = suffix[k]
                row.update({f"rep_deploy_ms{sfx}": ours, f"stock_standard_ms{sfx}": std, f"speedup{sfx}": std / ours})
                line += f" {ours:22.2f} {std:9.2f} {std / ours:8.2f}x"
            rows.append(row)
            print(line)
    placed = placements(probes)
    if probes:
        print(f"cache-line round trip between CPUs {pair[0]} and {pair[1]}, before and after each round: "
              f"{min(min(p) for p in probes):.0f}-{max(max(p) for p in probes):.0f} ns; rounds near "
              f"(both <= {near_limit(probes):.0f} ns) / far / mixed: {placed.count('near')} / "
              f"{placed.count('far')} / {placed.count('mixed')}")
    summary: dict[str, float] = {}
    # per placement (when the run saw both): the rounds near, then far, at the median
    groups = {w: [r for r, p in enumerate(placed) if p == w] for w in ("near", "far")}
    groups = {w: r for w, r in groups.items() if r} if len(set(placed) - {"mixed"}) > 1 else {}
    ours, stock = "rep-deploy kernels", "stock ORT, standard ops"
    for k in kinds:
        sfx = suffix[k]
        at = lambda key, rounds: median_over(configs, key, rounds, kinds[k], args.burst - 1)  # noqa: E731
        for t in args.threads:
            if "reactnet-a" in args.models and "rep-reactnet-a" in args.models:
                m = med[k]
                over = m[("rep-reactnet-a", ours, t)] / m[("reactnet-a", ours, t)] - 1
                summary[f"rep_overhead_{t}t{sfx}"] = over
                line = f"Rep overhead (rep-reactnet-a vs reactnet-a, our kernels, {t} thread(s), {label[k]}): {over:+.1%}"
                for where, rounds in groups.items() if t > 1 else ():
                    o = at(("rep-reactnet-a", ours, t), rounds) / at(("reactnet-a", ours, t), rounds) - 1
                    summary[f"rep_overhead_{t}t{sfx}_{where}"] = o
                    line += f"; {len(rounds)} rounds {where}: {o:+.1%}"
                print(line)
        if 1 in args.threads and 2 in args.threads:
            for name in args.models:
                s = med[k][(name, ours, 1)] / med[k][(name, ours, 2)]
                summary[f"scaling_2t_{name}{sfx}"] = s
                line = f"2-thread scaling, {name}, our kernels, {label[k]}: {s:.2f}x"
                for where, rounds in groups.items():
                    scale = {v: at((name, v, 1), rounds) / at((name, v, 2), rounds) for v in (ours, stock)}
                    summary[f"scaling_2t_{name}{sfx}_{where}"] = scale[ours]
                    summary[f"stock_scaling_2t_{name}{sfx}_{where}"] = scale[stock]
                    line += f"; {len(rounds)} rounds {where}: {scale[ours]:.2f}x (stock ORT {scale[stock]:.2f}x)"
                print(line)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    flat = lambda d: {f"{c[0]}|{c[1]}|{c[2]}": v for c, v in d.items()}  # noqa: E731
    args.json.write_text(json.dumps({"machine": platform.processor() or platform.machine(),
                                     "kernel_path": path,
                                     "onnxruntime": ort.__version__, "rounds": args.rounds,
                                     "burst": args.burst,
                                     "statistic": args.stat, "rows": rows, "summary": summary,
                                     "probed_cpus": list(pair) if probes else None,
                                     "round_trip_ns": [list(p) for p in probes], "placement": placed,
                                     "median_ms": flat(medians["idle"]), "min_ms": flat(mins["idle"]),
                                     **({"median_ms_warm": flat(medians["warm"]),
                                         "min_ms_warm": flat(mins["warm"])} if "warm" in kinds else {})},
                                    indent=2))
    print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
