"""``convert_to_tflite``: the one library function behind ``rep-deploy tflite``.

rep-deploy ONNX (custom ops, fused or not, or ``--ops standard``) -> tf_keras (:mod:`.lower`) -> LCE's
converter -> ``.tflite`` with rep-deploy's metadata embedded -> checks: every binary conv of the ONNX is
an LceBconv2d (none fell back to a float CONV_2D), and LCE's interpreter agrees with ONNX Runtime on
the verification batch (top-1 100%, logits within the tolerance). Only then are ``OUT.tflite`` and
``OUT.report.json`` written, atomically; an existing file is replaced only with ``overwrite``.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rep_deploy.export.provenance import environment, file_identity
from rep_deploy.fileio import write_artifact_and_report

from .context import ConversionError

__all__ = ["TARGETS", "ConversionResult", "TFLiteVerificationError", "convert_to_tflite",
           "report_path_for"]

#: rep-deploy target -> LCE converter target
TARGETS = {"aarch64": "arm", "arm": "arm", "xcore": "xcore"}

Progress = Callable[[str], None]


class TFLiteVerificationError(RuntimeError):
    """The .tflite file does not compute what the ONNX model computes; ``report`` has the numbers."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class ConversionResult:
    tflite_path: Path
    report_path: Path
    report: dict[str, Any]
    replaced: bool = False


def report_path_for(output: str | os.PathLike[str]) -> Path:
    """``model.tflite`` -> ``model.report.json``."""
    p = Path(output)
    return p.with_name(p.stem + ".report.json")


def _verification_batch(metadata: dict[str, Any], shape: list[int | None], images: int, seed: int
                        ) -> tuple[np.ndarray, np.ndarray | None, str]:
    from rep_deploy.models import demo, verification_data

    name = metadata.get("model")
    if name in demo.MODELS:
        x, y, source = verification_data(name)  # type: ignore[misc]
        return x[:images] if images else x, (y[:images] if images else y), source
    n = images or 8
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape[1:]), dtype=np.float32), None, f"random normal (seed {seed})"


def _reference_runner(path: str) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """ONNX Runtime on the ONNX file: rep-deploy's kernels when built, else the function bodies."""
    from rep_deploy.session import InferenceSession

    try:
        sess = InferenceSession(path)
    except FileNotFoundError:  # the native library is not built: the function bodies still run
        sess = InferenceSession(path, use_library=False)
    name = ("onnxruntime + rep-deploy kernels" if sess.uses_library else "onnxruntime (function bodies)")
    return sess.run, name + (f" ({sess.kernel_path})" if sess.kernel_path else "")


def _near_zero_sign_inputs(model: Any, x: np.ndarray) -> int:
    """How many binarization inputs of the ONNX model lie within ``NEAR_ZERO`` of their threshold on
    ``x``: where a float rounding difference between runtimes can flip a bit (see rep_deploy.validate).
    """
    import onnxruntime as ort
    from onnx import helper

    from rep_deploy import ops
    from rep_deploy.validate import NEAR_ZERO

    consts = {t.name: t for t in model.graph.initializer}
    probes: list[tuple[str, str | None]] = []  # (value, threshold initializer or None)
    for n in model.graph.node:
        if n.domain == ops.DOMAIN and n.op_type in ops.BINARY_OPS:
            probes.append((n.input[0], n.input[2] if n.op_type == "BinaryConvBlock" else None))
        elif n.op_type == "GreaterOrEqual" and n.input[1] in consts:
            probes.append((n.input[0], n.input[1]))
    if not probes:
        return 0
    probe = type(model)()
    probe.CopyFrom(model)
    names = sorted({v for v, _ in probes} - {o.name for o in probe.graph.output})
    probe.graph.output.extend(helper.make_empty_tensor_value_info(v) for v in names)
    sess = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = [o.name for o in sess.get_outputs()]
    values = dict(zip(outs, sess.run(outs, {sess.get_inputs()[0].name: x})))
    from onnx import numpy_helper

    count = 0
    for v, t in probes:
        a = values[v]
        thr = 0.0 if t is None else numpy_helper.to_array(consts[t]).astype(np.float32)
        thr = np.reshape(thr, (1, -1, 1, 1)) if np.ndim(thr) == 1 and a.ndim == 4 else thr
        count += int((np.abs(a - thr) < NEAR_ZERO).sum())
    return count


def _fallbacks(target: str, binary_convs: list[dict[str, Any]]) -> list[str]:
    """Binary convs LCE leaves as float CONV_2D: on xcore, those with zero SAME padding."""
    if target != "xcore":
        return []
    return [b["node"] for b in binary_convs if b["padding"] == "SAME" and b["pad_value"] == 0]


def convert_to_tflite(onnx_path: str | os.PathLike[str], output: str | os.PathLike[str], *,
                      target: str = "aarch64", tolerance: float = 0.1, images: int = 0,
                      seed: int = 0, threads: int = 1, overwrite: bool = False,
                      progress: Progress | None = None) -> ConversionResult:
    """Convert a rep-deploy ONNX file to a verified LCE ``.tflite``.

    Args:
        onnx_path: an export of ``rep-deploy export`` (any ``--ops`` / ``--fuse`` form).
        output: the ``.tflite`` path; the report goes beside it (``X.report.json``).
        target: ``aarch64`` (= LCE's ``arm``: phones and boards), ``arm``, or ``xcore``.
        tolerance: allowed max |diff| relative to max |logit| (top-1 must agree on every image).
        images: verification images (0: the demo models' whole held-out split, else 8 random).
        seed: seed of the random verification batch.
        threads: LCE interpreter threads for verification.
        overwrite: replace an existing output and report.
        progress: called with a short description at the start of each step.

    Raises:
        ConversionError: an op the converter cannot lower (named with its node), a binary conv
            that did not become LceBconv2d, or bad arguments; nothing written.
        TFLiteDependencyError: TensorFlow / LCE missing (the message says how to install them).
        TFLiteVerificationError: LCE's interpreter disagrees with ONNX Runtime; nothing written.
        rep_deploy.onnx_file.ModelFileError, FileNotFoundError: a missing or damaged ONNX file.
    """
    say = progress or (lambda _m: None)
    t0 = time.perf_counter()
    if target not in TARGETS:
        raise ConversionError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    out, report_path = Path(output), report_path_for(output)
    if out.suffix != ".tflite":
        raise ConversionError(f"output must end in .tflite, got {out.name}")
    existing = [p for p in (out, report_path) if p.exists()]
    if existing and not overwrite:
        raise ConversionError(f"{existing[0]} already exists; pass --force (overwrite=True) to replace "
                              f"it, or choose another -o")
    if not out.parent.is_dir():
        raise ConversionError(f"output directory {out.parent} does not exist")

    from rep_deploy.inspect import describe
    from rep_deploy.onnx_file import read_onnx

    from ._tf import load
    from .flatbuffer import embed_metadata, inspect_tflite
    from .interpreter import LceRunner
    from .lower import lower_to_keras

    model = read_onnx(onnx_path)
    say("loading TensorFlow and Larq Compute Engine")
    stack = load()
    say("lowering ONNX to TensorFlow")
    lowered = lower_to_keras(model)
    say(f"converting with Larq Compute Engine (target {TARGETS[target]})")
    data = stack.lce.convert_keras_model(lowered.keras_model, target=TARGETS[target])
    metadata = {**lowered.graph.metadata, "source_onnx": os.path.basename(os.fspath(onnx_path)),
                "target": target, "layout": "NHWC", "batch": 1}
    data = embed_metadata(data, metadata)
    summary = inspect_tflite(data)

    expected = len(lowered.binary_convs) + sum(b["small_map_workaround"] for b in lowered.binary_convs)
    fallbacks = _fallbacks(target, lowered.binary_convs)
    found = summary.op_histogram.get("LceBconv2d", 0)
    if found != expected - len(fallbacks):
        raise ConversionError(f"{expected - len(fallbacks)} binary convolutions expected as LceBconv2d, "
                              f"the file has {found}: LCE's converter did not binarize "
                              f"{expected - len(fallbacks) - found} of them (op list: {summary.op_histogram})")

    say("verifying with LCE's interpreter against ONNX Runtime")
    onnx_info = describe(onnx_path)
    x, labels, source = _verification_batch(metadata, onnx_info["inputs"][0]["shape"], images, seed)
    run_ref, ref_name = _reference_runner(os.fspath(onnx_path))
    ref = run_ref(x)
    t1 = time.perf_counter()
    got = LceRunner(data, threads).run(x)
    from rep_deploy.validate import compare

    result = compare("LCE interpreter (.tflite)", ref.astype(np.float64), {"y": got}, "y", tolerance,
                     labels, time.perf_counter() - t1)
    ideal = onnx_info["binary_weights"] // 8 + 4 * onnx_info["float_parameters"]
    report = {
        "source": file_identity(onnx_path), "target": target, "lce_target": TARGETS[target],
        "model": metadata.get("model"), "beta": metadata.get("beta"), "onnx_ops": metadata.get("ops"),
        "file_bytes": len(data), "ideal_bytes": ideal, "size_ratio_to_ideal": len(data) / ideal,
        "binary_filter_bytes": summary.binary_filter_bytes,
        "other_constant_bytes": summary.other_constant_bytes,
        "op_histogram": summary.op_histogram,
        "binary_convs": {"onnx": len({b["node"] for b in lowered.binary_convs}), "lce_bconv2d": found,
                         "float_fallbacks": fallbacks, "layers": lowered.binary_convs},
        "added_ops": lowered.extra_ops, "constants_folded": lowered.graph.folded,
        "verification": {"input_source": source, "reference": ref_name, "images": len(x),
                         "tolerance": tolerance, **asdict(result), "passed": result.passed},
        "versions_tflite": {"tensorflow": stack.tf.__version__,
                            "larq-compute-engine": _version("larq-compute-engine")},
        **environment(), "seconds": round(time.perf_counter() - t0, 2),
    }
    if not result.passed:
        near = _near_zero_sign_inputs(model, x)
        report["verification"]["sign_near_zero_inputs"] = near
        why = (f"; {near} binarization inputs lie within 1e-5 of their threshold on this batch, "
               f"where LCE's float rounding can flip a bit (a trained model has fewer; check "
               f"top-1 on your own data or raise --tolerance)" if near and result.top1_agreement == 1.0
               else "")
        raise TFLiteVerificationError("verification failed: " + "; ".join(result.failures) + why +
                                      "; nothing was written", report)
    say("writing files")
    replaced = bool(existing)
    write_artifact_and_report(out, data, report_path, report)
    return ConversionResult(out, report_path, report, replaced)


def _version(dist: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
