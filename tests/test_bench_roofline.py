"""benchmarks/bench_roofline.py's byte counts and one-node models, in both graphs it can time.

The roofline's memory bound is the bytes a node must move; in the session graph
(rep_deploy/link_signs.py) a linked block reads its input's sign bits instead of binarizing the
floats, the producers before a stride-2 block write its pooled residual, and the stem's Repeat is
folded into the first block. These tests check that the counts follow each of those, and that
every kind of node runs alone with the inputs the benchmark makes for it (no timing asserted).
Input 96x96, batch 2: the ReActNet maps are 48, 24, 12, 6 and 3 wide.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

import rep_deploy as rd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_roofline as br  # noqa: E402

SHAPE = (2, 3, 96, 96)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> onnx.ModelProto:
    out = tmp_path_factory.mktemp("rep-reactnet-a-96-b2")
    opts = rd.ExportOptions(input_shape=SHAPE, reference_images=0, native=False)
    return onnx.load(rd.export_model("rep-reactnet-a", out, options=opts).model_path)


@pytest.fixture(scope="module")
def both(model: onnx.ModelProto):
    return br.binary_nodes(model, False, SHAPE), br.binary_nodes(model, True, SHAPE)


def _words(h: int, w: int) -> int:  # bytes of one packed sign plane: 64 pixels per uint64
    return 8 * ((h * w + 63) // 64)


def test_exported_graph_counts_floats_in_and_out(both) -> None:
    (_, exported), _ = both
    assert len(exported) == 26
    for _, c in exported:
        b = c.byte_counts
        assert b["input"] == 4 * int(np.prod(c.x_shape))
        assert b["output"] == 4 * int(np.prod(c.y_shape))
        assert b["input signs"] == b["output signs"] == b["residual"] == 0  # residual = X
        assert b["weights"] == int(np.prod(c.w_shape)) and b["vectors"] > 0


def test_session_graph_counts_what_linked_blocks_move(both) -> None:
    (_, exported), (graph, session) = both
    assert [c.name for _, c in session] == [c.name for _, c in exported]
    assert [c.macs for _, c in session] == [c.macs for _, c in exported]  # same convs
    pools = 0
    for i, ((_, e), (node, s)) in enumerate(zip(exported, session)):
        b, n, cin, h, w = s.byte_counts, *e.x_shape
        _, cout, ho, wo = e.y_shape
        if i == 0:  # the stem's Repeat (beta = 2) folded in: X has half the channels, no signs
            assert s.linked == {"x_repeats": 2}
            assert b["input"] == e.byte_counts["input"] // 2 and b["input signs"] == 0
        elif s.linked.get("x_pooled"):  # X is the pooled residual the producer wrote
            assert b["input"] == 4 * n * cin * (h // 2) * (w // 2)
            assert b["input signs"] == n * cin * _words(h, w)
        else:  # X read once, as the residual; its signs instead of a pass over it
            assert b["input"] == e.byte_counts["input"]
            assert b["input signs"] == n * cin * _words(h, w)
        if s.linked.get("y_pool"):
            pools += 1
            assert b["output"] == e.byte_counts["output"] // 4
        else:
            assert b["output"] == e.byte_counts["output"]
        last = i == len(session) - 1  # its output goes to the global pool, not to a block
        assert b["output signs"] == (0 if last else n * cout * _words(ho, wo))
        assert b["weights"] == e.byte_counts["weights"]
        assert b["vectors"] == e.byte_counts["vectors"] + (0 if last else 4 * cout)  # + next threshold
    assert pools == 4 and sum(c.bytes for _, c in session) < sum(c.bytes for _, c in exported)


@pytest.mark.parametrize("pick", ["first", "y_pool", "x_pooled", "last"])
def test_session_nodes_run_alone(both, pick: str) -> None:
    _, (graph, session) = both
    index = {"first": 0, "last": len(session) - 1,
             "y_pool": next(i for i, (_, c) in enumerate(session) if c.linked.get("y_pool")),
             "x_pooled": next(i for i, (_, c) in enumerate(session) if c.linked.get("x_pooled"))}[pick]
    node, conv = session[index]
    rows = br.time_layers(graph, [(node, conv)], threads=1, seconds=0.01, rounds=2,
                          peak_macs_per_s=1e11, bandwidth=1e10)
    (row,) = rows
    assert row["min_s"] > 0 and row["bytes"] == conv.bytes
    assert row["bound_s"] == max(conv.macs / 1e11, conv.bytes / 1e10)


def test_only_picks_layers_by_name(both) -> None:
    _, (_, session) = both
    picked = br.pick_layers(session, ["binary_pw", "Concat"])
    assert 0 < len(picked) < len(session)
    assert all("binary_pw" in c.name or "Concat" in c.name for _, c in picked)
    assert br.pick_layers(session, None) == session
    with pytest.raises(ValueError, match="no binary conv has a name containing 'feature.99'"):
        br.pick_layers(session, ["feature.99"])


def _result(fractions: list[float]) -> dict:
    """A bench_roofline JSON of made-up layers (the plot reads only these fields)."""
    layers = []
    for i, f in enumerate(fractions):
        macs, nbytes = 1e8 * (i + 1), 4e6
        bound = max(macs / 3e11, nbytes / 2.5e10)
        layers.append({"name": f"feature.{i}/{'binary_pw' if i % 2 else 'binary_3x3'}", "macs": macs,
                       "bytes": nbytes, "min_s": bound / f, "fraction_of_bound": f,
                       "bound_kind": "popcount" if macs / 3e11 > nbytes / 2.5e10 else "memory"})
    return {"model": "rep-reactnet-a", "graph": "session", "kernel_path": "avx2", "threads": 1,
            "ghz_nominal": 3.0, "peak_macs_per_cycle_per_core": 100.0, "machine": "test CPU",
            "measured_peak_macs_per_s_per_core": 2.9e11, "bandwidth": {"copy_bytes_per_s": 2.5e10},
            "layers": layers, "totals": {"fraction_of_bound": 0.7}}


def test_roofline_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import roofline_plot

    out = roofline_plot.plot(_result([0.3, 0.9, 1.02, 0.5]), tmp_path / "sub" / "roof.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    assert [p.name for p in out.parent.iterdir()] == ["roof.png"]  # no .tmp left behind


def test_roofline_plot_cli_errors_are_one_line(tmp_path: Path, capsys) -> None:
    import json

    import roofline_plot

    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({**_result([]), "layers": []}))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({k: v for k, v in _result([0.5]).items() if k != "bandwidth"}))
    for path, named in ((empty, "no layers"), (broken, "missing field 'bandwidth'"),
                        (tmp_path / "none.json", "No such file")):
        assert roofline_plot.main([str(path), "-o", str(tmp_path / "x.png")]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {path}") and named in err[0], err
    assert not (tmp_path / "x.png").exists()
