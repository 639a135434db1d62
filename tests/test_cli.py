"""The CLI through click's CliRunner: help, zoo, export, info, and one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from rep_deploy.cli import main


@pytest.fixture()
def runner() -> CliRunner:
    return CliRunner()


def test_help_teaches(runner: CliRunner) -> None:
    r = runner.invoke(main, ["--help"])
    assert r.exit_code == 0
    for word in ("zoo", "export", "info", "rep-deploy export rep-resnet20-digits --pretrained"):
        assert word in r.output
    r = runner.invoke(main, ["export", "--help"])
    assert r.exit_code == 0 and "--checkpoint" in r.output and "weights_only" in r.output


def test_zoo_lists_every_model_with_costs(runner: CliRunner) -> None:
    from rep_deploy import list_models

    r = runner.invoke(main, ["zoo", "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.output)}
    assert set(rows) == set(list_models())
    assert rows["reactnet-a"]["binary_weights"] == rows["rep-reactnet-a"]["binary_weights"]
    assert rows["reactnet-a"]["bops"] == rows["rep-reactnet-a"]["bops"] == 4_816_896_000
    assert rows["resnet20"]["ops"] == 1_069_696  # RepBNN Table 2, "Raw"
    r = runner.invoke(main, ["zoo"])
    assert r.exit_code == 0 and "rep-reactnet-a" in r.output


def test_zoo_beta_that_does_not_divide(runner: CliRunner) -> None:
    r = runner.invoke(main, ["zoo", "--json", "--beta", "3"])
    assert r.exit_code == 0
    rows = {row["name"]: row for row in json.loads(r.output)}
    assert "divisible" in rows["rep-resnet20"]["error"]


def test_export_then_info(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = runner.invoke(main, ["export", "rep-resnet20", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "model.onnx").exists() and (out / "report.json").exists()
    r = runner.invoke(main, ["info", str(out / "model.onnx"), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["metadata"]["model"] == "rep-resnet20" and d["metadata"]["beta"] == 2
    assert d["binary_weights"] == 267_264  # exactly the PyTorch model's binary weights
    assert d["uses_custom_ops"]
    r = runner.invoke(main, ["info", str(out / "model.onnx")])
    assert r.exit_code == 0 and "BinaryConvFused" in r.stdout  # stdout: `info m.onnx > f` keeps it
    assert r.stderr == ""


@pytest.mark.parametrize("args,message", [
    (["export", "resnet21", "-o", "{tmp}/o"], "unknown model 'resnet21'"),
    (["export", "resnet20", "--input-shape", "1,3,32", "-o", "{tmp}/o"], "expected 4 sizes"),
    (["export", "resnet20", "--input-shape", "1,1,32,32", "-o", "{tmp}/o"], "takes 3-channel input"),
    (["export", "resnet20", "--checkpoint", "{tmp}/missing.pt", "-o", "{tmp}/o"], "missing.pt"),
    (["export", "resnet20", "--pretrained", "-o", "{tmp}/o"], "no shipped weights for resnet20"),
    (["export", "resnet20", "--beta", "2", "-o", "{tmp}/o"], "not a Rep model"),
    (["info", "{tmp}/garbage.onnx"], "not a readable ONNX model"),
    (["info", "{tmp}/empty.onnx"], "is empty (0 bytes)"),
    (["info", "{tmp}/truncated.onnx"], "truncated"),
    (["run", "{tmp}/empty.onnx", "--input", "{tmp}/x.npy"], "is empty (0 bytes)"),
])
def test_errors_are_one_line_and_leave_nothing(runner: CliRunner, tmp_path: Path, args, message) -> None:
    (tmp_path / "garbage.onnx").write_bytes(b"\x00not onnx at all")
    (tmp_path / "empty.onnx").write_bytes(b"")
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 8, 8), np.float32))
    (tmp_path / "truncated.onnx").write_bytes(_exported_bytes()[:20000])
    r = runner.invoke(main, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code != 0
    assert message in r.output, r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


_EXPORTED: list[bytes] = []


def _exported_bytes() -> bytes:
    """A real export (the demo model), made once per test session."""
    if not _EXPORTED:
        import tempfile

        from rep_deploy import export_model
        from rep_deploy.models import demo

        with tempfile.TemporaryDirectory() as d:
            r = export_model(demo.DEMO_MODEL, d, checkpoint=str(demo.checkpoint_path()))
            _EXPORTED.append(r.model_path.read_bytes())
    return _EXPORTED[0]


def test_export_refuses_to_overwrite_without_force(runner: CliRunner, tmp_path: Path) -> None:
    args = ["export", "rep-resnet20-digits", "--pretrained", "--reference-images", "0", "-o", str(tmp_path)]
    r = runner.invoke(main, args)
    assert r.exit_code == 0 and "wrote" in r.stderr
    before = (tmp_path / "model.onnx").stat().st_mtime_ns, (tmp_path / "report.json").read_bytes()
    r = runner.invoke(main, args)
    assert r.exit_code == 1
    assert "model.onnx already exists; pass --force" in r.stderr and "Traceback" not in r.output
    assert ((tmp_path / "model.onnx").stat().st_mtime_ns, (tmp_path / "report.json").read_bytes()) == before
    r = runner.invoke(main, [*args, "--force"])
    assert r.exit_code == 0 and "replaced" in r.stderr
    assert (tmp_path / "model.onnx").stat().st_mtime_ns != before[0]


def test_export_without_checkpoint_warns_random_weights(runner: CliRunner, tmp_path: Path) -> None:
    r = runner.invoke(main, ["export", "rep-resnet20", "--reference-images", "0", "-o", str(tmp_path / "a")])
    assert r.exit_code == 0
    err = " ".join(r.stderr.split())  # rich wraps long lines
    assert "warning: no checkpoint given: the weights are random" in err and "not for deployment" in err
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["weights"] == "random" and report["fidelity"]["warnings"]
    r = runner.invoke(main, ["export", "rep-resnet20-digits", "--pretrained", "--reference-images", "0",
                             "-o", str(tmp_path / "b")])
    assert r.exit_code == 0 and "random" not in r.stderr and "warning:" not in r.stderr


def test_export_warns_about_latent_weights_exactly_zero(runner: CliRunner, tmp_path: Path) -> None:
    """Planted zeros in a trained checkpoint: named per layer in the summary and in report.json."""
    import torch

    from rep_deploy.models import demo

    ckpt = torch.load(demo.checkpoint_path(), weights_only=True)
    sd = ckpt["state_dict"]
    planted = {"layer1.0.conv1": 3, "layer3.2.conv2": 1}
    for layer, n in planted.items():
        sd[f"{layer}.weight"].view(-1)[:n] = 0.0
    torch.save(ckpt, tmp_path / "zeros.pt")
    r = runner.invoke(main, ["export", demo.DEMO_MODEL, "--checkpoint", str(tmp_path / "zeros.pt"),
                             "--reference-images", "0", "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    err = " ".join(r.stderr.split())  # rich wraps long lines
    assert "latent binary weights exactly 0: 4 in layer1.0.conv1 (3), layer3.2.conv2 (1)" in err
    assert "warning: 4 latent binary weight(s) are exactly 0" in err and "deploy as +1" in err
    assert "binarization inputs exactly 0: 0 of" in err  # side by side with the activation count
    fid = json.loads((tmp_path / "o" / "report.json").read_text())["fidelity"]
    assert fid["zero_binary_weights"] == 4
    assert {row["layer"]: row["zeros"] for row in fid["zero_weight_layers"]} == planted
    assert all(row["weights"] > row["zeros"] for row in fid["zero_weight_layers"])


def test_report_records_provenance_not_paths(runner: CliRunner, tmp_path: Path) -> None:
    import datetime
    import hashlib

    import onnxruntime
    import torch

    from rep_deploy.models import demo
    from rep_deploy.runtime import kernel_path

    ckpt = demo.checkpoint_path()
    r = runner.invoke(main, ["export", demo.DEMO_MODEL, "--checkpoint", str(ckpt), "--reference-images",
                             "0", "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "o" / "report.json").read_text()
    report = json.loads(text)
    assert str(ckpt.parent) not in text and str(tmp_path) not in text  # no paths of this machine
    assert report["checkpoint"] == {"name": ckpt.name, "bytes": ckpt.stat().st_size,
                                    "sha256": hashlib.sha256(ckpt.read_bytes()).hexdigest()}
    assert report["checkpoint_load"]["source"] == ckpt.name
    assert report["kernel_path"] == kernel_path()
    v = report["versions"]
    assert v["torch"] == torch.__version__.split("+")[0] or v["torch"] == torch.__version__
    assert v["onnxruntime"] == onnxruntime.__version__ and v["onnx"] and v["rep-deploy"]
    assert report["cpu"] and report["machine"]
    created = datetime.datetime.fromisoformat(report["created_utc"])
    assert created.tzinfo is not None
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 600
    r = runner.invoke(main, ["info", str(tmp_path / "o" / "model.onnx")])
    assert f"checkpoint: {ckpt.name} (sha256 {report['checkpoint']['sha256']})" in r.stdout


def test_help_says_which_checkpoint_of_two_step_training(runner: CliRunner) -> None:
    r = runner.invoke(main, ["export", "--help"])
    text = " ".join(r.output.split())
    assert "step-2 checkpoint" in text and "step-1 files have the same keys" in text
    assert "--force" in text


def test_quick_commands_import_no_heavy_framework(tmp_path: Path) -> None:
    """--help, zoo --help and info must not import torch / onnxruntime / TensorFlow (seconds each)."""
    import subprocess
    import sys

    (tmp_path / "m.onnx").write_bytes(_exported_bytes())
    probe = ("import sys\nfrom rep_deploy.cli import main\n"
             "try:\n    main(sys.argv[1:], standalone_mode=False)\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('torch', 'onnxruntime', 'tensorflow') if m in sys.modules]\n"
             "print('HEAVY', heavy)\n")
    for args in (["--help"], ["zoo", "--help"], ["export", "--help"], ["tflite", "--help"], ["profile", "--help"],
                 ["info", str(tmp_path / "m.onnx")]):
        r = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "HEAVY []" in r.stdout, (args, r.stdout[-300:])
