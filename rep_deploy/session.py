"""``InferenceSession``: run an exported rep-deploy model with the native kernels registered for you.

    import rep_deploy as rd
    sess = rd.InferenceSession("out/model.onnx")        # custom-op library registered
    logits = sess.run(batch)                             # float32 (N, C, H, W), already normalized
    labels = sess.predict(images)                        # raw images: applies the recorded mean/std
    sess.kernel_path                                     # "avx512vpopcnt", "avx2", "neon", ...

Raw images (``predict``, ``normalize``) are float in [0, 1] or uint8 in 0..255 (scaled by 1/255);
anything else is refused with a message saying how to convert, because a model fed 0..255 floats as if
they were 0..1 still answers, wrongly, and silently.

Inputs are checked before ONNX Runtime sees them, so a wrong shape or dtype is a one-line error that
names what was expected. One session may be shared by several threads (ONNX Runtime's ``Run`` is
thread-safe and the kernels keep no per-call state on the kernel object).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import onnxruntime as ort

from rep_deploy import ops
from rep_deploy.export.finalize import read_metadata
from rep_deploy.onnx_file import read_onnx

__all__ = ["InferenceSession", "InputError"]


class InputError(ValueError):
    """An input the model cannot take; the message names the expected shape/dtype."""


class InferenceSession:
    """A session for a rep-deploy export: ``.onnx`` in ONNX Runtime, ``.tflite`` in LCE's interpreter.

    Both take and return the same NCHW arrays (a ``.tflite`` is NHWC inside; the layout change is
    this class's business), so code written for one runs the other.

    Args:
        path: the exported ``model.onnx``, or a ``.tflite`` from ``rep-deploy tflite`` (needs the
            ``[tflite]`` extra; LCE's x86 kernels are portable, not fast).
        threads: intra-op threads (None: ONNX Runtime's default, one per core; LCE: 1).
        use_library: register the native custom-op library. None (default): when the file uses
            rep-deploy ops (an error with build instructions if the library is not built); False:
            run the ops' ONNX function bodies instead (portable, much slower).
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None, *,
                 use_library: bool | None = None) -> None:
        self.path = os.fspath(path)
        if self.path.endswith(".tflite"):
            self._open_tflite(threads)
            return
        #: what runs the model: "onnxruntime" or "lce" (the TFLite interpreter of Larq Compute Engine)
        self.backend = "onnxruntime"
        model = read_onnx(self.path)  # ModelFileError (a ValueError) for missing / empty / damaged
        self.metadata: dict[str, Any] = read_metadata(model)
        self.uses_custom_ops = any(n.domain == ops.DOMAIN for n in model.graph.node)
        if use_library is None:
            use_library = self.uses_custom_ops
        #: the native kernel path this session runs (None: function bodies, no native kernels)
        self.kernel_path: str | None = None
        source: str | bytes = self.path
        if use_library:
            from rep_deploy.runtime import kernel_path, make_session_options, session_model

            so = make_session_options(threads)
            self.kernel_path = kernel_path()  # what the kernels created below will pick
            source = session_model(model, self.path)
        else:
            so = ort.SessionOptions()
            if threads is not None:
                so.intra_op_num_threads = int(threads)
        self.uses_library = bool(use_library)
        try:
            self._sess = ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])
        except Exception as e:  # ORT's messages are long; keep the first line
            raise RuntimeError(f"ONNX Runtime cannot load {self.path}: {str(e).splitlines()[0]}") from None
        inp = self._sess.get_inputs()
        if len(inp) != 1:
            raise ValueError(f"{self.path} has {len(inp)} inputs; InferenceSession expects one image batch")
        self.input_name = inp[0].name
        self.input_shape: list[int | str | None] = list(inp[0].shape)
        self.output_names = [o.name for o in self._sess.get_outputs()]
        self._run = lambda x: self._sess.run(self.output_names[:1], {self.input_name: x})[0]

    def _open_tflite(self, threads: int | None) -> None:
        from rep_deploy.converters.tflite import LceRunner, inspect_tflite

        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"{self.path}: no such file")
        data = open(self.path, "rb").read()
        try:
            summary = inspect_tflite(data)
        except Exception as e:  # noqa: BLE001 - a damaged flatbuffer raises anything
            raise ValueError(f"{self.path} is not a readable TFLite model ({type(e).__name__}); "
                             f"re-convert or re-copy it") from None
        try:
            runner = LceRunner(data, threads or 1)
        except ValueError as e:
            raise ValueError(f"{self.path}: {e}") from None
        self.backend = "lce"
        self.metadata = summary.metadata
        self.uses_custom_ops = "LceBconv2d" in summary.op_histogram
        self.uses_library, self.kernel_path = False, None
        self.input_name, self.output_names = "input", ["logits"]
        self.input_shape = list(runner.input_shape)
        self._run = runner.run

    # -- inputs --------------------------------------------------------------------------------
    def _check(self, x: Any) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise InputError(f"expected a numpy array, got {type(x).__name__}")
        if x.dtype == np.uint8:
            raise InputError("expected a normalized float32 batch, got uint8: raw 0..255 images go "
                             "through predict() / normalize() (CLI: rep-deploy run --normalize)")
        if x.dtype != np.float32:
            raise InputError(f"expected float32 input, got {x.dtype} (use x.astype(np.float32))")
        expected = self.input_shape
        if x.ndim != len(expected):
            raise InputError(f"expected a {len(expected)}-D batch shaped {_fmt(expected)}, got shape "
                             f"{tuple(x.shape)}")
        if x.shape[0] == 0:
            raise InputError("empty batch: the input has 0 images")
        for axis, (got, want) in enumerate(zip(x.shape, expected)):
            if isinstance(want, int) and got != want:
                raise InputError(f"input shape {tuple(x.shape)} does not match the model's "
                                 f"{_fmt(expected)} (axis {axis}: {got} != {want})")
        # ORT reads raw memory: give it a C-contiguous copy of a strided view
        return np.ascontiguousarray(x)

    # -- running -------------------------------------------------------------------------------
    def run(self, x: np.ndarray) -> np.ndarray:
        """Logits for a normalized float32 batch (N, C, H, W)."""
        return self._run(self._check(x))

    def normalize(self, images: np.ndarray) -> np.ndarray:
        """Scale raw images to [0, 1] and apply the model's recorded mean/std.

        Args:
            images: (N, C, H, W) float in [0, 1], or uint8 in 0..255 (divided by 255 here).

        Raises:
            InputError: another dtype, float values outside [0, 1] (0..255 pixels stored as float,
                or an already normalized batch), a wrong shape, or a file without normalization.
        """
        mean, std = self.metadata.get("mean"), self.metadata.get("std")
        if mean is None or std is None:
            raise InputError(f"{self.path} records no normalization (not a rep-deploy export?); "
                             f"normalize yourself and call run()")
        images = to_unit_range(images)
        if images.ndim != 4 or images.shape[1] != len(mean):
            raise InputError(f"expected images shaped (N, {len(mean)}, H, W), got {images.shape}")
        m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
        return (images - m) / s

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Top-1 class per image for raw images (float in [0, 1] or uint8 0..255; see normalize)."""
        return self.run(self.normalize(images)).argmax(axis=1)

    @property
    def engine(self) -> str:
        """What computes this session's outputs, in words (the CLI prints it; JSON records it)."""
        if self.backend == "lce":
            return "LCE's x86 interpreter (portable kernels: for checking outputs, not for speed)"
        if self.uses_library:
            return f"rep-deploy's native kernels ({self.kernel_path})"
        if self.uses_custom_ops:
            return "the custom ops' ONNX function bodies (no native library)"
        return "stock ONNX Runtime (standard ops only)"

    def __repr__(self) -> str:
        return (f"InferenceSession({self.path!r}, model={self.metadata.get('model')!r}, "
                f"input={_fmt(self.input_shape)}, {self.engine})")


def to_unit_range(images: np.ndarray) -> np.ndarray:
    """Raw images as float32 in [0, 1]: uint8 is divided by 255, float must already be in [0, 1].

    Raises:
        InputError: any other dtype, or float values outside [0, 1]; the message says how to convert.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    if not np.issubdtype(images.dtype, np.floating):
        raise InputError(f"raw images must be float in [0, 1] or uint8 in 0..255, got {images.dtype} "
                         f"(convert with x.astype(np.float32) / max_value)")
    if images.size:
        lo, hi = float(np.min(images)), float(np.max(images))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise InputError("raw images contain NaN or infinity")
        if hi > 1.0 or lo < 0.0:
            hint = ("0..255 pixels? pass them as uint8, or divide by 255" if hi > 1.0 and lo >= 0.0
                    else "already normalized? call run() instead")
            raise InputError(f"raw float images must lie in [0, 1], got values in [{lo:.4g}, {hi:.4g}] "
                             f"({hint})")
    return images.astype(np.float32, copy=False)


def _fmt(shape: list[int | str | None]) -> str:
    return "(" + ", ".join(str(d) if isinstance(d, int) else "N" for d in shape) + ")"
