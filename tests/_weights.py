"""Test helper: every floating tensor of a model's state set to seeded random values."""
from __future__ import annotations

import torch
from torch import nn


def randomize_all(model: nn.Module, seed: int, scale: float) -> nn.Module:
    """Non-trivial values everywhere, BN statistics and conv weights included, so a mis-loaded or
    mis-wired tensor changes the outputs: N(0, scale) draws, running variances |N(0, 1)| + 0.5.

    Unlike ``rep_deploy.export.random_weights.randomize_for_verification`` (which leaves latent
    binary weights alone and keeps trained ranges), this touches every key: the tests compare
    checkpoints and reference implementations tensor by tensor."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                r = torch.randn(t.shape, generator=g)
                t.copy_(r.abs() + 0.5 if "running_var" in name else scale * r)
    return model
