"""NCHW (ONNX) to NHWC (TensorFlow) for values, constants and axes.

Inside the lowered model every rank-4 activation is NHWC, so TFLite needs no TRANSPOSE around each op;
ONNX semantics are kept by translating axes and constant shapes once, at lowering time.
"""
from __future__ import annotations

import numpy as np

__all__ = ["NCHW_TO_NHWC", "axis_to_nhwc", "const_to_nhwc"]

#: NHWC position of each NCHW axis: N->0, C->3, H->1, W->2
NCHW_TO_NHWC = (0, 3, 1, 2)


def axis_to_nhwc(axis: int, rank: int = 4) -> int:
    """An ONNX axis of a rank-4 NCHW tensor, as an NHWC axis."""
    if rank != 4:
        return axis if axis >= 0 else axis + rank
    return NCHW_TO_NHWC[axis if axis >= 0 else axis + 4]


def const_to_nhwc(value: np.ndarray) -> np.ndarray:
    """A constant that broadcasts against an NCHW activation, reshaped to broadcast against NHWC.

    numpy broadcasting aligns shapes from the right, so a constant of rank < 4 is first padded with
    leading 1s to rank 4; then the axes move like the activation's.
    """
    v = np.asarray(value)
    if v.ndim == 0:
        return v
    v = v.reshape((1,) * (4 - v.ndim) + v.shape)
    return np.transpose(v, (0, 2, 3, 1))
