"""PyTorch building blocks for binary networks, RepBNNs and their siblings (EL, expand-shrink)."""
from .bconv import ScaledBinaryConv2d
from .binarize import BinaryActivation, binarize, sign_approx, sign_ste
from .elastic_link import ElasticLink
from .expand_shrink import ExpandShrinkBConv2d, ExpandShrinkBlock
from .rep_conv import FCMode, RepBConv2d, RepConv, RepeatedBatchNorm2d, RepLinear
from .repeat import Repeat, tile_channels
from .shift import LearnableBias, RPReLU, RSign

__all__ = [
    "BinaryActivation", "binarize", "sign_approx", "sign_ste", "ScaledBinaryConv2d", "Repeat",
    "tile_channels", "LearnableBias", "RSign", "RPReLU", "RepBConv2d", "RepConv",
    "RepeatedBatchNorm2d", "RepLinear", "FCMode", "ExpandShrinkBConv2d", "ExpandShrinkBlock",
    "ElasticLink",
]
