"""aarch64 instructions executed per kernel phase, layer by layer, under qemu: the NEON path's cost
on a machine without an aarch64 CPU.

Timings under qemu mean nothing (it translates every instruction; a NEON CNT is a helper call), so
this counts instead: ``bench_model`` of an aarch64 build (``runtimes/ort/cross_aarch64.sh`` builds
it, in ``build/ort-aarch64/core/``) runs one layer of (Rep-)ReActNet-A under
``qemu-aarch64-static -d in_asm,exec,nochain``; every translated block is logged once with its
instructions and its function's symbol, every execution of a block once, so the instructions each
function executed are exact and the same on every run and machine. The log (gigabytes for the
112x112 layers) streams through a FIFO into this script and is never written to disk.

Counts are per call of the layer (``bench_model --reps 1`` calls it twice: one warm-up, one timed;
the totals are halved), grouped by phase: ``gemm`` (bgemm*), ``epilogue`` (write_tile*, write_row*, write_pooled_rows*: the output
transform and the next op's sign bits), ``finish`` (finish_tile*), ``sign`` (sign_row*, sign_rows,
cut_sign_rows, the sign task), ``pack`` (transpose_bits*, pack_activation_rows*), ``other`` (the
rest of rep_deploy::core: conv_tile with the pooled residual and the padding correction, the task
drivers). Set-up (weight packing, bench_model's random data) and libc are left out.

Instruction counts are not time: a CNT, an ADDV or a cache miss costs more than an EOR, and the
vector units differ per core. Use this to see what a NEON change removes, and a real device
(``rep-deploy bench``) to see what it gains.

    .venv/bin/python benchmarks/neon_instructions.py old=/tmp/old-aarch64 new=build/ort-aarch64 \\
        [--model rep|base] [--layers 0,5,12] [--json out/neon_instructions.json] [--pool-y new]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

PHASES = ("gemm", "epilogue", "finish", "sign", "pack", "other")
KINDS = ("all", "simd", "mem")
LIBRARY = ("std::", "__gnu_cxx::")  # library templates instantiated over the core's types
LAYERS = 26  # bench_model's list for ReActNet-A (13 blocks, two convs each)


def phase(symbol: str) -> str | None:
    """The phase of a demangled function name, or None when it is set-up or outside the core."""
    name = symbol.replace("(anonymous namespace)", "").split("(")[0]
    if "rep_deploy::core::" not in name or name.startswith(LIBRARY) or "pack_weights" in name:
        return None  # outside the core, or set-up (weights are packed once per kernel)
    if "bgemm" in name:
        return "gemm"
    if "write_tile" in name or "write_pooled_rows" in name or "write_row" in name:
        return "epilogue"
    if "finish_tile" in name:
        return "finish"
    if re.search(r"sign_row|sign_rows|cut_sign_rows|sign_task", name):
        return "sign"
    if re.search(r"transpose_bits|pack_activation_rows|pack_task|fill_pad|pad_row", name):
        return "pack"
    return "other"


MEM = re.compile(r"(ld|st|prfm)")
FP_REGISTER = re.compile(r"\b[vqdshb]\d+\b")


def classify(instruction: str) -> str:
    """"mem" (loads, stores, prefetches), "simd" (NEON and scalar FP: the vector pipes) or
    "scalar" (integer ALU, branches) for one disassembled instruction ("mnemonic operands")."""
    mnemonic, _, operands = instruction.strip().partition(" ")
    if MEM.match(mnemonic):
        return "mem"
    return "simd" if FP_REGISTER.search(operands) else "scalar"


def demangle(names: list[str]) -> list[str]:
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True)
    return out.stdout.split("\n")[: len(names)]


def count_layer(build: Path, model: str, layer: int,
                pool_y: bool = False) -> tuple[str, dict[str, dict[str, float]]]:
    """(bench_model's shape for the layer, {phase: {"all", "simd", "mem": instructions per call}})
    for one layer; ``pool_y``: as a linked session runs it (bench_model --pool-y)."""
    exe = build / "core" / "bench_model"
    with tempfile.TemporaryDirectory(prefix="neon_instructions_") as tmp:
        fifo = os.path.join(tmp, "log")
        os.mkfifo(fifo)
        cmd = ["qemu-aarch64-static", "-L", "/usr/aarch64-linux-gnu", "-d", "in_asm,exec,nochain",
               "-D", fifo, str(exe), "--model", model, "--reps", "1", "--layer", str(layer),
               "--kernel", "neon"] + (["--pool-y"] if pool_y else [])
        errors = open(os.path.join(tmp, "stderr"), "w+b")  # a file: a full pipe would stall qemu
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)
        out: list[bytes] = []
        reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
        reader.start()
        # guest pc of a block -> (symbol, [instructions, simd, mem])
        blocks: dict[int, tuple[str, list[int]]] = {}
        per_symbol: dict[str, list[int]] = {}
        symbol, block = None, None
        with open(fifo, "rb") as log:
            for line in log:
                if line.startswith(b"Trace"):  # "Trace 0: host [flags/guest pc/...]"
                    hit = blocks.get(int(line.split(b"[", 1)[1].split(b"/", 2)[1], 16))
                    if hit:
                        total = per_symbol.setdefault(hit[0], [0, 0, 0])
                        for i, v in enumerate(hit[1]):
                            total[i] += v
                elif line.startswith(b"IN:"):
                    symbol, block = line[3:].strip().decode() or "?", None
                elif symbol is not None and line.startswith(b"0x"):
                    if block is None:  # "0xADDR:  hex  mnemonic operands"
                        block = [0, 0, 0]
                        blocks[int(line.split(b":", 1)[0], 16)] = (symbol, block)
                    kind = classify(line.split(None, 2)[2].decode(errors="replace"))
                    block[0] += 1
                    block[1] += kind == "simd"
                    block[2] += kind == "mem"
                elif not line.strip():
                    symbol = None
        code = proc.wait()
        errors.seek(0)
        err = errors.read().decode(errors="replace")
        errors.close()
        if code != 0:
            raise SystemExit(f"neon_instructions: {exe} failed under qemu: {err.strip()[-300:]}")
        reader.join()
    text = out[0].decode() if out else ""
    lines = [ln for ln in text.splitlines() if ln.startswith("neon")]
    if not lines:
        raise SystemExit(f"neon_instructions: {exe} printed no neon layer (is it an aarch64 build?)")
    shape = re.sub(r"\s+", " ", lines[0].split("  ", 1)[1].split(" ms")[0].rsplit(" ", 1)[0]).strip()
    phases = {ph: dict.fromkeys(KINDS, 0.0) for ph in PHASES}
    names = list(per_symbol)
    for raw, pretty in zip(names, demangle(names)):
        ph = phase(pretty)
        if ph:  # two calls: warm-up and the timed one
            for kind, v in zip(KINDS, per_symbol[raw]):
                phases[ph][kind] += v / 2
    return shape, phases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("builds", nargs="+", metavar="[LABEL=]BUILD_DIR",
                    help="aarch64 build directories (runtimes/ort/cross_aarch64.sh's BUILD_DIR)")
    ap.add_argument("--model", choices=("rep", "base"), default="rep",
                    help="rep-reactnet-a (default) or reactnet-a")
    ap.add_argument("--layers", default=None, help=f"comma-separated layer indices (0..{LAYERS - 1}; default all)")
    ap.add_argument("--json", type=Path, default=None, help="also write the counts here")
    ap.add_argument("--pool-y", action="append", default=[], metavar="LABEL",
                    help="run this build's layers as a linked session does (bench_model --pool-y: the "
                         "layers before the stride-2 blocks write their pooled residual; builds "
                         "from session 10 on); repeatable")
    args = ap.parse_args(argv)
    if shutil.which("qemu-aarch64-static") is None:
        ap.error("qemu-aarch64-static not found: install Debian's qemu-user-static "
                 "(scripts/setup.sh --test-tools)")
    builds: list[tuple[str, Path]] = []
    for spec in args.builds:
        label, _, path = spec.rpartition("=")
        build = Path(path)
        if not (build / "core" / "bench_model").is_file():
            ap.error(f"{build}: no core/bench_model (build it with BUILD_DIR={build} "
                     "runtimes/ort/cross_aarch64.sh)")
        builds.append((label or build.name, build))
    unknown = set(args.pool_y) - {label for label, _ in builds}
    if unknown:
        ap.error(f"--pool-y {', '.join(sorted(unknown))}: not a build label")
    try:
        layers = [int(v) for v in args.layers.split(",")] if args.layers else list(range(LAYERS))
    except ValueError:
        ap.error(f"--layers {args.layers!r}: expected comma-separated integers")
    if any(not 0 <= i < LAYERS for i in layers):
        ap.error(f"--layers: indices must be in 0..{LAYERS - 1}")

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    rows: list[dict] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("counting under qemu", total=len(layers) * len(builds))
        for layer in layers:
            row: dict = {"layer": layer, "builds": {}}
            for label, build in builds:
                progress.update(task, description=f"layer {layer}, {label}")
                row["shape"], row["builds"][label] = count_layer(build, args.model, layer,
                                                                 label in args.pool_y)
                progress.advance(task)
            rows.append(row)
    totals = {label: {ph: {k: sum(r["builds"][label][ph][k] for r in rows) for k in KINDS} for ph in PHASES}
              for label, _ in builds}

    labels = [label for label, _ in builds]
    first, last = labels[0], labels[-1]

    def fmt(v: float) -> str:
        return f"{v / 1e6:.2f}M"

    def whole(d: dict, kind: str = "all") -> float:
        return sum(d[ph][kind] for ph in PHASES)

    table = Table(title=f"aarch64 instructions per call, {args.model} model, neon path, under qemu "
                        "(counts, not time)")
    table.add_column("#", justify="right")
    table.add_column("layer")
    for label in labels:
        table.add_column(f"{label}: all (simd, mem)", justify="right")
    for ph in PHASES:
        table.add_column(ph + (f" {first}->{last}" if len(labels) > 1 else ""), justify="right")
    if len(labels) > 1:
        table.add_column(f"{last}/{first}", justify="right")
    for row in rows + [None]:
        data = totals if row is None else row["builds"]
        cells = ["", f"all {len(rows)} layers"] if row is None else [str(row["layer"]), row["shape"]]
        for label in labels:
            d = data[label]
            cells.append(f"{fmt(whole(d))} ({fmt(whole(d, 'simd'))}, {fmt(whole(d, 'mem'))})")
        for ph in PHASES:
            a, b = data[first][ph]["all"], data[last][ph]["all"]
            cells.append(f"{fmt(a)}->{fmt(b)}" if len(labels) > 1 else fmt(a))
        if len(labels) > 1:
            a, b = whole(data[first]), whole(data[last])
            cells.append(f"{b / a:.3f}" if a else "-")
        table.add_row(*cells, end_section=row is None)
    Console(width=max(200, shutil.get_terminal_size().columns)).print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": args.model, "unit": "aarch64 instructions per call",
                                         "builds": {lb: str(b) for lb, b in builds}, "layers": rows,
                                         "totals": totals}, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
