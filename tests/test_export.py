"""``export_model`` on every zoo model: checker, stock ORT vs PyTorch, sizes, and bad input.

Registry-driven: a model added to the zoo is exported here without touching this file. Full-size
ImageNet models are marked ``slow`` (they still run in CI; ``-m "not slow"`` skips them locally).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from rep_deploy import ExportError, ExportOptions, export_model, get_model_info
from rep_deploy.export import read_metadata
from rep_deploy.nn import RepBConv2d, ScaledBinaryConv2d
from rep_deploy.registry import UnknownModelError
from rep_deploy.validate import ort_runner

from _zoo import zoo_cases


@pytest.mark.parametrize("name,beta", zoo_cases())
def test_export_every_zoo_model(name: str, beta: int | None, tmp_path: Path) -> None:
    info = get_model_info(name, beta)
    big = info.input_size[1] >= 128
    # ImageNet-size models: 2 images through ORT, skip the (18 s/image) reference evaluator except
    # for the flagship, which test_reactnet_reference_evaluator covers.
    options = ExportOptions(input_shape=(2 if big else 8, *info.input_size),
                            reference_images=0 if big else 1, native=True)
    result = export_model(name, tmp_path, beta=beta, options=options)
    model = onnx.load(result.model_path)
    onnx.checker.check_model(model, full_check=True)
    assert model.ir_version <= 10
    v = result.report["verification"]
    assert v["passed"] and all(b["top1_agreement"] == 1.0 for b in v["backends"])
    # the native kernels ran too (the test environment builds them), agreeing with PyTorch
    assert "onnxruntime + rep-deploy kernels" in {b["backend"] for b in v["backends"]}
    assert v["sign_zero_inputs"] == 0
    meta = read_metadata(model)
    assert meta["model"] == name and meta["beta"] == (beta or info.beta)
    assert meta["input_shape"] == [None, *info.input_size]
    assert json.loads(result.report_path.read_text())["file_bytes"] == result.model_path.stat().st_size
    # one BinaryConv-family node per binary conv of the PyTorch model (a merged pair, `splits` 2,
    # stands for two), and none left unfused
    n_binary = sum(next((a.i for a in n.attribute if a.name == "splits"), 1)
                   for n in model.graph.node
                   if n.domain == "rep_deploy" and n.op_type.startswith("BinaryConv"))
    from rep_deploy import create_model
    from rep_deploy.nn import ScaledBinaryConv2d

    with torch.device("meta"):
        net = create_model(name, beta=beta)
    assert n_binary == sum(isinstance(m, ScaledBinaryConv2d) for m in net.modules())
    # every BinaryConv left unfused has a reason: a MaxPool between it and its BatchNorm (VGG-small)
    readers = {i: n for n in model.graph.node for i in n.input}
    for n in model.graph.node:
        if n.op_type == "BinaryConv":
            assert readers[n.output[0]].op_type == "MaxPool", n.name  # Rep: Repeat is fused


@pytest.mark.slow
def test_reactnet_reference_evaluator_and_size(tmp_path: Path) -> None:
    """rep-reactnet-a: onnx.reference agrees too; the file is within 5% of the ideal size."""
    custom = export_model("rep-reactnet-a", tmp_path / "custom",
                          options=ExportOptions(input_shape=(2, 3, 224, 224), reference_images=1))
    backends = {b["backend"]: b for b in custom.report["verification"]["backends"]}
    assert backends["onnx.reference"]["top1_agreement"] == 1.0
    ratio = custom.report["size_ratio_to_ideal"]
    assert ratio <= 1.05, ratio
    standard = export_model("rep-reactnet-a", tmp_path / "standard",
                            options=ExportOptions(ops="standard", input_shape=(2, 3, 224, 224),
                                                  reference_images=0))
    hist = standard.report["op_histogram"]
    assert not any("::" in k for k in hist) and hist["Conv"] == 32
    shrink = standard.report["file_bytes"] / custom.report["file_bytes"]
    print(f"\nrep-reactnet-a: custom {custom.report['file_bytes'] / 1e6:.2f} MB "
          f"({ratio:.4f} x ideal), standard {standard.report['file_bytes'] / 1e6:.2f} MB "
          f"({shrink:.2f} x larger)")
    assert shrink > 5  # 28M binary weights at 32 bits instead of 1


@pytest.mark.parametrize("ops_", ["custom", "standard"])
def test_exported_file_runs_any_batch(ops_: str, tmp_path: Path) -> None:
    r = export_model("rep-resnet20", tmp_path, options=ExportOptions(ops=ops_))  # type: ignore[arg-type]
    run = ort_runner(r.model_path.read_bytes())
    for n in (1, 3):
        x = np.zeros((n, 3, 32, 32), np.float32)
        assert run(x)["logits"].shape == (n, 10)


def _assert_nothing_written(out: Path) -> None:
    assert not (out / "model.onnx").exists() and not (out / "report.json").exists()
    assert not out.exists() or not any(out.iterdir())


def test_unknown_model(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="did you mean rep-resnet20"):
        export_model("rep-resnet21", tmp_path / "o")
    _assert_nothing_written(tmp_path / "o")


@pytest.mark.parametrize("shape,match", [((1, 1, 32, 32), "takes 3-channel input"),
                                         ((1, 3, 16, 16), "cannot take input shape"),
                                         ((3, 32, 32), "N,C,H,W")])
def test_bad_input_shape(shape, match: str, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=match):
        export_model("vgg-small", tmp_path / "o", options=ExportOptions(input_shape=shape))  # type: ignore[arg-type]
    _assert_nothing_written(tmp_path / "o")


def test_unwritable_output(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ExportError, match="cannot write to output directory"):
        export_model("resnet20", blocker / "sub")


def test_checkpoint_of_wrong_architecture(tmp_path: Path) -> None:
    from rep_deploy import create_model
    from rep_deploy.checkpoint import CheckpointError, save_checkpoint

    ckpt = tmp_path / "vgg.pt"
    save_checkpoint(create_model("vgg-small"), ckpt)
    with pytest.raises(CheckpointError) as e:
        export_model("resnet20", tmp_path / "o", checkpoint=str(ckpt))
    assert "unexpected" in str(e.value) and "missing" in str(e.value)
    _assert_nothing_written(tmp_path / "o")


def test_failed_verification_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    """A backend that disagrees with PyTorch fails the export and leaves no file."""
    import rep_deploy.export.main as main
    from rep_deploy.validate import VerificationError

    real = main.ort_runner

    def off_by_one(model, **kwargs):
        run = real(model, **kwargs)
        return lambda x: {k: v + 1.0 for k, v in run(x).items()}

    monkeypatch.setattr(main, "ort_runner", off_by_one)
    with pytest.raises(VerificationError, match="exceeds"):
        export_model("resnet20", tmp_path / "o", options=ExportOptions(reference_images=0))
    _assert_nothing_written(tmp_path / "o")


@pytest.mark.parametrize("name", ["rep-resnet20-digits", "resnet20-digits"])
def test_demo_accuracy_identical_in_pytorch_and_onnx(name: str, tmp_path: Path) -> None:
    """The shipped trained models: the same held-out predictions in PyTorch and every backend."""
    from rep_deploy.models import demo

    result = export_model(name, tmp_path, checkpoint=str(demo.checkpoint_path(name)),
                          options=ExportOptions(native=True))
    v = result.report["verification"]
    assert v["input_source"].startswith("digits held-out split (360")
    assert v["torch_accuracy"] > 0.9
    for b in v["backends"]:
        assert b["top1_agreement"] == 1.0
        if b["images"] == v["images"]:
            assert b["accuracy"] == v["torch_accuracy"], b["backend"]
    card = (Path(demo.__file__).parent / "MODEL_CARD.md").read_text()
    assert f"{v['torch_accuracy']:.2%}" in card  # the accuracy the model card quotes


# -- your own nn.Module ---------------------------------------------------------------------------------
class _TinyBNN(nn.Module):
    """A user's BNN, defined here: a float stem, one Rep block (RepBConv2d, beta=2, BN after the tile),
    one plain binary block (ScaledBinaryConv2d) with a stride, zero padding and a shortcut, a float head."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16))
        self.rep = RepBConv2d(8, 8, 3, beta=2, padding=1)  # reads 16 channels, writes 16 (tile x4)
        self.rep_bn = nn.BatchNorm2d(16)
        self.plain = ScaledBinaryConv2d(16, 24, 3, stride=2, padding=1)
        self.plain_bn = nn.BatchNorm2d(24)
        self.act = nn.PReLU(24)
        self.head = nn.Linear(24, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.rep_bn(self.rep(x)) + x
        x = self.act(self.plain_bn(self.plain(x)))
        return self.head(x.mean(dim=(2, 3)))


def _trained_like(net: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return net


def test_export_your_own_module(tmp_path: Path) -> None:
    from rep_deploy import ModelInfo

    net = _trained_like(_TinyBNN()).train()  # left in training mode: export must not change it
    before = {k: v.clone() for k, v in net.state_dict().items()}
    info = ModelInfo(name="tiny-bnn", input_size=(3, 12, 12), num_classes=5, mean=(0.5, 0.5, 0.5),
                     std=(0.25, 0.25, 0.25))
    result = export_model(net, tmp_path, info=info)
    assert net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    v = result.report["verification"]
    assert v["passed"] and {b["backend"] for b in v["backends"]} >= {"onnxruntime (function bodies)",
                                                                    "onnx.reference"}
    assert result.report["weights"] == "module" and result.report["fidelity"]["binary_layers"] == 2
    assert not any("random" in w for w in result.warnings)
    hist = result.report["op_histogram"]
    assert sum(n for op, n in hist.items() if op.startswith("rep_deploy::BinaryConv")) == 2
    meta = read_metadata(onnx.load(result.model_path))
    assert meta["model"] == "tiny-bnn" and meta["num_classes"] == 5 and meta["mean"] == [0.5] * 3
    assert meta["weights"] == "nn.Module as given"
    # the file computes what the module computes (eval mode), on new inputs too
    x = np.random.default_rng(7).standard_normal((3, 3, 12, 12)).astype(np.float32)
    with torch.no_grad():
        ref = net.eval()(torch.from_numpy(x)).numpy()
    got = ort_runner(result.model_path.read_bytes())(x)["logits"]
    assert (got.argmax(1) == ref.argmax(1)).all()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_export_module_needs_its_info(tmp_path: Path) -> None:
    from rep_deploy import ModelInfo, create_model

    with pytest.raises(ExportError, match="needs info=rep_deploy.ModelInfo"):
        export_model(_TinyBNN(), tmp_path / "o")
    info = ModelInfo(name="tiny", input_size=(3, 12, 12), num_classes=5)
    with pytest.raises(ExportError, match="beta applies to zoo names only"):
        export_model(_TinyBNN(), tmp_path / "o", info=info, beta=2)
    with pytest.raises(ExportError, match="info= is for nn.Module exports"):
        export_model("resnet20", tmp_path / "o", info=info)
    with pytest.raises(ExportError, match="cannot take input shape"):
        export_model(_TinyBNN(), tmp_path / "o", info=ModelInfo(name="t", input_size=(4, 12, 12),
                                                                 num_classes=5))
    _assert_nothing_written(tmp_path / "o")
    # a module built by create_model carries its ModelInfo
    result = export_model(create_model("rep-resnet20-digits"), tmp_path / "zoo",
                          options=ExportOptions(reference_images=0))
    assert result.report["model"] == "rep-resnet20-digits" and result.report["verification"]["passed"]
