"""A numpy model of Larq Compute Engine's op contract (LceQuantize, LceDequantize, LceBconv2d).

It follows the comment block of ``runtimes/core/lce.h`` and is written as plain arithmetic on +-1
values (no popcounts, no word tricks), so that it is an independent check of the C++ core's
reference and kernels (``tests/test_lce_core.py``):

* packing: channel ``c`` of a pixel goes to int32 word ``c // 32``, bit ``c % 32``; bit 1 means the
  value is negative (``x < 0``: 0.0, -0.0 and NaN pack as 0, i.e. +1); bits past the channels are 0;
* ``bconv2d``: NHWC input words, OHWI filter words, TFLite SAME / VALID padding, stride, dilation,
  groups; ``conv`` is the +-1 dot product over the counted taps (out-of-image taps are +1 inputs for
  pad_value 1 and are left out for pad_value 0); ``accum = (K - conv) / 2`` is the number of
  disagreeing bits; float output ``float32(clamp(conv)) * multiplier + bias`` rounded once per step,
  bit-packed output ``accum > threshold``.
"""
from __future__ import annotations

import numpy as np

SAME, VALID = 0, 1  # TFLite schema values of the ``padding`` option
NONE, RELU, RELU_N1_TO_1, RELU6 = 0, 1, 2, 3  # fused_activation_function
_CLAMP = {NONE: (None, None), RELU: (0, None), RELU_N1_TO_1: (-1, 1), RELU6: (0, 6)}


def words(channels: int) -> int:
    """int32 words that hold ``channels`` packed channels."""
    return (channels + 31) // 32


def pack(x: np.ndarray) -> np.ndarray:
    """LceQuantize: float ``[..., C]`` to int32 ``[..., words(C)]`` (bit 1 <=> x < 0)."""
    x = np.asarray(x, dtype=np.float32)
    channels = x.shape[-1]
    bits = np.zeros(x.shape[:-1] + (words(channels) * 32,), dtype=np.uint64)
    bits[..., :channels] = x < 0  # NaN < 0 is False: +1
    weights = np.uint64(1) << np.arange(32, dtype=np.uint64)
    packed = (bits.reshape(x.shape[:-1] + (-1, 32)) * weights).sum(axis=-1, dtype=np.uint64)
    return packed.astype(np.uint32).view(np.int32)


def unpack_bits(w: np.ndarray, channels: int) -> np.ndarray:
    """The first ``channels`` bits of int32 words ``[..., words]`` as uint8 0/1 ``[..., channels]``."""
    w = np.asarray(w, dtype=np.int32).view(np.uint32)
    bits = (w[..., :, None] >> np.arange(32, dtype=np.uint32)) & 1
    return bits.reshape(w.shape[:-1] + (-1,))[..., :channels].astype(np.uint8)


def unpack(w: np.ndarray, channels: int) -> np.ndarray:
    """LceDequantize: int32 ``[..., words(C)]`` to float32 ``[..., C]`` of +1.0 (bit 0) / -1.0 (bit 1)."""
    return np.where(unpack_bits(w, channels) == 1, np.float32(-1.0), np.float32(1.0))


quantize = pack
dequantize = unpack


def _same_axis(size: int, k: int, stride: int, dilation: int) -> tuple[int, int, int]:
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + (k - 1) * dilation + 1 - size)
    return out, total // 2, total - total // 2


def _valid_axis(size: int, k: int, stride: int, dilation: int) -> int:
    span = size - (k - 1) * dilation
    return (span - 1) // stride + 1 if span > 0 else 0


def bconv2d(
    x: np.ndarray,
    filt: np.ndarray,
    channels_in: int,
    *,
    multiplier: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    thresholds: np.ndarray | None = None,
    stride: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
    padding: int = SAME,
    pad_value: int = 1,
    activation: int = NONE,
    bitpacked_output: bool = False,
) -> np.ndarray:
    """LceBconv2d on packed input ``x`` int32 ``[N, H, W, words(Cin)]`` and filter ``filt`` int32
    ``[Cout, kh, kw, filter_words]``: float32 ``[N, OH, OW, Cout]`` or, with ``bitpacked_output``,
    int32 ``[N, OH, OW, words(Cout)]``."""
    n, h, w, in_words = x.shape
    cout, kh, kw, fw = filt.shape
    groups = in_words // fw
    if in_words % fw or (groups > 1 and channels_in % (32 * groups)) or cout % groups:
        raise ValueError("LceBconv2d: the filter does not split the input into groups")
    cin_g, cout_g = channels_in // groups, cout // groups
    (sh, sw), (dh, dw) = stride, dilation
    if padding == SAME:
        oh, pt, pb = _same_axis(h, kh, sh, dh)
        ow, pl, pr = _same_axis(w, kw, sw, dw)
    else:
        oh, ow, pt, pb, pl, pr = _valid_axis(h, kh, sh, dh), _valid_axis(w, kw, sw, dw), 0, 0, 0, 0
    if oh == 0 or ow == 0:  # VALID on an image smaller than the kernel
        last = words(cout) if bitpacked_output else cout
        return np.zeros((n, oh, ow, last), dtype=np.int32 if bitpacked_output else np.float32)
    # +-1 values per group, the padded border holding the pad value (+1, or 0 = not counted)
    xs = np.concatenate([unpack(x[..., g * fw:(g + 1) * fw], cin_g) for g in range(groups)], axis=-1)
    xp = np.full((n, h + pt + pb, w + pl + pr, channels_in), float(pad_value), dtype=np.float64)
    xp[:, pt:pt + h, pl:pl + w] = xs
    inside = np.zeros(xp.shape[1:3], dtype=np.int64)  # 1 where a tap is counted in K
    inside[pt:pt + h, pl:pl + w] = 1
    if pad_value == 1:
        inside[:] = 1
    ws = unpack(filt, cin_g).astype(np.float64)  # [Cout, kh, kw, cin_g]
    conv = np.zeros((n, oh, ow, cout), dtype=np.int64)
    counted = np.zeros((oh, ow), dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            counted += inside[rows, cols]
            tap = xp[:, rows, cols, :]  # [N, OH, OW, Cin]
            for g in range(groups):
                xg = tap[..., g * cin_g:(g + 1) * cin_g]
                wg = ws[g * cout_g:(g + 1) * cout_g, i, j, :]
                conv[..., g * cout_g:(g + 1) * cout_g] += np.rint(xg @ wg.T).astype(np.int64)
    k_bits = counted[None, :, :, None] * cin_g
    if bitpacked_output:
        accum = (k_bits - conv) // 2
        bits = accum > np.asarray(thresholds, dtype=np.int64)
        return pack(np.where(bits, np.float32(-1.0), np.float32(1.0)))
    lo, hi = _CLAMP[activation]
    clamped = np.clip(conv, lo, hi) if lo is not None or hi is not None else conv
    out = clamped.astype(np.float32) * np.asarray(multiplier, dtype=np.float32)
    return out + np.asarray(bias, dtype=np.float32)
