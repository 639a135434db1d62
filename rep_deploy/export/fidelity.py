"""Where the deployed model can differ from the training code: counted per layer, said as warnings.

Verification proves that the exported file computes what the PyTorch model computes. Three things sit
outside that proof, and a user must hear about them every time, not only deep in ``report.json``:

* Latent binary weights that are exactly 0. The public training code binarizes weights with
  ``torch.sign``, which maps 0 to 0, so such a tap added nothing while the model trained. A packed bit
  holds only +-1; rep-deploy (and its PyTorch reference) deploys 0 as +1, so the tap now adds +-scale
  to every output pixel of its channel. Counted per layer from the model's latent weights.
* Binarization inputs that are exactly 0 on the verification batch: the same sign(0) question for
  activations (counted by :func:`rep_deploy.validate.torch_logits`).
* No checkpoint: a zoo model's weights are then random, fine for trying the pipeline, useless to deploy.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from rep_deploy.nn import ScaledBinaryConv2d

__all__ = ["zero_weight_layers", "fidelity_summary"]


def zero_weight_layers(model: nn.Module) -> list[dict[str, Any]]:
    """Binary conv layers whose latent weight has exact zeros: ``[{layer, zeros, weights}]``."""
    rows = []
    for name, m in model.named_modules():
        if isinstance(m, ScaledBinaryConv2d):
            zeros = int((m.weight.detach() == 0).sum())
            if zeros:
                rows.append({"layer": name, "zeros": zeros, "weights": m.weight.numel()})
    return rows


def fidelity_summary(model: nn.Module, verification: dict[str, Any], *, weights: str) -> dict[str, Any]:
    """Counts and warnings for the export report.

    Args:
        model: the exported PyTorch model (weights as exported).
        verification: :meth:`VerificationReport.to_dict` of the export.
        weights: ``"checkpoint"``, ``"module"`` (an ``nn.Module`` given as is) or ``"random"``.

    Returns:
        ``{"zero_binary_weights", "zero_weight_layers", "sign_zero_inputs", "sign_near_zero_inputs",
        "binary_layers", "warnings"}``; ``warnings`` are one-paragraph strings, most important first.
    """
    layers = zero_weight_layers(model)
    binary_layers = sum(isinstance(m, ScaledBinaryConv2d) for m in model.modules())
    zeros = sum(r["zeros"] for r in layers)
    warnings = []
    if weights == "random":
        warnings.append("no checkpoint given: the weights are random (seeded), so this file is for "
                        "trying the pipeline, not for deployment; pass --checkpoint (or --pretrained "
                        "for the demo models)")
    if binary_layers == 0:
        warnings.append("the model has no rep_deploy.nn binary convolutions, so nothing was "
                        "binarized or bit-packed; build binary layers from rep_deploy.nn "
                        "(ScaledBinaryConv2d, RepBConv2d)")
    if zeros:
        where = ", ".join(f"{r['layer']} ({r['zeros']})" for r in layers[:6])
        more = f" and {len(layers) - 6} more layers" if len(layers) > 6 else ""
        warnings.append(f"{zeros} latent binary weight(s) are exactly 0, in {where}{more}. Training code "
                        f"that binarizes with torch.sign maps them to 0 (the tap adds nothing); a packed "
                        f"bit holds only +-1 and they deploy as +1 (the tap adds +-scale), so these "
                        f"layers can differ from the training run. Check accuracy on your data, or "
                        f"fine-tune briefly so no latent weight sits at exactly 0")
    if verification.get("sign_zero_inputs"):
        warnings.append(f"{verification['sign_zero_inputs']} binarization input(s) were exactly 0 on "
                        f"the verification batch: torch.sign gives 0 there, the deployed model +1")
    return {"zero_binary_weights": zeros, "zero_weight_layers": layers,
            "sign_zero_inputs": verification.get("sign_zero_inputs"),
            "sign_near_zero_inputs": verification.get("sign_near_zero_inputs"),
            "binary_layers": binary_layers, "warnings": warnings}
