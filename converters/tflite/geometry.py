"""Padding geometry: ONNX's explicit pads against TensorFlow's SAME / VALID, in flipped frames.

LCE binarizes a convolution only with TF's own padding geometry: VALID, or SAME (pad_before =
total // 2, pad_after = the rest), for zero padding (``pad_values=0``) as for +1 padding. ONNX (and
PyTorch) pad symmetrically. The two agree for stride 1 with odd kernels, and disagree for stride 2 on
even sizes, the downsampling layers of every zoo model: PyTorch pads one row on top that TF puts at
the bottom. Flipping the axis swaps the two: ``conv(x, w) = flip(conv_same(flip(x), flip(w)))``
exactly (zero-padded taps contribute 0 either way).

So the lowering keeps each activation in a *frame*: the set of spatial axes it is stored reversed
along. A window op computes in its input's frame (its kernel flipped there, before and after swapped),
and an op whose geometry fits TF only flipped reverses its *input* once and leaves its output in the
flipped frame. Stride-1 convs, even-size 2x2 pools and global pooling are indifferent to the frame, so
a whole ResNet or ReActNet needs one REVERSE, of the input image, and none per layer.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AxisPadding", "match_axis", "Geometry", "conv_geometry", "window_extent"]


@dataclass(frozen=True)
class AxisPadding:
    """How one spatial axis of an ONNX window op maps onto TF: 'valid', 'same' or 'same_flipped'."""

    mode: str  # "valid", "same", "same_flipped", or "flip_valid" / "flip_same" (the frame must toggle)
    pads: tuple[int, int]  # (before, after) in the frame the op computes in


def window_extent(size: int, k: int, s: int, d: int, before: int, after: int) -> tuple[int, int, int]:
    """(output size, padding before, padding after that the last window reaches: negative when
    trailing rows are never read)."""
    k_eff = d * (k - 1) + 1
    out = (size + before + after - k_eff) // s + 1
    return out, before, (out - 1) * s + k_eff - size - before


def match_axis(size: int, k: int, s: int, d: int, before: int, reach_after: int) -> AxisPadding | None:
    """TF geometry equal to a window op's on one axis (``before`` and ``reach_after`` as in the
    value's frame), or None when neither SAME, flipped SAME, nor VALID fits."""
    k_eff = d * (k - 1) + 1
    out = (size + before + reach_after - k_eff) // s + 1
    if before < 0:
        return None
    if before == 0 and reach_after <= 0:
        # VALID reads rows 0 .. (out-1)*s + k_eff - 1 and drops the rest, exactly as here
        return AxisPadding("valid", (0, max(reach_after, 0))) if out == (size - k_eff) // s + 1 else None
    if out != -(-size // s) or reach_after < 0:  # SAME's output size is ceil(size / s)
        return None
    total = max((out - 1) * s + k_eff - size, 0)
    tf_before, tf_after = total // 2, total - total // 2
    if (before, reach_after) == (tf_before, tf_after):
        return AxisPadding("same", (before, reach_after))
    if (before, reach_after) == (tf_after, tf_before):
        return AxisPadding("same_flipped", (before, reach_after))
    return None


@dataclass(frozen=True)
class Geometry:
    padding: str  # "VALID" or "SAME"
    flip_axes: tuple[int, ...]  # NHWC axes (1 = H, 2 = W) whose frame the op must toggle first


def conv_geometry(hw: tuple[int, int], kernel: tuple[int, int], strides: tuple[int, int],
                  dilations: tuple[int, int], pads: tuple[int, int, int, int],
                  frame: tuple[int, ...] = ()) -> Geometry | None:
    """TF padding for an ONNX conv/pool with ``pads`` (top, left, bottom, right) on an input stored
    in ``frame``, or None when no frame fits.

    Both axes must agree on VALID or SAME (TF has one padding for both); an axis that fits only
    flipped is listed in ``flip_axes`` (the caller reverses the input along it).
    """
    axes = []
    for i in (0, 1):
        _, before, reach = window_extent(hw[i], kernel[i], strides[i], dilations[i], pads[i], pads[i + 2])
        if 1 + i in frame:
            before, reach = reach, before
        a = match_axis(hw[i], kernel[i], strides[i], dilations[i], before, reach)
        if a is None:
            flipped = match_axis(hw[i], kernel[i], strides[i], dilations[i], reach, before)
            if flipped is None or flipped.mode == "same_flipped":
                return None
            a = AxisPadding("flip_" + flipped.mode, flipped.pads)
        elif a.mode == "same_flipped":
            a = AxisPadding("flip_same", a.pads)
        axes.append(a)
    modes = {a.mode.removeprefix("flip_") for a in axes}
    if len(modes) == 2:
        # VALID on one axis and SAME on the other: SAME with zero total padding is VALID there
        for i, a in enumerate(axes):
            if a.mode.endswith("valid"):
                k_eff = dilations[i] * (kernel[i] - 1) + 1
                if max((-(-hw[i] // strides[i]) - 1) * strides[i] + k_eff - hw[i], 0) != 0:
                    return None
        modes = {"same"}
    flips = tuple(1 + i for i, a in enumerate(axes) if a.mode.startswith("flip_"))
    return Geometry("VALID" if modes == {"valid"} else "SAME", flips)
