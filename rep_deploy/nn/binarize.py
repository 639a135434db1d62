"""Binarization with the deployed sign convention.

PyTorch's ``torch.sign`` maps 0 to 0, but a packed bit can only hold +1 or -1. Every model this
project defines binarizes with ``x >= 0 -> +1, x < 0 -> -1`` (the same as the ONNX function body
``Where(x >= 0, 1, -1)`` and LCE's ``ste_sign``), so the PyTorch model and the deployed model agree
bit for bit, zeros included.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["binarize", "sign_approx", "sign_ste", "BinaryActivation"]


def binarize(x: Tensor) -> Tensor:
    """Forward-only binarization: +1 where ``x >= 0``, -1 elsewhere (no gradient tricks)."""
    one = torch.ones((), dtype=x.dtype, device=x.device)
    return torch.where(x >= 0, one, -one)


class _SignApprox(torch.autograd.Function):
    """Sign forward; Bi-Real Net's ApproxSign derivative ``max(0, 2 - 2|x|)`` backward."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        return binarize(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        # d/dx of the piecewise polynomial 2x+x^2 (x<0) / 2x-x^2 (x>=0) on [-1, 1]
        return grad * torch.clamp(2.0 - 2.0 * x.abs(), min=0.0)


class _SignSTE(torch.autograd.Function):
    """Sign forward; identity backward (pass-through straight-through estimator)."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        return binarize(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad


def sign_approx(x: Tensor) -> Tensor:
    """Binarize with the Bi-Real approx-sign gradient (what ReActNet's BinaryActivation trains with)."""
    return _SignApprox.apply(x)


def sign_ste(x: Tensor) -> Tensor:
    """Binarize with an identity gradient.

    Binary convs binarize their input again so that a conv means the same thing in PyTorch and in
    ONNX whatever feeds it. On an input that is already +-1 this is a no-op, and the identity gradient
    keeps it from compounding with the activation's approx-sign gradient (which is 0 at +-1).
    """
    return _SignSTE.apply(x)


class BinaryActivation(nn.Module):
    """``sign`` activation (sign(0) = +1) trained with the Bi-Real approx-sign gradient.

    The module is parameter-free; its name in ReActNet/Rep_AdamBNN checkpoints is ``binary_activation``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if torch.onnx.is_in_onnx_export():
            return binarize(x)  # traced as GreaterOrEqual + Where; the gradient is irrelevant
        return sign_approx(x)
