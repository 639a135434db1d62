"""Lower the custom ops to standard ONNX for runtimes without the rep-deploy library.

``BinaryConv(X, W, s)`` -> ``Conv(Pad(Where(X >= 0, 1, -1), pad_value), W * s[c])``: the binary
conv as a float Conv with +-alpha weights (the ``--ops standard`` format and the speed baseline of the
kernels). Zero padding stays inside Conv; +-1 padding is an explicit Pad. ``Repeat`` -> ``Tile``.
Fused ops are not lowered: fusion is for the custom-op format only.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from rep_deploy import ops

from ._graph import const

NAME = "lower_to_standard"


class LowerError(ValueError):
    pass


def _binarize(graph: gs.Graph, x: gs.Tensor, tag: str) -> gs.Tensor:
    ge = gs.Variable(f"{tag}_nonneg", dtype=np.bool_)
    xb = gs.Variable(f"{tag}_sign", dtype=np.float32, shape=x.shape)
    graph.nodes.append(gs.Node("GreaterOrEqual", f"{tag}_ge",
                               inputs=[x, gs.Constant(f"{tag}_zero", np.array(0, np.float32))], outputs=[ge]))
    graph.nodes.append(gs.Node("Where", f"{tag}_where", inputs=[
        ge, gs.Constant(f"{tag}_one", np.array(1, np.float32)),
        gs.Constant(f"{tag}_minus_one", np.array(-1, np.float32))], outputs=[xb]))
    return xb


def apply(graph: gs.Graph) -> int:
    fired = 0
    for node in list(graph.nodes):
        if node.domain != ops.DOMAIN:
            continue
        tag = node.name or f"lowered_{fired}"
        if node.op == "Repeat":
            x = node.inputs[0]
            rank = len(x.shape) if x.shape is not None else 4
            reps = np.array([1, node.attrs["repeats"]] + [1] * (rank - 2), np.int64)
            graph.nodes.append(gs.Node("Tile", f"{tag}_tile", inputs=[x, gs.Constant(f"{tag}_reps", reps)],
                                       outputs=list(node.outputs)))
        elif node.op == "BinaryConv":
            x, w_t, s_t = node.inputs
            w, s = const(w_t), const(s_t)
            if w is None or s is None or w.dtype == np.uint8:
                raise LowerError(f"{tag}: lowering needs float +-1 weights and a constant scale")
            a = node.attrs
            xb = _binarize(graph, x, tag)
            pads = list(a["pads"])
            if a["pad_value"] != 0:
                padded = gs.Variable(f"{tag}_padded", dtype=np.float32)
                top, left, bottom, right = pads
                graph.nodes.append(gs.Node("Pad", f"{tag}_pad", attrs={"mode": "constant"}, inputs=[
                    xb, gs.Constant(f"{tag}_pads", np.array([0, 0, top, left, 0, 0, bottom, right], np.int64)),
                    gs.Constant(f"{tag}_pad_value", np.array(a["pad_value"], np.float32))],
                    outputs=[padded]))
                xb, pads = padded, [0, 0, 0, 0]
            wf = (w.astype(np.float32) * s.astype(np.float32).reshape(-1, 1, 1, 1))
            graph.nodes.append(gs.Node("Conv", f"{tag}_conv", attrs={
                "kernel_shape": list(a["kernel_shape"]), "strides": list(a["strides"]), "pads": pads,
                "dilations": list(a["dilations"]), "group": a["group"]},
                inputs=[xb, gs.Constant(f"{w_t.name}_pm_alpha", wf)], outputs=list(node.outputs)))
        else:
            raise LowerError(f"{tag}: {node.op} has no standard-op lowering (export with --no-fuse)")
        node.outputs.clear()
        fired += 1
    return fired
