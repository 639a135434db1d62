"""VGG-small 1w1a (models/vgg_small.py): registry coverage, shapes for each beta, OPs, layer order."""
from __future__ import annotations

import pytest
import torch

from rep_deploy.models import vgg_small
from rep_deploy.models.vgg_small import VGGSmall
from rep_deploy.nn import RepBConv2d, RepeatedBatchNorm2d, RepLinear, ScaledBinaryConv2d
from rep_deploy.profile import count_ops
from rep_deploy.registry import create_model, get_model_info, list_models

NAMES = list_models(module=vgg_small.__name__)

# conv0 3->128 at 32x32; FC 8192->10; binary 128-128(M)-256-256(M)-512-512(M) at 32/16/16/8/8/4... see
# the module docstring. OPs = FP MACs + binary MACs / 64, BN excluded.
CONV0 = 3 * 128 * 9 * 32 * 32  # 3,538,944
BOPS = (128 * 128 * 9 * 32 * 32 + 128 * 256 * 9 * 16 * 16 + 256 * 256 * 9 * 16 * 16
        + 256 * 512 * 9 * 8 * 8 + 512 * 512 * 9 * 8 * 8)  # 603,979,776
FC = 8192 * 10


def test_every_registered_model_is_tested() -> None:
    assert set(NAMES) == {"vgg-small", "rep-vgg-small"}
    assert get_model_info("rep-vgg-small").rep_of == "vgg-small"


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name).train()
    y = model(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 10) and torch.isfinite(y).all()
    y.logsumexp(1).sum().backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]


@pytest.mark.parametrize("beta", [1, 2, 4])
def test_rep_forward_betas(beta: int) -> None:
    model = create_model("rep-vgg-small", beta=beta)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert model.fc.in_features == 8192 * beta and model.bn0.num_features == 128 * beta
    c = count_ops(model, (3, 32, 32))
    assert (c.conv_macs, c.binary_macs, c.fc_macs) == (CONV0, BOPS, FC * beta)
    assert c.binary_params == 9 * (128 * 128 + 128 * 256 + 256 * 256 + 256 * 512 + 512 * 512)


def test_ops() -> None:
    assert (CONV0, BOPS, FC) == (3_538_944, 603_979_776, 81_920)
    c = count_ops(create_model("vgg-small"), (3, 32, 32))
    assert (c.conv_macs, c.binary_macs, c.fc_macs) == (CONV0, BOPS, FC)
    assert c.ops() == 13_058_048  # 1.306e7 (research notes, section 2.3)
    for mode, want in {"all": 13_139_968, "1/beta": 13_058_048, "1/beta^2": 13_017_088}.items():
        assert count_ops(create_model("rep-vgg-small", fc_mode=mode), (3, 32, 32)).ops() == want


def test_layer_order_and_rep_structure() -> None:
    """conv -> [maxpool] -> BN -> hardtanh, as the reference VGG-small orders it."""
    m = VGGSmall()
    seen = []
    hooks = [mod.register_forward_hook(lambda mod, i, o, n=n: seen.append((n, tuple(o.shape))))
             for n, mod in m.named_children() if n.startswith(("conv", "pool", "bn"))]
    m.eval()(torch.zeros(1, 3, 32, 32))
    for h in hooks:
        h.remove()
    names = [n for n, _ in seen]
    assert names[:6] == ["conv0", "bn0", "conv1", "pool1", "bn1", "conv2"]
    assert dict(seen)["pool5"] == (1, 512, 4, 4)
    assert sum(isinstance(x, ScaledBinaryConv2d) for x in m.modules()) == 5
    r = create_model("rep-vgg-small")
    assert isinstance(r.bn0, RepeatedBatchNorm2d) and type(r.conv0) is torch.nn.Conv2d
    # conv3 is 256 -> 256: at beta 2 it reads 512 channels and writes 128 (tiled x4 to 512)
    assert isinstance(r.conv3, RepBConv2d) and tuple(r.conv3.weight.shape) == (128, 512, 3, 3)
    assert isinstance(r.fc, RepLinear) and r.fc.mode == "all"
