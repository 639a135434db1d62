"""``InferenceSession``: run an exported rep-deploy model with the native kernels registered for you.

    import rep_deploy as rd
    sess = rd.InferenceSession("out/model.onnx")        # custom-op library registered
    logits = sess.run(batch)                             # float32 (N, C, H, W), already normalized
    labels = sess.predict(images)                        # raw images: applies the recorded mean/std

Inputs are checked before ONNX Runtime sees them, so a wrong shape or dtype is a one-line error that
names what was expected. One session may be shared by several threads (ONNX Runtime's ``Run`` is
thread-safe and the kernels keep no per-call state on the kernel object).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from rep_deploy import ops
from rep_deploy.export.finalize import read_metadata

__all__ = ["InferenceSession", "InputError"]


class InputError(ValueError):
    """An input the model cannot take; the message names the expected shape/dtype."""


class InferenceSession:
    """An ONNX Runtime session for a rep-deploy export.

    Args:
        path: the exported ``model.onnx``.
        threads: intra-op threads (None: ONNX Runtime's default, one per core).
        use_library: register the native custom-op library. None (default): when the file uses
            rep-deploy ops (an error with build instructions if the library is not built); False:
            run the ops' ONNX function bodies instead (portable, much slower).
    """

    def __init__(self, path: str | os.PathLike[str], threads: int | None = None, *,
                 use_library: bool | None = None) -> None:
        self.path = os.fspath(path)
        try:
            model = onnx.load(self.path, load_external_data=False)
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.path}: no such file") from None
        except Exception as e:
            raise ValueError(f"{self.path} is not a readable ONNX model ({type(e).__name__})") from None
        self.metadata: dict[str, Any] = read_metadata(model)
        self.uses_custom_ops = any(n.domain == ops.DOMAIN for n in model.graph.node)
        if use_library is None:
            use_library = self.uses_custom_ops
        if use_library:
            from rep_deploy.runtime import make_session_options

            so = make_session_options(threads)
        else:
            so = ort.SessionOptions()
            if threads is not None:
                so.intra_op_num_threads = int(threads)
        self.uses_library = bool(use_library)
        try:
            self._sess = ort.InferenceSession(self.path, so, providers=["CPUExecutionProvider"])
        except Exception as e:  # ORT's messages are long; keep the first line
            raise RuntimeError(f"ONNX Runtime cannot load {self.path}: {str(e).splitlines()[0]}") from None
        inp = self._sess.get_inputs()
        if len(inp) != 1:
            raise ValueError(f"{self.path} has {len(inp)} inputs; InferenceSession expects one image batch")
        self.input_name = inp[0].name
        self.input_shape: list[int | str | None] = list(inp[0].shape)
        self.output_names = [o.name for o in self._sess.get_outputs()]

    # -- inputs --------------------------------------------------------------------------------
    def _check(self, x: Any) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise InputError(f"expected a numpy array, got {type(x).__name__}")
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
        return self._sess.run(self.output_names[:1], {self.input_name: self._check(x)})[0]

    def normalize(self, images: np.ndarray) -> np.ndarray:
        """Apply the model's recorded mean/std (images scaled to [0, 1], NCHW)."""
        mean, std = self.metadata.get("mean"), self.metadata.get("std")
        if mean is None or std is None:
            raise InputError(f"{self.path} records no normalization (not a rep-deploy export?); "
                             f"normalize yourself and call run()")
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1] != len(mean):
            raise InputError(f"expected images shaped (N, {len(mean)}, H, W), got {images.shape}")
        m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
        return (images - m) / s

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Top-1 class per image for raw images in [0, 1] (normalization applied here)."""
        return self.run(self.normalize(images)).argmax(axis=1)

    def __repr__(self) -> str:
        kernels = "native kernels" if self.uses_library else "function bodies"
        return (f"InferenceSession({self.path!r}, model={self.metadata.get('model')!r}, "
                f"input={_fmt(self.input_shape)}, {kernels})")


def _fmt(shape: list[int | str | None]) -> str:
    return "(" + ", ".join(str(d) if isinstance(d, int) else "N" for d in shape) + ")"
