"""ReActNet-A and the networks derived from it: Rep-ReActNet-A, Elastic-Link and expand-shrink variants.

Papers:
    ReActNet: Liu, Shen, Savvides, Cheng, "ReActNet: Towards Precise Binary Neural Network with
        Generalized Activation Functions", ECCV 2020 (arXiv 2003.03488).
    AdamBNN: Liu, Shen, Li, Helwegen, Huang, Cheng, "How Do Adam and Training Strategies Help BNNs
        Optimization?", ICML 2021 (arXiv 2106.11309) - same network, 4-D weight storage.
    RepBNN: Shi et al., "RepBNN: towards a precise Binary Neural Network with Enhanced Feature Map via
        Repeating" (arXiv 2207.09049) - Rep_AdamBNN is RepTran(ReActNet-A, beta=2).
    Elastic-Link: Hu et al., AAAI 2022 (arXiv 2112.10149).
    Expanding-and-shrinking: Shi et al., arXiv 2503.23709.

Origin: the module tree and names follow the public ReActNet ``mobilenet/`` code (identical in AdamBNN
and Rep_AdamBNN), so their checkpoints load strictly: ``feature.0`` is the FP stem (``conv1``, ``bn1``),
``feature.1..13`` are blocks (``move11``, ``binary_3x3``, ``bn1``, ``move12``, ``prelu1``, ``move13``,
``move21``, ``binary_pw`` + ``bn2`` or ``binary_pw_down1/2`` + ``bn2_1/2``, ``move22``, ``prelu2``,
``move23``), then ``fc``. Only the binary weight storage differs between code bases (ReActNet: flat
``weights`` (N, 1); AdamBNN / Rep_AdamBNN: 4-D ``weight``); :mod:`rep_deploy.checkpoint` converts.
Binarization uses the deployed convention sign(0) = +1 (``rep_deploy.nn``), not ``torch.sign``.

Rep-ReActNet-A is not a second architecture: it is ``reptran(reactnet_a(), beta)`` driven by the
model's :class:`~rep_deploy.reptran.RepTranSpec`. With ``first_order="bn_repeat"`` (the stem BN keeps
32 channels and its output is tiled, as the Rep_AdamBNN code does) ``beta=2`` yields exactly the
Rep_AdamBNN layout: ``feature.1.binary_3x3.weight`` (16, 64, 3, 3), ``fc.weight`` (1000, 2048), 298
state-dict entries. The blocks are written width-agnostically (no slicing by stored channel counts) so
that RepTran can widen every per-channel module and leave the block logic alone.

Elastic-Link variant (``reactnet-a-el``). EL has no public code; rep-deploy's definition is
:class:`rep_deploy.nn.ElasticLink` (``y = BN(BinaryConv(sign(x))) + gamma * T(x)``). In ReActNet-A
every residual shortcut around a binary conv becomes an EL:

* 3x3 stage: ``link1 = EL(C -> C, stride)``, i.e. the AvgPool shortcut with a learnable per-channel
  gamma (gamma = 1 is exactly ReActNet's shortcut);
* pointwise stage, channels kept: ``link2 = EL(C -> C)``;
* pointwise stage, channels doubled: ReActNet's two C->C convs with two BNs, two residual adds and a
  concat become ONE 1x1 binary conv C->2C (``binary_pw``) + ``bn2`` (2C) + ``link2 = EL(C -> 2C)``,
  whose Expand is the channel tile. This is a deliberate choice, not a second reading of the paper:
  the concat of ``[conv1(x) + x, conv2(x) + x]`` *is* ``conv(x) + tile(x, 2)`` with the two kernels
  stacked, so the two designs compute the same function family, and the single conv is the natural
  place for EL's Expand (EL's own motivation is C_in != C_out 1x1 convs). Params and BOPs equal
  ReActNet-A's; one BN(2C) replaces two BN(C) with the same parameter count.

Expand-shrink group variant (``es-reactnet-a``): ``reptran(reactnet_a(), beta=tau, es_groups=2)``:
every binary conv becomes a grouped ES conv (input tau*g wider, g groups, output replicated
tau**2 * g times), feature maps widen by tau*g; params and BOPs stay those of ReActNet-A. The stem
keeps the Rep_AdamBNN order (BN(32), then tile); the public ES code, built on BNext rather than
ReActNet, tiles before its stem BN, so an ES checkpoint from that code would not load here anyway.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rep_deploy.nn import BinaryActivation, ElasticLink, LearnableBias, ScaledBinaryConv2d
from rep_deploy.registry import ModelInfo, register_model
from rep_deploy.reptran import RepTranSpec, reptran

__all__ = ["STAGE_OUT_CHANNELS", "FirstConv3x3", "BasicBlock", "ElasticBlock", "ReActNetA",
           "REACTNET_SPEC", "reactnet_a", "rep_reactnet_a", "reactnet_a_el", "rep_reactnet_a_el",
           "es_reactnet_a"]

# Output channels of feature.0 .. feature.13 (MobileNet-v1 widths, as in the ReActNet code).
STAGE_OUT_CHANNELS: tuple[int, ...] = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512,
                                       1024, 1024)

# Where RepTran finds the first and last layers. "bn_repeat" reproduces Rep_AdamBNN (BN(32) in the
# stem, tiled afterwards) rather than the paper's tile-then-BN rule.
REACTNET_SPEC = RepTranSpec(stem=("feature.0.conv1",), first_bn="feature.0.bn1", last_fc="fc",
                            first_order="bn_repeat")

_PAPER = ("ReActNet (Liu et al., ECCV 2020, arXiv 2003.03488); weights layout of AdamBNN "
          "(arXiv 2106.11309)")
_REP_PAPER = "RepBNN (Shi et al., arXiv 2207.09049): Rep_AdamBNN = RepTran(ReActNet-A, beta=2)"
_EL_PAPER = "Elastic-Link (Hu et al., AAAI 2022, arXiv 2112.10149) on ReActNet-A"
_ES_PAPER = "Expanding-and-shrinking BNN (Shi et al., arXiv 2503.23709), group variant, on ReActNet-A"


# -- blocks ----------------------------------------------------------------------------------------
class FirstConv3x3(nn.Module):
    """The full-precision stem: 3x3 conv (stride 2, no bias) then BatchNorm, no activation."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn1(self.conv1(x))


def _check_block(inplanes: int, planes: int, stride: int) -> None:
    """A ReActNet-A block keeps or doubles its channels and strides by 1 or 2."""
    if planes not in (inplanes, 2 * inplanes):
        raise ValueError(f"a ReActNet-A block keeps or doubles its channels, got "
                         f"{inplanes} -> {planes}")
    if stride not in (1, 2):
        raise ValueError(f"ReActNet-A blocks have stride 1 or 2, got {stride}")


class _TwoStageBlock(nn.Module):
    """What ReActNet-A's block variants share: the 3x3 stage's modules and the final RPReLU.

    Modules are registered in checkpoint order (``move11 .. move21``, the pointwise stage's own,
    then ``move22 .. move23``), so the helpers are called at the right points of ``__init__``.
    """

    def _stage1(self, inplanes: int, planes: int, stride: int, shortcut: tuple[str, nn.Module]) -> None:
        _check_block(inplanes, planes, stride)
        self.inplanes, self.planes, self.stride = inplanes, planes, stride
        self.move11 = LearnableBias(inplanes)
        self.binary_activation = BinaryActivation()
        self.binary_3x3 = ScaledBinaryConv2d(inplanes, inplanes, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.add_module(*shortcut)
        self.move12 = LearnableBias(inplanes)
        self.prelu1 = nn.PReLU(inplanes)
        self.move13 = LearnableBias(inplanes)
        self.move21 = LearnableBias(inplanes)

    def _stage2_activation(self, planes: int) -> None:
        self.move22 = LearnableBias(planes)
        self.prelu2 = nn.PReLU(planes)
        self.move23 = LearnableBias(planes)


class BasicBlock(_TwoStageBlock):
    """ReActNet-A block: a 3x3 binary stage and a 1x1 binary stage, each with a shortcut and RPReLU.

    ``x -> [move11, sign, binary_3x3 (stride s), bn1] + pool(x) -> RPReLU (move12, prelu1, move13)
    -> [move21, sign, binary_pw, bn2] + out1 -> RPReLU (move22, prelu2, move23)``.
    When the channels double, the pointwise stage is two C->C convs (``binary_pw_down1/2``) each with
    its own BN and residual, concatenated: ReActNet's way to double width without a real-valued
    shortcut conv.

    Args:
        inplanes: input channels C.
        planes: output channels: C, or 2C for a doubling block.
        stride: stride of the 3x3 conv (1 or 2).
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        # The shortcut of the 3x3 stage; parameter-free, so it adds no checkpoint keys.
        self._stage1(inplanes, planes, stride,
                     ("pooling", nn.AvgPool2d(2, 2) if stride == 2 else nn.Identity()))
        if inplanes == planes:
            self.binary_pw = ScaledBinaryConv2d(inplanes, planes, 1)
            self.bn2 = nn.BatchNorm2d(planes)
        else:
            self.binary_pw_down1 = ScaledBinaryConv2d(inplanes, inplanes, 1)
            self.binary_pw_down2 = ScaledBinaryConv2d(inplanes, inplanes, 1)
            self.bn2_1 = nn.BatchNorm2d(inplanes)
            self.bn2_2 = nn.BatchNorm2d(inplanes)
        self._stage2_activation(planes)

    def forward(self, x: Tensor) -> Tensor:
        out1 = self.bn1(self.binary_3x3(self.binary_activation(self.move11(x))))
        out1 = out1 + self.pooling(x)
        out1 = self.move13(self.prelu1(self.move12(out1)))

        out2 = self.binary_activation(self.move21(out1))
        if self.inplanes == self.planes:
            out2 = self.bn2(self.binary_pw(out2)) + out1
        else:
            # Both halves add the same shortcut: the concat doubles channels with no FP conv.
            out2 = torch.cat([self.bn2_1(self.binary_pw_down1(out2)) + out1,
                              self.bn2_2(self.binary_pw_down2(out2)) + out1], dim=1)
        return self.move23(self.prelu2(self.move22(out2)))


class ElasticBlock(_TwoStageBlock):
    """ReActNet-A block with every binary-conv shortcut replaced by an Elastic-Link (module doc).

    Names follow :class:`BasicBlock` where the role is the same; ``link1`` / ``link2`` are the ELs,
    and the pointwise stage is always one ``binary_pw`` (C -> planes) + ``bn2``.
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self._stage1(inplanes, planes, stride, ("link1", ElasticLink(inplanes, inplanes, stride=stride)))
        self.binary_pw = ScaledBinaryConv2d(inplanes, planes, 1)
        self.bn2 = nn.BatchNorm2d(planes)
        self.link2 = ElasticLink(inplanes, planes)  # Expand (tile x2) when the channels double
        self._stage2_activation(planes)

    def forward(self, x: Tensor) -> Tensor:
        out1 = self.bn1(self.binary_3x3(self.binary_activation(self.move11(x)))) + self.link1(x)
        out1 = self.move13(self.prelu1(self.move12(out1)))
        out2 = self.bn2(self.binary_pw(self.binary_activation(self.move21(out1)))) + self.link2(out1)
        return self.move23(self.prelu2(self.move22(out2)))


# -- model -----------------------------------------------------------------------------------------
class ReActNetA(nn.Module):
    """ReActNet-A: FP stem, 13 binary blocks (``feature``), global average pool, FP classifier.

    Args:
        num_classes: classifier outputs.
        elastic_link: build :class:`ElasticBlock` blocks instead of :class:`BasicBlock`.
        stage_out_channels: widths of feature.0 .. feature.N (ReActNet-A's by default); a block
            strides 2 where the width changes, except into 64 channels (as in the ReActNet code).
    """

    reptran_spec = REACTNET_SPEC

    def __init__(self, num_classes: int = 1000, *, elastic_link: bool = False,
                 stage_out_channels: tuple[int, ...] = STAGE_OUT_CHANNELS) -> None:
        super().__init__()
        block: type[nn.Module] = ElasticBlock if elastic_link else BasicBlock
        self.feature = nn.ModuleList([FirstConv3x3(3, stage_out_channels[0], 2)])
        for prev, cur in zip(stage_out_channels[:-1], stage_out_channels[1:]):
            stride = 2 if cur != prev and cur != 64 else 1
            self.feature.append(block(prev, cur, stride))
        self.pool1 = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(stage_out_channels[-1], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        for block in self.feature:
            x = block(x)
        return self.fc(torch.flatten(self.pool1(x), 1))


# -- builders --------------------------------------------------------------------------------------
def _info(name: str, family: str, paper: str, formats: tuple[str, ...], *, beta: int = 1,
          rep_of: str | None = None, **extra: Any) -> ModelInfo:
    return ModelInfo(name=name, family=family, input_size=(3, 224, 224), num_classes=1000,
                     mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), beta=beta,
                     rep_of=rep_of, checkpoint_formats=formats, paper=paper, extra=dict(extra))


# -- registrations ---------------------------------------------------------------------------------
@register_model(_info("reactnet-a", "reactnet-a", _PAPER, ("reactnet_flat", "adambnn", "rep_deploy")))
def reactnet_a(num_classes: int = 1000) -> ReActNetA:
    """ReActNet-A / AdamBNN-ReActNet-A (loads ReActNet's flat and AdamBNN's 4-D checkpoints)."""
    return ReActNetA(num_classes)


@register_model(_info("rep-reactnet-a", "reactnet-a", _REP_PAPER, ("rep_adambnn", "rep_deploy"),
                      beta=2, rep_of="reactnet-a"), takes_beta=True)
def rep_reactnet_a(beta: int = 2, num_classes: int = 1000) -> nn.Module:
    """Rep-ReActNet-A = RepTran(ReActNet-A, beta); beta=2 is the Rep_AdamBNN network."""
    return reptran(ReActNetA(num_classes), beta)


@register_model(_info("reactnet-a-el", "reactnet-a-el", _EL_PAPER, ("rep_deploy",),
                      elastic_link="gamma*T(x), T = avgpool + tile/mean; see models/reactnet.py"))
def reactnet_a_el(num_classes: int = 1000) -> ReActNetA:
    """ReActNet-A with Elastic-Links on every binary-conv shortcut (no public weights exist)."""
    return ReActNetA(num_classes, elastic_link=True)


@register_model(_info("rep-reactnet-a-el", "reactnet-a-el", _EL_PAPER + ", RepTran'd",
                      ("rep_deploy",), beta=2, rep_of="reactnet-a-el"), takes_beta=True)
def rep_reactnet_a_el(beta: int = 2, num_classes: int = 1000) -> nn.Module:
    """RepTran(ReActNet-A-EL, beta): ELs are widened like every other per-channel module."""
    return reptran(ReActNetA(num_classes, elastic_link=True), beta)


@register_model(_info("es-reactnet-a", "reactnet-a", _ES_PAPER, ("rep_deploy",), beta=2,
                      rep_of="reactnet-a", es_groups=2, beta_is="tau"), takes_beta=True)
def es_reactnet_a(beta: int = 2, num_classes: int = 1000) -> nn.Module:
    """Expand-shrink group variant: ``beta`` is tau, with 2 groups (feature maps widen by 2*tau)."""
    return reptran(ReActNetA(num_classes), beta, es_groups=2)
