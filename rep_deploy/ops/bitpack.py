"""Bit-packing of binary weights for storage in ONNX files.

Layout of a packed BinaryConv weight (documented once here; the C++ kernels and converters read it):

* The float weight W has shape (Cout, Cin/group, kh, kw); each output channel's K = Cin/group*kh*kw
  weights are taken in C order (cin, kh, kw) and packed into ceil(K/8) bytes.
* Bit i (value ``1 << i``) of byte b of a row holds weight ``8*b + i`` ("little" bit order, as
  ``numpy.packbits(..., bitorder="little")``).
* Bit 1 means +1, bit 0 means -1. Pad bits at the end of a row are 0.
* The packed tensor is uint8 with shape (Cout, ceil(K/8)). K is not stored: the op derives it from
  the input's channel count, ``group`` and ``kernel_shape``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["pack_weights", "unpack_weights", "packed_row_bytes"]


def packed_row_bytes(k: int) -> int:
    return (k + 7) // 8


def pack_weights(w: np.ndarray) -> np.ndarray:
    """Pack a (Cout, Cin/g, kh, kw) array of +-1 (sign convention: >= 0 is +1) into uint8 rows."""
    if w.ndim != 4:
        raise ValueError(f"expected a 4-D weight (Cout, Cin/group, kh, kw), got shape {w.shape}")
    bits = (np.asarray(w).reshape(w.shape[0], -1) >= 0)
    return np.packbits(bits, axis=1, bitorder="little")


def unpack_weights(packed: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """Inverse of :func:`pack_weights`: float32 +-1 weights of the given (Cout, Cin/g, kh, kw) shape."""
    cout, cin_g, kh, kw = shape
    k = cin_g * kh * kw
    if packed.dtype != np.uint8 or packed.shape != (cout, packed_row_bytes(k)):
        raise ValueError(f"packed weight must be uint8 of shape ({cout}, {packed_row_bytes(k)}) for "
                         f"weight shape {tuple(shape)}, got {packed.dtype} {packed.shape}")
    bits = np.unpackbits(packed, axis=1, count=k, bitorder="little")
    return (bits.astype(np.float32) * 2.0 - 1.0).reshape(shape)
