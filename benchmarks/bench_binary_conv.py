"""Per-layer latency: our BinaryConv kernel vs the equivalent float Conv in stock ONNX Runtime.

For every distinct binary convolution of a zoo model at 224x224 (default ReActNet-A), two one-node
ONNX models are timed side by side, at 1 and 2 intra-op threads:

* ``BinaryConv`` (packed weights, zero padding after binarization as the model uses) with the
  rep_deploy custom-op library;
* ``Conv`` with the same float +-1 weights in stock ORT (MLAS), the op a non-binary deployment runs.

Timing: ORT IOBinding (no per-run allocation or copies), warm-up, then timed rounds. Only one
session exists at a time: ORT's intra-op workers spin for a while after each parallel section, so a
second live session with its own pool would steal the core the measured one needs. The table
reports the fastest round (``--stat min``, the default: on a shared machine the other rounds
measure the neighbours); ``--stat median`` reports medians. Both are in the JSON. Also reported:
binary MACs per cycle at the CPU's nominal clock (``machine_clock.nominal_ghz``, its source printed;
on guests whose ``cpu MHz`` is the TSC rate, the clock ``bench_core --clock`` measures) and that as a
fraction of the popcount peak of the kernel path in use, an instruction-throughput bound:

* ``avx512`` (AVX-512BW, no VPOPCNTDQ): 8 words of 512 bits cost 8 XOR + 14 VPTERNLOG + 7 for one
  nibble-lookup popcount = 29 ops on the two 512-bit ports -> 2 * 512 * 8 / 29 = 282 MAC/cycle;
* ``avx512vpopcnt``: one VPOPCNTQ per 512 bits, one per cycle -> 512 MAC/cycle;
* ``avx2``: 8 words of 256 bits cost 8 XOR + 7 * 5 (CSA) + 8 = 51 ops on three ports -> 120;
* ``portable``: one 64-bit POPCNT per cycle -> 64; ``neon``: CNT on two 128-bit pipes -> 256.

The peaks are per core; at t threads the table compares with t times the peak.

Usage:  python benchmarks/bench_binary_conv.py [--model reactnet-a] [--threads 1 2]
            [--kernel avx512] [--json out/bench_binary_conv.json] [--seconds 0.4] [--rounds 15]
            [--stat min|median] [--only-3x3]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import rep_deploy
from rep_deploy import ops
from rep_deploy.nn.bconv import ScaledBinaryConv2d
from rep_deploy.ops import bitpack
from rep_deploy.export.provenance import cpu_name
from rep_deploy.runtime import KERNEL_ENV, kernel_path, make_session_options

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from machine_clock import nominal_ghz  # noqa: E402  (benchmarks/ is the script's folder)

PEAK_MACS_PER_CYCLE = {"avx512": 2 * 512 * 8 / 29, "avx512vpopcnt": 512.0, "avx2": 3 * 256 * 8 / 51,
                       "portable": 64.0, "neon": 256.0}


@dataclass(frozen=True)
class Layer:
    """One distinct BinaryConv of the model (count = how many times it occurs)."""

    cin: int
    h: int
    w: int
    cout: int
    k: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int, int, int]
    dilation: tuple[int, int]
    group: int
    pad_value: int
    ho: int
    wo: int

    @property
    def macs(self) -> int:
        return self.cout * (self.cin // self.group) * self.k[0] * self.k[1] * self.ho * self.wo

    def label(self) -> str:
        return (f"{self.k[0]}x{self.k[1]}/s{self.stride[0]} {self.cin}->{self.cout} "
                f"@{self.h}x{self.w}")


def model_layers(name: str, size: int) -> list[tuple[Layer, int]]:
    """Distinct binary convs of a zoo model with their input sizes, found by a traced forward."""
    import torch

    model = rep_deploy.create_model(name).eval()
    found: dict[Layer, int] = {}

    def hook(mod: ScaledBinaryConv2d, inp: tuple[Any, ...], _out: Any) -> None:
        _, c, h, w = inp[0].shape
        wshape = mod.weight.shape
        ho = (h + 2 * mod.padding[0] - mod.dilation[0] * (wshape[2] - 1) - 1) // mod.stride[0] + 1
        wo = (w + 2 * mod.padding[1] - mod.dilation[1] * (wshape[3] - 1) - 1) // mod.stride[1] + 1
        layer = Layer(c, h, w, wshape[0], (wshape[2], wshape[3]), tuple(mod.stride), mod.pads,
                      tuple(mod.dilation), mod.groups, mod.pad_value, ho, wo)
        found[layer] = found.get(layer, 0) + 1

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, ScaledBinaryConv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in handles:
        h.remove()
    return list(found.items())


def conv_models(layer: Layer, rng: np.random.Generator) -> tuple[bytes, bytes]:
    """(BinaryConv model, float Conv model) computing the same convolution."""
    wf = np.where(rng.standard_normal((layer.cout, layer.cin // layer.group, *layer.k)) >= 0,
                  1.0, -1.0).astype(np.float32)
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, layer.cin, layer.h, layer.w])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    common = dict(kernel_shape=list(layer.k), strides=list(layer.stride), pads=list(layer.pads),
                  dilations=list(layer.dilation), group=layer.group)
    bnode = ops.make_node("BinaryConv", ["x", "W", "scale"], ["y"], pad_value=layer.pad_value,
                          **common)
    bgraph = helper.make_graph([bnode], "binary", [x_info], [y_info],
                               [numpy_helper.from_array(bitpack.pack_weights(wf), "W"),
                                numpy_helper.from_array(np.full(layer.cout, 0.5, np.float32), "scale")])
    bmodel = helper.make_model(bgraph, opset_imports=ops.opset_imports(),
                               functions=ops.function_protos({"BinaryConv"}))
    fgraph = helper.make_graph([helper.make_node("Conv", ["x", "W"], ["y"], **common)], "float",
                               [x_info], [y_info], [numpy_helper.from_array(wf, "W")])
    fmodel = helper.make_model(fgraph, opset_imports=[helper.make_opsetid("", ops.ONNX_OPSET)])
    for m in (bmodel, fmodel):
        m.ir_version = ops.IR_VERSION
    return bmodel.SerializeToString(), fmodel.SerializeToString()


class Runner:
    """One session with its input and output bound once (IOBinding): a run is just the kernel."""

    def __init__(self, model: bytes, threads: int, custom: bool, x: np.ndarray,
                 more: dict[str, np.ndarray] | None = None) -> None:
        """``x``: the graph input ``x``; ``more``: other graph inputs by name (a linked block's
        ``x_signs``). Every graph output is allocated once and bound; the first is ``output()``."""
        so = make_session_options(threads) if custom else ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        self.binding = self.sess.io_binding()
        for name, value in {"x": x, **(more or {})}.items():
            self.binding.bind_cpu_input(name, value)
        names = [o.name for o in self.sess.get_outputs()]
        for name in names:
            self.binding.bind_output(name, "cpu")
        self.sess.run_with_iobinding(self.binding)  # allocates the outputs once
        for name, value in zip(names, self.binding.get_outputs()):
            self.binding.bind_ortvalue_output(name, value)

    def output(self) -> np.ndarray:
        return self.binding.get_outputs()[0].numpy()

    def time(self, reps: int) -> float:
        t = time.perf_counter()
        for _ in range(reps):
            self.sess.run_with_iobinding(self.binding)
        return (time.perf_counter() - t) / reps


def measure(runner: Runner, seconds: float, rounds: int) -> dict[str, float]:
    """Warm-up, then ``rounds`` timed rounds of ~seconds/rounds; median and min seconds per run."""
    runner.time(3)
    reps = max(1, int(seconds / rounds / max(runner.time(3), 1e-6)))
    samples = [runner.time(reps) for _ in range(rounds)]
    return {"median_s": statistics.median(samples), "min_s": min(samples), "reps": reps * rounds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="reactnet-a", help="zoo model whose binary convs to time")
    ap.add_argument("--size", type=int, default=224, help="input resolution")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--kernel", help=f"force a kernel path ({KERNEL_ENV})")
    ap.add_argument("--seconds", type=float, default=0.4, help="time per layer and config")
    ap.add_argument("--rounds", type=int, default=15,
                    help="timed rounds per layer and config (more, shorter rounds find quiet moments)")
    ap.add_argument("--json", default="out/bench_binary_conv.json", help="where to write results")
    ap.add_argument("--only-3x3", action="store_true", help="skip the 1x1 layers")
    ap.add_argument("--stat", choices=("min", "median"), default="min",
                    help="statistic of the timing rounds shown in the table")
    args = ap.parse_args(argv)
    if args.kernel:
        os.environ[KERNEL_ENV] = args.kernel
    path = kernel_path()  # asked of the library: the path its dispatch picks here
    ghz, ghz_source = nominal_ghz()
    peak = PEAK_MACS_PER_CYCLE.get(path, float("nan"))
    layers = model_layers(args.model, args.size)
    if args.only_3x3:
        layers = [(l, n) for l, n in layers if l.k != (1, 1)]
    rng = np.random.default_rng(0)
    print(f"{args.model} @{args.size}: {len(layers)} distinct binary convs; kernel path {path}; "
          f"ORT {ort.__version__}; {ghz:.2f} GHz ({ghz_source}); popcount peak {peak:.0f} MAC/cycle; "
          f"times: {args.stat} of rounds; load average {os.getloadavg()[0]:.1f}")
    head = f"{'layer':<26}{'n':>3}{'MMAC':>7}"
    for t in args.threads:
        head += f" | {t}T float ms  binary ms  speedup  MAC/cyc  %peak"
    if len(args.threads) > 1:
        head += f" | bin {args.threads[-1]}T/{args.threads[0]}T"
    print(head)
    print("-" * len(head))
    results: list[dict[str, Any]] = []
    totals = {t: {"float": 0.0, "binary": 0.0} for t in args.threads}
    for layer, count in layers:
        bmodel, fmodel = conv_models(layer, rng)
        x = rng.standard_normal((1, layer.cin, layer.h, layer.w)).astype(np.float32)
        row: dict[str, Any] = {"layer": asdict(layer), "count": count, "macs": layer.macs,
                               "threads": {}}
        line = f"{layer.label():<26}{count:>3}{layer.macs / 1e6:>7.0f}"
        xb = np.where(x >= 0, 1.0, -1.0).astype(np.float32)
        for t in args.threads:
            m: dict[str, dict[str, float]] = {}
            runner = Runner(bmodel, t, True, x)
            got = runner.output().copy()
            m["binary"] = measure(runner, args.seconds, args.rounds)
            # the float conv of sign(x): binary output = 0.5 * this (zero padding, exact integers)
            runner = Runner(fmodel, t, False, xb)
            if not np.array_equal(got, runner.output() * 0.5):
                print(f"warning: {layer.label()}: binary and float outputs differ", file=sys.stderr)
            m["float"] = measure(runner, args.seconds, args.rounds)
            del runner
            fb, bb = m["float"][f"{args.stat}_s"], m["binary"][f"{args.stat}_s"]
            mpc = layer.macs / (bb * ghz * 1e9)  # all threads together, per clock cycle
            frac = mpc / (peak * t)  # the peak is per core
            row["threads"][str(t)] = {**{k: v for k, v in m.items()}, "speedup": fb / bb,
                                      "binary_macs_per_cycle": mpc, "fraction_of_peak": frac}
            totals[t]["float"] += fb * count
            totals[t]["binary"] += bb * count
            line += (f" | {fb * 1e3:>12.3f} {bb * 1e3:>10.3f} {fb / bb:>8.2f} {mpc:>8.1f} "
                     f"{100 * frac:>5.0f}%")
        if len(args.threads) > 1:
            t0, t1 = str(args.threads[0]), str(args.threads[-1])
            scale = (row["threads"][t0]["binary"][f"{args.stat}_s"]
                     / row["threads"][t1]["binary"][f"{args.stat}_s"])
            row["binary_thread_scaling"] = scale
            line += f" | {scale:>10.2f}"
        print(line)
        results.append(row)
    print("-" * len(head))
    for t in args.threads:
        f, b = totals[t]["float"], totals[t]["binary"]
        print(f"all binary convs, {t} thread(s): float {f * 1e3:.2f} ms, binary {b * 1e3:.2f} ms, "
              f"speedup {f / b:.2f}x")
    out = {"statistic": args.stat, "model": args.model, "size": args.size, "kernel_path": path, "ort_version": ort.__version__,
           "cpu": cpu_name(), "ghz_nominal": ghz, "ghz_source": ghz_source,
           "peak_macs_per_cycle": peak, "threads": args.threads, "layers": results,
           "totals_s": {str(t): v for t, v in totals.items()},
           "load_average": os.getloadavg()}
    pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.json).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
