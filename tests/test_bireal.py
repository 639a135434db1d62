"""Bi-Real Net-18 and Rep-Bi-Real-18 (models/bireal.py).

Layout from the public Bi-Real PyTorch code's module names (research notes section 2.2); cost
numbers from the same section's arithmetic.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rep_deploy.models import bireal
from rep_deploy.nn import RepConv, RepeatedBatchNorm2d
from rep_deploy.profile import count_ops
from rep_deploy.registry import create_model, get_model_info

WIDTHS = (64, 128, 256, 512)


def expected_layout(beta: int) -> dict[str, tuple[int, ...]]:
    """Bi-Real-18 (beta=1) and its RepTran (beta>1), from the documented rules.

    RepTran: the stem conv stays; the stem BN tiles first (paper rule) so it is 64*beta wide;
    binary and FP 1x1 convs Cin->Cout get weight (Cout/beta, Cin*beta, k, k); BNs are beta times
    wider; fc reads 512*beta features.
    """
    def bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
        return {f"{prefix}.{s}": (c,) for s in ("weight", "bias", "running_mean", "running_var")} | {
            f"{prefix}.num_batches_tracked": ()}

    out = {"conv1.weight": (64, 3, 7, 7), **bn("bn1", 64 * beta)}
    inplanes = 64
    for s, planes in enumerate(WIDTHS, start=1):
        for i in range(4):
            p = f"layer{s}.{i}"
            cin = inplanes if i == 0 else planes
            out[f"{p}.binary_conv.weight"] = (planes // beta, cin * beta, 3, 3)
            out.update(bn(f"{p}.bn1", planes * beta))
            if i == 0 and s > 1:
                out[f"{p}.downsample.1.weight"] = (planes // beta, inplanes * beta, 1, 1)
                out.update(bn(f"{p}.downsample.2", planes * beta))
        inplanes = planes
    out["fc.weight"] = (1000, 512 * beta)
    out["fc.bias"] = (1000,)
    return out


def shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_registered() -> None:
    info = get_model_info("bireal-18")
    assert info.input_size == (3, 224, 224) and info.num_classes == 1000
    assert "reactnet_flat" in info.checkpoint_formats
    rep = get_model_info("rep-bireal-18")
    assert rep.beta == 2 and rep.rep_of == "bireal-18"


@pytest.mark.parametrize(("name", "beta"), [("bireal-18", 1), ("rep-bireal-18", 2),
                                            ("rep-bireal-18", 4)])
def test_layout(name: str, beta: int) -> None:
    model = create_model(name, beta=None if beta == 1 else beta)
    got = shapes(model)
    assert got == expected_layout(beta)
    assert len(got) == 122


def test_costs_match_the_paper_arithmetic() -> None:
    c = count_ops(create_model("bireal-18"), (3, 224, 224))
    assert c.binary_macs == 1_676_279_808  # 16 binary 3x3 convs
    assert c.conv_macs == 118_013_952 + 19_267_584  # 7x7 stem + three FP 1x1 downsample convs
    assert c.fc_macs == 512_000
    assert round(c.ops() / 1e8, 2) == 1.64  # OPs = FLOPs + BOPs/64 (paper: 1.63e8)


def test_rep_keeps_the_fp_bypass_cost() -> None:
    base = count_ops(create_model("bireal-18"), (3, 64, 64))
    rep_model = create_model("rep-bireal-18")
    rep = count_ops(rep_model, (3, 64, 64))
    assert isinstance(rep_model.layer2[0].downsample[1], RepConv)
    assert isinstance(rep_model.bn1, RepeatedBatchNorm2d) and rep_model.bn1.order == "repeat_bn"
    assert rep.conv_macs == base.conv_macs and rep.binary_macs == base.binary_macs
    assert rep.fc_macs == 2 * base.fc_macs


def test_block_op_order() -> None:
    """sign -> binary conv (alpha = mean |W|) -> BN -> + (AvgPool -> FP 1x1 -> BN) shortcut."""
    torch.manual_seed(0)
    model = create_model("bireal-18")
    block = model.layer2[0]
    with torch.no_grad():
        for name, t in block.state_dict().items():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5 if "running_var" in name else torch.randn_like(t))
    x = torch.randn(2, 64, 8, 8)
    w = block.binary_conv.weight
    sign = lambda t: torch.where(t >= 0, 1.0, -1.0)  # noqa: E731
    y = F.conv2d(sign(x), sign(w), stride=2, padding=1) * w.abs().mean((1, 2, 3)).view(1, -1, 1, 1)
    ds = block.downsample
    shortcut = ds[2](F.conv2d(F.avg_pool2d(x, 2, 2), ds[1].weight))
    torch.testing.assert_close(block(x), block.bn1(y) + shortcut, rtol=1e-5, atol=1e-5)
    assert isinstance(block, bireal.BiRealBlock)


@pytest.mark.parametrize("name", ["bireal-18", "rep-bireal-18"])
def test_forward(name: str) -> None:
    y = create_model(name, num_classes=10)(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 10) and torch.isfinite(y).all()
