"""The expanding-and-shrinking (ES) operation (Shi et al., arXiv 2503.23709).

ES is RepConv with tau in place of beta: the input has ``c_i*tau`` channels (expanding), the kernel has
``c_o/tau`` filters (shrinking), the output is replicated to ``c_o*tau`` channels, then BatchNorm and a
residual add at that width. Its binary group-conv variant (Fig. 2c) widens the input by ``tau*g``,
convolves in ``g`` groups of ``c_o/(tau*g)`` filters of depth ``c_i*tau``, and replicates the
concatenated outputs to ``c_o*tau*g`` channels. Parameters and BOPs equal the plain conv's in both.
"""
from __future__ import annotations

from torch import Tensor, nn

from .bconv import PadValue, ScaleMode
from .binarize import BinaryActivation
from .rep_conv import RepBConv2d

__all__ = ["ExpandShrinkBConv2d", "ExpandShrinkBlock"]


class ExpandShrinkBConv2d(RepBConv2d):
    """ES binary conv with expansion ``tau`` and ``groups`` (1: Fig. 2b, >1: Fig. 2c)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 tau: int = 2, groups: int = 1, stride: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0, scale: ScaleMode = "mean_abs",
                 pad_value: PadValue = 0) -> None:
        super().__init__(in_channels, out_channels, kernel_size, beta=tau, stride=stride,
                         padding=padding, groups=groups, scale=scale, pad_value=pad_value)
        self.tau = tau


class ExpandShrinkBlock(nn.Module):
    """sign -> ES binary conv -> BN(c_o*tau*g) -> + x: the ES building block of Fig. 2 (b)/(c).

    Input and output have ``channels*tau*groups`` channels; stride 1 (a residual of equal shape).
    """

    def __init__(self, channels: int, kernel_size: int = 3, tau: int = 2, groups: int = 1) -> None:
        super().__init__()
        width = channels * tau * groups
        self.binary_activation = BinaryActivation()
        self.conv = ExpandShrinkBConv2d(channels, channels, kernel_size, tau=tau, groups=groups,
                                        padding=kernel_size // 2)
        self.bn = nn.BatchNorm2d(width)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.bn(self.conv(self.binary_activation(x)))
