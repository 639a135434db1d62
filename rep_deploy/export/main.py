"""``export_model``: the one library function behind ``rep-deploy export``.

zoo model (+ checkpoint) -> trace (TorchScript exporter, custom ops) -> graph passes -> function
bodies + metadata -> verification against PyTorch -> ``model.onnx`` + ``report.json``. Nothing is
written unless verification passes, and files appear atomically.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import torch
from torch import nn

from rep_deploy import __version__, passes
from rep_deploy.export.finalize import finalize, op_histogram
from rep_deploy.fileio import write_bytes_atomic
from rep_deploy.export.patcher import export_patches
from rep_deploy.export.random_weights import randomize_for_verification
from rep_deploy.export.torchscript import INPUT_NAME, OUTPUT_NAME, trace_to_onnx
from rep_deploy.nn import ScaledBinaryConv2d
from rep_deploy.registry import ModelInfo, create_model, get_model_info
from rep_deploy.validate import VerificationReport, ort_runner, reference_evaluator_runner, verify

__all__ = ["ExportOptions", "ExportResult", "ExportError", "export_model", "ideal_size_bytes"]

Progress = Callable[[str], None]


class ExportError(ValueError):
    """Bad input to the exporter (model, shape, output location); the message says what to do."""


@dataclass(frozen=True)
class ExportOptions:
    """How to export.

    Attributes:
        ops: ``"custom"`` (BinaryConv/Repeat, bit-packed) or ``"standard"`` (plain ONNX).
        fuse: fuse BinaryConv + Repeat + BN (+ residual Add) into one op (custom format only).
        input_shape: (N, C, H, W); N is the verification batch (the exported batch axis is dynamic).
            Default: the model's own size with a batch of 8.
        tolerance: allowed max |diff| relative to max |logit| (see :mod:`rep_deploy.validate`).
        reference_images: images run through ``onnx.reference`` (slow); 0 skips it.
        seed: for the random verification batch.
        native: also verify with rep-deploy's native ONNX Runtime kernels. None: when the library
            is built; True: required (an error if it is not built); False: skip.
    """

    ops: Literal["custom", "standard"] = "custom"
    fuse: bool = True
    input_shape: tuple[int, int, int, int] | None = None
    tolerance: float = 0.1
    reference_images: int = 1
    seed: int = 0
    native: bool | None = None


@dataclass
class ExportResult:
    model_path: Path
    report_path: Path
    report: dict[str, Any]


def ideal_size_bytes(model: nn.Module) -> int:
    """Binary weights at 1 bit plus every other parameter at 32 bits."""
    binary = {id(m.weight) for m in model.modules() if isinstance(m, ScaledBinaryConv2d)}
    bits = sum(p.numel() * (1 if id(p) in binary else 32) for p in model.parameters())
    return (bits + 7) // 8


def _check_output_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".rep-deploy-probe-"):
            pass
    except OSError as e:
        raise ExportError(f"cannot write to output directory {out}: {e.strerror or e}; choose "
                          f"another -o") from None


def _input_shape(info: ModelInfo, given: tuple[int, ...] | None) -> tuple[int, int, int, int]:
    shape = tuple(given) if given else (8, *info.input_size)
    if len(shape) != 4 or any(int(d) < 1 for d in shape):
        raise ExportError(f"input shape must be N,C,H,W with positive sizes, got {shape}")
    if shape[1] != info.input_size[0]:
        raise ExportError(f"{info.name} takes {info.input_size[0]}-channel input, got input shape "
                          f"{','.join(map(str, shape))}; try {','.join(map(str, (shape[0], *info.input_size)))}")
    return shape  # type: ignore[return-value]


def _probe(model: nn.Module, info: ModelInfo, shape: tuple[int, int, int, int]) -> None:
    try:
        with torch.no_grad():
            model(torch.zeros((1, *shape[1:])))
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise ExportError(f"{info.name} cannot take input shape {','.join(map(str, shape))} "
                          f"(PyTorch: {first}); its native size is "
                          f"{','.join(map(str, info.input_size))}") from None


def _verification_batch(info: ModelInfo, shape: tuple[int, ...], seed: int
                        ) -> tuple[np.ndarray, np.ndarray | None, str]:
    from rep_deploy.models import verification_data

    real = verification_data(info.name)
    if real is not None and tuple(real[0].shape[1:]) == tuple(shape[1:]):
        x, y, source = real
        return x.astype(np.float32), y, source
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape, dtype=np.float32), None, f"random normal (seed {seed})"


def _native_library(options: ExportOptions) -> str | None:
    if options.native is False:
        return None
    from rep_deploy.runtime import library_path

    try:
        return str(library_path())
    except FileNotFoundError as e:
        if options.native:
            raise ExportError(f"native kernels requested but not available: {e}") from None
        return None


def export_model(model: str, output_dir: str | os.PathLike[str], *, checkpoint: str | None = None,
                 beta: int | None = None, options: ExportOptions = ExportOptions(),
                 progress: Progress | None = None) -> ExportResult:
    """Export a zoo model to ONNX, verify it against PyTorch, write ``model.onnx`` + ``report.json``.

    Args:
        model: registry name (``rep-deploy zoo`` lists them).
        output_dir: directory to write into (created if missing).
        checkpoint: weights to load (Rep_AdamBNN / ReActNet / AdamBNN / rep-deploy formats).
        beta: RepTran factor for Rep models.
        options: see :class:`ExportOptions`.
        progress: called with a short description at the start of each step.

    Raises:
        ExportError: bad input; nothing written.
        rep_deploy.checkpoint.CheckpointError: checkpoint does not fit; nothing written.
        rep_deploy.validate.VerificationError: outputs differ from PyTorch; nothing written.
    """
    if options.ops not in ("custom", "standard"):
        raise ExportError(f"ops must be 'custom' or 'standard', got {options.ops!r}")
    info = get_model_info(model, beta)
    shape = _input_shape(info, options.input_shape)
    out = Path(output_dir)
    created = not out.exists()
    _check_output_dir(out)
    try:
        return _export(model, info, shape, out, checkpoint, beta, options, progress)
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # leave no trace of a failed export
        raise


def _export(model: str, info: ModelInfo, shape: tuple[int, int, int, int], out: Path,
            checkpoint: str | None, beta: int | None, options: ExportOptions,
            progress: Progress | None) -> ExportResult:
    say = progress or (lambda _msg: None)
    t_start = time.perf_counter()
    fuse = options.fuse and options.ops == "custom"

    say(f"building {model}" + (f" (beta={info.beta})" if info.beta > 1 else ""))
    torch.manual_seed(options.seed)
    try:
        net = create_model(model, beta=beta)
    except ValueError as e:  # a beta the model cannot take (not a Rep model, does not divide, ...)
        raise ExportError(f"cannot build {model}: {e}") from None
    load_report: dict[str, Any] | None = None
    if checkpoint is not None:
        from rep_deploy.checkpoint import load_checkpoint

        say(f"loading {checkpoint}")
        load_report = asdict(load_checkpoint(net, checkpoint))
    else:
        randomize_for_verification(net, options.seed)
    net.eval()
    _probe(net, info, shape)

    say("tracing to ONNX")
    with export_patches(net):
        proto = trace_to_onnx(net, torch.zeros((1, *shape[1:])))
    say("running graph passes")
    pipeline = passes.custom_pipeline(fuse) if options.ops == "custom" else passes.standard_pipeline()
    proto, counts = passes.run(proto, pipeline)
    metadata = {
        "model": info.name, "family": info.family, "beta": info.beta, "ops": options.ops,
        "fused": fuse, "input_shape": [None, *info.input_size] if shape[1:] == info.input_size
        else [None, *shape[1:]], "num_classes": info.num_classes, "mean": list(info.mean),
        "std": list(info.std), "input_name": INPUT_NAME, "output_name": OUTPUT_NAME,
        "sign_convention": "x >= 0 -> +1", "rep_deploy_version": __version__,
        "checkpoint": os.path.basename(checkpoint) if checkpoint else None,
        "weights": "checkpoint" if checkpoint else f"random, seed {options.seed} (no checkpoint)",
    }
    proto = finalize(proto, metadata)
    data = proto.SerializeToString()

    say("verifying against PyTorch")
    x, labels, source = _verification_batch(info, shape, options.seed)
    candidates = [("onnxruntime (function bodies)", ort_runner(data), len(x))]
    library = _native_library(options) if options.ops == "custom" else None
    if library is not None:
        candidates.append(("onnxruntime + rep-deploy kernels", ort_runner(data, library=library), len(x)))
    if options.reference_images > 0:
        candidates.append(("onnx.reference", reference_evaluator_runner(proto), options.reference_images))
    report: VerificationReport = verify(net, candidates, x, output_name=OUTPUT_NAME, input_source=source,
                                        labels=labels, tolerance=options.tolerance)

    ideal = ideal_size_bytes(net)
    summary = {
        "model": info.name, "beta": info.beta, "ops": options.ops, "fused": fuse,
        "input_shape": list(shape), "checkpoint": checkpoint, "checkpoint_load": load_report,
        "file_bytes": len(data), "ideal_bytes": ideal, "size_ratio_to_ideal": len(data) / ideal,
        "op_histogram": op_histogram(proto), "passes": counts,
        "verification": report.to_dict(), "rep_deploy_version": __version__,
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    say("writing files")
    model_path, report_path = out / "model.onnx", out / "report.json"
    write_bytes_atomic(model_path, data)
    try:
        write_bytes_atomic(report_path, (json.dumps(summary, indent=2, default=str) + "\n").encode())
    except BaseException:
        model_path.unlink(missing_ok=True)
        raise
    return ExportResult(model_path, report_path, summary)
