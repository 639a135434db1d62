"""Verification: run an exported model on candidate backends and compare with PyTorch.

Checks go names -> shapes -> values, every failure is collected, and a failed run raises one
:class:`VerificationError` carrying the whole report. Values are compared on logits:

* ``top1_agreement``: fraction of images whose arg-max class matches PyTorch (must be 1.0);
* ``max_abs_diff`` must stay within ``tolerance * max|reference|`` (default 0.1). Binary layers are
  exact integers, but float rounding before a sign (a folded BatchNorm, another summation order) can
  flip a value lying within ~1e-6 of 0, which moves downstream integers by 2. Measured on random-weight
  zoo models (batch 8): no flip gives ~5e-7; one flip gave up to 5.7e-2 (bireal-18, seed 1) with top-1
  unchanged. Structural errors (tile order, BN, padding) move logits by O(1) and fail both checks.
  ``sign_near_zero_inputs`` counts the PyTorch binarization inputs within 1e-5 of 0: where a large
  difference comes with a non-zero count, flips explain it.

It also counts how many inputs to a binarization were exactly 0 in the PyTorch run: PyTorch's
``sign(0) = 0`` differs from the deployed +1 there, so a model trained with ``torch.sign`` can only
match where this count is 0 (models built from ``rep_deploy.nn`` use +1 and match regardless).
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported where PyTorch runs, so compare() stays torch-free
    import onnx
    from torch import nn

__all__ = ["BackendResult", "VerificationReport", "VerificationError", "torch_logits",
           "compare", "verify", "ort_runner", "reference_evaluator_runner"]

Runner = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass
class BackendResult:
    backend: str
    images: int
    max_abs_diff: float
    max_rel_diff: float
    top1_agreement: float
    accuracy: float | None = None
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class VerificationReport:
    input_source: str
    images: int
    tolerance: float
    sign_zero_inputs: int
    sign_near_zero_inputs: int
    binarized_values: int
    torch_accuracy: float | None
    backends: list[BackendResult]

    @property
    def passed(self) -> bool:
        return all(b.passed for b in self.backends)

    def failures(self) -> list[str]:
        return [f"{b.backend}: {f}" for b in self.backends for f in b.failures]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["passed"] = self.passed
        return d


class VerificationError(RuntimeError):
    """The exported model does not match PyTorch; ``report`` holds every number."""

    def __init__(self, report: VerificationReport) -> None:
        self.report = report
        super().__init__("verification failed: " + "; ".join(report.failures()))


#: |x| below this at a binarization input counts as "near zero" (where float rounding can flip a sign)
NEAR_ZERO = 1e-5


def torch_logits(model: nn.Module, x: np.ndarray) -> tuple[np.ndarray, int, int, int]:
    """PyTorch logits of ``x``, plus (exact zeros, near zeros, total) seen at binarization inputs."""
    import torch

    from rep_deploy.nn import BinaryActivation, ScaledBinaryConv2d

    zeros, near, total, hooks = [0], [0], [0], []

    def count(_m: nn.Module, inputs) -> None:
        t = inputs[0]
        zeros[0] += int((t == 0).sum())
        near[0] += int(((t.abs() < NEAR_ZERO) & (t != 0)).sum())
        total[0] += t.numel()

    for m in model.modules():
        if isinstance(m, (BinaryActivation, ScaledBinaryConv2d)):
            hooks.append(m.register_forward_pre_hook(count))
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(x)).numpy()
    finally:
        for h in hooks:
            h.remove()
    return out, zeros[0], near[0], total[0]


def compare(backend: str, ref: np.ndarray, got: dict[str, np.ndarray], output_name: str,
            tolerance: float, labels: np.ndarray | None = None, seconds: float = 0.0) -> BackendResult:
    """Names, then shapes, then values of one backend's outputs against the PyTorch reference."""
    failures: list[str] = []
    if output_name not in got:
        return BackendResult(backend, len(ref), float("nan"), float("nan"), 0.0, None, seconds,
                             [f"output {output_name!r} missing (got {sorted(got)})"])
    y = got[output_name]
    if y.shape != ref.shape:
        return BackendResult(backend, len(ref), float("nan"), float("nan"), 0.0, None, seconds,
                             [f"output shape {y.shape} != PyTorch {ref.shape}"])
    diff = np.abs(y.astype(np.float64) - ref)
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    max_rel = max_abs / scale if scale > 0 else max_abs
    top1 = float((y.argmax(1) == ref.argmax(1)).mean()) if ref.ndim == 2 else 1.0
    if not np.isfinite(y).all():
        failures.append("non-finite values in the output")
    if top1 < 1.0:
        failures.append(f"top-1 agreement {top1:.2%} < 100%")
    if max_rel > tolerance:
        failures.append(f"max abs diff {max_abs:.3g} exceeds {tolerance:g} x max|logit| ({scale:.3g})")
    acc = float((y.argmax(1) == labels).mean()) if labels is not None else None
    return BackendResult(backend, len(ref), max_abs, max_rel, top1, acc, seconds, failures)


def ort_runner(model: onnx.ModelProto | bytes, *, library: str | None = None,
               threads: int | None = None) -> Runner:
    """ONNX Runtime on the CPU provider; without ``library`` the custom ops run their function bodies."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    if library:  # as rep-deploy's own sessions load it (rep_deploy.runtime.session_model)
        import onnx

        from rep_deploy.runtime import session_model

        so.register_custom_ops_library(library)
        model = session_model(model if isinstance(model, onnx.ModelProto) else onnx.load_from_string(model))
    data = model if isinstance(model, bytes) else model.SerializeToString()
    sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    in_name = sess.get_inputs()[0].name
    return lambda x: dict(zip(names, sess.run(None, {in_name: x})))


def reference_evaluator_runner(model: onnx.ModelProto) -> Runner:
    """``onnx.reference.ReferenceEvaluator``: slow, library-free, and independent of ORT."""
    from onnx.reference import ReferenceEvaluator

    ev = ReferenceEvaluator(model)
    names = [o.name for o in model.graph.output]
    in_name = model.graph.input[0].name
    return lambda x: dict(zip(names, ev.run(None, {in_name: x})))


def verify(model: nn.Module, candidates: Sequence[tuple[str, Runner, int]], x: np.ndarray, *,
           output_name: str, input_source: str, labels: np.ndarray | None = None,
           tolerance: float = 0.1) -> VerificationReport:
    """Compare each ``(name, runner, max_images)`` candidate with PyTorch on ``x``.

    Raises:
        VerificationError: any candidate fails; the report is attached.
    """
    ref, zeros, near, total = torch_logits(model, x)
    torch_acc = float((ref.argmax(1) == labels).mean()) if labels is not None else None
    results = []
    for name, run, max_images in candidates:
        xs = x[:max_images]
        t0 = time.perf_counter()
        try:
            got = run(xs)
        except Exception as e:  # a backend that cannot run the file is a verification failure
            results.append(BackendResult(name, len(xs), float("nan"), float("nan"), 0.0, None,
                                         time.perf_counter() - t0,
                                         [f"failed to run: {type(e).__name__}: {str(e).splitlines()[0]}"]))
            continue
        results.append(compare(name, ref[:max_images], got, output_name, tolerance,
                               None if labels is None else labels[:max_images],
                               time.perf_counter() - t0))
    report = VerificationReport(input_source, len(x), tolerance, zeros, near, total, torch_acc, results)
    if not report.passed:
        raise VerificationError(report)
    return report
