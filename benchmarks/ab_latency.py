"""A/B latency of ONNX files, each run with its own custom-op library, interleaved round by round.

For judging a change on a shared, noisy machine: every configuration runs once per round, so all of
them see the same load, and the table shows the median and the minimum (the least disturbed round)
of each, plus the ratio to the first configuration. Each configuration is ``FILE``,
``FILE@LIBRARY`` (default library: the one rep-deploy built, ``rep_deploy.runtime.library_path``) or
``FILE@LIBRARY@as-is`` or ``FILE@LIBRARY@linked``. Sessions load the graph as rep-deploy's own
sessions do (``rep_deploy.runtime.session_model``: block pairs linked to pass sign bits, each
block's two convs one node); ``as-is``
loads the file unchanged (a library from before that rewrite, or to measure what it gains);
``linked`` leaves each block's two convs two nodes (``session_model(fuse_pairs=False)``; ``fused``,
the default, is accepted too); ``--per-node``
also profiles every session (ORT's profiler, the same overhead for all) and prints each node's median
per configuration, nodes matched by name (the rewrite keeps them). Above 1 thread every run
waits ``--gap`` seconds first: a session's pool threads spin for a while after its run and would
take the cores from the next configuration's (without the gap, 2-thread medians of rep-reactnet-a
ran 33-40 ms against 11.9 ms alone; with it they sit within 2% of their minimums). Also,
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
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort

from rep_deploy.runtime import library_path, session_model


def _session(path: str, library: str, threads: int, mode: str,
             profile_prefix: str | None) -> ort.InferenceSession:
    so = ort.SessionOptions()
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.register_custom_ops_library(library)
    source = path if mode == "as-is" else session_model(path, fuse_pairs=mode != "linked")
    return ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("configs", nargs="+", metavar="FILE[@LIBRARY]")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=25, help="timed runs per configuration")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0, help="seed of the random input")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--per-node", action="store_true", help="also time every node (ORT's profiler)")
    ap.add_argument("--gap", type=float, default=None,
                    help="seconds idle before each run (default 0.05 above 1 thread, else 0): the "
                         "sessions' pool threads spin for a while after each run and would compete "
                         "for the cores with the next configuration's")
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="ab_latency_") if args.per_node else None

    configs = []
    for spec in args.configs:
        path, _, rest = spec.partition("@")
        lib, _, mode = rest.partition("@")
        if mode not in ("", "as-is", "linked", "fused"):
            ap.error(f"{spec}: the third field can only be 'as-is', 'linked' or 'fused'")
        if not Path(path).is_file():
            ap.error(f"{path}: no such model file")
        lib = lib or str(library_path())
        if not Path(lib).is_file():
            ap.error(f"{lib}: no such library")
        prefix = f"{tmp.name}/config{len(configs)}" if tmp else None
        sess = _session(path, lib, args.threads, mode, prefix)
        inp = sess.get_inputs()[0]
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        x = np.random.default_rng(args.seed).standard_normal(shape).astype(np.float32)
        configs.append({"file": path, "library": lib, "as_is": mode == "as-is", "mode": mode, "session": sess,
                        "feed": {inp.name: x}, "times": [], "output": None})
    gap = args.gap if args.gap is not None else (0.05 if args.threads > 1 else 0.0)
    for rnd in range(args.warmup + args.rounds):
        for c in configs:
            if gap:  # the previous session's pool threads stop spinning and park
                time.sleep(gap)
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
        rows.append({"file": c["file"], "library": c["library"], "as_is": c["as_is"], "median_ms": med,
                     "min_ms": low, "ratio_to_first": med / (base * 1e3),
                     "same_output_as_first_of_file": same})
        note = "" if same else "  OUTPUT DIFFERS from the first run of this file"
        label = f"{c['file']} @ {c['library']}" + {"as-is": " (as is)", "linked": " (linked)"}.get(c["mode"], "")
        print(f"{i:2d} {med:10.2f} {low:8.2f} {med / (base * 1e3):6.3f}  {label}{note}")
    nodes = _per_node(configs, args.rounds) if tmp else {}
    if nodes:
        print("\nper node, median ms over the timed rounds (profiled):")
        print(f"{'node':60s} " + " ".join(f"{'#' + str(i):>8s}" for i in range(len(configs))) + "   last/#0")
        for name, meds in nodes.items():
            ratio = f"{meds[-1] / meds[0]:9.3f}" if meds[0] and meds[-1] is not None else ""
            print(f"{name[-60:]:60s} " + " ".join("       -" if m is None else f"{m:8.3f}" for m in meds) + ratio)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"threads": args.threads, "rounds": args.rounds,
                                         "onnxruntime": ort.__version__, "rows": rows,
                                         "per_node_median_ms": nodes}, indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def _per_node(configs: list[dict], rounds: int) -> dict[str, list[float | None]]:
    """Median kernel time of every node over the last ``rounds`` runs of each configuration."""
    per_config = []
    for c in configs:
        events = json.loads(Path(c["session"].end_profiling()).read_text())
        times: dict[str, list[float]] = defaultdict(list)
        for e in events:
            if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
                times[e["name"][: -len("_kernel_time")]].append(e["dur"] / 1e3)
        per_config.append({k: statistics.median(v[-rounds:]) for k, v in times.items()})
    order = sorted(per_config[0], key=lambda k: -per_config[0][k])
    order += [k for pc in per_config[1:] for k in pc if k not in per_config[0]]
    return {k: [pc.get(k) for pc in per_config] for k in dict.fromkeys(order)}


if __name__ == "__main__":
    sys.exit(main())
