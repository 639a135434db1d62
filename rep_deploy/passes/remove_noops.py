"""Remove nodes that compute nothing at inference: Identity, Dropout, Repeat with repeats = 1."""
from __future__ import annotations

import onnx_graphsurgeon as gs

from ._graph import bypass, is_op

NAME = "remove_noops"


def apply(graph: gs.Graph) -> int:
    fired = 0
    for node in list(graph.nodes):
        noop = (is_op(node, "Identity") or is_op(node, "Dropout")
                or (is_op(node, "Repeat", custom=True) and node.attrs.get("repeats") == 1))
        if noop and len(node.inputs) >= 1 and len(node.outputs) >= 1:
            if is_op(node, "Dropout") and len(node.outputs) > 1 and node.outputs[1].outputs:
                continue  # the mask output is used
            bypass(graph, node)
            fired += 1
    return fired
