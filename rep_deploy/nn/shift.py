"""ReActNet's learnable shifts: LearnableBias ("move"), RSign and RPReLU."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .binarize import BinaryActivation

__all__ = ["LearnableBias", "RSign", "RPReLU"]


class LearnableBias(nn.Module):
    """``x + b`` with a per-channel ``bias`` of shape (1, C, 1, 1), zero-initialized.

    The parameter name and shape match ReActNet / Rep_AdamBNN checkpoints (``move11.bias``).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = int(channels)
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bias  # broadcast: same values as ReActNet's expand_as, one ONNX Add

    def extra_repr(self) -> str:
        return f"{self.channels}"


class RSign(nn.Module):
    """ReActNet's RSign: a learnable per-channel threshold, then sign (sign(0) = +1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.shift = LearnableBias(channels)
        self.binary_activation = BinaryActivation()

    def forward(self, x: Tensor) -> Tensor:
        return self.binary_activation(self.shift(x))


class RPReLU(nn.Module):
    """ReActNet's RPReLU: shift, per-channel PReLU, shift."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.shift_in = LearnableBias(channels)
        self.prelu = nn.PReLU(channels)
        self.shift_out = LearnableBias(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.shift_out(self.prelu(self.shift_in(x)))
