"""ReActNet-A and its Rep / Elastic-Link / expand-shrink variants (models/reactnet.py).

The expected layouts are written from the documented rules (research notes section 1.2-1.5), not read
off the model: a change to module names or widths breaks checkpoint compatibility and must fail here.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rep_deploy.models import reactnet
from rep_deploy.nn import ElasticLink, RepBConv2d, RepeatedBatchNorm2d, ScaledBinaryConv2d
from rep_deploy.registry import create_model, get_model_info, list_models

from _weights import randomize_all

STAGES = [32, 64, 128, 128, 256, 256] + [512] * 6 + [1024] * 2
NAMES = ["reactnet-a", "rep-reactnet-a", "reactnet-a-el", "rep-reactnet-a-el", "es-reactnet-a"]


def expected_layout(beta: int) -> dict[str, tuple[int, ...]]:
    """ReActNet-A (beta=1) / Rep_AdamBNN (beta=2) state dict, from the documented rules.

    Rules: stem conv 3->32 and BN(32) untouched (Rep_AdamBNN tiles after the stem BN); every binary
    conv Cin->Cout has weight (Cout/beta, Cin*beta, k, k); every per-channel module is beta times
    wider; fc reads 1024*beta features.
    """
    def bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
        return {f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,),
                f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": ()}

    def bias(key: str, c: int) -> dict[str, tuple[int, ...]]:
        return {f"{key}.bias": (1, c * beta, 1, 1)}

    def conv(key: str, cin: int, cout: int, k: int) -> dict[str, tuple[int, ...]]:
        return {f"{key}.weight": (cout // beta, cin * beta, k, k)}

    out: dict[str, tuple[int, ...]] = {"feature.0.conv1.weight": (32, 3, 3, 3),
                                       **bn("feature.0.bn1", 32)}
    for i in range(1, 14):
        c, p, f = STAGES[i - 1], STAGES[i], f"feature.{i}"
        out.update(bias(f"{f}.move11", c))
        out.update(conv(f"{f}.binary_3x3", c, c, 3))
        out.update(bn(f"{f}.bn1", c * beta))
        out.update(bias(f"{f}.move12", c))
        out[f"{f}.prelu1.weight"] = (c * beta,)
        out.update(bias(f"{f}.move13", c))
        out.update(bias(f"{f}.move21", c))
        if c == p:
            out.update(conv(f"{f}.binary_pw", c, p, 1))
            out.update(bn(f"{f}.bn2", p * beta))
        else:
            for j in (1, 2):
                out.update(conv(f"{f}.binary_pw_down{j}", c, c, 1))
                out.update(bn(f"{f}.bn2_{j}", c * beta))
        out.update(bias(f"{f}.move22", p))
        out[f"{f}.prelu2.weight"] = (p * beta,)
        out.update(bias(f"{f}.move23", p))
    out["fc.weight"] = (1000, 1024 * beta)
    out["fc.bias"] = (1000,)
    return out


def shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def rep2() -> torch.nn.Module:
    return create_model("rep-reactnet-a")


def test_registered_with_metadata() -> None:
    assert set(NAMES) <= set(list_models())
    for name in NAMES:
        info = get_model_info(name)
        assert info.input_size == (3, 224, 224) and info.num_classes == 1000
        assert info.mean == (0.485, 0.456, 0.406) and info.std == (0.229, 0.224, 0.225)
        assert info.checkpoint_formats
    assert get_model_info("rep-reactnet-a").beta == 2
    assert get_model_info("rep-reactnet-a").rep_of == "reactnet-a"
    assert "rep_adambnn" in get_model_info("rep-reactnet-a").checkpoint_formats
    assert {"reactnet_flat", "adambnn"} <= set(get_model_info("reactnet-a").checkpoint_formats)
    assert get_model_info("rep-reactnet-a", beta=4).beta == 4
    with pytest.raises(ValueError, match="takes no beta"):
        create_model("reactnet-a", beta=2)


def test_base_layout_matches_reactnet_code() -> None:
    assert shapes(create_model("reactnet-a")) == expected_layout(1)


def test_rep_layout_is_rep_adambnn(rep2: torch.nn.Module) -> None:
    got, want = shapes(rep2), expected_layout(2)
    assert len(want) == 298
    assert set(got) == set(want)
    assert {k: v for k, v in got.items() if want[k] != v} == {}
    # The examples the research notes quote from the Rep_AdamBNN code, spelled out.
    assert got["feature.1.binary_3x3.weight"] == (16, 64, 3, 3)
    assert got["feature.1.binary_pw_down1.weight"] == (16, 64, 1, 1)
    assert got["feature.1.bn2_1.weight"] == (64,)
    assert got["feature.1.move22.bias"] == (1, 128, 1, 1)
    assert got["feature.3.binary_pw.weight"] == (64, 256, 1, 1)
    assert got["feature.13.binary_3x3.weight"] == (512, 2048, 3, 3)
    assert got["fc.weight"] == (1000, 2048)
    assert got["feature.0.bn1.weight"] == (32,)


def test_rep_beta4_layout_follows_the_same_rules() -> None:
    assert shapes(create_model("rep-reactnet-a", beta=4)) == expected_layout(4)


def test_rep_beta1_is_the_base_layout() -> None:
    assert shapes(create_model("rep-reactnet-a", beta=1)) == expected_layout(1)


def test_beta_must_divide_widths() -> None:
    with pytest.raises(ValueError, match="divisible"):
        create_model("rep-reactnet-a", beta=3)


@pytest.mark.parametrize("name", NAMES)
def test_forward_small_input(name: str) -> None:
    model = create_model(name, num_classes=10)
    y = model(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 10) and torch.isfinite(y).all()


def test_stem_is_bn_then_tile(rep2: torch.nn.Module) -> None:
    stem_bn = rep2.feature[0].bn1
    assert isinstance(stem_bn, RepeatedBatchNorm2d) and stem_bn.order == "bn_repeat"
    out = rep2.feature[0](torch.randn(1, 3, 32, 32))
    assert out.shape[1] == 64
    assert torch.equal(out[:, :32], out[:, 32:])  # tile order: channel j = channel j mod 32


def _sign(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x >= 0, 1.0, -1.0)


def _bconv(conv: ScaledBinaryConv2d, x: torch.Tensor) -> torch.Tensor:
    """Reference binary conv: conv(sign x, sign W) * mean|W|, tiled like Rep_AdamBNN."""
    w = conv.weight
    y = F.conv2d(_sign(x), _sign(w), None, conv.stride, conv.padding, 1, conv.groups)
    y = y * w.abs().mean(dim=(1, 2, 3)).view(1, -1, 1, 1)
    return y.repeat(1, getattr(conv, "repeats", 1), 1, 1)


def _ref_block(b: reactnet.BasicBlock, x: torch.Tensor) -> torch.Tensor:
    """The op order of research section 1.2, step by step."""
    out1 = b.bn1(_bconv(b.binary_3x3, x + b.move11.bias))
    shortcut = F.avg_pool2d(x, 2, 2) if b.stride == 2 else x
    out1 = F.prelu(shortcut + out1 + b.move12.bias, b.prelu1.weight) + b.move13.bias
    a = out1 + b.move21.bias
    if b.inplanes == b.planes:
        out2 = b.bn2(_bconv(b.binary_pw, a)) + out1
    else:
        out2 = torch.cat([b.bn2_1(_bconv(b.binary_pw_down1, a)) + out1,
                          b.bn2_2(_bconv(b.binary_pw_down2, a)) + out1], 1)
    return F.prelu(out2 + b.move22.bias, b.prelu2.weight) + b.move23.bias


def _randomize(model: torch.nn.Module, seed: int = 0) -> None:
    randomize_all(model, seed, scale=0.3)


@pytest.mark.parametrize("index", [1, 2, 3])  # doubling stride 1, doubling stride 2, plain
def test_block_matches_documented_op_order(rep2: torch.nn.Module, index: int) -> None:
    base = create_model("reactnet-a")
    for model, width in ((base, 1), (rep2, 2)):
        block = model.feature[index]
        _randomize(block, index)
        x = torch.randn(2, STAGES[index - 1] * width, 8, 8)
        torch.testing.assert_close(block(x), _ref_block(block, x), rtol=1e-5, atol=1e-5)


def test_elastic_link_layout() -> None:
    model = create_model("reactnet-a-el")
    got = shapes(model)
    assert not any("binary_pw_down" in k or "bn2_" in k for k in got)
    assert got["feature.1.binary_pw.weight"] == (64, 32, 1, 1)  # ONE 1x1 conv C -> 2C
    assert got["feature.1.bn2.weight"] == (64,)
    assert got["feature.2.link1.gamma"] == (1, 64, 1, 1)
    assert got["feature.2.link2.gamma"] == (1, 128, 1, 1)
    links = [m for m in model.modules() if isinstance(m, ElasticLink)]
    assert len(links) == 26  # two binary convs with a shortcut per block
    rep = shapes(create_model("rep-reactnet-a-el"))
    assert rep["feature.1.binary_pw.weight"] == (32, 64, 1, 1)
    assert rep["feature.2.link2.gamma"] == (1, 256, 1, 1)


@pytest.mark.parametrize("stride", [1, 2])
def test_elastic_block_with_unit_gamma_equals_reactnet_block(stride: int) -> None:
    """The documented EL choice: two C->C convs + concat == one C->2C conv + Expand (tile)."""
    torch.manual_seed(stride)
    base = reactnet.BasicBlock(8, 16, stride)
    _randomize(base, stride)
    el = reactnet.ElasticBlock(8, 16, stride)
    sd = {k: v for k, v in base.state_dict().items()
          if not k.startswith(("binary_pw_down", "bn2_"))}
    sd["binary_pw.weight"] = torch.cat([base.binary_pw_down1.weight, base.binary_pw_down2.weight])
    for suffix in ("weight", "bias", "running_mean", "running_var"):
        sd[f"bn2.{suffix}"] = torch.cat([getattr(base.bn2_1, suffix), getattr(base.bn2_2, suffix)])
    sd["bn2.num_batches_tracked"] = base.bn2_1.num_batches_tracked
    sd["link1.gamma"] = torch.ones(1, 8, 1, 1)
    sd["link2.gamma"] = torch.ones(1, 16, 1, 1)
    el.load_state_dict(sd)
    base.eval(), el.eval()
    x = torch.randn(2, 8, 8, 8)
    torch.testing.assert_close(el(x), base(x), rtol=1e-6, atol=1e-6)


def test_es_variant_is_grouped_and_four_times_wider() -> None:
    model = create_model("es-reactnet-a")
    assert get_model_info("es-reactnet-a").extra["es_groups"] == 2
    conv = model.feature[1].binary_3x3
    assert isinstance(conv, RepBConv2d) and conv.groups == 2 and conv.repeats == 8
    got = shapes(model)
    assert got["feature.1.binary_3x3.weight"] == (16, 64, 3, 3)  # 32->32 conv: same 9216 weights
    assert got["feature.1.bn1.weight"] == (128,)
    assert got["fc.weight"] == (1000, 4096)
