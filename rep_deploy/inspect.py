"""Describe an ONNX file: what ``rep-deploy info`` prints."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from rep_deploy import ops
from rep_deploy.export.finalize import op_histogram, read_metadata
from rep_deploy.onnx_file import read_onnx

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["describe", "value_shapes"]


def _shape(vi: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


def describe(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Metadata, I/O, op histogram and weight accounting of an ONNX file.

    Raises:
        rep_deploy.onnx_file.ModelFileError: missing, empty, truncated or not a valid ONNX model.
    """
    model = read_onnx(path)
    inits = {t.name: t for t in model.graph.initializer}
    packed = {n.input[1] for n in model.graph.node if n.domain == ops.DOMAIN and n.op_type in ops.BINARY_OPS}
    shapes = {vi.name: _shape(vi) for vi in (*model.graph.value_info, *model.graph.input)}
    binary = 0
    for n in model.graph.node:
        if n.domain == ops.DOMAIN and n.op_type in ops.BINARY_OPS and n.input[1] in inits:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            kh, kw = attrs["kernel_shape"]
            cout, row_bytes = inits[n.input[1]].dims
            x_shape = shapes.get(n.input[0])
            cin = x_shape[1] if x_shape and len(x_shape) > 1 and isinstance(x_shape[1], int) else None
            # K = Cin/group*kh*kw is not stored in W; without a known input shape, count the
            # stored bits (an upper bound by less than 8 per output channel)
            k = cin // attrs.get("group", 1) * kh * kw if cin else row_bytes * 8
            binary += cout * k
    floats = sum(int(np.prod(t.dims)) for name, t in inits.items()
                 if name not in packed and t.data_type == onnx.TensorProto.FLOAT)
    dtype = lambda vi: onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type).name  # noqa: E731
    return {
        "path": os.fspath(path), "file_bytes": os.path.getsize(path), "ir_version": model.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "metadata": read_metadata(model),
        "inputs": [{"name": i.name, "dtype": dtype(i), "shape": _shape(i)} for i in model.graph.input
                   if i.name not in inits],
        "outputs": [{"name": o.name, "dtype": dtype(o), "shape": _shape(o)} for o in model.graph.output],
        "op_histogram": op_histogram(model),
        "functions": [f"{f.domain}::{f.name}" for f in model.functions],
        "binary_weights": binary,
        "binary_weight_bytes": sum(int(np.prod(inits[n].dims)) for n in packed if n in inits),
        "float_parameters": floats,
        "uses_custom_ops": any(n.domain == ops.DOMAIN for n in model.graph.node),
    }


def value_shapes(model: onnx.ModelProto, input_shape: tuple[int, ...],
                 options: onnxruntime.SessionOptions | None = None) -> dict[str, tuple[int, ...]]:
    """Every value's shape, from one ONNX Runtime run on a zero batch of ``input_shape``.

    ONNX shape inference does not see through the custom ops, so the shapes that the TFLite lowering
    and the OPs counter need come from running the model (its custom ops run their function bodies;
    the one graph input takes ``input_shape``). ``options``: session options to run it with, e.g.
    :func:`rep_deploy.runtime.make_session_options` for a session graph whose runtime-domain ops
    only the kernel library implements.
    """
    import onnxruntime as ort

    from onnx import helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    for node in probe.graph.node:
        for name in node.output:
            if name and name not in known:
                probe.graph.output.append(helper.make_empty_tensor_value_info(name))
                known.add(name)
    sess = ort.InferenceSession(probe.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    values = sess.run(names, {sess.get_inputs()[0].name: np.zeros(input_shape, np.float32)})
    return {n: tuple(v.shape) for n, v in zip(names, values)}
