"""A/B latency of ONNX files, each run with its own custom-op library, interleaved round by round.

For judging a change on a shared, noisy machine: every configuration runs once per round, so all of
them see the same load, and the table shows the median and the minimum (the least disturbed round)
of each, plus the ratio to the first configuration. Each configuration is ``FILE``,
``FILE@LIBRARY`` (default library: the one rep-deploy built, ``rep_deploy.runtime.library_path``) or
``FILE@LIBRARY@as-is``. Sessions load the graph as rep-deploy's own sessions do
(``rep_deploy.runtime.session_model``: block pairs linked to pass sign bits); ``as-is`` loads the
file unchanged (a library from before that rewrite, or to measure what it gains);
the same file may appear with several libraries (a kernel change) and several files with the same
library (a graph-pass change). Outputs are compared too: configurations of the same file must agree
bit for bit, or the table says they differ.

    .venv/bin/python benchmarks/ab_latency.py old/model.onnx@/tmp/old.so@as-is new/model.onnx \\
        [--threads 1] [--rounds 25] [--json out/ab_latency.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rep_deploy.runtime import library_path, session_model


def _session(path: str, library: str, threads: int, as_is: bool) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.register_custom_ops_library(library)
    source = path if as_is else session_model(path)
    return ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", nargs="+", metavar="FILE[@LIBRARY]")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=25, help="timed runs per configuration")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0, help="seed of the random input")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)

    configs = []
    for spec in args.configs:
        path, _, rest = spec.partition("@")
        lib, _, mode = rest.partition("@")
        if mode not in ("", "as-is"):
            ap.error(f"{spec}: the third field can only be 'as-is'")
        if not Path(path).is_file():
            ap.error(f"{path}: no such model file")
        lib = lib or str(library_path())
        if not Path(lib).is_file():
            ap.error(f"{lib}: no such library")
        sess = _session(path, lib, args.threads, mode == "as-is")
        inp = sess.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        x = np.random.default_rng(args.seed).standard_normal(shape).astype(np.float32)
        configs.append({"file": path, "library": lib, "session": sess, "feed": {inp.name: x},
                        "times": [], "output": None})
    for rnd in range(args.warmup + args.rounds):
        for c in configs:
            t0 = time.perf_counter()
            out = c["session"].run(None, c["feed"])[0]
            if rnd >= args.warmup:
                c["times"].append(time.perf_counter() - t0)
            c["output"] = out
    base = statistics.median(configs[0]["times"])
    rows = []
    print(f"{args.rounds} interleaved rounds, {args.threads} thread(s)")
    print(f"{'#':>2s} {'median ms':>10s} {'min ms':>8s} {'vs #0':>6s}  file @ library")
    for i, c in enumerate(configs):
        med, low = statistics.median(c["times"]) * 1e3, min(c["times"]) * 1e3
        first = next(o for o in configs if o["file"] == c["file"])
        same = bool(np.array_equal(first["output"], c["output"]))
        rows.append({"file": c["file"], "library": c["library"], "median_ms": med, "min_ms": low,
                     "ratio_to_first": med / (base * 1e3), "same_output_as_first_of_file": same})
        note = "" if same else "  OUTPUT DIFFERS from the first run of this file"
        print(f"{i:2d} {med:10.2f} {low:8.2f} {med / (base * 1e3):6.3f}  {c['file']} @ {c['library']}{note}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"threads": args.threads, "rounds": args.rounds,
                                         "onnxruntime": ort.__version__, "rows": rows}, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
