"""Binary ResNet-20 / ResNet-18 for CIFAR-10 (IR-Net / ReCU style), their RepBNNs and variants.

Papers:
    * IR-Net: Qin et al., "Forward and Backward Information Retention for Accurate Binary Neural
      Networks", CVPR 2020 (github.com/htqin/IR-Net, CIFAR-10/ResNet20/1w1a).
    * ReCU: Xu et al., "ReCU: Reviving the Dead Weights in Binary Neural Networks", ICCV 2021
      (github.com/z-hXu/ReCU, cifar/models_cifar/resnet.py).
    * RepBNN: Shi et al., "RepBNN: towards a precise Binary Neural Network with Enhanced Feature Map
      via Repeating", arXiv 2207.09049 (Tables 2-5 are measured on these ResNet-20s).
    * Elastic-Link: Hu et al., AAAI 2022, arXiv 2112.10149; expanding-and-shrinking: Shi et al.,
      arXiv 2503.23709.

The architecture is written here from those descriptions (see shared research notes, section 2.3):

* FP stem: conv 3x3 (s1) -> BN -> hardtanh;
* stages of blocks with a shortcut around EVERY binary conv (Bi-Real style, as IR-Net and ReCU use
  on CIFAR, unlike the standard ResNet block with one shortcut per two convs)::

      out = hardtanh(BN(bconv1(sign x)) + shortcut(x))
      out = hardtanh(BN(bconv2(sign out)) + out)

* the downsampling shortcut has no conv: AvgPool2d(2) then zero channel padding on both sides
  (ReCU's variant of ResNet "option A"), so a RepBNN needs no RepConv on the bypass;
* head: global average pool -> BatchNorm1d -> Linear.

Binary convs binarize activations and weights with sign(0) = +1 (the deployed convention) and scale
the output by ReCU's learned per-channel alpha. ReCU's training-time weight reparametrization
(standardize, clamp at a quantile) is left out: it only changes how the latent weights are trained,
and a deployed conv is sign(W) * alpha either way. The activation gradient (2 - 2|x|)+ is ReCU's and
Bi-Real's ApproxSign, i.e. :class:`~rep_deploy.nn.BinaryActivation`.

Rep models are this network transformed by :func:`~rep_deploy.reptran.reptran` with the paper's rules
(stem output tiled before the stem BN; RepBconv everywhere; FC over all widened features by default).
With :func:`~rep_deploy.profile.count_ops`, ResNet-20 costs exactly the paper's Table 2 OPs
(BN excluded): 1,069,696 for the base and for ``fc_mode="1/beta"``; 1,070,336 for ``"all"``;
1,069,376 for ``"1/beta^2"`` (the stem alone is 442,368 FP MACs).
"""
from __future__ import annotations

from typing import Literal, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from rep_deploy.nn import BinaryActivation, ElasticLink, FCMode, ScaledBinaryConv2d
from rep_deploy.registry import ModelInfo, register_model
from rep_deploy.reptran import RepTranSpec, reptran

__all__ = ["AvgPoolPadShortcut", "BasicBlock", "ResNetCifar", "resnet20", "rep_resnet20",
           "resnet18_cifar", "rep_resnet18_cifar", "resnet20_el", "rep_resnet20_el",
           "es_resnet20", "resnet20_digits", "rep_resnet20_digits", "CIFAR_MEAN", "CIFAR_STD",
           "DIGITS_MEAN", "DIGITS_STD"]

Link = Literal["shortcut", "elastic"]

#: CIFAR-10 normalization of the IR-Net-era training pipelines (per-channel RGB in [0, 1]).
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)
#: scikit-learn's digits (pixels / 16, so in [0, 1]): mean and std over all 1797 x 64 pixels.
DIGITS_MEAN = (0.3053,)
DIGITS_STD = (0.3760,)

_IRNET = "Qin et al., IR-Net, CVPR 2020 (github.com/htqin/IR-Net)"
_RECU = "Xu et al., ReCU, ICCV 2021 (github.com/z-hXu/ReCU)"
_REPBNN = "Shi et al., RepBNN, arXiv 2207.09049"
_EL = "Hu et al., Elastic-Link, AAAI 2022, arXiv 2112.10149"
_ES = "Shi et al., Expanding-and-Shrinking BNN, arXiv 2503.23709"


# --------------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------------
class AvgPoolPadShortcut(nn.Module):
    """ReCU's parameter-free downsampling shortcut: AvgPool2d(stride), then zero channels.

    The ``out - in`` new channels are split evenly between the front and the back (``planes // 4``
    on each side when the width doubles, as ReCU pads). No conv sits on the bypass, which is why a
    RepBNN of this network costs no extra FP MACs there.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ValueError(f"a zero-padding shortcut cannot shrink {in_channels} -> {out_channels} "
                             f"channels")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = F.avg_pool2d(x, self.stride, self.stride)
        extra = self.out_channels - self.in_channels
        if extra:
            front = extra // 2
            x = F.pad(x, (0, 0, 0, 0, front, extra - front))
        return x

    def reptran_widen(self, factor: int) -> "AvgPoolPadShortcut":
        """RepTran rule: the bypass runs on a ``factor`` times wider map, so it pads ``factor``
        times as many channels (the zeros stay one block on each side, as in the base model)."""
        return AvgPoolPadShortcut(self.in_channels * factor, self.out_channels * factor, self.stride)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


def _make_link(link: Link, in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """The real-valued bypass around one binary conv."""
    if link == "elastic":
        return ElasticLink(in_channels, out_channels, stride)
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return AvgPoolPadShortcut(in_channels, out_channels, stride)


class BasicBlock(nn.Module):
    """Two binary 3x3 convs, each with its own real-valued shortcut and hardtanh.

    Args:
        in_channels: input width; ``channels``: width of both convs' outputs.
        stride: stride of the first conv (and of its shortcut).
        link: ``"shortcut"`` (identity / AvgPool + zero pad) or ``"elastic"`` (Elastic-Link, whose
            avgpool handles the stride and whose Expand handles the channel doubling).
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1,
                 link: Link = "shortcut") -> None:
        super().__init__()
        self.bin_act1 = BinaryActivation()
        self.conv1 = ScaledBinaryConv2d(in_channels, channels, 3, stride=stride, padding=1,
                                        scale="learned")
        self.bn1 = nn.BatchNorm2d(channels)
        self.shortcut1 = _make_link(link, in_channels, channels, stride)
        self.act1 = nn.Hardtanh()
        self.bin_act2 = BinaryActivation()
        self.conv2 = ScaledBinaryConv2d(channels, channels, 3, stride=1, padding=1, scale="learned")
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut2 = _make_link(link, channels, channels, 1)
        self.act2 = nn.Hardtanh()

    def forward(self, x: Tensor) -> Tensor:
        out = self.act1(self.bn1(self.conv1(self.bin_act1(x))) + self.shortcut1(x))
        return self.act2(self.bn2(self.conv2(self.bin_act2(out))) + self.shortcut2(out))


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------
class ResNetCifar(nn.Module):
    """FP stem, ``len(depths)`` stages of :class:`BasicBlock`, GAP -> BatchNorm1d -> Linear.

    Args:
        depths: blocks per stage (each block holds two binary convs).
        widths: channels per stage; the stem outputs ``widths[0]``.
        strides: stride of each stage's first block.
        in_chans: input image channels.
        num_classes: classifier outputs.
        link: the bypass around each binary conv (see :class:`BasicBlock`).

    Module names follow IR-Net / ReCU (``conv1``, ``bn1``, ``layer1.0.conv1``, ``bn2``), with the
    classifier called ``fc``.
    """

    def __init__(self, depths: Sequence[int], widths: Sequence[int], strides: Sequence[int],
                 in_chans: int = 3, num_classes: int = 10, link: Link = "shortcut") -> None:
        super().__init__()
        if not len(depths) == len(widths) == len(strides):
            raise ValueError(f"depths, widths and strides must have one entry per stage, got "
                             f"{list(depths)}, {list(widths)}, {list(strides)}")
        self.conv1 = nn.Conv2d(in_chans, widths[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.act1 = nn.Hardtanh()
        in_ch = widths[0]
        self.num_stages = len(depths)
        for i, (depth, width, stride) in enumerate(zip(depths, widths, strides)):
            blocks = []
            for j in range(depth):
                blocks.append(BasicBlock(in_ch, width, stride if j == 0 else 1, link))
                in_ch = width
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.bn2 = nn.BatchNorm1d(in_ch)
        self.fc = nn.Linear(in_ch, num_classes)
        self.num_features = in_ch
        # The paper's first-layer rule: replicate the stem output beta times *before* its BN.
        self.reptran_spec = RepTranSpec(stem=("conv1",), first_bn="bn1", last_fc="fc",
                                        first_order="repeat_bn")

    def forward_features(self, x: Tensor) -> Tensor:
        x = self.act1(self.bn1(self.conv1(x)))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return x

    def forward_head(self, x: Tensor) -> Tensor:
        return self.fc(self.bn2(self.flatten(self.pool(x))))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


# --------------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------------
_CONFIGS: dict[str, dict] = {
    "resnet20": dict(depths=(3, 3, 3), widths=(16, 32, 64), strides=(1, 2, 2), in_chans=3),
    "resnet18": dict(depths=(2, 2, 2, 2), widths=(64, 128, 256, 512), strides=(1, 2, 2, 2),
                     in_chans=3),
    # 8x8 digits: the ResNet-20 stages at 8 -> 4 -> 2 pixels.
    "resnet20-digits": dict(depths=(3, 3, 3), widths=(16, 32, 64), strides=(1, 2, 2), in_chans=1),
}


def _create(config: str, *, beta: int = 1, fc_mode: FCMode = "all", es_groups: int = 1,
            link: Link = "shortcut", num_classes: int = 10) -> nn.Module:
    """Build the base network of ``config``, then RepTran it when ``beta * es_groups > 1``."""
    model = ResNetCifar(**_CONFIGS[config], num_classes=num_classes, link=link)
    if beta == 1 and es_groups == 1:
        return model
    return reptran(model, beta, fc_mode=fc_mode, es_groups=es_groups)


def _info(name: str, family: str, *, beta: int = 1, rep_of: str | None = None, paper: str,
          input_size: tuple[int, int, int] = (3, 32, 32), mean: tuple[float, ...] = CIFAR_MEAN,
          std: tuple[float, ...] = CIFAR_STD, **extra) -> ModelInfo:
    if beta > 1:
        extra.setdefault("fc_mode", "all")
    return ModelInfo(name=name, family=family, input_size=input_size, num_classes=10, mean=mean,
                     std=std, beta=beta, rep_of=rep_of, paper=paper, extra=extra)


# --------------------------------------------------------------------------------------------------
# Registrations
# --------------------------------------------------------------------------------------------------
@register_model(_info("resnet20", "resnet20-cifar", paper=f"{_IRNET}; {_RECU}"))
def resnet20(num_classes: int = 10) -> nn.Module:
    """Binary ResNet-20 (CIFAR-10), a shortcut around each binary conv: 1,069,696 OPs."""
    return _create("resnet20", num_classes=num_classes)


@register_model(_info("rep-resnet20", "resnet20-cifar", beta=2, rep_of="resnet20", paper=_REPBNN),
                takes_beta=True)
def rep_resnet20(beta: int = 2, fc_mode: FCMode = "all", num_classes: int = 10) -> nn.Module:
    """RepTran'd ResNet-20; ``fc_mode`` picks the paper's last-layer solution 1/2/3."""
    return _create("resnet20", beta=beta, fc_mode=fc_mode, num_classes=num_classes)


@register_model(_info("resnet18-cifar", "resnet18-cifar", paper=_RECU))
def resnet18_cifar(num_classes: int = 10) -> nn.Module:
    """Binary ResNet-18 for CIFAR (3x3 s1 stem, [2,2,2,2] blocks of two convs, 64..512)."""
    return _create("resnet18", num_classes=num_classes)


@register_model(_info("rep-resnet18-cifar", "resnet18-cifar", beta=2, rep_of="resnet18-cifar",
                      paper=f"{_REPBNN}; {_RECU}"), takes_beta=True)
def rep_resnet18_cifar(beta: int = 2, fc_mode: FCMode = "all", num_classes: int = 10) -> nn.Module:
    """RepTran'd CIFAR ResNet-18."""
    return _create("resnet18", beta=beta, fc_mode=fc_mode, num_classes=num_classes)


@register_model(_info("resnet20-el", "resnet20-cifar-el", paper=f"{_EL}; {_RECU}", link="elastic"))
def resnet20_el(num_classes: int = 10) -> nn.Module:
    """ResNet-20 whose bypass around each binary conv is an Elastic-Link (gamma * T(x))."""
    return _create("resnet20", link="elastic", num_classes=num_classes)


@register_model(_info("rep-resnet20-el", "resnet20-cifar-el", beta=2, rep_of="resnet20-el",
                      paper=f"{_REPBNN}; {_EL}", link="elastic"), takes_beta=True)
def rep_resnet20_el(beta: int = 2, fc_mode: FCMode = "all", num_classes: int = 10) -> nn.Module:
    """RepTran'd Elastic-Link ResNet-20 (the Elastic-Links are widened beta times)."""
    return _create("resnet20", beta=beta, fc_mode=fc_mode, link="elastic",
                   num_classes=num_classes)


@register_model(_info("es-resnet20", "resnet20-cifar", beta=2, rep_of="resnet20", paper=_ES,
                      es_groups=2), takes_beta=True)
def es_resnet20(beta: int = 2, fc_mode: FCMode = "all", num_classes: int = 10) -> nn.Module:
    """Expanding-and-shrinking ResNet-20 with binary group convs (Fig. 2c): tau = ``beta``, g = 2.

    Feature maps are ``beta * 2`` times wider; every binary conv has the base conv's parameters and
    BOPs (2 groups of ``Cout / (2 beta)`` filters of depth ``Cin * beta``).
    """
    return _create("resnet20", beta=beta, fc_mode=fc_mode, es_groups=2, num_classes=num_classes)


@register_model(_info("resnet20-digits", "resnet20-digits", input_size=(1, 8, 8), mean=DIGITS_MEAN,
                      std=DIGITS_STD, paper=f"{_RECU} (ResNet-20 blocks on 8x8 digits)",
                      demo="scripts/train_digits.py"))
def resnet20_digits(num_classes: int = 10) -> nn.Module:
    """ResNet-20 blocks on scikit-learn's 8x8 digits (1 channel; 8 -> 4 -> 2 pixels)."""
    return _create("resnet20-digits", num_classes=num_classes)


@register_model(_info("rep-resnet20-digits", "resnet20-digits", beta=2, rep_of="resnet20-digits",
                      input_size=(1, 8, 8), mean=DIGITS_MEAN, std=DIGITS_STD, paper=_REPBNN,
                      demo="scripts/train_digits.py"), takes_beta=True)
def rep_resnet20_digits(beta: int = 2, fc_mode: FCMode = "all", num_classes: int = 10) -> nn.Module:
    """RepTran'd digits ResNet-20: the shipped demo model (``rep_deploy.models.demo``)."""
    return _create("resnet20-digits", beta=beta, fc_mode=fc_mode, num_classes=num_classes)
