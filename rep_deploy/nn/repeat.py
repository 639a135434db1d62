"""Channel tiling: the "repeat" of RepConv.

RepBNN's code uses ``x.repeat(1, r, 1, 1)``: output channel ``j`` is input channel ``j mod C``
(copies laid out ``c0..c_{C-1}, c0..c_{C-1}, ...``). This is *not* ``repeat_interleave`` (or
``tf.repeat``), which would give ``c0, c0, c1, c1, ...`` and pair every BatchNorm / PReLU channel
of a checkpoint with the wrong conv output.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["tile_channels", "Repeat"]


class _RepeatExport(torch.autograd.Function):
    """Carries the tile into ONNX as one ``rep_deploy::Repeat`` node (TorchScript exporter)."""

    @staticmethod
    def forward(ctx, x: Tensor, repeats: int) -> Tensor:  # type: ignore[override]
        return x.repeat(1, repeats, *([1] * (x.dim() - 2)))

    @staticmethod
    def symbolic(g, x, repeats: int):  # pragma: no cover - exercised through export
        from rep_deploy.ops import repeat as repeat_op

        return repeat_op.emit(g, x, repeats=repeats)


def tile_channels(x: Tensor, repeats: int) -> Tensor:
    """Tile ``x`` (N, C, ...) ``repeats`` times along dim 1: output channel j = input channel j mod C."""
    if repeats == 1:
        return x
    if torch.onnx.is_in_onnx_export():
        return _RepeatExport.apply(x, repeats)
    return x.repeat(1, repeats, *([1] * (x.dim() - 2)))


class Repeat(nn.Module):
    """Module form of :func:`tile_channels` (parameter-free, so it leaves checkpoint keys alone)."""

    def __init__(self, repeats: int) -> None:
        super().__init__()
        if repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {repeats}")
        self.repeats = int(repeats)

    def forward(self, x: Tensor) -> Tensor:
        return tile_channels(x, self.repeats)

    def extra_repr(self) -> str:
        return f"repeats={self.repeats}"
