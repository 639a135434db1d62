"""Building small ONNX models in rep-deploy's op set for tests (kernel grids, converter grids)."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from rep_deploy import ops

__all__ = ["make_model"]


def make_model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
               outputs: list[str], initializers: list[np.ndarray | tuple[str, np.ndarray]]) -> bytes:
    """A model in the spec's opsets and IR version, carrying the function bodies it uses."""
    inits = [numpy_helper.from_array(a, n) for n, a in initializers]
    graph = helper.make_graph(nodes, "g", inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              inits)
    used = {n.op_type for n in nodes if n.domain == ops.DOMAIN and n.op_type in ops.OPS}
    model = helper.make_model(graph, opset_imports=ops.opset_imports(),
                              functions=ops.function_protos(used))
    model.ir_version = ops.IR_VERSION
    return model.SerializeToString()
