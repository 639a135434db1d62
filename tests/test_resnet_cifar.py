"""CIFAR / digits ResNets (models/resnet_cifar.py): registry coverage, shapes, RepTran, Table 2 OPs."""
from __future__ import annotations

import pytest
import torch

from rep_deploy.models import resnet_cifar
from rep_deploy.models.resnet_cifar import AvgPoolPadShortcut, BasicBlock, ResNetCifar
from rep_deploy.nn import ElasticLink, RepBConv2d, RepeatedBatchNorm2d, RepLinear
from rep_deploy.profile import count_ops
from rep_deploy.registry import create_model, get_model_info, list_models, takes_beta

EXPECTED = {"resnet20", "rep-resnet20", "resnet18-cifar", "rep-resnet18-cifar", "resnet20-el",
            "rep-resnet20-el", "es-resnet20", "resnet20-digits", "rep-resnet20-digits"}
NAMES = list_models(module=resnet_cifar.__name__)
REP_NAMES = [n for n in NAMES if takes_beta(n)]

# Per-image counts at the registered input size (BN excluded from OPs). ResNet-20 rows are the RepBNN
# paper's Table 2; the others follow from the same arithmetic (see the module docstrings).
STEM_R20 = 3 * 16 * 9 * 32 * 32  # 442,368 FP MACs
BOPS_R20 = 40_108_032


def _small(input_size: tuple[int, int, int]) -> tuple[int, int, int]:
    """A cheaper input for shape/gradient checks: CIFAR models run on 16x16 (any multiple of 4
    works: GAP makes the head size-independent), the 8x8 digits models on their own size."""
    c, h, w = input_size
    return (c, min(h, 16), min(w, 16))


def _ops(name: str, **kw) -> tuple[float, object]:
    model = create_model(name, **kw)
    c = count_ops(model, model.model_info.input_size)
    return c.ops(), c


def test_every_registered_model_is_tested() -> None:
    assert set(NAMES) == EXPECTED
    for name in NAMES:
        info = get_model_info(name)
        if info.rep_of is not None:
            assert info.rep_of in NAMES and info.beta == 2
            assert get_model_info(info.rep_of).input_size == info.input_size
        assert len(info.mean) == len(info.std) == info.input_size[0]


@pytest.mark.parametrize("name", NAMES)
def test_forward_and_backward(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name).train()
    x = torch.randn(2, *_small(model.model_info.input_size))
    y = model(x)
    assert y.shape == (2, 10) and torch.isfinite(y).all()
    y.logsumexp(1).sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad}"


@pytest.mark.parametrize("beta", [1, 2, 4])
@pytest.mark.parametrize("name", REP_NAMES)
def test_rep_forward_betas(name: str, beta: int) -> None:
    model = create_model(name, beta=beta)
    info = model.model_info
    assert info.beta == beta
    base = create_model(info.rep_of)
    width = beta * get_model_info(name).extra.get("es_groups", 1)
    assert model.fc.in_features == base.fc.in_features * width  # fc_mode "all"
    assert model.bn1.num_features == base.bn1.num_features * width
    # count_ops runs the forward pass (one image); equal costs hold at any input size.
    size = _small(info.input_size)
    assert model(torch.randn(1, *size)).shape == (1, 10)
    cb, cr = count_ops(base, size), count_ops(model, size)
    assert (cr.binary_macs, cr.binary_params) == (cb.binary_macs, cb.binary_params)
    assert cr.conv_macs == cb.conv_macs
    if width == 1:  # RepTran with beta = 1 is the identity
        assert {k: v.shape for k, v in model.state_dict().items()} == \
            {k: v.shape for k, v in base.state_dict().items()}


def test_table2_resnet20_ops() -> None:
    """RepBNN Table 2 (IR-Net / ReCU ResNet-20 on CIFAR-10), exactly."""
    ops, c = _ops("resnet20")
    assert c.conv_macs == STEM_R20 == 442_368
    assert c.binary_macs == BOPS_R20 and c.fc_macs == 640
    assert ops == 1_069_696
    expected = {"all": 1_070_336, "1/beta": 1_069_696, "1/beta^2": 1_069_376}  # solutions 1, 2, 3
    for mode, want in expected.items():
        ops, c = _ops("rep-resnet20", fc_mode=mode)
        assert ops == want, mode
        assert (c.conv_macs, c.binary_macs) == (STEM_R20, BOPS_R20)


def test_other_ops() -> None:
    # ResNet-18 CIFAR: stem 3*64*9*32*32; 4 + 3*(1 + 3 at half resolution) binary 3x3 convs; FC 512*10.
    ops, c = _ops("resnet18-cifar")
    assert (c.conv_macs, c.binary_macs, c.fc_macs) == (1_769_472, 547_356_672, 5_120)
    assert ops == 10_327_040
    assert _ops("rep-resnet18-cifar")[0] == 10_327_040 + 5_120
    # Elastic-Links add no MACs; ES (tau=2, g=2) widens the FC four times.
    assert _ops("resnet20-el")[0] == 1_069_696 and _ops("rep-resnet20-el")[0] == 1_070_336
    assert _ops("es-resnet20")[0] == 1_069_696 + 3 * 640
    assert _ops("rep-resnet20", beta=4)[0] == 1_069_696 + 3 * 640
    # Digits: stem 1*16*9*8*8 = 9,216; binary 2,506,752 (/64 = 39,168); FC 640.
    ops, c = _ops("resnet20-digits")
    assert (c.conv_macs, c.binary_macs, ops) == (9_216, 2_506_752, 49_024)
    assert _ops("rep-resnet20-digits")[0] == 49_664


def test_architecture_resnet20() -> None:
    m = create_model("resnet20")
    convs = [n for n, mod in m.named_modules() if type(mod).__name__ == "ScaledBinaryConv2d"]
    assert len(convs) == 18  # 3 stages x 3 blocks x 2: ResNet-20 = stem + 18 + FC
    assert all(mod.scale_mode == "learned" for mod in m.modules() if hasattr(mod, "scale_mode"))
    assert isinstance(m.layer2[0].shortcut1, AvgPoolPadShortcut)
    assert isinstance(m.layer2[1].shortcut1, torch.nn.Identity)
    assert isinstance(m.bn2, torch.nn.BatchNorm1d) and m.fc.in_features == 64
    assert m.forward_features(torch.zeros(1, 3, 32, 32)).shape == (1, 64, 8, 8)
    d = create_model("resnet20-digits")
    assert d.forward_features(torch.zeros(1, 1, 8, 8)).shape == (1, 64, 2, 2)  # 8 -> 4 -> 2
    r18 = create_model("resnet18-cifar")
    assert r18.forward_features(torch.zeros(1, 3, 32, 32)).shape == (1, 512, 4, 4)


def test_reptran_structure() -> None:
    m = create_model("rep-resnet20")
    assert isinstance(m.bn1, RepeatedBatchNorm2d) and m.bn1.order == "repeat_bn"
    assert m.bn1.num_features == 32 and type(m.conv1) is torch.nn.Conv2d  # stem untouched
    conv = m.layer1[0].conv1
    assert isinstance(conv, RepBConv2d) and tuple(conv.weight.shape) == (8, 32, 3, 3)
    assert conv.scale_mode == "learned" and conv.alpha.shape == (8,)
    sc = m.layer2[0].shortcut1
    assert isinstance(sc, AvgPoolPadShortcut) and (sc.in_channels, sc.out_channels) == (32, 64)
    assert isinstance(m.fc, RepLinear) and m.fc.mode == "all" and m.bn2.num_features == 128
    es = create_model("es-resnet20")
    conv = es.layer3[0].conv1  # 32 -> 64, tau = 2, g = 2: input 128, 2 groups of 16 filters
    assert (conv.groups, conv.repeats, tuple(conv.weight.shape)) == (2, 8, (32, 64, 3, 3))
    assert conv.weight.numel() == 32 * 64 * 9  # the base conv's parameters
    assert es.fc.in_features == 256


def test_elastic_link_variants() -> None:
    m = create_model("resnet20-el")
    links = [mod for mod in m.modules() if isinstance(mod, ElasticLink)]
    assert len(links) == 18
    down = m.layer2[0].shortcut1
    assert (down.in_channels, down.out_channels, down.stride) == (16, 32, 2)
    r = create_model("rep-resnet20-el", beta=2)
    down = r.layer2[0].shortcut1
    assert isinstance(down, ElasticLink)
    assert (down.in_channels, down.out_channels, down.stride) == (32, 64, 2)
    assert down.gamma.shape == (1, 64, 1, 1)


def test_avgpool_pad_shortcut() -> None:
    x = torch.randn(2, 4, 6, 6)
    sc = AvgPoolPadShortcut(4, 8, 2)
    y = sc(x)
    assert y.shape == (2, 8, 3, 3)
    torch.testing.assert_close(y[:, 2:6], torch.nn.functional.avg_pool2d(x, 2))
    assert y[:, :2].abs().sum() == 0 and y[:, 6:].abs().sum() == 0  # planes // 4 zeros each side
    wide = sc.reptran_widen(2)
    assert (wide.in_channels, wide.out_channels, wide.stride) == (8, 16, 2)
    with pytest.raises(ValueError):
        AvgPoolPadShortcut(8, 4)


def test_block_equation() -> None:
    """out = hardtanh(BN(bconv1(sign x)) + sc(x)); out = hardtanh(BN(bconv2(sign out)) + out)."""
    torch.manual_seed(0)
    blk = BasicBlock(8, 16, stride=2).eval()
    x = torch.randn(2, 8, 8, 8)
    sx = torch.where(x >= 0, 1.0, -1.0)
    h = torch.nn.functional.hardtanh(blk.bn1(blk.conv1(sx)) + blk.shortcut1(x))
    sh = torch.where(h >= 0, 1.0, -1.0)
    want = torch.nn.functional.hardtanh(blk.bn2(blk.conv2(sh)) + h)
    torch.testing.assert_close(blk(x), want)


def test_bad_beta_is_rejected() -> None:
    with pytest.raises(ValueError, match="beta"):
        create_model("rep-resnet20", beta=3)  # 16 channels are not divisible by 3
    with pytest.raises(ValueError):
        create_model("resnet20", beta=2)  # a base model takes no beta
    with pytest.raises(ValueError):
        ResNetCifar((1, 1), (16,), (1,))
