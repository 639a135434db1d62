"""Elastic-Link (Hu et al., AAAI 2022, arXiv 2112.10149).

EL adds the real-valued input of a binary conv to the conv's output, after a Squeeze or Expand that
matches the channel count and a learnable scale that balances the two paths (the paper's Fig. 2).
No public code exists, so this is the exact definition rep-deploy uses:

    EL(x) = gamma * T(x),     y = BN(BinaryConv(sign(x))) + EL(x)

* spatial: ``T`` average-pools with kernel = stride = the conv's stride when the stride is > 1;
* Expand (``C_out = r*C_in``): tile the channels r times (output channel j = input channel j mod C_in,
  the same order as RepConv's repeat);
* Squeeze (``C_in = r*C_out``): the mean of the r channels that Expand would have copied, i.e. output
  channel j = mean over k of input channel j + k*C_out (so Squeeze(Expand(x)) = x);
* ``gamma``: one learnable scale per output channel, shape (1, C_out, 1, 1), initialized to 1 so EL
  starts as a plain residual link. The optional XNOR-style activation scaling is omitted, as the
  paper allows.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .repeat import tile_channels

__all__ = ["ElasticLink"]


class ElasticLink(nn.Module):
    """``gamma * T(x)``: the real-valued link added to a binary conv's output (see module doc)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        big, small = max(in_channels, out_channels), min(in_channels, out_channels)
        if big % small:
            raise ValueError(f"Elastic-Link needs one channel count to divide the other, got "
                             f"{in_channels} -> {out_channels}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.gamma = nn.Parameter(torch.ones(1, out_channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = F.avg_pool2d(x, self.stride, self.stride)
        if self.out_channels > self.in_channels:
            x = tile_channels(x, self.out_channels // self.in_channels)
        elif self.in_channels > self.out_channels:
            n, _, h, w = x.shape
            x = x.reshape(n, self.in_channels // self.out_channels, self.out_channels, h, w).mean(1)
        return self.gamma * x

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"
