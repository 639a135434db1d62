"""Exported zoo models run every ``rep_deploy`` op as a native kernel, and agree with the bodies.

ONNX Runtime silently falls back to an op's ONNX function body (float ``Conv`` and friends) when the
custom-op library does not implement it, so "the model runs" proves nothing about speed. Here each
exported model is run once with ORT profiling on, and the profile must show

* one kernel event per ``rep_deploy`` node of the file, named after that node and reporting its op
  type (an inlined function body would show up as its standard ops under other names), and
* no float convolution that does not come from a standard node of the file itself (the stem
  ``Conv``; ORT's NCHWc transformer may also turn a per-channel ``Mul`` next to it into a ``Conv``,
  named after that ``Mul``). Inlined function bodies get fresh names (``Conv_595``).

Then the native outputs are compared with a run of the same file in ORT without the library (every
custom op through its function body): same top-1 class and allclose. The bodies compute the binary
accumulator as a float Conv of +-1 values (exact integers) followed by the same float32 steps in
the same order, so the two agree to rounding; the tolerance only allows for ORT fusing the bodies'
float steps differently.
"""
from __future__ import annotations

import collections
import json
import pathlib
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from rep_deploy import ExportOptions, export_model, get_model_info, ops
from rep_deploy.runtime import make_session_options

# (model, H = W of the exported input or None for the model's own size): small inputs keep the
# ImageNet models quick; their five stride-2 stages still leave a 2x2 map at 64x64.
MODELS = [("rep-reactnet-a", 64), ("reactnet-a-el", 64), ("rep-resnet20", None),
          ("es-resnet20", None), ("rep-vgg-small", None)]
FLOAT_CONVS = {"Conv", "FusedConv", "ConvInteger", "QLinearConv"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    root = tmp_path_factory.mktemp("coverage")
    paths = {}
    for name, hw in MODELS:
        size = get_model_info(name).input_size
        if hw is not None:
            size = (size[0], hw, hw)
        result = export_model(name, root / name, options=ExportOptions(
            input_shape=(2, *size), reference_images=0, native=False))
        paths[name] = result.model_path
    return paths


def profiled_run(path: pathlib.Path, feed: np.ndarray, native: bool,
                 tmp: pathlib.Path) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One run with ORT profiling; returns the output and the profile's node kernel events."""
    so = make_session_options(2) if native else ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp / ("native" if native else "bodies"))
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: feed})[0]
    events = json.loads(pathlib.Path(sess.end_profiling()).read_text())
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    return out, kernels


@pytest.mark.parametrize("name", [m for m, _ in MODELS])
def test_every_custom_op_runs_natively(name: str, exported: dict[str, pathlib.Path],
                                       tmp_path: pathlib.Path) -> None:
    path = exported[name]
    model = onnx.load(str(path), load_external_data=False)
    custom = [n for n in model.graph.node if n.domain == ops.DOMAIN]
    assert custom, f"{name}: the export holds no rep_deploy ops"
    # names ORT derives kernel names from: a standard node's name or output names
    standard = tuple({v for n in model.graph.node if n.domain in ("", "ai.onnx")
                      for v in (n.name, *n.output) if v})
    shape = [d.dim_value or 2 for d in model.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    native_out, events = profiled_run(path, x, True, tmp_path)
    by_name = {e["name"][:-len("_kernel_time")]: e["args"]["op_name"] for e in events}
    missing = [f"{n.op_type} '{n.name}'" for n in custom if by_name.get(n.name) != n.op_type]
    assert not missing, f"{name}: custom nodes not run by a native kernel: {missing[:5]}"
    op_counts = collections.Counter(e["args"]["op_name"] for e in events)
    for op_type in {n.op_type for n in custom}:
        assert op_counts[op_type] == sum(n.op_type == op_type for n in custom), (name, op_type)
    foreign = [e["name"] for e in events
               if e["args"]["op_name"] in FLOAT_CONVS and not e["name"].startswith(standard)]
    assert not foreign, f"{name}: float convs from inlined function bodies: {foreign[:5]}"
    assert any(e["args"]["op_name"] in FLOAT_CONVS for e in events), "the stem conv is missing"

    body_out, body_events = profiled_run(path, x, False, tmp_path)
    body_ops = {e["args"]["op_name"] for e in body_events}
    assert not body_ops & {n.op_type for n in custom}, "the library leaked into the plain session"
    assert native_out.shape == body_out.shape
    assert np.array_equal(native_out.argmax(1), body_out.argmax(1)), f"{name}: top-1 differs"
    scale = float(np.abs(body_out).max())
    np.testing.assert_allclose(native_out, body_out, rtol=1e-4, atol=1e-4 * scale,
                               err_msg=f"{name}: native kernels vs function bodies")
