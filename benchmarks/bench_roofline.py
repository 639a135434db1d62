"""Per-layer roofline of a zoo model's binary convs (issue 13): how close each one is to its bound.

Every binary conv node of the model (``BinaryConvBlock`` and the other ops of
``rep_deploy.ops.BINARY_OPS``, with their real shapes, ``repeats`` (RepBNN's beta**2 channel tiles),
``splits``, residual, ``residual_pool``, stride and padding) is timed on its own, in the graph
``--graph`` names, and compared with the larger of two lower bounds on its run time:

* ``--graph session`` (the default): the graph rep-deploy's sessions run
  (:func:`rep_deploy.link_signs.link_signs`): each block gets its input's sign bits from the block
  before instead of binarizing the floats, the stem's ``Repeat`` is folded into the first block, and
  the blocks before a stride-2 block write its 2x2-pooled residual. ``--graph exported``: the file's
  graph as it is (every block binarizes its own float input; the stride-2 blocks pool their input).
  Sessions also run each block's two convs as one node (:mod:`rep_deploy.block_pairs`); a per-conv
  roofline cannot split that node, so it times the convs linked but unfused.

* popcount bound = binary MACs / (P * f * t): MACs = accumulator channels * Cin/group * kh * kw *
  Ho * Wo (the ``repeats`` tiles are copies, not MACs); P = the popcount peak in MAC/cycle of the
  kernel path that ran (``bench_binary_conv.PEAK_MACS_PER_CYCLE``, derived in that module's
  docstring: 512 for ``avx512vpopcnt``, 282 for ``avx512``, ...); f = the nominal clock; t = threads.
* memory bound = B / copy bandwidth, where B are the bytes the node must move at least once in that
  graph (:func:`byte_counts`): the float input read (N*Cin*H*W*4; once also when it is the residual,
  as in every ReActNet block; in the session graph the first block's is the stem's, beta times
  narrower, and a stride-2 block's is the pooled residual, a quarter), the input's sign bits
  (session graph), the packed weights, the outputs written (N*Cout*repeats*Ho*Wo*4, a quarter of it
  when pooled for a stride-2 block, and the sign bits for the next block), a residual distinct from
  the input (at the resolution it is read), and the per-channel vectors. The copy bandwidth is
  measured in the same run with a STREAM-like copy (``np.copyto`` of two arrays well above the LLC,
  best of several rounds, read + written bytes / time, write-allocate traffic not counted: STREAM's
  convention) on ``--threads`` threads. A STREAM "add" (two reads, one write) and a read-only
  (``sum``) figure, and the copy bandwidth at an in-cache size (32 MiB moved), are reported too.

bound = max(popcount bound, memory bound); "% of bound" = bound / measured time (100% = at the
roofline). The issue's target: every layer >= 50%; rows below it are marked.

Timing reuses ``bench_binary_conv``: a one-node ONNX model per layer (the node with its
initializers; the input X random normal, and the input's sign bits random bytes; a residual distinct
from X becomes an initializer, which the kernel reads like any input), one ORT session at a time
with rep-deploy's custom-op library, IOBinding, warm-up, ``--rounds`` rounds; the table shows the
fastest round (the machine is shared: the other rounds measure the neighbours), the JSON has min and
median. Alone, a node reads the same input every round, so what fits in the caches stays there;
in the model the node before has just written it (``benchmarks/ab_latency.py --per-node`` times
nodes in place). The clock is the nominal one (``machine_clock.nominal_ghz``: model name, lscpu's
max MHz, ``bench_core --clock``, ``cpu MHz``); its source is printed. Turbo above a nominal clock
makes the popcount bound loose, so a layer can exceed 100% of it; the measured GEMM peak
(``bench_core --peak``) gives a second bound that cannot.

Usage:  python benchmarks/bench_roofline.py [--model rep-reactnet-a|reactnet-a] [--threads 1]
            [--graph session|exported] [--kernel PATH] [--rounds 15] [--seconds 0.4]
            [--onnx model.onnx] [--only TEXT ...] [--json out/bench_roofline.json] [--plot F.png]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pathlib
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_binary_conv import PEAK_MACS_PER_CYCLE, Runner, measure
from machine_clock import bench_core_value, nominal_ghz

import rep_deploy
from rep_deploy import ops
from rep_deploy.export.provenance import cpu_name
from rep_deploy.inspect import value_shapes
from rep_deploy.link_signs import LINKED, RUNTIME_DOMAIN, X_SIGNS, link_signs
from rep_deploy.runtime import KERNEL_ENV, kernel_path, make_session_options

INPUT_SHAPE = (1, 3, 224, 224)
TARGET = 0.5  # the goal: every layer at >= 50% of its bound


# ---------------------------------------------------------------- machine: clock and bandwidth

def llc_bytes() -> int:
    """Size of the largest cache level sysfs lists for cpu0 (0 when unknown)."""
    sizes = []
    for f in pathlib.Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = f.read_text().strip()
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        sizes.append(int(text.rstrip("KMG")) * scale)
    return max(sizes, default=0)


def _parallel_seconds(work: Callable[[int], None], threads: int) -> float:
    """Wall time of ``work(i)`` for i < threads run concurrently (numpy releases the GIL)."""
    if threads == 1:
        t = time.perf_counter()
        work(0)
        return time.perf_counter() - t
    start = threading.Barrier(threads + 1)

    def run(i: int) -> None:
        start.wait()
        work(i)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for p in pool:
        p.start()
    start.wait()
    t = time.perf_counter()
    for p in pool:
        p.join()
    return time.perf_counter() - t


def stream_bandwidth(array_bytes: int, threads: int, rounds: int) -> dict[str, float]:
    """Best-of-rounds bytes/s of copy (a -> c), add (a + b -> c) and read (sum a) over float64
    arrays of ``array_bytes`` each, split into ``threads`` contiguous parts."""
    n = array_bytes // 8
    a, b, c = np.full(n, 1.0), np.full(n, 2.0), np.full(n, 0.0)  # pages written
    parts = [slice(i * n // threads, (i + 1) * n // threads) for i in range(threads)]
    kernels: dict[str, tuple[Callable[[int], None], int]] = {
        "copy": (lambda i: np.copyto(c[parts[i]], a[parts[i]]), 2),
        "add": (lambda i: np.add(a[parts[i]], b[parts[i]], out=c[parts[i]]), 3),
        "read": (lambda i: a[parts[i]].sum(), 1),
    }
    reps = max(1, (256 * 2**20) // array_bytes)  # rounds of at least ~256 MiB per array
    out = {}
    for name, (work, arrays) in kernels.items():
        for i in range(threads):
            work(i)  # warm-up
        best = min(sum(_parallel_seconds(work, threads) for _ in range(reps)) / reps
                   for _ in range(rounds))
        out[f"{name}_bytes_per_s"] = arrays * n * 8 / best
    return out


def measure_bandwidth(threads: int, rounds: int) -> dict[str, Any]:
    """The memory figures: arrays of 1 GiB, or 2 x the LLC if larger (the 3 arrays cost 3 GiB here),
    and a 16 MiB in-cache copy (32 MiB moved: above a server core's L2, within its LLC)."""
    llc = llc_bytes()
    size = max(2 * llc, 2**30)
    big = stream_bandwidth(size, threads, rounds)
    small = stream_bandwidth(16 * 2**20, threads, rounds)
    return {"array_bytes": size, "llc_bytes": llc, "threads": threads, "rounds": rounds, **big,
            "copy_16MiB_bytes_per_s": small["copy_bytes_per_s"]}


# ---------------------------------------------------------------- the model's binary convs

@dataclass(frozen=True)
class ConvNode:
    """One binary conv node with what the roofline needs: the conv's geometry (as exported) and
    the bytes the node must move at least once in the graph it runs in (``byte_counts``)."""

    name: str
    op_type: str
    x_shape: tuple[int, ...]  # the conv's input, as exported
    y_shape: tuple[int, ...]  # the conv's output (with its repeats), as exported
    w_shape: tuple[int, ...]  # packed: (accumulator channels, bytes per row)
    kernel: tuple[int, int]
    stride: tuple[int, int]
    group: int
    repeats: int
    splits: int
    residual_pool: tuple[int, int]
    byte_counts: dict[str, int]
    # the node's own inputs and outputs in the graph it runs in, {name: (shape, numpy dtype)}:
    # what its one-node model takes and gives
    io_inputs: dict[str, tuple[tuple[int, ...], str]]
    io_outputs: dict[str, tuple[tuple[int, ...], str]]
    linked: dict[str, int]  # the session rewrite's attributes on it (x_repeats, y_pool, x_pooled)

    @property
    def macs(self) -> int:
        n, cin, ho, wo = self.x_shape[0], self.x_shape[1], self.y_shape[2], self.y_shape[3]
        return n * self.w_shape[0] * (cin // self.group) * self.kernel[0] * self.kernel[1] * ho * wo

    @property
    def bytes(self) -> int:
        return sum(self.byte_counts.values())

    def label(self) -> str:
        return re.sub(r"^/|/BinaryConv_fused_block$", "", self.name) or self.op_type

    def summary(self) -> str:
        s = (f"{self.kernel[0]}x{self.kernel[1]}/s{self.stride[0]} {self.x_shape[1]}->"
             f"{self.w_shape[0]}")
        s += f"x{self.repeats}" if self.repeats > 1 else ""
        s += f" ({self.splits} parts)" if self.splits > 1 else ""
        s += f" @{self.x_shape[2]}->{self.y_shape[2]}"
        if self.residual_pool != (1, 1) and not self.linked.get("x_pooled"):
            s += f" res pool {self.residual_pool[0]}"
        if self.linked.get("x_pooled"):
            s += " in pooled"
        if self.linked.get("y_pool"):
            s += " out pooled"
        return s


def export(name: str, directory: str) -> onnx.ModelProto:
    """The model as rep-deploy exports it at 224x224 (custom ops; native/reference checks off)."""
    options = rep_deploy.ExportOptions(input_shape=INPUT_SHAPE, reference_images=0, native=False)
    result = rep_deploy.export_model(name, directory, options=options)
    return onnx.load(str(result.model_path))


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    spec = ops.get(node.op_type)
    given = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    return spec.resolve_attributes(given)


def _io(names: list[str], signs: int, shapes: dict[str, tuple[int, ...]],
        skip: set[str]) -> dict[str, tuple[tuple[int, ...], str]]:
    """{name: (shape, dtype)} of a node's inputs or outputs, but ``skip``; the one at place
    ``signs`` holds sign bits (uint8), the others floats."""
    return {n: (shapes[n], "uint8" if k == signs else "float32")
            for k, n in enumerate(names) if n and n not in skip}


def byte_counts(node: onnx.NodeProto, residual: str | None, shapes: dict[str, tuple[int, ...]],
                inits: dict[str, onnx.TensorProto]) -> dict[str, int]:
    """The bytes ``node`` must move at least once, from the shapes of its own inputs and outputs
    in the graph it runs in: the float X read (once, also when it is the residual; not at all when
    its sign bits come in ``X_signs`` and the residual is another tensor), its sign bits
    (``X_signs``) read, the packed weights, the outputs written (Y as written: pooled under
    ``y_pool``; ``Y_signs``), a residual distinct from X read (at the resolution it is read), and
    the per-channel vectors (every other initializer input)."""
    def size(name: str) -> int:
        return int(np.prod(shapes[name])) if name else 0

    x, x_signs = node.input[0], node.input[X_SIGNS] if len(node.input) > X_SIGNS else ""
    x_read = not x_signs or residual == x
    vectors = [i for k, i in enumerate(node.input) if k >= 2 and i and i != residual and i in inits]
    return {"input": 4 * size(x) if x_read else 0, "input signs": size(x_signs),
            "weights": int(np.prod(inits[node.input[1]].dims)),
            "output": 4 * size(node.output[0]),
            "output signs": size(node.output[1]) if len(node.output) > 1 else 0,
            "residual": 4 * size(residual) if residual and residual != x else 0,
            "vectors": sum(4 * int(np.prod(inits[v].dims)) for v in vectors)}


def binary_nodes(model: onnx.ModelProto, session: bool = True,
                 input_shape: tuple[int, ...] = INPUT_SHAPE
                 ) -> tuple[onnx.ModelProto, list[tuple[onnx.NodeProto, ConvNode]]]:
    """The graph the nodes run in and every binary conv node of it in graph order, with its shapes
    from one ORT run. ``session``: the graph rep-deploy's sessions run (:func:`link_signs`: blocks
    hand the next their sign bits, the stem's Repeat folds into the first block, and the blocks
    before a stride-2 block write its pooled residual), else the exported graph as it is."""
    shapes = value_shapes(model, input_shape)  # the conv geometry: as exported
    graph = link_signs(model)[0] if session else model
    run_shapes = value_shapes(graph, input_shape, make_session_options(1)) if session else shapes
    exported = {n.name: n for n in model.graph.node}
    inits = {t.name: t for t in graph.graph.initializer}
    found = []
    for node in graph.graph.node:
        if not (node.domain == ops.DOMAIN and node.op_type in ops.BINARY_OPS
                or node.domain == RUNTIME_DOMAIN and node.op_type == LINKED):
            continue
        base = exported[node.name]
        a = _attrs(base)
        res_name = _residual_name(base, node)
        linked = {at.name: int(at.i) for at in node.attribute
                  if at.name in ("x_repeats", "y_pool", "x_pooled")}
        found.append((node, ConvNode(
            name=node.name, op_type=node.op_type, x_shape=shapes[base.input[0]],
            y_shape=shapes[base.output[0]], w_shape=tuple(inits[node.input[1]].dims),
            kernel=tuple(a["kernel_shape"]), stride=tuple(a["strides"]), group=int(a["group"]),
            repeats=int(a.get("repeats", 1)), splits=int(a.get("splits", 1)),
            residual_pool=tuple(a.get("residual_pool", (1, 1))),
            byte_counts=byte_counts(node, res_name, run_shapes, inits),
            io_inputs=_io(list(node.input), X_SIGNS, run_shapes, set(inits)),
            io_outputs=_io(list(node.output), 1, run_shapes, set()), linked=linked)))
    return graph, found


def _residual_name(exported: onnx.NodeProto, node: onnx.NodeProto) -> str | None:
    """The residual input's name in ``node`` (the exported node's schema places it; a linked
    block keeps the inputs' places), or None: the op has none, or it is omitted."""
    names = ops.get(exported.op_type).inputs
    index = names.index("residual") if "residual" in names else len(node.input)
    return node.input[index] if index < len(node.input) and node.input[index] else None


def one_node_model(node: onnx.NodeProto, graph: onnx.ModelProto, conv: ConvNode,
                   rng: np.random.Generator) -> tuple[bytes, dict[str, np.ndarray]]:
    """The node alone, and its graph inputs other than ``x``: graph input ``x`` (its X), graph
    outputs ``y`` (and ``y_signs`` when it writes them), its initializers, and as random tensors
    of the shapes they have in the graph: its other non-initializer inputs (``x_signs``, as graph
    inputs) and a residual distinct from X (an initializer, which the kernel reads like any
    input)."""
    inits = {t.name: t for t in graph.graph.initializer}
    tensors, inputs, feeds, graph_inputs = [], [], {}, []
    for k, i in enumerate(node.input):
        if k == 0:
            inputs.append("x")
        elif not i or i in inits:
            inputs.append(i)
            if i and i not in {t.name for t in tensors}:
                tensors.append(inits[i])
        elif i == node.input[0]:
            inputs.append("x")  # the residual is X
        else:
            shape, dtype = conv.io_inputs[i]
            if dtype == "uint8":  # sign bits: any bits will do
                name = "x_signs"
                feeds[name] = rng.integers(0, 256, shape, dtype=np.uint8)
                graph_inputs.append(helper.make_tensor_value_info(name, onnx.TensorProto.UINT8,
                                                                  list(shape)))
            else:
                name = "residual"
                tensors.append(numpy_helper.from_array(
                    rng.standard_normal(shape).astype(np.float32), name))
            inputs.append(name)
    outputs = ["y", "y_signs"][:len(node.output)]
    copy = helper.make_node(node.op_type, inputs, outputs, name=node.name, domain=node.domain)
    copy.attribute.extend(node.attribute)
    x_shape = conv.io_inputs[node.input[0]][0]
    out_types = [onnx.TensorProto.FLOAT, onnx.TensorProto.UINT8]
    one_graph = helper.make_graph(
        [copy], "roofline",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, list(x_shape)), *graph_inputs],
        [helper.make_tensor_value_info(o, t, None) for o, t in zip(outputs, out_types)], tensors)
    custom = {node.op_type} if node.domain == ops.DOMAIN else set()
    one = helper.make_model(one_graph, opset_imports=ops.opset_imports(),
                            functions=ops.function_protos(custom))
    if node.domain == RUNTIME_DOMAIN:
        one.opset_import.append(helper.make_opsetid(RUNTIME_DOMAIN, 1))
    one.ir_version = ops.IR_VERSION
    return one.SerializeToString(), feeds


# ---------------------------------------------------------------- roofline

def roofline(conv: ConvNode, timing: dict[str, float], peak_macs_per_s: float,
             bandwidth: float) -> dict[str, Any]:
    """The bounds of one node and its measured fraction of them (from the fastest round)."""
    pop_s = conv.macs / peak_macs_per_s
    mem_s = conv.bytes / bandwidth
    bound = max(pop_s, mem_s)
    return {"name": conv.label(), "node": conv.name, "op_type": conv.op_type,
            "shape": conv.summary(), "conv": asdict(conv), "macs": conv.macs,
            "bytes": conv.bytes, "byte_counts": conv.byte_counts,
            "popcount_bound_s": pop_s, "memory_bound_s": mem_s, "bound_s": bound,
            "bound_kind": "popcount" if pop_s >= mem_s else "memory", **timing,
            "fraction_of_bound": bound / timing["min_s"],
            "fraction_of_bound_median": bound / timing["median_s"],
            "macs_per_s": conv.macs / timing["min_s"]}


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("macs", "bytes", "popcount_bound_s", "memory_bound_s", "bound_s", "min_s", "median_s")
    t: dict[str, Any] = {k: sum(r[k] for r in rows) for k in keys}
    t["fraction_of_bound"] = t["bound_s"] / t["min_s"]
    t["fraction_of_bound_median"] = t["bound_s"] / t["median_s"]
    t["layers_below_target"] = [r["name"] for r in rows if r["fraction_of_bound"] < TARGET]
    return t


def print_table(rows: list[dict[str, Any]], total: dict[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_footer=False)
    for col, just in (("#", "right"), ("layer", "left"), ("shape", "left"), ("MMAC", "right"),
                      ("MB", "right"), ("popcnt ms", "right"), ("mem ms", "right"),
                      ("bound", "left"), ("min ms", "right"), ("median ms", "right"),
                      ("% of bound", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]

    def cells(r: dict[str, Any]) -> list[str]:
        pct = 100 * r["fraction_of_bound"]
        mark = f"[bold red]{pct:.1f}% <50[/]" if r["fraction_of_bound"] < TARGET else f"{pct:.1f}%"
        return [f"{r['macs'] / 1e6:.0f}", f"{r['bytes'] / 1e6:.2f}",
                f"{r['popcount_bound_s'] * 1e3:.3f}", f"{r['memory_bound_s'] * 1e3:.3f}",
                r.get("bound_kind", ""), f"{r['min_s'] * 1e3:.3f}", f"{r['median_s'] * 1e3:.3f}",
                mark]

    for i, r in enumerate(rows):
        table.add_row(str(i), r["name"], r["shape"], *cells(r))
    table.add_section()
    below = len(total["layers_below_target"])
    table.add_row("", "all", f"{len(rows)} layers, {below} below 50%", *cells(total))
    Console(width=170).print(table)


def measured_peak(path: str) -> tuple[float | None, str]:
    """The path's GEMM kernel with its operands in L1 (``bench_core --peak``), in MAC/s per core,
    or None and why not."""
    peak, source = bench_core_value(["--peak", "--kernel", path], f"peak {path}")
    return peak, (f"{source} (GEMM kernel, operands in L1)" if peak is not None else source)


def with_peak(rows: list[dict[str, Any]], peak_macs_per_s: float) -> dict[str, Any]:
    """Each row's fraction of its bound when the popcount bound uses ``peak_macs_per_s``, and the
    model's; added to the rows in place."""
    bound_sum = min_sum = 0.0
    below = []
    for r in rows:
        bound = max(r["macs"] / peak_macs_per_s, r["memory_bound_s"])
        r["fraction_of_bound_measured_peak"] = bound / r["min_s"]
        bound_sum, min_sum = bound_sum + bound, min_sum + r["min_s"]
        if bound / r["min_s"] < TARGET:
            below.append(r["name"])
    return {"fraction_of_bound": bound_sum / min_sum, "layers_below_target": below}


def pick_layers(nodes: list[tuple[onnx.NodeProto, ConvNode]], only: list[str] | None
                ) -> list[tuple[onnx.NodeProto, ConvNode]]:
    """The nodes whose name contains any of ``only`` (all of them when it is empty or None);
    ValueError naming an example when none does."""
    if not only:
        return nodes
    picked = [(n, c) for n, c in nodes if any(t in c.name for t in only)]
    if not picked:
        raise ValueError(f"no binary conv has a name containing {' or '.join(map(repr, only))}; "
                         f"names look like {nodes[0][1].name!r}" if nodes else "no binary convs")
    return picked


# ---------------------------------------------------------------- main

def time_layers(graph: onnx.ModelProto, nodes: list[tuple[onnx.NodeProto, ConvNode]],
                threads: int, seconds: float, rounds: int, peak_macs_per_s: float,
                bandwidth: float) -> list[dict[str, Any]]:
    """One session at a time (a second live pool would steal the measured one's core)."""
    rng = np.random.default_rng(0)
    rows = []
    for node, conv in nodes:
        x_shape = conv.io_inputs[node.input[0]][0]
        x = rng.standard_normal(x_shape).astype(np.float32)
        model, feeds = one_node_model(node, graph, conv, rng)
        runner = Runner(model, threads, True, x, feeds)
        expected = conv.io_outputs[node.output[0]][0]
        if runner.output().shape != expected:
            raise RuntimeError(f"{conv.name}: output {runner.output().shape}, expected {expected}")
        timing = measure(runner, seconds, rounds)
        del runner
        rows.append(roofline(conv, timing, peak_macs_per_s, bandwidth))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="rep-reactnet-a", help="zoo model (rep-reactnet-a, reactnet-a)")
    ap.add_argument("--threads", type=int, default=1, help="ORT intra-op threads (and copy threads)")
    ap.add_argument("--kernel", help=f"force a kernel path ({KERNEL_ENV})")
    ap.add_argument("--rounds", type=int, default=15, help="timed rounds per layer")
    ap.add_argument("--seconds", type=float, default=0.4, help="time per layer")
    ap.add_argument("--bw-rounds", type=int, default=5, help="rounds of each bandwidth loop")
    ap.add_argument("--onnx", help="use this export of --model instead of exporting now")
    ap.add_argument("--graph", choices=("session", "exported"), default="session",
                    help="time each node as rep-deploy's sessions run it (linked: sign bits from "
                         "the block before, pooled pairs; the default) or as the file has it")
    ap.add_argument("--only", action="append", metavar="TEXT",
                    help="time only the layers whose name contains TEXT (repeatable; e.g. "
                         "--only binary_pw --only Concat): for iterating on a few layers, under "
                         "perf too; the model's totals then cover those layers only")
    ap.add_argument("--json", default="out/bench_roofline.json", help="where to write results")
    ap.add_argument("--plot", metavar="FILE.png",
                    help="also draw the roofline and each layer's %% of its bound (roofline_plot.py; "
                         "matplotlib); the same from a saved JSON: roofline_plot.py RESULT.json")
    args = ap.parse_args(argv)
    if args.plot and importlib.util.find_spec("matplotlib") is None:  # say so before a long run
        print("error: --plot needs matplotlib: pip install matplotlib (or bash scripts/setup.sh)", file=sys.stderr)
        return 2
    if args.kernel:
        os.environ[KERNEL_ENV] = args.kernel
    path = kernel_path()  # asked of the library: the path its dispatch picks here
    peak = PEAK_MACS_PER_CYCLE.get(path, float("nan"))
    ghz, ghz_source = nominal_ghz()
    load_before = os.getloadavg()

    if args.onnx:
        model = onnx.load(args.onnx)
    else:
        with tempfile.TemporaryDirectory() as d:
            model = export(args.model, d)
    peak_macs_per_s = peak * ghz * 1e9 * args.threads
    graph, nodes = binary_nodes(model, session=args.graph == "session")
    try:
        nodes = pick_layers(nodes, args.only)
    except ValueError as e:
        print(f"error: {args.model}: {e}", file=sys.stderr)
        return 2

    bw = measure_bandwidth(args.threads, args.bw_rounds)
    copy_bw = bw["copy_bytes_per_s"]
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, LLC {bw['llc_bytes'] / 2**20:.0f} MiB; "
          f"clock {ghz:.2f} GHz ({ghz_source}); ORT {ort.__version__}")
    print(f"kernel path {path} (popcount peak {peak:.0f} MAC/cycle/core); {args.threads} thread(s)")
    print(f"STREAM-like, {args.threads} thread(s), arrays of {bw['array_bytes'] / 2**20:.0f} MiB, "
          f"best of {args.bw_rounds}: copy {copy_bw / 1e9:.1f} GB/s (the memory bound's), add "
          f"{bw['add_bytes_per_s'] / 1e9:.1f}, read (sum) {bw['read_bytes_per_s'] / 1e9:.1f}; "
          f"copy of 16 MiB arrays (in cache) {bw['copy_16MiB_bytes_per_s'] / 1e9:.1f} GB/s")
    rows = time_layers(graph, nodes, args.threads, args.seconds, args.rounds, peak_macs_per_s,
                       copy_bw)
    total = totals(rows)
    load_after = os.getloadavg()

    title = (f"{args.model} @224 ({args.graph} graph): {path}, {args.threads} thread(s), "
             f"{ghz:.2f} GHz, copy "
             f"{copy_bw / 1e9:.1f} GB/s; min of {args.rounds} rounds; "
             f"load avg {load_before[0]:.1f} -> {load_after[0]:.1f}")
    print_table(rows, total, title)
    meas, meas_source = measured_peak(path)
    if meas is not None:
        total["measured_peak"] = with_peak(rows, meas * args.threads)
        m = total["measured_peak"]
        print(f"measured popcount peak ({meas_source}): {meas:.3g} MAC/s per core, "
              f"{meas / (peak * ghz * 1e9):.0%} of the nominal {peak:.0f} MAC/cycle x {ghz:.2f} GHz; "
              f"with it as the popcount bound: {m['fraction_of_bound']:.1%} of the bound over the model, "
              f"{len(m['layers_below_target'])} of {len(rows)} layers below 50%")
    else:
        print(f"measured popcount peak: not available ({meas_source})")
    out = {"model": args.model, "input_shape": INPUT_SHAPE, "kernel_path": path,
           "kernel_env": os.environ.get(KERNEL_ENV), "machine": cpu_name(), "ghz_nominal": ghz,
           "ghz_source": ghz_source, "peak_macs_per_cycle_per_core": peak,
           "measured_peak_macs_per_s_per_core": meas, "measured_peak_source": meas_source,
           "graph": args.graph, "only": args.only, "threads": args.threads, "rounds": args.rounds,
           "seconds_per_layer": args.seconds,
           "statistic_for_fraction": "min", "target_fraction": TARGET, "bandwidth": bw,
           "ort_version": ort.__version__, "load_average_before": load_before,
           "load_average_after": load_after, "layers": rows, "totals": total}
    pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")
    if args.plot:
        import roofline_plot

        print(f"wrote {roofline_plot.plot(out, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
