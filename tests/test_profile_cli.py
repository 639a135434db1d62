"""``rep-deploy profile``: OPs by cost kind, the Rep overhead in both BN conventions, the paper's tables."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rep_deploy import ExportOptions, export_model
from rep_deploy.cli import main
from rep_deploy.profile import bn_flops_paper, count_onnx_ops


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("profile")
    return {name: export_model(name, root / name, options=ExportOptions(
        input_shape=(1, 3, 32, 32), reference_images=0, native=False)).model_path
        for name in ("resnet20", "rep-resnet20")}


def test_compare_reports_both_bn_conventions(exports: dict[str, Path], tmp_path: Path) -> None:
    rep, base = str(exports["rep-resnet20"]), str(exports["resnet20"])
    r = CliRunner().invoke(main, ["profile", rep, "--compare", base, "--json", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "p.json").read_text())
    a, b = count_onnx_ops(rep), count_onnx_ops(base)
    o = doc["overhead"]
    assert o["ops_without_bn"] == pytest.approx(a.ops() / b.ops() - 1)
    assert o["ops_with_bn_literal"] == pytest.approx(a.ops(with_bn=True) / b.ops(with_bn=True) - 1)
    assert o["ops_with_bn_paper"] == pytest.approx((a.ops() + bn_flops_paper(b.bn_flops(), 2)) /
                                                   b.ops(with_bn=True) - 1)
    # a Rep model's literal BN is beta times wider: the literal overhead is far above the paper's
    assert o["bn_flops_literal"] == 2 * b.bn_flops() and o["ops_with_bn_literal"] > o["ops_with_bn_paper"] > 0
    rows = {row["kind"]: row for row in doc["models"][rep]["rows"]}
    assert rows["binary conv"]["count"] == a.bops and rows["tile"]["ops"] == 0
    assert sum(row["share"] for row in rows.values()) == pytest.approx(1.0)
    text = " ".join(r.stdout.split())
    assert "Rep overhead in OPs: without BN" in text and "shared normalization" in text


def test_paper_tables_are_reproduced() -> None:
    r = CliRunner().invoke(main, ["profile", "--paper", "--json", "-"])
    assert r.exit_code == 0, r.output
    p = json.loads(r.stdout)["paper"]
    t1 = p["table1"]
    assert t1["reactnet-a"]["ops"]["ours"] == 87_198_536 and t1["reactnet-a"]["ops_with_bn"]["ours"] == 97_283_912
    assert t1["rep-reactnet-a"]["ops"]["ours"] == 88_186_276
    assert round(t1["rep-reactnet-a"]["ops_with_bn"]["ours"], -5) == 1.008e8
    assert t1["rep-reactnet-a"]["bn_literal"]["ours"] == 19_367_936
    # the paper prints three decimals in units of 1e7 (FLOPs) and 1e8 (OPs)
    units = {"fc": 1e7, "conv": 1e7, "bn": 1e7, "ops": 1e8, "ops_with_bn": 1e8}
    for quantity, unit in units.items():
        for model in ("reactnet-a", "rep-reactnet-a"):
            v = t1[model][quantity]
            assert round(v["ours"] / unit, 3) == pytest.approx(v["paper"] / unit), (model, quantity)
    # BOPs (1e9): 4.822 for the base; the Rep model's pre-tile output term makes it 4.819
    assert round(t1["reactnet-a"]["bops"]["ours"] / 1e9, 3) == 4.822
    assert round(t1["rep-reactnet-a"]["bops"]["ours"] / 1e9, 3) == 4.819
    assert all(v["paper"] == v["ours"] for v in p["table2"].values())
    assert sorted(int(b) for b in p["beta_sweep"]) == [2, 4, 8]


@pytest.mark.parametrize("args,message", [
    (["profile"], "give MODEL.onnx"),
    (["profile", "{tmp}/junk.onnx"], "not a readable ONNX model"),
    (["profile", "{rep}", "--compare", "{digits}"], "compare exports of the same input size"),
])
def test_bad_input_is_one_line(args: list[str], message: str, exports: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"\x08junk")
    digits = export_model("resnet20-digits", tmp_path / "d", options=ExportOptions(
        reference_images=0, native=False)).model_path
    subst = {"{tmp}": str(tmp_path), "{rep}": str(exports["rep-resnet20"]), "{digits}": str(digits)}
    for k, v in subst.items():
        args = [a.replace(k, v) for a in args]
    r = CliRunner().invoke(main, [*args, "--json", str(tmp_path / "out.json")])
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output
    assert not (tmp_path / "out.json").exists()


def test_latency_per_kind_on_two_backends(exports: dict[str, Path], tmp_path: Path) -> None:
    """Structure, not speed: both models measured on both ORT backends, kinds and shares present."""
    rep, base = str(exports["rep-resnet20"]), str(exports["resnet20"])
    r = CliRunner().invoke(main, ["profile", rep, "--compare", base, "--backend", "ort-native",
                                  "--backend", "ort", "--runs", "2", "--json", str(tmp_path / "l.json")])
    assert r.exit_code == 0, r.output
    lat = json.loads((tmp_path / "l.json").read_text())["latency"]
    assert set(lat) == {"ort-native", "ort"}
    for backend, per_model in lat.items():
        assert set(per_model) == {rep, base}
        for prof in per_model.values():
            assert prof["runs"] == 2 and prof["wall"]["median_ms"] > 0
            assert "binary_conv" in prof["by_category"]
            assert sum(v["share"] for v in prof["by_category"].values()) == pytest.approx(1.0)
    assert lat["ort-native"][rep]["kernel_path"] and "measured Rep overhead" in " ".join(r.stdout.split())


def test_plot_and_interleaved_overhead(exports: dict[str, Path], tmp_path: Path) -> None:
    rep, base = str(exports["rep-resnet20"]), str(exports["resnet20"])
    png, js = tmp_path / "p.png", tmp_path / "p.json"
    r = CliRunner().invoke(main, ["profile", rep, "--compare", base, "--backend", "ort-native", "--runs", "3",
                                  "--plot", str(png), "--json", str(js)])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    o = json.loads(js.read_text())["latency_overhead"]["ort-native"]
    assert o["rounds"] == 3 and o["threads"] == 1 and o["paired_ratio"] > 0 and o["wall_median_ratio"] > 0
    assert "interleaved rounds" in " ".join(r.stdout.split())


@pytest.mark.parametrize("args,message", [
    (["{rep}", "--plot", "{tmp}/p.jpg"], "name the file *.png"),
    (["--paper", "--plot", "{tmp}/p.png"], "give MODEL.onnx"),
    (["{tmp}/junk.onnx", "--plot", "{tmp}/p.png"], "not a readable ONNX model"),
])
def test_plot_errors_leave_no_file(args: list[str], message: str, exports: dict[str, Path],
                                   tmp_path: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    args = [a.replace("{rep}", str(exports["rep-resnet20"])).replace("{tmp}", str(tmp_path)) for a in args]
    r = CliRunner().invoke(main, ["profile", *args])
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.onnx"]


@pytest.mark.parametrize("args,message", [
    (["--backend", "gpu"], "Invalid value for '--backend'"),
    (["--backend", "tflite-lce"], ".tflite"),
])
def test_bad_backend_is_one_line(args: list[str], message: str, exports: dict[str, Path]) -> None:
    r = CliRunner().invoke(main, ["profile", str(exports["resnet20"]), *args])
    assert r.exit_code != 0 and message in r.output and "Traceback" not in r.output
