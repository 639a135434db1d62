"""Binary VGG-small (1w1a) for CIFAR-10 and its RepBNN.

Papers:
    * VGG-small as used by the BNN literature: Zhang et al., LQ-Nets, ECCV 2018; binarized in
      IR-Net (Qin et al., CVPR 2020, github.com/htqin/IR-Net) and RBNN (Lin et al., NeurIPS 2020,
      github.com/lmbxmu/RBNN), and in ReCU (Xu et al., ICCV 2021).
    * RepBNN: Shi et al., arXiv 2207.09049, Table 5 (RepTran helps little on VGG, which has no
      residual links; the model is here to measure exactly that and as a plain-chain export test).

Written from the description in the shared research notes (section 2.3): an FP conv0 3 -> 128 with
BN and hardtanh, then five binary 3x3 convs 128-128(M)-256-256(M)-512-512(M), each followed by an
optional 2x2 max-pool, BN and hardtanh (pool *before* BN, as the reference code orders it), then
flatten and one FC 8192 -> 10. Binary convs use ReCU's learned per-channel scale and the deployed
sign(0) = +1.

Cost at 32x32 (:func:`~rep_deploy.profile.count_ops`, BN excluded): conv0 3,538,944 FP MACs, FC 81,920,
binary MACs 603,979,776 (/64 = 9,437,184): OPs = 13,058,048 (1.306e7). The RepBNN with the paper's
FC rule (all 16,384 widened features) adds 81,920: 13,139,968.
"""
from __future__ import annotations

from torch import Tensor, nn

from rep_deploy.nn import BinaryActivation, FCMode, ScaledBinaryConv2d
from rep_deploy.registry import ModelInfo, register_model
from rep_deploy.reptran import RepTranSpec, reptran

from .resnet_cifar import CIFAR_MEAN, CIFAR_STD

__all__ = ["VGGSmall", "vgg_small", "rep_vgg_small"]

_VGG = ("Zhang et al., LQ-Nets, ECCV 2018; binarized: Qin et al., IR-Net, CVPR 2020 "
        "(github.com/htqin/IR-Net); Lin et al., RBNN, NeurIPS 2020")
_REPBNN = "Shi et al., RepBNN, arXiv 2207.09049"

#: (out_channels, max-pool after the conv) of binary convs 1..5; conv0 is the FP stem.
_BINARY_LAYERS: tuple[tuple[int, bool], ...] = ((128, True), (256, False), (256, True),
                                                (512, False), (512, True))


class VGGSmall(nn.Module):
    """conv0 (FP) -> 5 x [sign -> bconv -> (maxpool) -> BN -> hardtanh] -> flatten -> FC.

    Module names follow IR-Net's ``vgg_small_1w1a`` (``conv0``, ``bn0``, ``conv1`` .. ``conv5``,
    ``bn1`` .. ``bn5``, ``fc``); sign, pooling and hardtanh are separate parameter-free modules.

    Args:
        num_classes: classifier outputs.
        in_chans: input image channels.
        image_size: input height = width (32 for CIFAR; the FC reads 512 * (image_size/8)**2).
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3, image_size: int = 32) -> None:
        super().__init__()
        if image_size % 8:
            raise ValueError(f"image_size must be divisible by 8 (three 2x2 max-pools), got "
                             f"{image_size}")
        self.conv0 = nn.Conv2d(in_chans, 128, 3, padding=1, bias=False)
        self.bn0 = nn.BatchNorm2d(128)
        self.act0 = nn.Hardtanh()
        in_ch = 128
        for i, (out_ch, pool) in enumerate(_BINARY_LAYERS, start=1):
            self.add_module(f"bin_act{i}", BinaryActivation())
            self.add_module(f"conv{i}", ScaledBinaryConv2d(in_ch, out_ch, 3, padding=1,
                                                           scale="learned"))
            self.add_module(f"pool{i}", nn.MaxPool2d(2, 2) if pool else nn.Identity())
            self.add_module(f"bn{i}", nn.BatchNorm2d(out_ch))
            self.add_module(f"act{i}", nn.Hardtanh())
            in_ch = out_ch
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(in_ch * (image_size // 8) ** 2, num_classes)
        self.reptran_spec = RepTranSpec(stem=("conv0",), first_bn="bn0", last_fc="fc",
                                        first_order="repeat_bn")

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.act0(self.bn0(self.conv0(x)))
        for i in range(1, len(_BINARY_LAYERS) + 1):
            conv = getattr(self, f"conv{i}")
            x = conv(getattr(self, f"bin_act{i}")(x))
            x = getattr(self, f"act{i}")(getattr(self, f"bn{i}")(getattr(self, f"pool{i}")(x)))
        return x

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.flatten(self.forward_features(x)))


def _info(name: str, *, beta: int = 1, rep_of: str | None = None, paper: str) -> ModelInfo:
    extra = {"fc_mode": "all"} if beta > 1 else {}
    return ModelInfo(name=name, family="vgg-small", input_size=(3, 32, 32), num_classes=10,
                     mean=CIFAR_MEAN, std=CIFAR_STD, beta=beta, rep_of=rep_of, paper=paper,
                     extra=extra)


@register_model(_info("vgg-small", paper=_VGG))
def vgg_small(num_classes: int = 10) -> nn.Module:
    """Binary VGG-small 1w1a for CIFAR-10: 1.306e7 OPs."""
    return VGGSmall(num_classes=num_classes)


@register_model(_info("rep-vgg-small", beta=2, rep_of="vgg-small", paper=_REPBNN), takes_beta=True)
def rep_vgg_small(beta: int = 2, fc_mode: FCMode = "all", num_classes: int = 10) -> nn.Module:
    """RepTran'd VGG-small (stem output tiled before bn0, RepBconvs, FC over the widened map)."""
    return reptran(VGGSmall(num_classes=num_classes), beta, fc_mode=fc_mode)
