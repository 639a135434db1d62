"""Export-time patching: put a model into the state the ONNX tracer should see, and restore it.

Inside :func:`export_patches` every binary conv carries its binarized weights and scale as frozen
tensors (so the tracer records constants, not the training-time STE arithmetic on latent weights),
and the model is in eval mode (BatchNorm uses running statistics). Everything is undone on exit,
also when the export fails.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from rep_deploy.nn import ScaledBinaryConv2d
from rep_deploy.nn.binarize import binarize

__all__ = ["export_patches"]


@contextlib.contextmanager
def export_patches(model: nn.Module) -> Iterator[nn.Module]:
    """Patch ``model`` for tracing; yields the same module."""
    was_training = model.training
    convs = [m for m in model.modules() if isinstance(m, ScaledBinaryConv2d)]
    try:
        model.eval()
        with torch.no_grad():
            for m in convs:
                m._export_frozen = (binarize(m.weight).detach().clone(), m.scale().detach().clone())
        yield model
    finally:
        for m in convs:
            m.__dict__.pop("_export_frozen", None)
        model.train(was_training)
