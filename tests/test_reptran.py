"""The generic RepTran rules (rep_deploy/reptran.py) on the zoo's ImageNet models and on toy models.

Invariants (RepBNN section 4): a RepBNN has exactly its base's binary parameters and binary MACs,
and its extra parameters are exactly the documented widening (per-channel modules and the FC are
beta times wider; the stem conv, FP RepConvs and binary convs keep their parameter count).
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from rep_deploy.nn import (BinaryActivation, ElasticLink, LearnableBias, RepBConv2d,
                           ScaledBinaryConv2d)
from rep_deploy.profile import OpCount, count_ops
from rep_deploy.registry import create_model
from rep_deploy.reptran import RepTranError, RepTranSpec, reptran

SMALL = (3, 32, 32)  # ImageNet nets stride 32: enough for every layer to run; keeps the tests fast


def documented_widening(base: nn.Module, factor: int) -> int:
    """Parameters RepTran adds to ``base`` when feature maps widen by ``factor`` (beta * groups)."""
    spec: RepTranSpec = base.reptran_spec
    extra = 0
    for name, m in base.named_modules():
        if name in spec.stem:
            continue
        if name == spec.first_bn:
            # bn_repeat (Rep_AdamBNN) keeps the stem BN at C channels; repeat_bn widens it.
            if spec.first_order == "repeat_bn":
                extra += (factor - 1) * 2 * m.num_features
        elif name == spec.last_fc:
            extra += (factor - 1) * m.weight.numel()  # fc_mode "all": FC over every copy
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            extra += (factor - 1) * 2 * m.num_features
        elif isinstance(m, nn.PReLU) and m.num_parameters > 1:
            extra += (factor - 1) * m.num_parameters
        elif isinstance(m, LearnableBias):
            extra += (factor - 1) * m.channels
        elif isinstance(m, ElasticLink):
            extra += (factor - 1) * m.out_channels
    return extra


_BASE_COUNTS: dict[str, tuple[nn.Module, OpCount]] = {}


def _base(name: str) -> tuple[nn.Module, OpCount]:
    if name not in _BASE_COUNTS:
        model = create_model(name)
        _BASE_COUNTS[name] = (model, count_ops(model, SMALL))
    return _BASE_COUNTS[name]


CASES = [("reactnet-a", "rep-reactnet-a", 2, 1), ("reactnet-a", "rep-reactnet-a", 4, 1),
         ("reactnet-a-el", "rep-reactnet-a-el", 2, 1), ("reactnet-a-el", "rep-reactnet-a-el", 4, 1),
         ("bireal-18", "rep-bireal-18", 2, 1), ("bireal-18", "rep-bireal-18", 4, 1),
         ("reactnet-a", "es-reactnet-a", 2, 2)]


@pytest.mark.parametrize(("base_name", "rep_name", "beta", "groups"), CASES)
def test_rep_keeps_binary_cost_and_adds_documented_params(base_name: str, rep_name: str,
                                                          beta: int, groups: int) -> None:
    base, b = _base(base_name)
    rep_model = create_model(rep_name, beta=beta)
    r = count_ops(rep_model, SMALL)
    assert r.binary_params == b.binary_params
    assert r.binary_macs == b.binary_macs
    # Layer by layer too: the names are the same, only the modules changed.
    per_layer = lambda c: {l.name: l.ops for l in c.layers if l.kind == "bconv"}  # noqa: E731
    assert per_layer(r) == per_layer(b)
    assert r.conv_macs == b.conv_macs  # stem untouched, FP bypass convs became RepConvs
    assert r.fc_macs == beta * groups * b.fc_macs
    assert r.params == b.params + documented_widening(base, beta * groups)
    assert set(rep_model.state_dict()) == set(base.state_dict())


def test_reactnet_a_numbers_from_the_research_notes() -> None:
    base, rep_model = create_model("reactnet-a"), create_model("rep-reactnet-a")
    b, r = count_ops(base, (3, 224, 224)), count_ops(rep_model, (3, 224, 224))
    # The published figures count trainable parameters only (no BN running stats).
    assert b.params == 29_343_592 and r.params == 30_432_072
    assert r.params - b.params == 1_088_480 == documented_widening(base, 2)
    assert sum(v.numel() for v in base.state_dict().values()) == 29_365_512
    assert sum(v.numel() for v in rep_model.state_dict().values()) == 30_475_816
    assert b.binary_params == r.binary_params == 28_253_184
    assert b.binary_macs == r.binary_macs == 4_816_896_000
    assert b.conv_macs == r.conv_macs == 10_838_016  # the FP stem conv only
    assert (b.fc_macs, r.fc_macs) == (1_024_000, 2_048_000)
    assert b.bn_elements == 5_042_688  # x2 = 1.009e7 BN FLOPs (RepBNN Table 1)
    assert len(rep_model.state_dict()) == 298


def test_tile_order_is_torch_repeat_not_repeat_interleave() -> None:
    torch.manual_seed(0)
    conv = RepBConv2d(4, 8, 3, beta=2, padding=1)
    x = torch.randn(2, 8, 5, 5)
    inner = ScaledBinaryConv2d.forward(conv, x)  # the shrunk conv before the tile: 4 channels
    assert inner.shape[1] == 4
    y = conv(x)
    assert torch.equal(y, inner.repeat(1, 4, 1, 1))
    assert not torch.equal(y, inner.repeat_interleave(4, dim=1))


# -- toy models for the rules themselves ---------------------------------------------------------
class _Scale(nn.Module):
    """A module with channel state and no RepTran rule."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.s = nn.Parameter(torch.ones(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.s


class _Toy(nn.Module):
    reptran_spec = RepTranSpec(stem=("conv",), first_bn="bn", last_fc="fc")

    def __init__(self, *extra: nn.Module) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.body = nn.Sequential(BinaryActivation(), ScaledBinaryConv2d(8, 8, 3, padding=1),
                                  nn.BatchNorm2d(8), *extra)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        x = x + self.body(x)
        return self.fc(torch.flatten(self.pool(x), 1))


@pytest.mark.parametrize("beta", [2, 4])
def test_toy_rules(beta: int) -> None:
    base = _Toy()
    rep_model = reptran(base, beta)
    assert rep_model(torch.randn(1, 3, 8, 8)).shape == (1, 10)
    assert rep_model.conv is not base.conv and torch.equal(rep_model.conv.weight, base.conv.weight)
    assert isinstance(rep_model.body[1], RepBConv2d)
    assert rep_model.body[2].num_features == 8 * beta
    assert rep_model.fc.in_features == 8 * beta
    assert isinstance(base.body[1], ScaledBinaryConv2d) and base.fc.in_features == 8  # untouched


def test_unsupported_module_raises_naming_it() -> None:
    with pytest.raises(RepTranError, match=r"body\.3.*_Scale"):
        reptran(_Toy(_Scale(8)), 2)


def test_linear_inside_backbone_raises() -> None:
    with pytest.raises(RepTranError, match=r"body\.3.*Linear"):
        reptran(_Toy(nn.Linear(8, 8)), 2)


def test_already_rep_model_raises() -> None:
    with pytest.raises(RepTranError, match="already a Rep module"):
        reptran(reptran(_Toy(), 2), 2)


def test_model_without_spec_raises() -> None:
    with pytest.raises(RepTranError, match="no reptran_spec"):
        reptran(nn.Sequential(nn.Conv2d(3, 8, 3)), 2)


def test_spec_naming_a_missing_module_raises() -> None:
    toy = _Toy()
    toy.reptran_spec = RepTranSpec(stem=("conv",), first_bn="bn_missing", last_fc="fc")
    with pytest.raises(RepTranError, match="bn_missing"):
        reptran(toy, 2)


def test_grouped_binary_conv_raises() -> None:
    with pytest.raises(RepTranError, match="grouped"):
        reptran(_Toy(ScaledBinaryConv2d(8, 8, 1, groups=2)), 2)
