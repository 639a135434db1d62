"""``export_model``: the one library function behind ``rep-deploy export``.

zoo model or your own ``nn.Module`` (+ checkpoint) -> trace (TorchScript exporter, custom ops) ->
graph passes -> function bodies + metadata -> verification against PyTorch -> ``model.onnx`` +
``report.json``. Nothing is written unless verification passes, files appear atomically, and an
existing export is replaced only when asked to (``overwrite=True``, CLI ``--force``).
"""
from __future__ import annotations

import copy
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
from rep_deploy.export.fidelity import fidelity_summary
from rep_deploy.export.finalize import finalize, op_histogram
from rep_deploy.export.patcher import export_patches
from rep_deploy.export.provenance import environment, file_identity
from rep_deploy.fileio import write_artifact_and_report
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
    """What :func:`export_model` wrote.

    Attributes:
        model_path, report_path: the files written.
        report: the contents of ``report.json``.
        replaced: an earlier ``model.onnx`` was overwritten (``overwrite=True``).
    """

    model_path: Path
    report_path: Path
    report: dict[str, Any]
    replaced: bool = False

    @property
    def warnings(self) -> list[str]:
        """Where the deployed model can differ from the training code (see ``export.fidelity``)."""
        return list(self.report["fidelity"]["warnings"])


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


def _verification_batch(info: ModelInfo, shape: tuple[int, ...], seed: int, *, zoo: bool
                        ) -> tuple[np.ndarray, np.ndarray | None, str]:
    from rep_deploy.models import verification_data

    real = verification_data(info.name) if zoo else None
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


OUTPUT_FILES = ("model.onnx", "report.json")


def _check_not_overwriting(out: Path, overwrite: bool) -> bool:
    """Whether an earlier export is there; an error unless ``overwrite``."""
    existing = [out / f for f in OUTPUT_FILES if (out / f).exists()]
    if existing and not overwrite:
        raise ExportError(f"{existing[0]} already exists; pass --force (overwrite=True) to replace "
                          f"it, or choose another -o")
    return bool(existing)


def _module_info(model: nn.Module, info: ModelInfo | None, beta: int | None) -> ModelInfo:
    info = info or getattr(model, "model_info", None)
    if info is None:
        raise ExportError("exporting an nn.Module needs info=rep_deploy.ModelInfo(name=..., "
                          "input_size=(C, H, W), num_classes=..., mean=..., std=...)")
    if beta is not None:
        raise ExportError("beta applies to zoo names only; an nn.Module is exported as built")
    if len(info.input_size) != 3:
        raise ExportError(f"info.input_size must be (C, H, W), got {info.input_size}")
    return info


def export_model(model: str | nn.Module, output_dir: str | os.PathLike[str], *,
                 info: ModelInfo | None = None, checkpoint: str | None = None,
                 beta: int | None = None, options: ExportOptions = ExportOptions(),
                 overwrite: bool = False, progress: Progress | None = None) -> ExportResult:
    """Export a zoo model or your own ``nn.Module`` to ONNX, verify it against PyTorch, write
    ``model.onnx`` + ``report.json``.

    Args:
        model: a registry name (``rep-deploy zoo`` lists them), or an ``nn.Module`` built from
            ``rep_deploy.nn`` blocks and torch layers. A module is exported with the weights it has
            (or ``checkpoint``'s) and is not modified (the exporter works on a copy).
        output_dir: directory to write into (created if missing).
        info: for an ``nn.Module``: its name, input size (C, H, W), class count and normalization
            (``rep_deploy.ModelInfo(name=..., input_size=..., num_classes=..., mean=..., std=...)``);
            not needed for modules made by ``create_model`` (they carry it) or for zoo names.
        checkpoint: weights to load (Rep_AdamBNN / ReActNet / AdamBNN / rep-deploy formats). Use the
            checkpoint of the *second* step of two-step training: step-one files have the same keys
            and shapes and load without complaint, but their weights were trained real-valued.
        beta: RepTran factor for Rep zoo models.
        options: see :class:`ExportOptions`.
        overwrite: replace an existing ``model.onnx`` / ``report.json`` in ``output_dir``
            (otherwise that is an error, raised before any work).
        progress: called with a short description at the start of each step.

    Raises:
        ExportError: bad input, or files already there without ``overwrite``; nothing written.
        rep_deploy.checkpoint.CheckpointError: checkpoint does not fit; nothing written.
        rep_deploy.validate.VerificationError: outputs differ from PyTorch; nothing written.
    """
    if options.ops not in ("custom", "standard"):
        raise ExportError(f"ops must be 'custom' or 'standard', got {options.ops!r}")
    if isinstance(model, nn.Module):
        info = _module_info(model, info, beta)
    elif isinstance(model, str):
        if info is not None:
            raise ExportError("info= is for nn.Module exports; a zoo name brings its own")
        info = get_model_info(model, beta)
    else:
        raise ExportError(f"model must be a zoo name or an nn.Module, got {type(model).__name__}")
    shape = _input_shape(info, options.input_shape)
    out = Path(output_dir)
    created = not out.exists()
    _check_output_dir(out)
    try:
        replaced = _check_not_overwriting(out, overwrite)
        result = _export(model, info, shape, out, checkpoint, beta, options, progress)
        result.replaced = replaced
        return result
    except BaseException:
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # leave no trace of a failed export
        raise


def _build(model: str | nn.Module, info: ModelInfo, beta: int | None, checkpoint: str | None,
           seed: int, say: Progress) -> tuple[nn.Module, dict[str, Any] | None, str]:
    """The network to export, its checkpoint load report, and where its weights came from."""
    if isinstance(model, nn.Module):
        say(f"copying {info.name}")
        net = copy.deepcopy(model)
    else:
        say(f"building {model}" + (f" (beta={info.beta})" if info.beta > 1 else ""))
        torch.manual_seed(seed)
        try:
            net = create_model(model, beta=beta)
        except ValueError as e:  # a beta the model cannot take (not a Rep model, does not divide, ...)
            raise ExportError(f"cannot build {model}: {e}") from None
    if checkpoint is not None:
        from rep_deploy.checkpoint import load_checkpoint

        say(f"loading {checkpoint}")
        load_report = asdict(load_checkpoint(net, checkpoint))
        load_report["source"] = os.path.basename(checkpoint)  # no absolute paths in reports
        return net, load_report, "checkpoint"
    if isinstance(model, nn.Module):
        return net, None, "module"
    randomize_for_verification(net, seed)
    return net, None, "random"


def _export(model: str | nn.Module, info: ModelInfo, shape: tuple[int, int, int, int], out: Path,
            checkpoint: str | None, beta: int | None, options: ExportOptions,
            progress: Progress | None) -> ExportResult:
    say = progress or (lambda _msg: None)
    t_start = time.perf_counter()
    fuse = options.fuse and options.ops == "custom"

    net, load_report, weights = _build(model, info, beta, checkpoint, options.seed, say)
    net.eval()
    _probe(net, info, shape)

    say("tracing to ONNX")
    with export_patches(net):
        proto = trace_to_onnx(net, torch.zeros((1, *shape[1:])))
    say("running graph passes")
    pipeline = passes.custom_pipeline(fuse) if options.ops == "custom" else passes.standard_pipeline()
    proto, counts = passes.run(proto, pipeline)
    checkpoint_id = file_identity(checkpoint) if checkpoint else None
    metadata = {
        "model": info.name, "family": info.family, "beta": info.beta, "ops": options.ops,
        "fused": fuse, "input_shape": [None, *info.input_size] if shape[1:] == info.input_size
        else [None, *shape[1:]], "num_classes": info.num_classes, "mean": list(info.mean),
        "std": list(info.std), "input_name": INPUT_NAME, "output_name": OUTPUT_NAME,
        "sign_convention": "x >= 0 -> +1", "rep_deploy_version": __version__,
        "checkpoint": checkpoint_id["name"] if checkpoint_id else None,
        "checkpoint_sha256": checkpoint_id["sha256"] if checkpoint_id else None,
        "weights": {"checkpoint": "checkpoint", "module": "nn.Module as given",
                    "random": f"random, seed {options.seed} (no checkpoint)"}[weights],
    }
    proto = finalize(proto, metadata)
    data = proto.SerializeToString()

    say("verifying against PyTorch")
    x, labels, source = _verification_batch(info, shape, options.seed, zoo=isinstance(model, str))
    candidates = [("onnxruntime (function bodies)", ort_runner(data), len(x))]
    library = _native_library(options) if options.ops == "custom" else None
    kernel = None
    if library is not None:
        from rep_deploy.runtime import kernel_path

        kernel = kernel_path()
        candidates.append(("onnxruntime + rep-deploy kernels", ort_runner(data, library=library), len(x)))
    if options.reference_images > 0:
        candidates.append(("onnx.reference", reference_evaluator_runner(proto), options.reference_images))
    report: VerificationReport = verify(net, candidates, x, output_name=OUTPUT_NAME, input_source=source,
                                        labels=labels, tolerance=options.tolerance)
    verification = report.to_dict()

    ideal = ideal_size_bytes(net)
    summary = {
        "model": info.name, "beta": info.beta, "ops": options.ops, "fused": fuse,
        "input_shape": list(shape), "weights": weights, "checkpoint": checkpoint_id,
        "checkpoint_load": load_report,
        "file_bytes": len(data), "ideal_bytes": ideal, "size_ratio_to_ideal": len(data) / ideal,
        "op_histogram": op_histogram(proto), "passes": counts,
        "verification": verification,
        "fidelity": fidelity_summary(net, verification, weights=weights),
        "kernel_path": kernel, "rep_deploy_version": __version__, **environment(),
        "seconds": round(time.perf_counter() - t_start, 2),
    }
    say("writing files")
    model_path, report_path = out / "model.onnx", out / "report.json"
    write_artifact_and_report(model_path, data, report_path, summary)
    return ExportResult(model_path, report_path, summary)
