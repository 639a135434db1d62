"""The .tflite files of a RepBNN and its base: size, op structure, and x86 latency side by side.

For each model (default reactnet-a and rep-reactnet-a, 224x224, batch 1) it exports the custom-op
ONNX and the ``--ops standard`` ONNX (cached in ``--cache``), converts the custom one with
``rep-deploy tflite`` (verified), then prints

1. the .tflite size against the 1-bit ideal, and the op histogram: what the Rep structure costs in
   TFLite ops (TILE, MUL, ADD, PRELU, CONCATENATION, ...);
2. latency at ``--threads`` (default 1) of LCE's interpreter on the .tflite, rep-deploy's ONNX
   Runtime kernels on the custom ONNX, and stock ONNX Runtime on the standard ONNX, interleaved round
   by round so all see the same machine load (median and min).

LCE has no optimized x86 kernels (its interpreter falls back to portable C++ off ARM): the x86
figures compare backends and the Rep overhead on this machine, not phones.

    .venv/bin/python benchmarks/bench_tflite.py [--models reactnet-a rep-reactnet-a] [--rounds 10]
        [--threads 1] [--json out/bench_tflite.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench_end_to_end import _export, _session  # noqa: E402  (benchmarks/ is the script's folder)

from rep_deploy import get_model_info
from rep_deploy.converters.tflite import LceRunner, convert_to_tflite, inspect_tflite
from rep_deploy.export.provenance import environment
from rep_deploy.runtime import kernel_path

STRUCTURE_OPS = ("LceBconv2d", "LceQuantize", "CONV_2D", "TILE", "MUL", "ADD", "PRELU",
                 "CONCATENATION", "AVERAGE_POOL_2D", "REVERSE_V2")


def _tflite(onnx_path: Path) -> Path:
    out = onnx_path.with_name("model.tflite")
    if not out.exists():
        print(f"converting {onnx_path} ...", file=sys.stderr, flush=True)
        convert_to_tflite(onnx_path, out, images=1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["reactnet-a", "rep-reactnet-a"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("out/bench_models"))
    ap.add_argument("--json", type=Path, default=Path("out/bench_tflite.json"))
    args = ap.parse_args(argv)

    structure, configs = {}, []
    for name in args.models:
        custom = _export(name, "custom", args.cache)
        standard = _export(name, "standard", args.cache)
        lite = _tflite(custom)
        report = json.loads(lite.with_name("model.report.json").read_text())
        hist = inspect_tflite(lite.read_bytes()).op_histogram
        structure[name] = {"tflite_bytes": lite.stat().st_size, "ideal_bytes": report["ideal_bytes"],
                           "ratio_to_ideal": lite.stat().st_size / report["ideal_bytes"],
                           "onnx_custom_bytes": custom.stat().st_size, "op_histogram": hist,
                           "ops": sum(hist.values())}
        x = np.random.default_rng(0).standard_normal((1, *get_model_info(name).input_size)).astype(np.float32)
        runner = LceRunner(lite.read_bytes(), args.threads)
        configs.append({"model": name, "backend": "LCE interpreter (.tflite)", "run": lambda r=runner: r.run(x)})
        for label, path, native in (("rep-deploy ORT kernels (custom ONNX)", custom, True),
                                    ("stock ORT (standard ONNX)", standard, False)):
            sess = _session(path, args.threads, native)
            feed = {sess.get_inputs()[0].name: x}
            configs.append({"model": name, "backend": label, "run": lambda s=sess, f=feed: s.run(None, f)})
    for c in configs:
        c["times"] = []
        for _ in range(args.warmup):
            c["run"]()
    for _ in range(args.rounds):
        for c in configs:
            t0 = time.perf_counter()
            c["run"]()
            c["times"].append(time.perf_counter() - t0)

    print("\n.tflite structure (LCE target arm)")
    print(f"{'model':16s} {'MB':>7s} {'x ideal':>8s} " + " ".join(f"{op:>8.8s}" for op in STRUCTURE_OPS) + f" {'all ops':>8s}")
    for name, s in structure.items():
        print(f"{name:16s} {s['tflite_bytes'] / 1e6:7.2f} {s['ratio_to_ideal']:8.3f} "
              + " ".join(f"{s['op_histogram'].get(op, 0):8d}" for op in STRUCTURE_OPS) + f" {s['ops']:8d}")
    rows = []
    print(f"\nlatency, {args.threads} thread(s), {args.rounds} interleaved rounds (ms; native kernel path "
          f"{kernel_path()}; LCE off ARM runs portable kernels)")
    print(f"{'model':16s} {'backend':38s} {'median':>9s} {'min':>9s}")
    for c in configs:
        med, low = statistics.median(c["times"]) * 1e3, min(c["times"]) * 1e3
        rows.append({"model": c["model"], "backend": c["backend"], "median_ms": med, "min_ms": low})
        print(f"{c['model']:16s} {c['backend']:38s} {med:9.2f} {low:9.2f}")
    if {"reactnet-a", "rep-reactnet-a"} <= set(args.models):
        by = {(r["model"], r["backend"]): r["median_ms"] for r in rows}
        print("\nRep overhead (rep-reactnet-a / reactnet-a - 1, medians):")
        for backend in dict.fromkeys(r["backend"] for r in rows):
            over = by[("rep-reactnet-a", backend)] / by[("reactnet-a", backend)] - 1
            print(f"  {backend:38s} {over:+.1%}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"structure": structure, "latency": rows, "threads": args.threads,
                                     "rounds": args.rounds, "kernel_path": kernel_path(),
                                     **environment()}, indent=2) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
