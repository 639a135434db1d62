"""RepTran (RepBNN, section 4): turn a base BNN into its RepBNN by rules applied module by module.

* First layer (4.1): the stem is left as it is, and its output is replicated beta times at its
  BatchNorm: before it (the paper's rule) or after it (what the public Rep_AdamBNN code does for
  ReActNet-A); see :class:`~rep_deploy.nn.RepeatedBatchNorm2d`.
* Backbone (4.2): every binary conv becomes a RepBconv (:class:`~rep_deploy.nn.RepBConv2d`); every
  full-precision conv (downsampling bypasses) becomes a :class:`~rep_deploy.nn.RepConv`; BatchNorm,
  PReLU, learnable biases and Elastic-Links are widened beta times; parameter-free modules (sign,
  activations, pooling) are kept. A module with channel state of its own can join by defining
  ``reptran_widen(factor) -> nn.Module``.
* Last layer (4.3): the classifier becomes a :class:`~rep_deploy.nn.RepLinear` reading all, 1/beta
  or 1/beta**2 of the widened features.

A model opts in by carrying a :class:`RepTranSpec` as ``model.reptran_spec`` naming its stem modules,
the stem BatchNorm and the classifier. Anything the rules do not cover raises, naming the module:
RepTran never guesses. The result is a new, untrained network (shapes change, so weights cannot carry
over), except for the stem modules, which are copied.

The expanding-and-shrinking group-conv variant is the same transform with ``es_groups > 1``: binary
convs become grouped ES convs and the feature maps widen by ``beta * es_groups``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

from torch import nn

from .nn import (BinaryActivation, ElasticLink, FCMode, LearnableBias, Repeat, RepBConv2d,
                 RepConv, RepeatedBatchNorm2d, RepLinear, ScaledBinaryConv2d)

__all__ = ["RepTranSpec", "reptran", "RepTranError"]

# Parameter-free modules that do not depend on the channel count.
_CHANNEL_FREE = (BinaryActivation, nn.ReLU, nn.ReLU6, nn.Hardtanh, nn.Tanh, nn.Sigmoid, nn.Identity,
                 nn.Flatten, nn.Dropout, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d,
                 nn.AdaptiveMaxPool2d)


class RepTranError(ValueError):
    """A module RepTran has no rule for, or a spec that does not match the model."""


@dataclass(frozen=True)
class RepTranSpec:
    """Where the first and last layers of a model are.

    Attributes:
        stem: qualified names of the first-layer modules left untouched (the FP stem conv).
        first_bn: the first layer's BatchNorm, where the beta-fold replication happens.
        last_fc: the classifier ``nn.Linear``.
        first_order: ``"repeat_bn"`` (paper) or ``"bn_repeat"`` (Rep_AdamBNN code).
    """

    stem: tuple[str, ...]
    first_bn: str
    last_fc: str
    first_order: Literal["repeat_bn", "bn_repeat"] = "repeat_bn"


def _widen_bn(bn: nn.modules.batchnorm._BatchNorm, f: int) -> nn.Module:
    return type(bn)(bn.num_features * f, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                    track_running_stats=bn.track_running_stats)


def _rule(name: str, m: nn.Module, beta: int, es_groups: int) -> nn.Module | None:
    """The replacement for one module, or None to keep it (containers are recursed into)."""
    f = beta * es_groups
    if hasattr(m, "reptran_widen"):
        return m.reptran_widen(f)
    if isinstance(m, (RepBConv2d, RepConv, RepeatedBatchNorm2d, RepLinear)):
        raise RepTranError(f"{name} ({type(m).__name__}) is already a Rep module: RepTran applies "
                           f"to base models only")
    if isinstance(m, ScaledBinaryConv2d):
        if m.groups != 1:
            raise RepTranError(f"{name}: RepTran of a grouped binary conv (groups={m.groups}) is "
                               f"not defined")
        return RepBConv2d(m.in_channels, m.out_channels, m.kernel_size, beta=beta, stride=m.stride,
                          padding=m.padding, dilation=m.dilation, groups=es_groups,
                          scale=m.scale_mode, pad_value=m.pad_value)  # type: ignore[arg-type]
    if isinstance(m, nn.Conv2d):
        if m.groups != 1 or m.dilation != (1, 1) or es_groups != 1:
            raise RepTranError(f"{name}: no RepConv rule for this conv ({m})")
        return RepConv(m.in_channels, m.out_channels, m.kernel_size, beta=f, stride=m.stride,
                       padding=m.padding, bias=m.bias is not None)
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        return _widen_bn(m, f)
    if isinstance(m, nn.PReLU):
        return m if m.num_parameters == 1 else nn.PReLU(m.num_parameters * f)
    if isinstance(m, LearnableBias):
        return LearnableBias(m.channels * f)
    if isinstance(m, ElasticLink):
        return ElasticLink(m.in_channels * f, m.out_channels * f, m.stride)
    if isinstance(m, nn.Linear):
        raise RepTranError(f"{name}: a Linear layer inside the backbone has no RepTran rule (only "
                           f"the classifier named in reptran_spec.last_fc is transformed)")
    if isinstance(m, _CHANNEL_FREE + (Repeat,)):
        return None
    if next(m.parameters(recurse=False), None) is not None or list(m.buffers(recurse=False)):
        raise RepTranError(f"{name}: RepTran has no rule for {type(m).__name__}; give it a "
                           f"reptran_widen(factor) method")
    return None  # a container: its children are visited


def reptran(model: nn.Module, beta: int = 2, *, fc_mode: FCMode = "all", es_groups: int = 1,
            first_order: Literal["repeat_bn", "bn_repeat"] | None = None) -> nn.Module:
    """Apply RepTran to a base BNN.

    Args:
        model: a base model carrying ``model.reptran_spec``.
        beta: replication factor; must divide the output channels of every binary conv.
        fc_mode: last-layer rule: ``"all"`` (paper default), ``"1/beta"`` or ``"1/beta^2"``.
        es_groups: > 1 for the expanding-and-shrinking group-conv variant.
        first_order: override the spec's placement of the first-layer replication.

    Returns:
        A new module; the input model is not modified.
    """
    spec: RepTranSpec | None = getattr(model, "reptran_spec", None)
    if spec is None:
        raise RepTranError(f"{type(model).__name__} has no reptran_spec naming its first and last "
                           f"layers")
    if beta < 1 or es_groups < 1:
        raise RepTranError(f"beta and es_groups must be >= 1, got {beta}, {es_groups}")
    out = copy.deepcopy(model)
    if beta == 1 and es_groups == 1:
        return out
    f = beta * es_groups
    modules = dict(out.named_modules())
    for required in (*spec.stem, spec.first_bn, spec.last_fc):
        if required not in modules:
            raise RepTranError(f"reptran_spec names {required!r}, which is not a module of "
                               f"{type(model).__name__}")
    order = first_order or spec.first_order
    replacements: dict[str, nn.Module] = {}
    first_bn = modules[spec.first_bn]
    if not isinstance(first_bn, nn.BatchNorm2d):
        raise RepTranError(f"{spec.first_bn} must be a BatchNorm2d, got {type(first_bn).__name__}")
    replacements[spec.first_bn] = RepeatedBatchNorm2d(first_bn.num_features, f, order,
                                                      eps=first_bn.eps, momentum=first_bn.momentum)
    fc = modules[spec.last_fc]
    if not isinstance(fc, nn.Linear):
        raise RepTranError(f"{spec.last_fc} must be an nn.Linear, got {type(fc).__name__}")
    replacements[spec.last_fc] = RepLinear(fc.in_features, fc.out_features, f, fc_mode,
                                           bias=fc.bias is not None)

    def visit(prefix: str, parent: nn.Module) -> None:
        for child_name, child in parent.named_children():
            name = f"{prefix}{child_name}"
            if name in spec.stem:
                continue
            new = replacements.get(name)
            if new is None:
                new = _rule(name, child, beta, es_groups)
            if new is None:
                visit(name + ".", child)
            elif new is not child:
                setattr(parent, child_name, new)

    visit("", out)
    out.reptran_spec = spec  # type: ignore[assignment]
    out.reptran_beta = beta  # type: ignore[assignment]
    return out
