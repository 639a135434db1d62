"""Graph passes over exported ONNX models: one rule per file, run as explicit ordered pipelines.

Each rule's ``apply(graph) -> int`` returns how often it fired; :func:`run` returns ``{rule: count}``
so the exporter can report it and tests can assert it.
"""
from __future__ import annotations

from typing import Callable, Sequence

import onnx
import onnx_graphsurgeon as gs

from rep_deploy import ops

from . import (batchnorm_to_affine, distribute_over_concat, fold_binarize, fold_input_bias,
               fold_residual_pool, fuse_binary_conv, fuse_rprelu, lower_to_standard,
               merge_parallel_blocks, pack_binary_weights, remove_noops)
from ._graph import constants_to_initializers

Rule = Callable[[gs.Graph], int]

__all__ = ["run", "custom_pipeline", "standard_pipeline", "Rule"]


def custom_pipeline(fuse: bool) -> list[tuple[str, Rule]]:
    """Passes for the custom-op format (the order matters: fusion expects BN as an affine)."""
    steps = [fold_binarize, remove_noops, batchnorm_to_affine]
    if fuse:
        steps += [fuse_binary_conv, distribute_over_concat, fuse_rprelu, fold_input_bias,
                  fold_residual_pool, merge_parallel_blocks]
    steps.append(pack_binary_weights)
    return [(m.NAME, m.apply) for m in steps]


def standard_pipeline() -> list[tuple[str, Rule]]:
    """Passes for ``--ops standard``: only standard ONNX remains."""
    return [(m.NAME, m.apply) for m in (fold_binarize, remove_noops, lower_to_standard)]


def _with_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Shape-annotate the graph so rules can check ranks and shapes (custom ops via their bodies)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.functions[:]
    m.functions.extend(ops.function_protos())
    if not any(o.domain == ops.DOMAIN for o in m.opset_import):
        m.opset_import.append(onnx.helper.make_opsetid(ops.DOMAIN, ops.VERSION))
    m.ir_version = max(m.ir_version, ops.IR_VERSION)
    return onnx.shape_inference.infer_shapes(m, data_prop=True)


def run(model: onnx.ModelProto, pipeline: Sequence[tuple[str, Rule]]) -> tuple[onnx.ModelProto, dict[str, int]]:
    """Apply ``pipeline`` in order; returns the new model and how often each rule fired.

    Model-local functions and metadata are carried over unchanged (graphsurgeon rewrites the graph).
    """
    functions = list(model.functions)
    graph = gs.import_onnx(_with_shapes(constants_to_initializers(model)))
    counts: dict[str, int] = {}
    for name, rule in pipeline:
        counts[name] = rule(graph)
        graph.cleanup(remove_unused_graph_inputs=False).toposort()
    out = gs.export_onnx(graph, do_type_check=True)
    for node in out.graph.node:
        ops.complete_attributes(node)
    out.ir_version, out.producer_name = model.ir_version, model.producer_name
    del out.opset_import[:]
    out.opset_import.extend(model.opset_import)
    del out.functions[:]
    out.functions.extend(functions)
    out.metadata_props.extend(model.metadata_props)
    return out, counts
