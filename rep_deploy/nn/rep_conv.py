"""RepConv / RepBconv (RepBNN, section 3) and the widened first/last layers RepTran needs.

A RepConv takes a conv of shape (Cout, Cin, k, k) and reshapes its kernel to (Cout/beta, Cin*beta, k, k):
the input is beta times wider, the conv yields Cout/beta channels, and the output is tiled beta**2 times
to Cout*beta channels. Parameters and multiply-accumulates equal the original conv's.
"""
from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from .bconv import PadValue, ScaledBinaryConv2d, ScaleMode
from .repeat import tile_channels

__all__ = ["RepBConv2d", "RepConv", "RepeatedBatchNorm2d", "RepLinear", "FCMode"]

FCMode = Literal["all", "1/beta", "1/beta^2"]


def _check_divisible(what: str, channels: int, by: int, beta: int) -> None:
    if channels % by:
        raise ValueError(f"{what}={channels} is not divisible by {by}: beta={beta} must divide the "
                         f"channel counts of every layer RepTran touches; choose another beta")


class RepBConv2d(ScaledBinaryConv2d):
    """Binary RepConv: ``tile(BinaryConv(Cin*beta*g -> Cout/beta, groups=g), beta**2 * g)``.

    Args:
        in_channels, out_channels: the *original* conv's channels; the module reads
            ``in_channels*beta*groups`` and writes ``out_channels*beta*groups`` channels.
        beta: the replication factor (tau in the expanding-and-shrinking paper).
        groups: the expanding-and-shrinking group-conv variant (Fig. 2c of arXiv 2503.23709): the
            input is ``groups`` times wider again and convolved in ``groups`` groups; 1 for RepBNN.

    The latent weight keeps the name ``weight`` with shape (Cout/beta, Cin*beta, kh, kw), as in
    Rep_AdamBNN checkpoints (``binary_3x3.weight`` is (16, 64, 3, 3) for a 32 -> 32 conv at beta=2).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 beta: int = 2, stride: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0, dilation: int | tuple[int, int] = 1,
                 groups: int = 1, scale: ScaleMode = "mean_abs", pad_value: PadValue = 0) -> None:
        if beta < 1 or groups < 1:
            raise ValueError(f"beta and groups must be >= 1, got beta={beta}, groups={groups}")
        _check_divisible("out_channels", out_channels, beta * groups, beta)
        super().__init__(in_channels * beta * groups, out_channels // beta, kernel_size, stride,
                         padding, dilation, groups, scale, pad_value)
        self.base_in, self.base_out, self.beta, self.es_groups = in_channels, out_channels, beta, groups
        self.repeats = beta * beta * groups

    def forward(self, x: Tensor) -> Tensor:
        return tile_channels(super().forward(x), self.repeats)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", beta={self.beta}, repeats={self.repeats}"


class RepConv(nn.Conv2d):
    """Full-precision RepConv (used by RepTran for downsampling bypass convs).

    Weight (Cout/beta, Cin*beta, kh, kw), output tiled beta**2 times, so a bypass on the beta-times
    wider feature map costs what the original bypass cost.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 beta: int = 2, stride: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0, bias: bool = False) -> None:
        _check_divisible("out_channels", out_channels, beta, beta)
        super().__init__(in_channels * beta, out_channels // beta, kernel_size, stride, padding,
                         bias=bias)
        self.base_in, self.base_out, self.beta = in_channels, out_channels, beta
        self.repeats = beta * beta

    def forward(self, x: Tensor) -> Tensor:
        return tile_channels(super().forward(x), self.repeats)


class RepeatedBatchNorm2d(nn.BatchNorm2d):
    """RepTran's first-layer rule: a BatchNorm with a channel tile before or after it.

    ``order="repeat_bn"`` is the paper's rule (tile beta times, then BN over beta*C channels);
    ``order="bn_repeat"`` is what the public Rep_AdamBNN code does for ReActNet-A (BN over C, then
    tile). Subclassing BatchNorm2d keeps checkpoint keys unchanged (``bn1.weight``, ...).
    """

    def __init__(self, channels: int, beta: int, order: Literal["repeat_bn", "bn_repeat"],
                 **bn_kwargs) -> None:
        if order not in ("repeat_bn", "bn_repeat"):
            raise ValueError(f"order must be 'repeat_bn' or 'bn_repeat', got {order!r}")
        super().__init__(channels * beta if order == "repeat_bn" else channels, **bn_kwargs)
        self.beta, self.order = beta, order

    def forward(self, x: Tensor) -> Tensor:
        if self.order == "repeat_bn":
            return super().forward(tile_channels(x, self.beta))
        return tile_channels(super().forward(x), self.beta)


class RepLinear(nn.Linear):
    """RepTran's last-layer rule (RepBNN Fig. 6) on a feature vector beta times wider.

    ``mode="all"``: FC over all beta*C inputs (beta times the FC cost; the paper's choice).
    ``mode="1/beta"``: FC over the first C inputs (the original cost).
    ``mode="1/beta^2"``: FC over the first C/beta inputs (1/beta of the cost).
    Which channels the slices take is not stated in the paper; the first ones are used, as the
    expanding-and-shrinking code does (``x[:, :C]``).
    """

    def __init__(self, in_features: int, out_features: int, beta: int, mode: FCMode = "all",
                 bias: bool = True) -> None:
        widths = {"all": in_features * beta, "1/beta": in_features, "1/beta^2": in_features // beta}
        if mode not in widths:
            raise ValueError(f"mode must be one of {sorted(widths)}, got {mode!r}")
        if mode == "1/beta^2":
            _check_divisible("in_features", in_features, beta, beta)
        super().__init__(widths[mode], out_features, bias=bias)
        self.beta, self.mode = beta, mode

    def forward(self, x: Tensor) -> Tensor:
        if self.mode != "all":
            x = x[:, : self.in_features]
        return super().forward(x)
