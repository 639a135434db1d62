"""``rep-deploy profile``: the command line over :mod:`rep_deploy.profile` (OPs by cost kind, the
paper's tables, measured latency per kind, the plot) and the tables it prints.

Registered on the main group by ``rep_deploy/cli.py``; the heavy imports (onnx, ONNX Runtime,
matplotlib) happen inside the command, so ``rep-deploy --help`` stays fast.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from rep_deploy.console import ReportedError, console

__all__ = ["profile"]


@click.command("profile", context_settings={"max_content_width": 100})
@click.argument("model_path", metavar="[MODEL.onnx]", required=False, type=click.Path(dir_okay=False))
@click.option("--compare", "base_path", type=click.Path(dir_okay=False), metavar="BASE.onnx",
              help="A second export (the base of a Rep model): its OPs side by side and the overhead.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, allow_dash=True),
              help="Also write the numbers as JSON to this file ('-' for stdout instead of tables).")
@click.option("--paper", is_flag=True,
              help="Print the RepBNN paper's Tables 1 and 2 next to rep-deploy's counts of the zoo "
                   "models they describe (no MODEL needed).")
@click.option("--backend", "backends", multiple=True,
              type=click.Choice(["ort-native", "ort", "tflite-lce"]),
              help="Also measure latency on this backend (repeatable): ort-native (rep-deploy's "
                   "kernels), ort (stock ONNX Runtime: function bodies or --ops standard), tflite-lce "
                   "(the .tflite of the same name beside MODEL.onnx, from `rep-deploy tflite`; whole-model time only). Time per node and per kind "
                   "comes from ONNX Runtime's own profiler.")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="Threads for latency.")
@click.option("--runs", type=click.IntRange(1), default=10, show_default=True,
              help="Timed runs per model and backend (after 2 warm-up runs).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), metavar="FILE.png",
              help="Also draw OPs and time per kind, base vs Rep, as a PNG (matplotlib).")
def profile(model_path: str | None, base_path: str | None, json_path: str | None, paper: bool,
            backends: tuple[str, ...], threads: int, runs: int, plot_path: str | None) -> None:
    """OPs of an exported model as the RepBNN paper counts them, by cost kind.

    OPs = FLOPs + BOPs/64; BOPs = binary MACs + the binary convs' pre-tile output elements (the
    paper's Table 1); BatchNorm 2 FLOPs per element. Any export form counts the same. With
    --compare BASE.onnx, the Rep model's overhead in OPs without BN, with the literal BN count,
    and with the paper's shared-normalization BN figure (base BN x (1/(2 beta) + beta/2)).

    \b
    Examples:
      rep-deploy profile out/rep/model.onnx --compare out/base/model.onnx --backend ort-native
      rep-deploy profile --paper
      rep-deploy profile out/rep/model.onnx --compare out/base/model.onnx \
          --backend ort-native --backend ort --runs 20 --plot overhead.png --json overhead.json

    Latency: on each backend both models' sessions are opened first, then run in alternating
    rounds; the overhead is the median of the per-round time ratios, so load on a shared machine
    hits both alike. A fused node (BinaryConvBlock) is one kernel: its time counts under its main
    kind, and the "incl. fused" column shows each kind with the fused nodes that cover it.
    """
    from rep_deploy.onnx_file import ModelFileError

    if model_path is None and not paper:
        raise ReportedError("give MODEL.onnx (and optionally --compare BASE.onnx), or --paper")
    if plot_path:
        if model_path is None:
            raise ReportedError("--plot draws a model's OPs and latency: give MODEL.onnx")
        if not plot_path.lower().endswith(".png"):
            raise ReportedError(f"--plot writes a PNG: name the file *.png, not {plot_path}")
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise ReportedError("--plot needs matplotlib: pip install matplotlib (or bash scripts/setup.sh)")
    doc: dict = {}
    out = console(stdout=True)
    try:
        if model_path:
            from rep_deploy.profile import count_onnx_ops
            from rep_deploy.profile.report import ops_summary, overhead

            counts = {model_path: count_onnx_ops(model_path)}
            if base_path:
                counts[base_path] = count_onnx_ops(base_path)
                a, b = counts[model_path], counts[base_path]
                if a.input_shape != b.input_shape:
                    raise ReportedError(f"{model_path} takes {list(a.input_shape)} and {base_path} "
                                        f"{list(b.input_shape)}: compare exports of the same input size")
            doc["models"] = {p: ops_summary(c) for p, c in counts.items()}
            if base_path:
                doc["overhead"] = overhead(counts[model_path], counts[base_path], counts[model_path].beta)
            if backends:
                from rep_deploy.profile.latency import paired_ratio, profile_interleaved

                with console().status("measuring latency") as status:
                    doc["latency"], doc["latency_overhead"] = {}, {}
                    for backend in backends:
                        status.update(f"{backend}: {' and '.join(counts)} ({runs} rounds)")
                        profs = profile_interleaved([_file_for_backend(p, backend) for p in counts],
                                                    backend=backend, threads=threads, runs=runs)
                        doc["latency"][backend] = {p: prof.to_dict() for p, prof in zip(counts, profs)}
                        if base_path:
                            doc["latency_overhead"][backend] = {
                                "paired_ratio": paired_ratio(*profs),
                                "wall_median_ratio": profs[0].wall.median_ms / profs[1].wall.median_ms,
                                "rounds": runs, "threads": threads}
                    if not doc["latency_overhead"]:
                        del doc["latency_overhead"]
        if paper:
            from rep_deploy.profile.paper import reproduce

            doc["paper"] = reproduce()
        png = None
        if plot_path:
            from rep_deploy.profile.plot import render_png

            png = render_png(doc)
    except (ModelFileError, FileNotFoundError, ValueError, ImportError, RuntimeError) as e:
        raise ReportedError(str(e)) from None
    from rep_deploy.fileio import write_bytes_atomic

    if png is not None:
        write_bytes_atomic(plot_path, png)
    if json_path:
        text = json.dumps(doc, indent=2, default=str) + "\n"
        if json_path == "-":
            click.echo(text, nl=False)
            return
        write_bytes_atomic(json_path, text.encode())
    _print_ops(out, doc)
    if png is not None:
        out.print(f"wrote {plot_path}")


def _file_for_backend(path: str, backend: str) -> str:
    """tflite-lce times the .tflite that `rep-deploy tflite` wrote beside the .onnx (same name)."""
    if backend != "tflite-lce" or path.endswith(".tflite"):
        return path
    lite = str(Path(path).with_suffix(".tflite"))
    if not Path(lite).is_file():
        raise ValueError(f"{lite} not found: tflite-lce times the .tflite beside the .onnx; make it with "
                         f"rep-deploy tflite {path} -o {lite}")
    return lite


def _print_ops(c, doc: dict) -> None:
    from rich.table import Table

    sci = lambda v: f"{v:.4g}" if isinstance(v, float) and not float(v).is_integer() else f"{int(v):,}"  # noqa: E731
    models = doc.get("models", {})
    if models:
        t = Table(title="OPs by cost kind (OPs = FLOPs + BOPs/64; BN 2 per element)", title_justify="left")
        t.add_column("kind")
        for path in models:
            t.add_column(f"{Path(path).parent.name}/{Path(path).name}\ncount", justify="right")
            t.add_column("OPs (share)", justify="right")
        kinds = [r["kind"] for r in next(iter(models.values()))["rows"]]
        for i, kind in enumerate(kinds):
            cells = []
            for m in models.values():
                r = m["rows"][i]
                cells += [f"{sci(r['count'])} {r['unit']}", f"{sci(r['ops'])} ({r['share']:.1%})"]
            t.add_row(kind, *cells)
        t.add_row("[bold]OPs without / with BN[/bold]", *sum(
            ([f"beta={m['beta']}", f"{m['ops']:.4g} / {m['ops_with_bn']:.4g}"] for m in models.values()), []))
        c.print(t)
    if "overhead" in doc:
        o = doc["overhead"]
        c.print(f"Rep overhead in OPs: without BN {o['ops_without_bn']:+.2%}; with BN, literal count "
                f"{o['ops_with_bn_literal']:+.2%} (BN {o['bn_flops_literal']:,} FLOPs)"
                + (f"; with BN, the paper's shared normalization {o['ops_with_bn_paper']:+.2%} (BN "
                   f"{o['bn_flops_paper']:,.0f} FLOPs)" if "ops_with_bn_paper" in o else ""))
        c.print("The paper charges a Rep model's widened BatchNorm as if shared by the beta copies; "
                "a runtime normalizes every stored element, which is the literal count.")
    for backend, per_model in doc.get("latency", {}).items():
        t = Table(title=f"latency on {backend}: median ms per kind (share of profiled node time)",
                  title_justify="left")
        t.add_column("kind")
        kinds: list[str] = []
        for prof in per_model.values():
            kinds += [k for k in prof["by_category"] if k not in kinds]
        fused = any(v.get("covered_ms", v["median_ms"]) != v["median_ms"]
                    for p in per_model.values() for v in p["by_category"].values())
        for path, prof in per_model.items():
            t.add_column(f"{Path(path).parent.name}/{Path(path).name}", justify="right")
            if fused:
                t.add_column("incl. fused", justify="right", style="dim")
        cell = lambda v: f"{v['median_ms']:.3f} ({v['share']:.0%})" if v["nodes"] else ""  # noqa: E731
        for kind in kinds:
            cells = []
            for p in per_model.values():
                v = p["by_category"].get(kind)
                cells.append(cell(v) if v else "")
                if fused:
                    cells.append(f"{v['covered_ms']:.3f}" if v and v.get("covered_ms") else "")
            t.add_row(kind, *cells)
        t.add_row("[bold]whole run (wall)[/bold]", *sum(
            ([f"{p['wall']['median_ms']:.3f} ({p['wall']['min_ms']:.3f}-{p['wall']['max_ms']:.3f})"]
             + ([""] if fused else []) for p in per_model.values()), []))
        c.print(t)
        notes = {p["note"] for p in per_model.values() if p.get("note")}
        o = doc.get("latency_overhead", {}).get(backend)
        if o:
            c.print(f"{backend}: measured Rep overhead [bold]{o['paired_ratio'] - 1:+.1%}[/bold] (median of "
                    f"{o['rounds']} interleaved rounds' time ratios; ratio of wall medians "
                    f"{o['wall_median_ratio'] - 1:+.1%}; {o['threads']} thread(s))")
        for note in notes:
            c.print(f"note: {note}")
    if "paper" in doc:
        p = doc["paper"]
        t = Table(title="RepBNN Table 1 (ReActNet-A, beta=2): paper vs rep-deploy", title_justify="left")
        for col in ("model", "quantity", "paper", "ours"):
            t.add_column(col, justify="left" if col in ("model", "quantity") else "right")
        for model, rows in p["table1"].items():
            for q, v in rows.items():
                t.add_row(model, q, "" if v["paper"] is None else f"{v['paper']:.4g}", sci(v["ours"]))
        c.print(t)
        t = Table(title="RepBNN Table 2 (ResNet-20, CIFAR-10, OPs): paper vs rep-deploy", title_justify="left")
        for col in ("column", "paper", "ours"):
            t.add_column(col, justify="left" if col == "column" else "right")
        for col, v in p["table2"].items():
            t.add_row(col, f"{v['paper']:,}", sci(v["ours"]))
        c.print(t)
        c.print("Rep-ResNet-20 OPs by beta (Table 3 varies beta; the paper lists accuracy only): " + ", ".join(
            f"beta={b}: {v['ops']:,.0f}" for b, v in p["beta_sweep"].items()))
