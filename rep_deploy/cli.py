"""The ``rep-deploy`` command line: each command is a thin shell over one library function."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rep_deploy import __version__
from rep_deploy.console import ReportedError
from rep_deploy.console import console as _console


def _parse_shape(_ctx, _param, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        dims = tuple(int(v) for v in value.replace("x", ",").split(","))
    except ValueError:
        raise click.BadParameter(f"expected N,C,H,W integers, got {value!r}") from None
    if len(dims) != 4:
        raise click.BadParameter(f"expected 4 sizes N,C,H,W, got {len(dims)} ({value!r})")
    return dims


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="rep-deploy")
def main() -> None:
    """Deploy binary neural networks (RepBNNs and their base BNNs) from PyTorch to edge devices.

    \b
    Typical flow:
      rep-deploy zoo                                     # the models rep-deploy knows
      rep-deploy export rep-reactnet-a --checkpoint model_best.pth.tar -o out/
      rep-deploy info out/model.onnx                     # what the exported file holds
      rep-deploy run out/model.onnx --input batch.npy    # inference with the native kernels
      rep-deploy tflite out/model.onnx -o out/model.tflite   # Larq Compute Engine .tflite, verified

    \b
    Try it on the shipped demo (a Rep ResNet-20 trained on 8x8 digits):
      rep-deploy export rep-resnet20-digits --pretrained -o out/demo

    Run `rep-deploy COMMAND --help` for each command's options.
    """


# ----------------------------------------------------------------------------------------- zoo
@main.command()
@click.option("--beta", type=click.IntRange(1), default=None, help="RepTran factor for Rep models.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def zoo(beta: int | None, as_json: bool) -> None:
    """List the model zoo with parameters, binary weights and OPs.

    OPs follow the RepBNN paper: OPs = FLOPs + BOPs/64, BatchNorm excluded; one image at the model's
    native input size. Rep models use their default beta (2) unless --beta is given.
    """
    import torch

    from rep_deploy.profile import count_ops
    from rep_deploy.registry import create_model, get_model_info, list_models

    rows = []
    for name in list_models():
        info = get_model_info(name)
        b = beta if (beta is not None and info.rep_of is not None) else None
        try:
            with torch.device("meta"):  # shapes only: counting costs no arithmetic
                c = count_ops(create_model(name, beta=b), info.input_size)
        except ValueError as e:  # e.g. a beta that does not divide this model's channels
            rows.append({"name": name, "error": str(e).splitlines()[0]})
            continue
        rows.append({"name": name, "family": info.family, "beta": b or info.beta,
                     "input": "x".join(map(str, info.input_size)), "classes": info.num_classes,
                     "params": c.params, "binary_weights": c.binary_params, "bops": c.binary_macs,
                     "flops": c.fp_macs, "ops": c.ops(), "ops_with_bn": c.ops(with_bn=True)})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    t = Table(title=f"rep-deploy model zoo ({len(rows)} models)", title_justify="left")
    t.add_column("model", no_wrap=True)
    for col in ("beta", "input", "params", "binary w.", "BOPs", "FLOPs", "OPs"):
        t.add_column(col, justify="right", no_wrap=True)
    sci = lambda v: f"{v:.3e}".replace("e+0", "e").replace("e+", "e")  # noqa: E731
    for r in rows:
        if "error" in r:
            t.add_row(r["name"], "", "", f"[red]{r['error']}[/red]", "", "", "", "")
            continue
        t.add_row(r["name"], str(r["beta"]), r["input"], f"{r['params'] / 1e6:.2f}M",
                  f"{r['binary_weights'] / 1e6:.2f}M", sci(r["bops"]), sci(r["flops"]), sci(r["ops"]))
    from rich.console import Console

    Console(width=None if sys.stdout.isatty() else 120).print(t)


# -------------------------------------------------------------------------------------- export
@main.command()
@click.argument("model")
@click.option("-o", "--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="Directory for model.onnx and report.json (created if missing).")
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="Trained weights: Rep_AdamBNN / ReActNet / AdamBNN .pth.tar or a rep-deploy .pt. "
                   "Loaded with weights_only=True and strictly (every mismatch is listed). From "
                   "two-step training give the step-2 checkpoint: step-1 files have the same keys "
                   "and shapes, so they load without complaint, but their weights were trained "
                   "real-valued and binarizing them gives a different network.")
@click.option("--pretrained", is_flag=True,
              help="Use the checkpoint shipped with rep-deploy (the digits demo models).")
@click.option("--beta", type=click.IntRange(1), help="RepTran factor for Rep models (default 2).")
@click.option("--input-shape", callback=_parse_shape, metavar="N,C,H,W",
              help="Verification batch shape; the file keeps a dynamic batch axis. "
                   "Default: 8 images at the model's native size.")
@click.option("--ops", type=click.Choice(["custom", "standard"]), default="custom", show_default=True,
              help="custom: BinaryConv/Repeat ops with bit-packed weights (needs rep-deploy's "
                   "runtime for speed; runs anywhere via function bodies). standard: plain ONNX "
                   "(Conv with +-alpha weights) for runtimes without custom ops.")
@click.option("--fuse/--no-fuse", default=True, show_default=True,
              help="Fuse BinaryConv + Repeat + BatchNorm (+ residual Add) into one op (custom only).")
@click.option("--tolerance", type=click.FloatRange(0, min_open=True), default=0.1, show_default=True,
              help="Max |ONNX - PyTorch| allowed, relative to max |logit| (float rounding can flip "
                   "a sign input lying within ~1e-6 of 0). Top-1 must agree on every image.")
@click.option("--reference-images", type=click.IntRange(0), default=1, show_default=True,
              help="Images also run through onnx.reference (slow, independent of ONNX Runtime); 0 skips.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random verification batch (and of random weights without a checkpoint).")
@click.option("--force", is_flag=True,
              help="Replace model.onnx / report.json already in OUTPUT (otherwise an error).")
def export(model: str, output_dir: str, checkpoint: str | None, pretrained: bool, beta: int | None,
           input_shape: tuple[int, int, int, int] | None, ops: str, fuse: bool, tolerance: float,
           reference_images: int, seed: int, force: bool) -> None:
    """Export MODEL (a name from `rep-deploy zoo`) to ONNX and verify it against PyTorch.

    Writes OUTPUT/model.onnx and OUTPUT/report.json only if the exported model agrees with
    PyTorch (top-1 on every verification image, logits within --tolerance); otherwise nothing is
    written and the exit code is 1. Without --checkpoint the weights are random: fine for trying
    the pipeline, not for deployment (the summary warns every time). The summary also warns about
    what verification cannot see: latent weights exactly 0 (torch.sign training code maps them to
    0, a packed bit deploys +1), counted per layer in report.json. To export your own nn.Module,
    use the Python API: rep_deploy.export_model(module, out, info=rep_deploy.ModelInfo(...)).

    \b
    Examples:
      rep-deploy export rep-resnet20-digits --pretrained -o out/demo
      rep-deploy export rep-reactnet-a --checkpoint model_best.pth.tar -o out/rep
      rep-deploy export reactnet-a --ops standard -o out/baseline
    """
    from rep_deploy.checkpoint import CheckpointError
    from rep_deploy.export import ExportError, ExportOptions, export_model
    from rep_deploy.registry import UnknownModelError
    from rep_deploy.reptran import RepTranError
    from rep_deploy.validate import VerificationError

    if pretrained and checkpoint:
        raise ReportedError("give either --pretrained or --checkpoint, not both")
    if pretrained:
        from rep_deploy.models import demo

        if model not in demo.MODELS:
            raise ReportedError(f"no shipped weights for {model}; shipped: {', '.join(demo.MODELS)} "
                                f"(use --checkpoint PATH for other models)")
        checkpoint = str(demo.checkpoint_path(model))
    if ops == "standard" and fuse:
        fuse = False  # fused ops are custom ops
    console = _console()
    options = ExportOptions(ops=ops, fuse=fuse, input_shape=input_shape, tolerance=tolerance,  # type: ignore[arg-type]
                            reference_images=reference_images, seed=seed)
    try:
        with console.status("starting") as status:
            result = export_model(model, output_dir, checkpoint=checkpoint, beta=beta,
                                  options=options, overwrite=force,
                                  progress=lambda m: status.update(m))
    except VerificationError as e:
        _print_verification(console, e.report.to_dict())
        raise ReportedError(f"{e}; nothing was written") from None
    except (ExportError, CheckpointError, UnknownModelError, RepTranError) as e:
        raise ReportedError(str(e)) from None
    except FileNotFoundError as e:
        raise ReportedError(f"{e.filename}: no such file") from None
    _print_summary(console, result.report, result.model_path, result.report_path, result.replaced)


def _print_verification(console, v: dict) -> None:
    from rich.table import Table

    t = Table(title=f"verification on {v['input_source']}", title_justify="left")
    for col in ("backend", "images", "top-1 agree", "max |diff|", "max rel diff", "accuracy", "result"):
        t.add_column(col, justify="left" if col in ("backend", "result") else "right")
    if v.get("torch_accuracy") is not None:
        t.add_row("PyTorch (reference)", str(v["images"]), "", "", "", f"{v['torch_accuracy']:.2%}", "")
    for b in v["backends"]:
        ok = "[green]pass[/green]" if not b["failures"] else "[red]" + "; ".join(b["failures"]) + "[/red]"
        acc = "" if b["accuracy"] is None else f"{b['accuracy']:.2%}"
        t.add_row(b["backend"], str(b["images"]), f"{b['top1_agreement']:.2%}", f"{b['max_abs_diff']:.3g}",
                  f"{b['max_rel_diff']:.3g}", acc, ok)
    console.print(t)


def _print_fidelity(console, r: dict) -> None:
    """sign(0) counts side by side (inputs on the verification batch, latent weights per layer),
    then every warning, in yellow, each on its own paragraph."""
    f, v = r["fidelity"], r["verification"]
    console.print(f"sign(0) [PyTorch 0, deployed +1]: binarization inputs exactly 0: "
                  f"{f['sign_zero_inputs']} of {v['binarized_values']:,} (within 1e-5 of 0, where "
                  f"float rounding may flip them: {f['sign_near_zero_inputs']}); latent binary "
                  f"weights exactly 0: {f['zero_binary_weights']}"
                  + (" in " + ", ".join(f"{row['layer']} ({row['zeros']})" for row in f["zero_weight_layers"])
                     if f["zero_weight_layers"] else ""))
    for w in f["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")


def _print_summary(console, r: dict, model_path: Path, report_path: Path, replaced: bool) -> None:
    _print_verification(console, r["verification"])
    _print_fidelity(console, r)
    ops = ", ".join(f"{k} x{v}" for k, v in r["op_histogram"].items() if "::" in k) or "none"
    console.print(f"custom ops: {ops}")
    console.print("passes: " + ", ".join(f"{k} x{v}" for k, v in r["passes"].items()))
    console.print(f"size: {r['file_bytes'] / 1e6:.3f} MB ({r['size_ratio_to_ideal']:.3f} x the ideal "
                  f"{r['ideal_bytes'] / 1e6:.3f} MB: 1 bit per binary weight, 32 per other parameter)")
    if r.get("kernel_path"):
        console.print(f"native kernel path: {r['kernel_path']} (CPU: {r['cpu']})")
    how = "replaced" if replaced else "wrote"
    console.print(f"[green]{how}[/green] {model_path} and {report_path} in {r['seconds']:.1f}s")


# -------------------------------------------------------------------------------------- tflite
@main.command()
@click.argument("model_path", metavar="MODEL.onnx", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The .tflite to write; its report goes beside it as NAME.report.json.")
@click.option("--target", type=click.Choice(["aarch64", "arm", "xcore"]), default="aarch64",
              show_default=True,
              help="aarch64 (= LCE's 'arm': phones, Raspberry Pi, ARM boards) or xcore (XMOS; LCE "
                   "leaves zero-padded binary convs as float CONV_2D there: listed per layer).")
@click.option("--tolerance", type=click.FloatRange(0, min_open=True), default=0.1, show_default=True,
              help="Max |TFLite - ONNX| allowed, relative to max |logit|; top-1 must agree on every image.")
@click.option("--images", type=click.IntRange(0), default=0,
              help="Verification images (default: the demo models' whole held-out split, else 8 "
                   "random ones).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random verification batch.")
@click.option("--force", is_flag=True, help="Replace the .tflite / report if they exist.")
def tflite(model_path: str, output: str, target: str, tolerance: float, images: int, seed: int,
           force: bool) -> None:
    """Convert an exported MODEL.onnx to a Larq Compute Engine .tflite and verify it.

    The ONNX graph (any `rep-deploy export` form: custom ops fused or not, or --ops standard) is
    lowered to TensorFlow in the forms LCE binarizes, converted by LCE, then run in LCE's
    interpreter against ONNX Runtime on the verification batch. The .tflite is written only if
    every binary conv became an LceBconv2d and the outputs agree (top-1 on every image, logits
    within --tolerance). Needs the [tflite] extra (TensorFlow 2.16 + LCE 0.16).

    \b
    Example:
      rep-deploy export rep-resnet20-digits --pretrained -o out/demo
      rep-deploy tflite out/demo/model.onnx -o out/demo/model.tflite
    On a phone: LCE's lce_benchmark_model --graph=model.tflite (on-device benchmarking through
    rep-deploy comes with `rep-deploy bench`).
    """
    from rep_deploy.converters.tflite import (ConversionError, TFLiteDependencyError,
                                              TFLiteVerificationError, convert_to_tflite)
    from rep_deploy.onnx_file import ModelFileError

    console = _console()
    try:
        with console.status("starting") as status:
            result = convert_to_tflite(model_path, output, target=target, tolerance=tolerance,
                                       images=images, seed=seed, overwrite=force,
                                       progress=lambda m: status.update(m))
    except TFLiteVerificationError as e:
        _print_tflite_verification(console, e.report)
        raise ReportedError(str(e)) from None
    except (ConversionError, TFLiteDependencyError, ModelFileError, FileNotFoundError) as e:
        raise ReportedError(str(e)) from None
    r = result.report
    _print_tflite_verification(console, r)
    bc = r["binary_convs"]
    extra = bc["lce_bconv2d"] - bc["onnx"] + len(bc["float_fallbacks"])
    console.print(f"binary convs: {bc['onnx']} in the ONNX, {bc['lce_bconv2d']} LceBconv2d in the file"
                  + (f" ({extra} more: see 'added by the lowering')" if extra else "")
                  + (f"; [yellow]left as float CONV_2D by LCE's {target} target: "
                     f"{', '.join(bc['float_fallbacks'])}[/yellow]" if bc["float_fallbacks"] else ""))
    console.print("ops: " + ", ".join(f"{k} x{v}" for k, v in r["op_histogram"].items()))
    if r["added_ops"]:
        console.print("added by the lowering: " + ", ".join(f"{k} x{v}" for k, v in r["added_ops"].items()))
    console.print(f"size: {r['file_bytes'] / 1e6:.3f} MB ({r['size_ratio_to_ideal']:.3f} x the ideal "
                  f"{r['ideal_bytes'] / 1e6:.3f} MB: 1 bit per binary weight, 32 per other parameter)")
    how = "replaced" if result.replaced else "wrote"
    console.print(f"[green]{how}[/green] {result.tflite_path} and {result.report_path} in {r['seconds']:.1f}s")


def _print_tflite_verification(console, r: dict) -> None:
    v = r["verification"]
    acc = "" if v["accuracy"] is None else f", accuracy {v['accuracy']:.2%}"
    status = "[green]pass[/green]" if v["passed"] else "[red]" + "; ".join(v["failures"]) + "[/red]"
    console.print(f"verification on {v['input_source']}, {v['images']} images: LCE interpreter vs "
                  f"{v['reference']}: top-1 agree {v['top1_agreement']:.2%}, max |diff| "
                  f"{v['max_abs_diff']:.3g} (relative {v['max_rel_diff']:.3g}){acc}: {status}")


# ----------------------------------------------------------------------------------------- run
@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A .npy array (N, C, H, W) or (C, H, W): a normalized float32 batch, or raw "
                   "images with --normalize.")
@click.option("--normalize", is_flag=True,
              help="The input holds raw images, float in [0, 1] or uint8 in 0..255 (scaled by "
                   "1/255): apply the model's recorded mean/std. Anything else is refused.")
@click.option("--threads", type=click.IntRange(1), help="Intra-op threads (default: one per core).")
@click.option("--no-library", is_flag=True,
              help="Run the custom ops' ONNX function bodies instead of the native kernels (.onnx only).")
@click.option("--top", type=click.IntRange(1), default=1, show_default=True, help="Classes shown per image.")
@click.option("--save", type=click.Path(dir_okay=False), help="Write the logits to this .npy file.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the results as JSON to this file ('-' for stdout instead of the text).")
def run(model_path: str, input_path: str, normalize: bool, threads: int | None, no_library: bool,
        top: int, save: str | None, json_path: str | None) -> None:
    """Run an exported model on a .npy batch and print the top classes per image.

    MODEL is a model.onnx from `rep-deploy export` (run with rep-deploy's native kernels) or a
    .tflite from `rep-deploy tflite` (run in LCE's x86 interpreter: a check of its outputs; for its
    speed on a phone, `rep-deploy bench`). Each line reads `image I: class C (logit L, p P)`: C is
    the class index, L the model's raw output for it, P its softmax probability over all classes.

    \b
    Example:
      rep-deploy run out/demo/model.onnx --input images.npy --normalize --top 3
      rep-deploy run out/demo/model.onnx --input images.npy --normalize --json - | jq .
    """
    import numpy as np

    from rep_deploy.session import InferenceSession

    try:
        x = np.load(input_path, allow_pickle=False)
    except ValueError as e:
        raise ReportedError(f"{input_path}: not a plain .npy array ({e})") from None
    if x.ndim == 3:
        x = x[None]
    if no_library and model_path.endswith(".tflite"):
        raise ReportedError("--no-library applies to .onnx files: a .tflite runs in LCE's interpreter")
    try:
        sess = InferenceSession(model_path, threads, use_library=False if no_library else None)
        logits = sess.run(sess.normalize(x)) if normalize else sess.run(x)
    except (ValueError, FileNotFoundError, RuntimeError) as e:  # InputError, ModelFileError: ValueErrors
        raise ReportedError(str(e)) from None
    z = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    order = np.argsort(-logits, axis=1, kind="stable")[:, :top]
    images = [{"image": i, "top": [{"class": int(c), "logit": float(logits[i, c]),
                                    "probability": float(probs[i, c])} for c in classes]}
              for i, classes in enumerate(order)]
    if json_path:
        doc = {"model": model_path, "input": input_path, "normalized": normalize, "backend": sess.backend,
               "engine": sess.engine, "kernel_path": sess.kernel_path, "logits_shape": list(logits.shape),
               "images": images}
        text = json.dumps(doc, indent=2) + "\n"
        if json_path == "-":
            click.echo(text, nl=False)
        else:
            from rep_deploy.fileio import write_bytes_atomic

            write_bytes_atomic(json_path, text.encode())
    if json_path != "-":
        for row in images:
            click.echo(f"image {row['image']}: " + "; ".join(
                f"class {t['class']} (logit {t['logit']:.3f}, p {t['probability']:.3f})" for t in row["top"]))
    if save:
        np.save(save, logits)
    err = _console()
    err.print(f"ran on {sess.engine}"
              + (f"; wrote logits {logits.shape} to {save}" if save else "")
              + (f"; wrote JSON to {json_path}" if json_path and json_path != "-" else ""))


# ---------------------------------------------------------------------------------------- info
@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(path: str, as_json: bool) -> None:
    """Show what an exported ONNX (or converted .tflite) file holds: model, metadata, I/O, ops, sizes.

    Prints to stdout (redirect it to keep it). For .onnx it needs neither torch nor ONNX Runtime,
    so it is quick; a .tflite is read with TensorFlow's flatbuffer schema (the [tflite] extra).
    """
    if path.endswith(".tflite"):
        _info_tflite(path, as_json)
        return
    from rep_deploy.inspect import describe
    from rep_deploy.onnx_file import ModelFileError

    try:
        d = describe(path)
    except (ModelFileError, FileNotFoundError) as e:
        raise ReportedError(str(e)) from None
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    c = _console(stdout=True)
    meta = d["metadata"]
    c.print(f"[bold]{path}[/bold]  {d['file_bytes'] / 1e6:.3f} MB, IR {d['ir_version']}, "
            f"opsets {d['opsets']}")
    if meta:
        c.print(f"model {meta.get('model')} (beta={meta.get('beta')}), ops={meta.get('ops')}, "
                f"fused={meta.get('fused')}, weights: {meta.get('weights')}, "
                f"rep-deploy {meta.get('rep_deploy_version')}")
        if meta.get("checkpoint"):
            c.print(f"checkpoint: {meta['checkpoint']} (sha256 {meta.get('checkpoint_sha256')})")
        c.print(f"normalization: mean={meta.get('mean')} std={meta.get('std')}")
    else:
        c.print("[yellow]no rep-deploy metadata: not written by rep-deploy export[/yellow]")
    for kind in ("inputs", "outputs"):
        for io in d[kind]:
            c.print(f"{kind[:-1]}: {io['name']} {io['dtype']} {io['shape']}")
    c.print("ops: " + ", ".join(f"{k} x{v}" for k, v in d["op_histogram"].items()))
    c.print(f"binary weights: {d['binary_weights']:,} ({d['binary_weight_bytes']:,} bytes packed); "
            f"float parameters: {d['float_parameters']:,}")
    if d["functions"]:
        c.print("function bodies (run without the rep-deploy library): " + ", ".join(d["functions"]))


def _info_tflite(path: str, as_json: bool) -> None:
    from dataclasses import asdict

    from rep_deploy.converters.tflite import TFLiteDependencyError, inspect_tflite

    try:
        summary = inspect_tflite(Path(path).read_bytes())
    except TFLiteDependencyError as e:
        raise ReportedError(str(e)) from None
    except ValueError as e:
        raise ReportedError(f"{path}: {e}") from None
    from rep_deploy.device.litert_ops import litert_gaps

    gaps = litert_gaps(summary.custom_ops)
    d = {"path": path, **asdict(summary), "stock_litert_gaps": gaps}
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    c = _console(stdout=True)
    meta = summary.metadata
    c.print(f"[bold]{path}[/bold]  {summary.file_bytes / 1e6:.3f} MB, TFLite; input {summary.input_shape} "
            f"(NHWC), output {summary.output_shape}")
    if meta:
        c.print(f"model {meta.get('model')} (beta={meta.get('beta')}), from {meta.get('source_onnx')}, "
                f"target {meta.get('target')}, normalization mean={meta.get('mean')} std={meta.get('std')}")
    c.print("ops: " + ", ".join(f"{k} x{v}" for k, v in summary.op_histogram.items()))
    c.print(f"LceBconv2d: {len(summary.bconvs)} ({summary.binary_filter_bytes:,} bytes of bit-packed "
            f"filters); other constants: {summary.other_constant_bytes:,} bytes")
    if gaps:
        c.print("stock LiteRT with rep-deploy's LCE ops ([bold]rep-deploy bench[/bold]) cannot run: "
                + "; ".join(gaps) + " (LCE's own runtime can: bench --runner ./lce_benchmark_model)")
    else:
        c.print("stock LiteRT with rep-deploy's LCE ops ([bold]rep-deploy bench[/bold]) runs every custom op in it")


# ------------------------------------------------------------------- devices (own modules)
from rep_deploy.device.cli import bench, devices  # noqa: E402 - after main, which they are added to
from rep_deploy.profile.cli import profile  # noqa: E402
from rep_deploy.emulator.cli import emulator  # noqa: E402

main.add_command(profile)
main.add_command(bench)
main.add_command(devices)
main.add_command(emulator)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
