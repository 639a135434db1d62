"""Measured latency per node / category (rep_deploy/profile/latency.py): structure, never speed.

Timings on a shared machine are noisy, so no test bounds a time; they check that every node is
attributed, that the per-node sum is consistent with the run time, and that nothing is left behind.
"""
from __future__ import annotations

import json
import os
import tempfile

import onnx
import pytest

import rep_deploy
from rep_deploy.onnx_file import ModelFileError
from rep_deploy.profile.latency import (
    BACKENDS,
    LatencyProfile,
    paired_ratio,
    profile_interleaved,
    profile_latency,
)

RUNS = 3


def _native_built() -> bool:
    from rep_deploy.runtime import library_path

    try:
        library_path()
    except FileNotFoundError:
        return False
    return True


needs_native = pytest.mark.skipif(not _native_built(), reason="custom-op library not built")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("latency") / "resnet20"
    opts = rep_deploy.ExportOptions(input_shape=(1, 3, 32, 32), reference_images=0, native=False)
    return rep_deploy.export_model("rep-resnet20", out, options=opts).model_path


@pytest.fixture(scope="module")
def custom_nodes(model_path):
    model = onnx.load(str(model_path))
    names = [n.name for n in model.graph.node if n.domain == "rep_deploy"]
    assert names
    return names


def _tmp_leftovers() -> set[str]:
    return {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("rep_deploy_profile_")}


def _check_common(prof: LatencyProfile, custom_nodes: list[str]) -> dict[str, object]:
    by_name = {n.name: n for n in prof.per_node}
    for name in custom_nodes:  # every custom node, under its ONNX name, with a positive time
        assert name in by_name, name
        node = by_name[name]
        assert node.category in ("binary_conv", "tile"), (name, node.category)
        assert 0 < node.min_ms <= node.median_ms <= node.max_ms
    assert "binary_conv" in prof.by_category
    assert sum(c["share"] for c in prof.by_category.values()) == pytest.approx(1.0)
    assert sum(c["nodes"] for c in prof.by_category.values()) == len(prof.per_node)
    # Per-node medians vs the wall time of run(): the kernels' sum leaves out the executor's work
    # between kernels and the Python/ORT call overhead, so it is below the wall time (~0.65-0.8x
    # here, single thread); a sum above it would mean double counting or warmup runs leaking in.
    # Loose bounds: the machine is shared and each run is ~1 ms.
    ratio = prof.node_total_ms / prof.wall.median_ms
    assert 0.3 < ratio < 1.5, ratio
    assert prof.wall.runs == RUNS and prof.profiled_run is not None and prof.profiled_run.runs == RUNS
    d = json.loads(json.dumps(prof.to_dict()))
    assert d["backend"] == prof.backend and len(d["per_node"]) == len(prof.per_node)
    return by_name


@needs_native
def test_ort_native_attributes_every_node(model_path, custom_nodes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ORT's default profile prefix writes to the working directory
    before = _tmp_leftovers()
    prof = profile_latency(model_path, backend="ort-native", threads=1, runs=RUNS, warmup=1)
    assert os.listdir(tmp_path) == [] and _tmp_leftovers() == before
    assert prof.kernel_path
    by_name = _check_common(prof, custom_nodes)
    for name in custom_nodes:  # one native kernel per custom node
        assert by_name[name].ort_nodes == (name,)
    # BN's Mul -> Add is one count_onnx_ops entry: both kernels land on it
    bn = [n for n in prof.per_node if n.op_type == "Mul+Add"]
    assert bn and all(len(n.ort_nodes) == 2 and n.category == "bn" for n in bn)
    # ORT's NCHWc layout nodes match no ONNX node
    added = [n for n in prof.per_node if n.category.startswith("runtime-added:")]
    assert all(n.category == f"runtime-added:{n.op_type}" for n in added)


def test_ort_maps_function_bodies_back(model_path, custom_nodes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = _tmp_leftovers()
    prof = profile_latency(model_path, backend="ort", threads=1, runs=RUNS, warmup=1)
    assert os.listdir(tmp_path) == [] and _tmp_leftovers() == before
    assert prof.kernel_path is None and prof.note
    by_name = _check_common(prof, custom_nodes)
    fused = [n for n in custom_nodes if "BinaryConv" in n]
    for name in fused:  # a function body: many inlined ORT nodes, all named after the caller
        assert len(by_name[name].ort_nodes) > 5
        assert all(f"{name}::" in o for o in by_name[name].ort_nodes)
    # no inlined node is left unattributed
    assert not any("::" in n.name for n in prof.per_node)


def test_unknown_backend():
    with pytest.raises(ValueError, match=r"unknown backend 'x'; choose ort-native, ort, tflite-lce"):
        profile_latency("model.onnx", backend="x")
    assert BACKENDS == ("ort-native", "ort", "tflite-lce")


def test_bad_arguments(model_path):
    with pytest.raises(ValueError, match="runs must be"):
        profile_latency(model_path, backend="ort", runs=0)
    with pytest.raises(ValueError, match="tflite-lce"):
        profile_latency(model_path, backend="tflite-lce")


@pytest.mark.parametrize("backend", ["ort", "ort-native"])
def test_garbage_file(tmp_path, backend):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"this is not an onnx model\x00\x01\x02")
    with pytest.raises(ModelFileError, match="not a readable ONNX model"):
        profile_latency(bad, backend=backend)
    with pytest.raises(FileNotFoundError):
        profile_latency(tmp_path / "missing.onnx", backend=backend)


def test_native_library_missing(model_path, tmp_path, monkeypatch):
    from rep_deploy.runtime import LIBRARY_ENV

    monkeypatch.setenv(LIBRARY_ENV, str(tmp_path / "nowhere.so"))
    with pytest.raises(FileNotFoundError, match="is not a file"):
        profile_latency(model_path, backend="ort-native")


@needs_native
def test_fused_node_counts_under_every_kind_it_covers(model_path):
    prof = profile_latency(model_path, backend="ort-native", threads=1, runs=RUNS, warmup=1)
    fused = [n for n in prof.per_node if n.op_type.startswith("BinaryConvFused") or n.op_type == "BinaryConvBlock"]
    assert fused, [n.op_type for n in prof.per_node]
    for n in fused:  # its main kind first, then the BN (and tile / residual) it absorbed
        assert n.covers[0] == n.category == "binary_conv" and "bn" in n.covers
    bn = prof.by_category["bn"]
    assert bn["covered_ms"] >= bn["median_ms"] + sum(n.median_ms for n in fused) - 1e-9
    for kind, c in prof.by_category.items():  # covered >= own time: a kind's own nodes cover it
        assert c["covered_ms"] >= c["median_ms"] - 1e-9, kind


def test_interleaved_runs_pair_up(model_path, tmp_path):
    a, b = profile_interleaved([model_path, model_path], backend="ort", threads=1, runs=RUNS, warmup=1)
    for p in (a, b):
        assert len(p.wall_runs_ms) == RUNS and p.wall.runs == RUNS and all(t > 0 for t in p.wall_runs_ms)
        assert p.wall.min_ms == min(p.wall_runs_ms)
    assert paired_ratio(a, a) == 1.0 and paired_ratio(a, b) > 0
    with pytest.raises(ValueError, match="same interleaved run"):
        paired_ratio(a, profile_latency(model_path, backend="ort", runs=RUNS + 1, warmup=0))
    # a second model that cannot load: an error, and the first session's trace folder is gone too
    before = _tmp_leftovers()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"junk")
    with pytest.raises(ModelFileError):
        profile_interleaved([model_path, bad], backend="ort")
    assert _tmp_leftovers() == before


def test_standard_export_conv_bn_fusion_and_nchwc_names(tmp_path):
    """A --ops standard file: ORT lays binary convs out as NCHWc (naming the new node after its
    output tensor) and fuses a Conv with the BatchNormalization after it (the fused node keeps the
    BN's output). Both map back to the binary conv node, which then also covers "bn"."""
    opts = rep_deploy.ExportOptions(input_shape=(1, 3, 32, 32), reference_images=0, native=False, ops="standard")
    path = rep_deploy.export_model("resnet20", tmp_path / "std", options=opts).model_path
    prof = profile_latency(path, backend="ort", threads=1, runs=2, warmup=1)
    assert not [n.name for n in prof.per_node if n.category == "runtime-added:Conv"]
    convs = [n for n in prof.per_node if n.category == "binary_conv"]
    assert len(convs) == 18, [n.name for n in convs]  # ResNet-20: 18 binary 3x3 convs
    assert any("bn" in n.covers for n in convs), [n.covers for n in convs]
    assert prof.by_category["bn"]["covered_ms"] > 0
