"""Bi-Real Net-18 and its RepBNN (Rep-Bi-Real-18).

Paper: Liu, Wu, Luo, Yang, Liu, Cheng, "Bi-Real Net: Enhancing the Performance of 1-bit CNNs with
Improved Representational Capability and Advanced Training Algorithm", ECCV 2018 (arXiv 1808.00278).
RepBNN (Shi et al., arXiv 2207.09049) reports Rep-Bi-Real Net at 57.1% top-1 (Table 8).

Origin: module names follow the public PyTorch code (liuzechun/Bi-Real-net,
``pytorch_implementation/BiReal18_34``) so its checkpoints load: ``conv1``/``bn1``/``maxpool`` stem,
``layer1..4`` of four blocks each (``binary_conv``, ``bn1``, ``downsample.{1,2}``), ``fc``. That code
stores binary weights flat (``binary_conv.weights``, (N, 1)) like ReActNet; :mod:`rep_deploy.checkpoint`
reshapes them into this model's 4-D ``weight``.

Every block holds ONE binary 3x3 conv with its own shortcut (the "bi-real" dense residual):
``sign -> binary conv (alpha = mean |W|) -> BN -> + shortcut``; the downsampling shortcut is
``AvgPool2d(2) -> FP 1x1 conv -> BN``. There is no activation after the stem BN (as in that code).

RepTran (``rep-bireal-18``): binary convs become RepBconvs, the FP 1x1 downsample conv becomes a
full-precision RepConv (its cost stays that of the original bypass, RepBNN section 4.2), the stem BN
follows the paper's first-layer rule (tile beta times, then BN over 64*beta channels) since no public
Rep-Bi-Real code fixes another order, and the FC reads all 512*beta features.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from rep_deploy.nn import BinaryActivation, ScaledBinaryConv2d
from rep_deploy.registry import ModelInfo, register_model
from rep_deploy.reptran import RepTranSpec, reptran

__all__ = ["BiRealBlock", "BiRealNet", "BIREAL_SPEC", "bireal_18", "rep_bireal_18"]

BIREAL_SPEC = RepTranSpec(stem=("conv1",), first_bn="bn1", last_fc="fc", first_order="repeat_bn")

_PAPER = "Bi-Real Net (Liu et al., ECCV 2018, arXiv 1808.00278), ResNet-18 variant"
_REP_PAPER = "RepBNN (Shi et al., arXiv 2207.09049): RepTran(Bi-Real Net-18, beta)"


# -- blocks ----------------------------------------------------------------------------------------
class BiRealBlock(nn.Module):
    """``BN(BinaryConv3x3(sign(x))) + shortcut(x)``: one binary conv with its own residual.

    Args:
        inplanes, planes: input / output channels.
        stride: conv stride.
        downsample: the shortcut when shape changes (AvgPool -> FP 1x1 conv -> BN), else None.
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.binary_activation = BinaryActivation()
        self.binary_conv = ScaledBinaryConv2d(inplanes, planes, 3, stride=stride, padding=1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.bn1(self.binary_conv(self.binary_activation(x))) + shortcut


# -- model -----------------------------------------------------------------------------------------
class BiRealNet(nn.Module):
    """Bi-Real Net: ResNet stem, four stages of single-conv blocks, average pool, FP classifier.

    Args:
        layers: blocks per stage ((4, 4, 4, 4) for Bi-Real-18: 16 binary convs).
        num_classes: classifier outputs.
        widths: channels per stage.
    """

    reptran_spec = BIREAL_SPEC

    def __init__(self, layers: tuple[int, ...] = (4, 4, 4, 4), num_classes: int = 1000,
                 widths: tuple[int, ...] = (64, 128, 256, 512)) -> None:
        super().__init__()
        if len(layers) != len(widths):
            raise ValueError(f"one width per stage: {len(layers)} stages, {len(widths)} widths")
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = widths[0]
        for i, (n, planes) in enumerate(zip(layers, widths)):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", self._make_stage(inplanes, planes, n, stride))
            inplanes = planes
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)
        self.num_stages = len(layers)

    @staticmethod
    def _make_stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or inplanes != planes:
            # Index 0 is parameter-free, so the FP conv and BN keep the checkpoint keys
            # downsample.1.* and downsample.2.*.
            downsample = nn.Sequential(nn.AvgPool2d(kernel_size=2, stride=stride),
                                       nn.Conv2d(inplanes, planes, 1, bias=False),
                                       nn.BatchNorm2d(planes))
        stage = [BiRealBlock(inplanes, planes, stride, downsample)]
        stage += [BiRealBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.bn1(self.conv1(x)))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


# -- builders / registrations ----------------------------------------------------------------------
def _info(name: str, paper: str, formats: tuple[str, ...], *, beta: int = 1,
          rep_of: str | None = None) -> ModelInfo:
    return ModelInfo(name=name, family="bireal-18", input_size=(3, 224, 224), num_classes=1000,
                     mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), beta=beta,
                     rep_of=rep_of, checkpoint_formats=formats, paper=paper)


@register_model(_info("bireal-18", _PAPER, ("reactnet_flat", "adambnn", "rep_deploy")))
def bireal_18(num_classes: int = 1000) -> BiRealNet:
    """Bi-Real Net-18 (loads the public code's flat-``weights`` checkpoints)."""
    return BiRealNet((4, 4, 4, 4), num_classes)


@register_model(_info("rep-bireal-18", _REP_PAPER, ("rep_deploy",), beta=2, rep_of="bireal-18"),
                takes_beta=True)
def rep_bireal_18(beta: int = 2, num_classes: int = 1000) -> nn.Module:
    """Rep-Bi-Real-18 = RepTran(Bi-Real-18, beta); the FP downsample convs become RepConvs."""
    return reptran(BiRealNet((4, 4, 4, 4), num_classes), beta)
