"""Scaled binary convolution: ``conv(sign(x), sign(W)) * alpha`` per output channel.

The integer part ``conv(sign(x), sign(W))`` is exact in float32 (|value| <= Cin*k*k < 2**24), and the
scale is applied once afterwards. That is the order every deployed backend uses, so a model built
from this module agrees with its ONNX export bit for bit before the scale and to one float rounding
after it. (ReActNet computes ``conv(x, alpha*sign(W))`` instead: the same function up to rounding.)
"""
from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .binarize import binarize, sign_ste

__all__ = ["ScaledBinaryConv2d", "ScaleMode", "PadValue"]

ScaleMode = Literal["mean_abs", "none", "learned"]
PadValue = Literal[0, 1, -1]


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class _WeightSTE(torch.autograd.Function):
    """sign(W) forward (sign(0) = +1); gradient passed where |W| <= 1 (ReActNet's clamp STE)."""

    @staticmethod
    def forward(ctx, w: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(w)
        return binarize(w)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1.0).to(grad.dtype)


class _BinaryConvExport(torch.autograd.Function):
    """Emits one ``rep_deploy::BinaryConv`` node when traced by the TorchScript ONNX exporter."""

    @staticmethod
    def forward(ctx, x, w, scale, strides, pads, dilations, group, pad_value):  # type: ignore[override]
        return _binary_conv(x, w, scale, strides, pads, dilations, group, pad_value)

    @staticmethod
    def symbolic(g, x, w, scale, strides, pads, dilations, group, pad_value):  # pragma: no cover
        from rep_deploy.ops import binary_conv as op

        kernel_shape = w.type().sizes()[2:]
        return op.emit(g, x, w, scale, kernel_shape=kernel_shape, strides=strides, pads=pads,
                       dilations=dilations, group=group, pad_value=pad_value)


def _binary_conv(x: Tensor, wb: Tensor, scale: Tensor, strides, pads, dilations, group: int,
                 pad_value: int) -> Tensor:
    """Forward math shared by training and export: x is binarized, pads are (top, left, bottom, right)."""
    xb = sign_ste(x)
    top, left, bottom, right = pads
    if pad_value == 0 and top == bottom and left == right:
        y = F.conv2d(xb, wb, None, strides, (top, left), dilations, group)
    else:
        # Explicit pad: pad_value +-1, or asymmetric zero padding.
        xb = F.pad(xb, (left, right, top, bottom), value=float(pad_value))
        y = F.conv2d(xb, wb, None, strides, 0, dilations, group)
    return y * scale.view(1, -1, 1, 1)


class ScaledBinaryConv2d(nn.Module):
    """Binary 2-D convolution with binary weights and a per-output-channel scale.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups: as ``nn.Conv2d``.
        scale: ``"mean_abs"`` (alpha = mean |W| per output channel, detached: ReActNet/Bi-Real),
            ``"none"`` (alpha = 1) or ``"learned"`` (a trained per-channel ``alpha``: ReCU).
        pad_value: what the border taps see after binarization: 0 (PyTorch zero padding, the
            default of every public BNN code base), or +1 / -1 (binary padding, cheaper in kernels).

    The latent weight is called ``weight`` with shape (out, in/groups, kh, kw): AdamBNN's layout.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1,
                 scale: ScaleMode = "mean_abs", pad_value: PadValue = 0) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"channels ({in_channels} -> {out_channels}) must be divisible by "
                             f"groups={groups}")
        if scale not in ("mean_abs", "none", "learned"):
            raise ValueError(f"scale must be 'mean_abs', 'none' or 'learned', got {scale!r}")
        if pad_value not in (0, 1, -1):
            raise ValueError(f"pad_value must be 0, 1 or -1, got {pad_value!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.scale_mode: ScaleMode = scale
        self.pad_value = int(pad_value)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if scale == "learned":
            self.alpha = nn.Parameter(torch.ones(out_channels))

    # -- pieces the exporter and the profiler read ------------------------------------------------
    @property
    def pads(self) -> tuple[int, int, int, int]:
        """ONNX-order pads (top, left, bottom, right)."""
        ph, pw = self.padding
        return (ph, pw, ph, pw)

    def binary_weight(self) -> Tensor:
        """sign(W) with sign(0) = +1, carrying the clamp STE gradient."""
        return _WeightSTE.apply(self.weight)

    def scale(self) -> Tensor:
        """Per-output-channel alpha, shape (out_channels,)."""
        if self.scale_mode == "mean_abs":
            return self.weight.abs().mean(dim=(1, 2, 3)).detach()
        if self.scale_mode == "learned":
            return self.alpha
        return torch.ones(self.out_channels, dtype=self.weight.dtype, device=self.weight.device)

    def binary_macs(self, out_h: int, out_w: int) -> int:
        """Binary multiply-accumulates for one image at the given output size."""
        kh, kw = self.kernel_size
        return self.out_channels * (self.in_channels // self.groups) * kh * kw * out_h * out_w

    def forward(self, x: Tensor) -> Tensor:
        if torch.onnx.is_in_onnx_export():
            # rep_deploy.export.patcher freezes sign(W) and alpha as plain tensors so the tracer
            # records them as constants rather than as ops on the latent weight.
            wb, scale = getattr(self, "_export_frozen", None) or (self.binary_weight(), self.scale())
            return _BinaryConvExport.apply(x, wb, scale, self.stride, self.pads, self.dilation,
                                           self.groups, self.pad_value)
        return _binary_conv(x, self.binary_weight(), self.scale(), self.stride, self.pads,
                            self.dilation, self.groups, self.pad_value)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}, padding={self.padding}")
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + f", scale={self.scale_mode}, pad_value={self.pad_value}"
