"""Seeded, non-degenerate weights for exporting a zoo model without a checkpoint.

A freshly built model is a poor verification subject: BatchNorm starts as the identity (mean 0, var 1,
gamma 1, beta 0) and learnable shifts start at 0, so many binarization inputs are exactly 0 (an integer
accumulator of 0 stays 0) and BN folding bugs stay invisible. This draws the statistics and shifts from
ranges a trained BNN has, so every layer's parameters matter to the output. Binary latent weights
keep their random init.
"""
from __future__ import annotations

import torch
from torch import nn

from rep_deploy.nn import ElasticLink, LearnableBias, ScaledBinaryConv2d

__all__ = ["randomize_for_verification"]


@torch.no_grad()
def randomize_for_verification(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fill BN statistics/affines, shifts, PReLU slopes, learned scales and EL gains (in place)."""
    g = torch.Generator().manual_seed(seed)

    def uniform(t: torch.Tensor, lo: float, hi: float) -> None:
        t.copy_(torch.rand(t.shape, generator=g) * (hi - lo) + lo)

    def normal(t: torch.Tensor, std: float) -> None:
        t.copy_(torch.randn(t.shape, generator=g) * std)

    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            if m.running_mean is not None:
                normal(m.running_mean, 0.2)
                uniform(m.running_var, 0.5, 2.0)
            if m.affine:
                uniform(m.weight, 0.5, 1.5)
                normal(m.bias, 0.2)
        elif isinstance(m, LearnableBias):
            normal(m.bias, 0.1)
        elif isinstance(m, nn.PReLU):
            uniform(m.weight, 0.05, 0.5)
        elif isinstance(m, ScaledBinaryConv2d) and m.scale_mode == "learned":
            uniform(m.alpha, 0.5, 1.5)
        elif isinstance(m, ElasticLink):
            uniform(m.gamma, 0.5, 1.5)
    return model
