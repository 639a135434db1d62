"""Measured latency of an exported model, attributed per ONNX node and per category.

    from rep_deploy.profile.latency import profile_latency
    prof = profile_latency("out/model.onnx", backend="ort-native", threads=1, runs=10)
    prof.wall.median_ms                      # whole sess.run, time.perf_counter
    prof.per_node[0].name, .median_ms        # slowest ONNX node first
    prof.by_category["binary_conv"]          # {"nodes", "median_ms", "share", "covered_ms"}
    json.dumps(prof.to_dict())

    rep, base = profile_interleaved(["rep/model.onnx", "base/model.onnx"], backend="ort-native")
    paired_ratio(rep, base)                  # median over rounds of rep / base wall time

Two models compared on a shared, noisy machine must be measured side by side:
:func:`profile_interleaved` opens every session first, then runs the models in rounds (one run of
each per round, the order alternating between rounds), so a burst of load hits both.
:func:`paired_ratio` takes the median of the per-round ratios, which cancels load that changes
between rounds.

Backends:

* ``ort-native``: ONNX Runtime with the rep-deploy custom-op library registered
  (:func:`rep_deploy.runtime.make_session_options`); the kernel path is recorded.
* ``ort``: stock ONNX Runtime. A custom export runs its ops' ONNX function bodies; a
  ``--ops standard`` file runs as is.
* ``tflite-lce``: a ``.tflite`` in LCE's interpreter. Its Python interpreter has no per-op profiler,
  so only the whole-model wall time is measured (``per_node`` is empty, ``note`` says so).

How the ONNX Runtime numbers are obtained: the session is created with ``enable_profiling`` and a
``profile_file_prefix`` inside a temporary directory (removed afterwards, so no file is left
behind). ``end_profiling()`` writes a Chrome-trace JSON list of events: ``cat == "Session"`` events
named ``model_loading_uri``, ``session_initialization`` and, per ``run()``, ``model_run`` (with a
nested ``SequentialExecutor::Execute``); ``cat == "Node"`` events named ``<node name>_kernel_time``
with ``dur`` in microseconds and ``args.op_name``. A node event belongs to the ``model_run`` whose
``[ts, ts + dur]`` contains its ``ts``; the first ``warmup`` runs are dropped.

ORT's node names differ from the file's in three ways, all mapped back to the ONNX node here:

* graph optimizations rename nodes they rewrite: the NCHWc transformer calls a ``Conv`` or pool
  after its output (``/conv1/Conv_output_0_nchwc``): mapped by the longest ONNX node name that is a
  prefix of the ORT name (followed by ``_``, ``/`` or ``:``);
* nodes ORT adds itself (``ReorderInput`` / ``ReorderOutput`` of the NCHWc layout, copies) match no
  ONNX node: they are reported under their ORT name, category ``runtime-added:<op>``;
* stock ORT inlines a custom op's function body and names the inlined nodes ``<OpType>_<index>``
  (the bodies' nodes are unnamed; a named body node ``n`` of function ``F`` becomes
  ``_inlfunc_F_n``), which says nothing about the caller. For the ``ort`` backend every call site
  therefore gets its own copy of the function, ``F__site<k>``, whose body nodes are named
  ``<caller>::<i>_<OpType>`` (nested calls likewise); ORT inlines that copy as it would the
  original (same nodes, same optimizations), and the ``<caller>::`` inside the name maps the time
  back to the caller.

Categories come from :func:`rep_deploy.profile.onnx_ops.count_onnx_ops` (``per_node``, joined by
node name); a node it folded into another entry (the ``Add`` of a BN's ``Mul -> Add``) counts for
that entry. A fused node (``BinaryConvBlock``: sign, binary conv, BN, tile, RPReLU, residual add)
is one kernel, so its time cannot be split: it is reported under its own name and main kind
(``median_ms``, ``share``: these add up to the whole) and, in ``covered_ms``, under every kind it
covers (``NodeLatency.covers``; the ``covered_ms`` of all kinds add up to more than the whole).
With the ``ort-native`` backend a block and the 1x1 block after it run as one
``BinaryConvBlockPair`` (:mod:`rep_deploy.block_pairs`), named after the first: its time is the
pair's, reported under the first block, and the second is absorbed (not unprofiled).
Per node the time of one run is the sum of its events (a fused op: one kernel; a function
body: all inlined nodes); the report gives the median, min and max over the timed runs. A
category's time is the sum of its nodes' medians, its share relative to the sum over all nodes.

Profiling adds a little overhead per kernel; the per-node sum is below the wall time because the
executor's own work between kernels (and Python's ``run`` call) is in no node.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["BACKENDS", "LatencyProfile", "NodeLatency", "Timing", "paired_ratio", "profile_interleaved",
           "profile_latency"]

BACKENDS: tuple[str, ...] = ("ort-native", "ort", "tflite-lce")
RUNTIME_ADDED = "runtime-added"
_KERNEL_SUFFIX = "_kernel_time"
_SEPARATORS = ("_", "/", ":")
_NCHWC = "_nchwc"


@dataclass(frozen=True)
class Timing:
    """Median / min / max of per-run times, in milliseconds, over ``runs`` timed runs."""

    median_ms: float
    min_ms: float
    max_ms: float
    runs: int

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        ms = [s * 1e3 for s in seconds]
        return cls(statistics.median(ms), min(ms), max(ms), len(ms))


@dataclass(frozen=True)
class NodeLatency:
    """The measured time of one ONNX node (or one node ORT added itself)."""

    name: str  # the ONNX node's name (count_onnx_ops's), or ORT's name for a runtime-added node
    op_type: str  # count_onnx_ops's op type (e.g. "Mul+Add"), else the ONNX / ORT op type
    category: str  # a count_onnx_ops category, or "runtime-added:<op>"
    ort_nodes: tuple[str, ...]  # the ORT node names whose kernel times were summed here
    median_ms: float
    min_ms: float
    max_ms: float
    share: float  # of the sum of all nodes' medians
    covers: tuple[str, ...] = ()  # every cost kind the node computes (a fused node: several)


@dataclass
class LatencyProfile:
    """Measured latency of one model on one backend (see the module docstring)."""

    path: str
    backend: str
    threads: int
    runs: int
    warmup: int
    input_shape: tuple[int, ...]
    wall: Timing  # time.perf_counter around each run() call
    wall_runs_ms: list[float] = field(default_factory=list)  # each timed run, in order (for pairing)
    kernel_path: str | None = None  # ort-native: the native kernels' instruction-set path
    onnxruntime: str | None = None  # ORT's version (ORT backends)
    profiled_run: Timing | None = None  # ORT's own "model_run" event durations
    per_node: list[NodeLatency] = field(default_factory=list)  # slowest first
    by_category: dict[str, dict[str, float]] = field(default_factory=dict)
    unprofiled_nodes: list[str] = field(default_factory=list)  # ONNX nodes with no kernel event
    note: str | None = None

    @property
    def node_total_ms(self) -> float:
        """Sum of the per-node medians (the profiled kernel time of a typical run)."""
        return sum(n.median_ms for n in self.per_node)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict of everything here (plus ``node_total_ms``)."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        for n in d["per_node"]:
            n["ort_nodes"] = list(n["ort_nodes"])
            n["covers"] = list(n["covers"])
        d["node_total_ms"] = self.node_total_ms
        return d

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **kwargs)


def profile_latency(path: str | os.PathLike[str], *, backend: str, threads: int = 1, runs: int = 10,
                    warmup: int = 2, seed: int = 0) -> LatencyProfile:
    """Time ``runs`` runs (after ``warmup`` untimed ones) of one random-normal image.

    Args:
        path: an exported ``model.onnx`` (ORT backends) or ``.tflite`` (``tflite-lce``).
        backend: ``"ort-native"``, ``"ort"`` or ``"tflite-lce"``.
        threads: intra-op threads (>= 1).
        runs: timed runs (>= 1).
        warmup: untimed runs first (>= 0); their profile events are dropped.
        seed: seed of the random normal input.

    Returns:
        A :class:`LatencyProfile`.

    Raises:
        ValueError: an unknown backend, bad counts, or a file of the wrong kind for the backend.
        FileNotFoundError: no such file; ``ort-native`` without the built custom-op library (the
            runtime's message says how to build it).
        rep_deploy.onnx_file.ModelFileError: not a readable ONNX model.
        TFLiteDependencyError: ``tflite-lce`` without TensorFlow / LCE installed.
    """
    return profile_interleaved([path], backend=backend, threads=threads, runs=runs, warmup=warmup,
                               seed=seed)[0]


def profile_interleaved(paths: list[str | os.PathLike[str]], *, backend: str, threads: int = 1,
                        runs: int = 10, warmup: int = 2, seed: int = 0) -> list[LatencyProfile]:
    """Profile several models on one backend side by side: all sessions are created first, then
    each round runs every model once (``warmup`` untimed rounds, then ``runs`` timed ones), in
    the given order on even rounds and reversed on odd ones. Arguments as :func:`profile_latency`;
    one :class:`LatencyProfile` per path, in order.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose {', '.join(BACKENDS)}")
    for what, value, low in (("threads", threads, 1), ("runs", runs, 1), ("warmup", warmup, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{what} must be an integer >= {low}, got {value!r}")
    if not paths:
        raise ValueError("no model to profile")
    runners: list[_Runner] = []
    try:
        for p in paths:
            p = os.fspath(p)
            if backend == "tflite-lce":
                runners.append(_TfliteRunner(p, threads, seed))
            elif p.endswith(".tflite"):
                raise ValueError(f"{p} is a .tflite file: profile it with backend 'tflite-lce'")
            else:
                runners.append(_OrtRunner(p, backend, threads, seed))
        for i in range(warmup + runs):
            for r in (runners if i % 2 == 0 else runners[::-1]):
                r.run(timed=i >= warmup)
        return [r.finish(runs, warmup) for r in runners]
    finally:
        for r in runners:
            r.close()


def paired_ratio(a: LatencyProfile, b: LatencyProfile) -> float:
    """Median over rounds of ``a``'s wall time / ``b``'s, for two profiles from one
    :func:`profile_interleaved` call (the per-round pairing cancels load that varies between
    rounds)."""
    if len(a.wall_runs_ms) != len(b.wall_runs_ms) or not a.wall_runs_ms:
        raise ValueError("paired_ratio needs two profiles of the same interleaved run")
    return statistics.median(x / y for x, y in zip(a.wall_runs_ms, b.wall_runs_ms))


class _Runner:
    """One open model on one backend: ``run`` once, then ``finish`` into a LatencyProfile."""

    def __init__(self) -> None:
        self.wall: list[float] = []  # seconds, timed runs only

    def _timed(self, fn: Any, timed: bool) -> None:
        t0 = time.perf_counter()
        fn()
        if timed:
            self.wall.append(time.perf_counter() - t0)

    def run(self, timed: bool) -> None:
        raise NotImplementedError

    def finish(self, runs: int, warmup: int) -> LatencyProfile:
        raise NotImplementedError

    def close(self) -> None:
        """Release the session and any temporary files (idempotent)."""


# -- ONNX Runtime -------------------------------------------------------------------------------

class _OrtRunner(_Runner):
    def __init__(self, path: str, backend: str, threads: int, seed: int) -> None:
        super().__init__()
        import onnxruntime as ort

        from rep_deploy.onnx_file import read_onnx

        self.path, self.backend, self.threads = path, backend, threads
        self.model = read_onnx(path)  # FileNotFoundError / ModelFileError
        self.kernel = None
        if backend == "ort-native":
            from rep_deploy.runtime import kernel_path, make_session_options, session_model

            so = make_session_options(threads)  # FileNotFoundError if the library is not built
            self.kernel = kernel_path()
            source: str | bytes = session_model(self.model, path)  # as rep-deploy's sessions run it
        else:
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            source = (_name_function_bodies(self.model).SerializeToString() if self.model.functions
                      else path)
        so.inter_op_num_threads = 1
        so.enable_profiling = True
        # ORT writes its trace on end_profiling(); keep it out of the working directory
        self.tmp: str | None = tempfile.mkdtemp(prefix="rep_deploy_profile_")
        so.profile_file_prefix = os.path.join(self.tmp, "ort_profile")
        try:
            self.sess = ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])
        except Exception as e:  # noqa: BLE001 - ORT raises its own types; keep the first line
            self.close()
            raise RuntimeError(f"ONNX Runtime cannot load {path}: {str(e).splitlines()[0]}") from None
        inp = self.sess.get_inputs()
        if len(inp) != 1:
            self.close()
            raise ValueError(f"{path} has {len(inp)} inputs; profiling expects one image batch")
        shape = tuple(d if isinstance(d, int) else 1 for d in inp[0].shape)
        self.shape = (1, *shape[1:]) if shape else shape
        self.feed = {inp[0].name: np.random.default_rng(seed).standard_normal(self.shape).astype(np.float32)}
        self.out = [self.sess.get_outputs()[0].name]
        self.ort_version = ort.__version__

    def run(self, timed: bool) -> None:
        self._timed(lambda: self.sess.run(self.out, self.feed), timed)

    def close(self) -> None:
        self.sess = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def finish(self, runs: int, warmup: int) -> LatencyProfile:
        with open(self.sess.end_profiling()) as f:
            events = json.load(f)
        self.close()
        return _ort_profile(self, events, runs, warmup)


def _ort_profile(src: _OrtRunner, events: list[dict[str, Any]], runs: int, warmup: int) -> LatencyProfile:
    """Attribute one session's profile events to ONNX nodes and categories (module docstring)."""
    from rep_deploy.block_pairs import PAIR
    from rep_deploy.profile.onnx_ops import count_onnx_ops

    model, path, backend = src.model, src.path, src.backend
    run_events = sorted((e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
                        key=lambda e: e["ts"])
    if len(run_events) != warmup + runs:
        raise RuntimeError(f"ONNX Runtime's profile holds {len(run_events)} model_run events for "
                           f"{warmup + runs} runs; cannot tell the runs apart")
    timed = run_events[warmup:]
    starts = [e["ts"] for e in timed]
    ends = [e["ts"] + e["dur"] for e in timed]

    # per ORT node name, per timed run: microseconds; and its op_name
    per_run: dict[str, list[float]] = {}
    ort_op: dict[str, str] = {}
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith(_KERNEL_SUFFIX):
            continue
        ts = e["ts"]
        run = next((r for r in range(runs) if starts[r] <= ts <= ends[r]), None)
        if run is None:
            continue  # a warmup run
        name = e["name"][: -len(_KERNEL_SUFFIX)]
        per_run.setdefault(name, [0.0] * runs)[run] += float(e["dur"])
        ort_op[name] = str(e.get("args", {}).get("op_name", "?"))

    counts = count_onnx_ops(model)
    info = {n.name: (n.op_type, n.category) for n in counts.per_node}
    covers = {n.name: _covers(n) for n in counts.per_node}
    owner = _owners(model, info)  # ONNX node name -> count_onnx_ops entry name
    onnx_names = sorted((n.name for n in model.graph.node if n.name), key=len, reverse=True)
    op_types = {n.name: n.op_type for n in model.graph.node}

    producer = {o: n for n in model.graph.node for o in n.output}
    groups: dict[str, dict[str, Any]] = {}
    for ort_name, times in per_run.items():
        onnx_name = _match(ort_name, onnx_names, producer)
        absorbed: list[str] = []
        if onnx_name is None:
            key, op_type, category = ort_name, ort_op[ort_name], f"{RUNTIME_ADDED}:{ort_op[ort_name]}"
        else:
            if ort_op[ort_name] == PAIR:  # rep-deploy's fused block pair: P's name; C absorbed
                absorbed = _pair_second(onnx_name, model)
            elif "::" not in ort_name:  # ORT's own fusions: the kernel is the first node's op
                onnx_name, absorbed = _fused_head(onnx_name, ort_op[ort_name], model, producer)
            key = owner.get(onnx_name, onnx_name)
            op_type, category = info.get(key, (op_types.get(key, ort_op[ort_name]), "other"))
        g = groups.setdefault(key, {"op_type": op_type, "category": category, "ort": [],
                                    "times": [0.0] * runs, "absorbed": []})
        g["ort"].append(ort_name)
        g["absorbed"] += [owner.get(a, a) for a in absorbed]
        g["times"] = [a + b for a, b in zip(g["times"], times)]
    for key, g in groups.items():  # a kind ORT fused into a node counts as covered by it
        extra = [info[a][1] for a in g["absorbed"] if a in info]
        base = covers.get(key, (g["category"],))
        covers[key] = base + tuple(k for k in dict.fromkeys(extra) if k not in base)

    medians = {k: statistics.median(g["times"]) / 1e3 for k, g in groups.items()}
    total = sum(medians.values()) or 1.0
    per_node = [NodeLatency(k, g["op_type"], g["category"], tuple(sorted(g["ort"])), medians[k],
                            min(g["times"]) / 1e3, max(g["times"]) / 1e3, medians[k] / total,
                            covers.get(k, (g["category"],)))
                for k, g in groups.items()]
    per_node.sort(key=lambda n: (-n.median_ms, n.name))
    by_cat: dict[str, dict[str, float]] = {}
    for n in per_node:
        c = by_cat.setdefault(n.category, {"nodes": 0, "median_ms": 0.0, "share": 0.0, "covered_ms": 0.0})
        c["nodes"] += 1
        c["median_ms"] += n.median_ms
        c["share"] += n.share
    for n in per_node:  # a fused node also counts under each kind it covers
        for kind in n.covers:
            by_cat.setdefault(kind, {"nodes": 0, "median_ms": 0.0, "share": 0.0, "covered_ms": 0.0})
            by_cat[kind]["covered_ms"] += n.median_ms
    by_cat = dict(sorted(by_cat.items(), key=lambda kv: (-kv[1]["median_ms"], -kv[1]["covered_ms"])))
    seen = set(groups) | {a for g in groups.values() for a in g["absorbed"]}
    unprofiled = [n.name for n in counts.per_node if n.name not in seen]
    return LatencyProfile(
        path=path, backend=backend, threads=src.threads, runs=runs, warmup=warmup, input_shape=src.shape,
        wall=Timing.of(src.wall), wall_runs_ms=[w * 1e3 for w in src.wall], kernel_path=src.kernel,
        onnxruntime=src.ort_version,
        profiled_run=Timing.of([e["dur"] / 1e6 for e in timed]), per_node=per_node,
        by_category=by_cat, unprofiled_nodes=unprofiled,
        note=None if backend == "ort-native" else
        "stock ONNX Runtime: custom ops run their ONNX function bodies (inlined; their nodes' times "
        "are summed into the calling node)" if model.functions else None)


_COVER_FIELDS: tuple[tuple[str, str], ...] = (
    ("conv_macs", "conv"), ("fc_macs", "fc"), ("binary_macs", "binary_conv"), ("bn_elements", "bn"),
    ("folded_bn_elements", "bn"), ("tile_elements", "tile"), ("pool_elements", "pooling"),
    ("elementwise_elements", "elementwise"))


def _covers(cost: Any) -> tuple[str, ...]:
    """The cost kinds a counted node computes: its main category first, then each kind whose count
    it fills (a BinaryConvBlock: binary_conv, bn, tile, elementwise)."""
    kinds = [cost.category]
    for attr, kind in _COVER_FIELDS:
        if getattr(cost, attr) and kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


def _match(ort_name: str, onnx_names: list[str], producer: dict[str, Any]) -> str | None:
    """The ONNX node an ORT node name comes from: equal; a layout-transformed node, which ORT
    names ``<its output tensor>_nchwc``; or the longest node name that prefixes it."""
    if ort_name.endswith(_NCHWC) and ort_name[: -len(_NCHWC)] in producer:
        node = producer[ort_name[: -len(_NCHWC)]]
        if node.name:
            return node.name
    for name in onnx_names:  # longest first
        if ort_name == name or (ort_name.startswith(name) and ort_name[len(name)] in _SEPARATORS):
            return name
    if "::" in ort_name:  # an inlined function-body node: ORT prefixes "_inlfunc_<function>_"
        for name in onnx_names:
            if name + "::" in ort_name:
                return name
    return None


def _pair_second(name: str, model: Any) -> list[str]:
    """A BinaryConvBlockPair (rep_deploy.block_pairs) keeps its first block's name; its second
    block is the one node of the file that reads the first one's output."""
    first = next((n for n in model.graph.node if n.name == name), None)
    readers = [n.name for n in model.graph.node if first is not None and first.output[0] in n.input]
    return readers if len(readers) == 1 else []


def _fused_head(name: str, ort_op: str, model: Any, producer: dict[str, Any]) -> tuple[str, list[str]]:
    """ORT's graph fusions (Conv + BatchNormalization, Conv + Add, ...) keep the *last* node's
    output, so the fused kernel's name points at the BN while its op is the Conv. Walk back from
    ``name`` along first inputs, at most two nodes, to the node whose op type is the kernel's: that
    node owns the time, and the nodes walked over are what it absorbed."""
    nodes = {n.name: n for n in model.graph.node if n.name}
    node, walked = nodes.get(name), []
    for _ in range(2):
        if node is None or node.op_type == ort_op or not node.input:
            break
        walked.append(node.name)
        node = producer.get(node.input[0])
    if node is not None and node.op_type == ort_op and node.name and walked:
        return node.name, walked
    return name, []


def _owners(model: Any, info: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Nodes that count_onnx_ops merged into another entry (a BN's ``Add`` into its ``Mul``):
    node name -> the entry's name, found through the node's input producers."""
    producer = {o: n.name for n in model.graph.node for o in n.output}
    owners = {}
    for n in model.graph.node:
        if n.name in info or not n.name:
            continue
        for i in n.input:
            p = producer.get(i)
            if p in info and "+" in info[p][0]:
                owners[n.name] = p
                break
    return owners


def _name_function_bodies(model: Any) -> Any:
    """A copy of ``model`` in which every call of a local function calls its own copy of it, whose
    body nodes are named ``<caller>::<i>_<OpType>`` (nested calls: ``<caller>::<i>_<Op>::<j>_...``).

    Stock ORT inlines local functions and names the (unnamed) body nodes ``<OpType>_<index>``;
    with these names the inlined nodes' profile events carry the calling node's name.
    """
    import onnx

    model = copy.deepcopy(model)
    funcs = {(f.domain, f.name): f for f in model.functions}
    clones: list[onnx.FunctionProto] = []

    def specialize(node: onnx.NodeProto, prefix: str) -> None:
        f = copy.deepcopy(funcs[(node.domain, node.op_type)])
        f.name = f"{f.name}__site{len(clones)}"
        clones.append(f)
        node.op_type = f.name
        for i, body in enumerate(f.node):
            body.name = f"{prefix}::{i}_{body.op_type}"
            if (body.domain, body.op_type) in funcs:
                specialize(body, body.name)

    for node in model.graph.node:
        if (node.domain, node.op_type) in funcs:
            specialize(node, node.name or node.op_type)
    del model.functions[:]
    model.functions.extend(clones)
    return model


# -- TFLite / LCE -------------------------------------------------------------------------------

class _TfliteRunner(_Runner):
    def __init__(self, path: str, threads: int, seed: int) -> None:
        super().__init__()
        if not path.endswith(".tflite"):
            raise ValueError(f"backend 'tflite-lce' runs a .tflite file (convert with `rep-deploy tflite`), "
                             f"not {path}")
        from rep_deploy.session import InferenceSession

        self.path, self.threads = path, threads
        # FileNotFoundError / ValueError / TFLiteDependencyError
        self.sess = InferenceSession(path, threads)
        self.shape = (1, *(d if isinstance(d, int) else 1 for d in self.sess.input_shape[1:]))
        self.x = np.random.default_rng(seed).standard_normal(self.shape).astype(np.float32)

    def run(self, timed: bool) -> None:
        self._timed(lambda: self.sess.run(self.x), timed)

    def finish(self, runs: int, warmup: int) -> LatencyProfile:
        return LatencyProfile(
            path=self.path, backend="tflite-lce", threads=self.threads, runs=runs, warmup=warmup,
            input_shape=self.shape, wall=Timing.of(self.wall), wall_runs_ms=[w * 1e3 for w in self.wall],
            note="LCE's Python interpreter has no per-op profiler: whole-model wall time only "
                 "(per-op times: LCE's lce_benchmark_model --enable_op_profiling=true)")
