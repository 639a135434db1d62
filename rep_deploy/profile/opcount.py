"""Count parameters, FLOPs and BOPs of a PyTorch BNN the way the RepBNN paper's Table 1 does.

Conventions (RepBNN, following XNOR-Net / Bi-Real / ReActNet):

* full-precision conv and FC count multiply-accumulates (FLOPs); binary convs count binary MACs (BOPs);
* ``OPs = FLOPs + BOPs / 64``;
* BatchNorm counts 2 FLOPs per element it normalizes, reported separately ("with and without BN");
* channel tiles, pooling, PReLU, learnable biases and sign count 0.

A RepBconv counts the MACs of its own (pre-tile) conv, so a Rep model's BOPs equal its base's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from rep_deploy.nn import ScaledBinaryConv2d

__all__ = ["LayerCount", "OpCount", "count_ops", "paper_ops"]


@dataclass(frozen=True)
class LayerCount:
    name: str
    kind: str  # "bconv" | "conv" | "fc" | "bn"
    ops: int  # MACs for bconv/conv/fc, normalized elements for bn
    out_shape: tuple[int, ...]


@dataclass
class OpCount:
    """Per-image cost of a model at one input size."""

    params: int = 0
    binary_params: int = 0
    binary_macs: int = 0
    #: pre-tile output elements of the binary convs (the term the paper's Table 1 BOPs include)
    binary_out_elements: int = 0
    conv_macs: int = 0
    fc_macs: int = 0
    bn_elements: int = 0
    layers: list[LayerCount] = field(default_factory=list)

    @property
    def fp_macs(self) -> int:
        return self.conv_macs + self.fc_macs

    @property
    def bn_flops(self) -> int:
        return 2 * self.bn_elements

    @property
    def bops(self) -> int:
        """The paper's Table 1 BOPs: binary MACs + binary-conv output elements (pre-tile)."""
        return self.binary_macs + self.binary_out_elements

    def ops(self, with_bn: bool = False, bops: str = "macs") -> float:
        """OPs = FLOPs + BOPs/64 (+ 2 per BatchNorm element when ``with_bn``).

        Args:
            with_bn: add the BN FLOPs.
            bops: ``"macs"`` (pure binary MACs: the paper's Table 2, ResNet-20 1,069,696) or
                ``"paper"`` (+ binary-conv output elements: its Table 1, ReActNet-A 0.872e8).
        """
        return paper_ops(self.fp_macs, self.binary_macs, self.binary_out_elements,
                         self.bn_flops if with_bn else 0, bops=bops)


def paper_ops(fp_macs: int, binary_macs: int, binary_out_elements: int, bn_flops: int = 0, *,
              bops: str = "macs") -> float:
    """The RepBNN paper's OPs = FLOPs + BOPs/64 (+ BN FLOPs): the one formula both counters use.

    Args:
        bops: ``"macs"``: BOPs are the binary MACs (the paper's Table 2); ``"paper"``: plus the
            binary convs' pre-tile output elements (its Table 1).
    """
    if bops not in ("macs", "paper"):
        raise ValueError(f"bops must be 'macs' or 'paper', not {bops!r}")
    b = binary_macs + (binary_out_elements if bops == "paper" else 0)
    return fp_macs + b / 64 + bn_flops


def count_ops(model: nn.Module, input_shape: tuple[int, ...]) -> OpCount:
    """Run one forward pass of a single image with hooks and count its cost.

    Works on the ``meta`` device too (build the model under ``torch.device("meta")``): only shapes are
    needed, so counting a large model then costs no arithmetic.

    Args:
        model: any module built from ``rep_deploy.nn`` blocks and torch layers.
        input_shape: (C, H, W) or (1, C, H, W).

    Returns:
        The counts for one image.
    """
    if len(input_shape) == 3:
        input_shape = (1, *input_shape)
    if input_shape[0] != 1:
        raise ValueError(f"count_ops counts one image; got batch {input_shape[0]}")
    result = OpCount()
    result.params = sum(p.numel() for p in model.parameters())
    hooks = []

    def hook(name: str):
        def fn(m: nn.Module, inputs, output) -> None:
            out_shape = tuple(output.shape)
            if isinstance(m, ScaledBinaryConv2d):
                macs = m.binary_macs(out_shape[-2], out_shape[-1])
                result.binary_macs += macs
                result.binary_out_elements += m.out_channels * out_shape[-2] * out_shape[-1]
                result.binary_params += m.weight.numel()
                result.layers.append(LayerCount(name, "bconv", macs, out_shape))
            elif isinstance(m, nn.Conv2d):
                kh, kw = m.kernel_size
                macs = m.out_channels * (m.in_channels // m.groups) * kh * kw * out_shape[-2] * out_shape[-1]
                result.conv_macs += macs
                result.layers.append(LayerCount(name, "conv", macs, out_shape))
            elif isinstance(m, nn.Linear):
                macs = m.in_features * m.out_features
                result.fc_macs += macs
                result.layers.append(LayerCount(name, "fc", macs, out_shape))
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                x = inputs[0]
                spatial = math.prod(x.shape[2:])
                elements = m.num_features * spatial
                result.bn_elements += elements
                result.layers.append(LayerCount(name, "bn", elements, out_shape))
        return fn

    for name, m in model.named_modules():
        if isinstance(m, (ScaledBinaryConv2d, nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm)):
            hooks.append(m.register_forward_hook(hook(name)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            p = next(model.parameters(), None)
            model(torch.zeros(input_shape, dtype=p.dtype if p is not None else torch.float32,
                              device=p.device if p is not None else None))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return result
