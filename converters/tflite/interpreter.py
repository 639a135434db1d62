"""Run a .tflite file with LCE's interpreter behind an NCHW interface.

LCE's Python interpreter (``larq_compute_engine.tflite.python.interpreter``) registers LceBconv2d /
LceQuantize / LceDequantize and runs on x86 too, with portable (not ARM-optimized) kernels: right for
verification, not a measure of phone speed. The files rep-deploy writes take one NHWC image per
invoke; this wrapper takes the NCHW batches the rest of rep-deploy uses and loops.
"""
from __future__ import annotations

import numpy as np

from ._tf import load

__all__ = ["LceRunner"]


class LceRunner:
    """LCE's interpreter for one .tflite model.

    Args:
        data: the flatbuffer.
        threads: interpreter threads.
    """

    def __init__(self, data: bytes, threads: int = 1) -> None:
        load()  # TF_USE_LEGACY_KERAS and a clear error before LCE's own import
        from larq_compute_engine.tflite.python.interpreter import Interpreter

        self._interpreter = Interpreter(data, num_threads=int(threads))
        io = [np.dtype(t).name for t in (*self._interpreter.input_types, *self._interpreter.output_types)]
        if any(t != "float32" for t in io):  # a fully quantized model: predict() would fail deep in LCE
            raise ValueError(f"its input and output are {' / '.join(io)}: rep-deploy runs .tflite files "
                             f"with float32 input and output (LCE's converter keeps them float32 unless "
                             f"given inference_input_type / inference_output_type)")
        (n, h, w, c), = self._interpreter.input_shapes
        #: NCHW input shape, batch free (the model itself takes one image at a time)
        self.input_shape: list[int | None] = [None, int(c), int(h), int(w)]

    def run(self, x: np.ndarray) -> np.ndarray:
        """Outputs for an NCHW float32 batch (rank-4 outputs come back NCHW)."""
        y = self._interpreter.predict(np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1))))
        return np.transpose(y, (0, 3, 1, 2)) if y.ndim == 4 else y
