"""The CLI through click's CliRunner: help, zoo, export, info, and one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

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
    assert r.exit_code == 0 and "BinaryConvFused" in r.output


@pytest.mark.parametrize("args,message", [
    (["export", "resnet21", "-o", "{tmp}/o"], "unknown model 'resnet21'"),
    (["export", "resnet20", "--input-shape", "1,3,32", "-o", "{tmp}/o"], "expected 4 sizes"),
    (["export", "resnet20", "--input-shape", "1,1,32,32", "-o", "{tmp}/o"], "takes 3-channel input"),
    (["export", "resnet20", "--checkpoint", "{tmp}/missing.pt", "-o", "{tmp}/o"], "missing.pt"),
    (["export", "resnet20", "--pretrained", "-o", "{tmp}/o"], "no shipped weights for resnet20"),
    (["export", "resnet20", "--beta", "2", "-o", "{tmp}/o"], "not a Rep model"),
    (["info", "{tmp}/garbage.onnx"], "not a readable ONNX model"),
])
def test_errors_are_one_line_and_leave_nothing(runner: CliRunner, tmp_path: Path, args, message) -> None:
    (tmp_path / "garbage.onnx").write_bytes(b"\x00not onnx at all")
    r = runner.invoke(main, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code != 0
    assert message in r.output, r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "o").exists()
