"""rep_deploy.checkpoint: public checkpoint formats in, our own format round trip, every failure named.

Synthetic checkpoints are written the way each public code base writes them (research notes 1.5,
2.1): Rep_AdamBNN / ReActNet / AdamBNN ``save_checkpoint`` store ``{'epoch', 'state_dict',
'best_top1_acc', 'optimizer'}`` from a DataParallel model (``module.`` keys); ReActNet and Bi-Real
keep binary weights flat as ``weights`` (N, 1); AdamBNN and Rep_AdamBNN as 4-D ``weight``.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from rep_deploy.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from rep_deploy.nn import ScaledBinaryConv2d
from rep_deploy.registry import create_model

from _weights import randomize_all


def _randomize(model: nn.Module, seed: int) -> nn.Module:
    return randomize_all(model, seed, scale=0.2)


def _binary_keys(model: nn.Module) -> list[str]:
    return [f"{n}.weight" for n, m in model.named_modules() if isinstance(m, ScaledBinaryConv2d)]


def _run(model: nn.Module, x: Tensor) -> Tensor:
    with torch.no_grad():
        return model(x)


@pytest.fixture(scope="module")
def x() -> Tensor:
    return torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def base(x: Tensor) -> tuple[nn.Module, Tensor]:
    model = _randomize(create_model("reactnet-a"), 1)
    return model, _run(model, x)


@pytest.fixture(scope="module")
def rep(x: Tensor) -> tuple[nn.Module, Tensor]:
    model = _randomize(create_model("rep-reactnet-a"), 2)
    return model, _run(model, x)


@pytest.fixture(scope="module")
def bireal() -> nn.Module:
    return _randomize(create_model("bireal-18"), 3)


def _training_code_dict(sd: dict[str, Tensor], optimizer: dict | None = None) -> dict:
    """What the public train.py files save: DataParallel keys plus training state."""
    return {"epoch": 250, "state_dict": {f"module.{k}": v for k, v in sd.items()},
            "best_top1_acc": torch.tensor(71.342), "optimizer": optimizer or {}}


# -- the three public formats --------------------------------------------------------------------
def test_rep_adambnn_file(tmp_path: Path, rep: tuple[nn.Module, Tensor], x: Tensor) -> None:
    src, expected = rep
    opt = torch.optim.Adam(src.parameters(), lr=0.0)  # lr 0: the step leaves the weights alone
    for p in src.fc.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    src.zero_grad(set_to_none=True)
    path = tmp_path / "model_best.pth.tar"
    torch.save(_training_code_dict(src.state_dict(), opt.state_dict()), path)

    fresh = create_model("rep-reactnet-a")
    report = load_checkpoint(fresh, path)
    assert report.format == "rep_adambnn"
    assert report.num_keys == 298 and report.stripped_prefix == 298 and report.flat_converted == 0
    assert report.metadata["epoch"] == 250 and report.metadata["has_optimizer_state"]
    assert report.metadata["best_top1_acc"] == pytest.approx(71.342)
    assert report.binary_weights == 28_253_184 and not report.binary_weights_are_pm1
    assert torch.equal(_run(fresh, x), expected)
    assert "rep_adambnn" in report.summary()


def test_reactnet_flat_file(tmp_path: Path, base: tuple[nn.Module, Tensor], x: Tensor) -> None:
    src, expected = base
    sd = src.state_dict()
    for key in _binary_keys(src):
        sd[key + "s"] = sd.pop(key).reshape(-1, 1)  # HardBinaryConv.weights, (Cout*Cin*k*k, 1)
    path = tmp_path / "checkpoint.pth.tar"
    torch.save(_training_code_dict(sd), path)

    fresh = create_model("reactnet-a")
    report = load_checkpoint(fresh, path)
    assert report.format == "reactnet_flat"
    assert report.flat_converted == len(_binary_keys(src)) == 31
    assert report.num_keys == 298
    assert torch.equal(_run(fresh, x), expected)


def test_adambnn_bare_state_dict(base: tuple[nn.Module, Tensor], x: Tensor) -> None:
    src, expected = base
    fresh = create_model("reactnet-a")
    report = load_checkpoint(fresh, {k: v.clone() for k, v in src.state_dict().items()})
    assert report.format == "adambnn" and report.source == "<dict>" and report.stripped_prefix == 0
    assert torch.equal(_run(fresh, x), expected)


def test_model_wrapper(bireal: nn.Module) -> None:
    fresh = create_model("bireal-18")
    report = load_checkpoint(fresh, {"model": bireal.state_dict(), "epoch": 3})
    assert report.format == "adambnn" and report.metadata == {"epoch": 3}
    assert torch.equal(fresh.fc.weight, bireal.fc.weight)


def test_bireal_flat_pm1_weights_and_zeros(bireal: nn.Module) -> None:
    """Bi-Real's code stores flat weights too; re-released files hold exactly +-1 weights."""
    sd = bireal.state_dict()
    keys = _binary_keys(bireal)
    for key in keys:
        sd[key + "s"] = torch.where(sd.pop(key) >= 0, 1.0, -1.0).reshape(-1, 1)
    report = load_checkpoint(create_model("bireal-18"), {"state_dict": sd})
    assert report.format == "reactnet_flat" and report.flat_converted == 16
    assert report.binary_weights_are_pm1 and report.zero_binary_weights == 0

    sd[keys[0] + "s"][:5] = 0.0  # latent zeros: torch.sign gives 0, the deployed sign +1
    report = load_checkpoint(create_model("bireal-18"), {"state_dict": sd})
    assert report.zero_binary_weights == 5 and not report.binary_weights_are_pm1
    assert "5 exactly 0" in report.summary()


# -- our own format ------------------------------------------------------------------------------
def test_rep_deploy_round_trip(tmp_path: Path) -> None:
    src = _randomize(create_model("rep-bireal-18"), 4)
    path = save_checkpoint(src, tmp_path / "sub" / "rep.pt", epoch=7, dataset="imagenet")
    raw = torch.load(path, weights_only=True)
    assert raw["model"] == "rep-bireal-18" and raw["beta"] == 2 and "rep_deploy_version" in raw
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left behind

    fresh = create_model("rep-bireal-18")
    report = load_checkpoint(fresh, path)
    assert report.format == "rep_deploy"
    assert report.metadata["model"] == "rep-bireal-18" and report.metadata["epoch"] == 7
    xs = torch.randn(1, 3, 64, 64)
    assert torch.equal(_run(fresh, xs), _run(src, xs))


def test_save_rejects_reserved_metadata(tmp_path: Path, bireal: nn.Module) -> None:
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(bireal, tmp_path / "x.pt", state_dict={})


def test_rep_deploy_file_of_another_beta_says_so(tmp_path: Path) -> None:
    path = save_checkpoint(create_model("rep-bireal-18", beta=4), tmp_path / "b4.pt")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(create_model("rep-bireal-18"), path)
    msg = str(err.value)
    assert "saved from rep-bireal-18 (beta=4)" in msg and "`rep-bireal-18` with --beta 4" in msg


# -- unreadable files ----------------------------------------------------------------------------
def _valid_bytes(tmp_path: Path) -> bytes:
    p = tmp_path / "valid.pt"
    torch.save({"state_dict": {"w": torch.randn(4096)}}, p)
    return p.read_bytes()


@pytest.mark.parametrize("kind", ["corrupted", "truncated", "empty", "missing", "directory"])
def test_unreadable_file_is_one_clear_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.pth.tar"
    if kind == "corrupted":
        path.write_bytes(bytes(range(256)) * 64)
    elif kind == "truncated":
        data = _valid_bytes(tmp_path)
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "directory":
        path.mkdir()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(create_model("bireal-18"), path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg


@pytest.mark.parametrize(("payload", "needle"), [(torch.zeros(3), "holds a Tensor"),
                                                 ([1, 2], "holds a list"),
                                                 ({"epoch": 3}, "no state dict found")])
def test_not_a_state_dict(tmp_path: Path, payload: object, needle: str) -> None:
    path = tmp_path / "odd.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=needle):
        load_checkpoint(create_model("bireal-18"), path)


def test_pickled_module_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "module.pt"
    torch.save(nn.Linear(2, 2), path)  # a whole pickled module: loading it would run code
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(create_model("bireal-18"), path)


# -- checkpoints that do not fit -----------------------------------------------------------------
def test_wrong_architecture_names_every_key(base: tuple[nn.Module, Tensor],
                                            bireal: nn.Module) -> None:
    model = base[0]
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(model, _training_code_dict(bireal.state_dict()))
    msg = str(err.value) + "\n"
    assert "does not fit reactnet-a (beta=1)" in msg
    want, got = model.state_dict(), bireal.state_dict()
    missing, unexpected = set(want) - set(got), set(got) - set(want)
    assert f"missing from the checkpoint ({len(missing)})" in msg
    assert f"unexpected in the checkpoint ({len(unexpected)})" in msg
    assert all(f"    {k}\n" in msg for k in missing | unexpected)
    assert "fc.weight: checkpoint (1000, 512), model (1000, 1024)" in msg
    assert "fits `bireal-18`" in msg


def test_wrong_beta_names_every_misshaped_key(rep: tuple[nn.Module, Tensor]) -> None:
    model = rep[0]
    other = create_model("rep-reactnet-a", beta=4).state_dict()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(model, _training_code_dict(other))
    msg = str(err.value)
    want = model.state_dict()
    differ = [k for k in want if want[k].shape != other[k].shape]
    assert f"wrong shape ({len(differ)})" in msg
    for k in differ:
        assert f"{k}: checkpoint {tuple(other[k].shape)}, model {tuple(want[k].shape)}" in msg
    assert "feature.1.binary_3x3.weight: checkpoint (8, 128, 3, 3), model (16, 64, 3, 3)" in msg
    assert "fits `rep-reactnet-a` with --beta 4" in msg


def test_base_checkpoint_into_rep_model_suggests_base(base: tuple[nn.Module, Tensor],
                                                      rep: tuple[nn.Module, Tensor]) -> None:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(rep[0], base[0].state_dict())
    msg = str(err.value)
    assert "does not fit rep-reactnet-a (beta=2)" in msg and "rep_adambnn" in msg
    assert "fits `reactnet-a`" in msg


def test_flat_weight_of_wrong_size(bireal: nn.Module) -> None:
    sd = bireal.state_dict()
    sd["layer1.0.binary_conv.weights"] = torch.zeros(10, 1)
    del sd["layer1.0.binary_conv.weight"]
    with pytest.raises(CheckpointError, match=r"layer1\.0\.binary_conv\.weights -> layer1\.0\."
                       r"binary_conv\.weight: checkpoint \(10, 1\), model \(64, 64, 3, 3\)"):
        load_checkpoint(create_model("bireal-18"), sd)


def test_non_strict_records_what_was_not_loaded(bireal: nn.Module) -> None:
    sd = dict(bireal.state_dict())
    del sd["fc.bias"]
    sd["extra.thing"] = torch.zeros(1)
    fresh = create_model("bireal-18")
    with pytest.raises(CheckpointError, match=r"fc\.bias[\s\S]*extra\.thing"):
        load_checkpoint(fresh, sd)
    report = load_checkpoint(fresh, sd, strict=False)
    assert report.missing == ("fc.bias",) and report.unexpected == ("extra.thing",)
    assert torch.equal(fresh.fc.weight, bireal.fc.weight)
    sd["fc.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_checkpoint(fresh, sd, strict=False)  # shapes never load, strict or not


def test_old_checkpoint_without_num_batches_tracked(bireal: nn.Module) -> None:
    sd = {k: v for k, v in bireal.state_dict().items() if not k.endswith("num_batches_tracked")}
    report = load_checkpoint(create_model("bireal-18"), sd)
    assert len(report.filled) == 20 and report.missing == ()


def test_save_checkpoint_metadata_may_name_the_model_and_files_are_readable(tmp_path) -> None:
    import stat

    from rep_deploy import create_model, save_checkpoint

    path = save_checkpoint(create_model("resnet20-digits"), tmp_path / "c.pt", model="custom-name", epoch=3)
    assert torch.load(path, weights_only=True)["model"] == "custom-name"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & stat.S_IRGRP and mode & stat.S_IROTH  # not mkstemp's 0600
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
