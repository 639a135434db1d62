"""Drop the explicit sign in front of a BinaryConv.

``BinaryConv`` binarizes its input itself with the same rule (x >= 0 -> +1), so
``BinaryConv(Where(x >= 0, 1, -1))`` equals ``BinaryConv(x)``: binarization is idempotent. The
``Where`` stays when anything else reads it.
"""
from __future__ import annotations

import numpy as np
import onnx_graphsurgeon as gs

from ._graph import const, is_op, producer

NAME = "fold_binarize"


def _binarized_source(t: gs.Tensor) -> gs.Tensor | None:
    """``x`` when ``t = Where(GreaterOrEqual(x, 0), 1, -1)``, else None (and why it is not)."""
    where = producer(t)
    if not is_op(where, "Where"):
        return None
    cond, hi, lo = where.inputs
    ge = producer(cond)
    if not is_op(ge, "GreaterOrEqual"):
        return None
    zero, one, minus_one = const(ge.inputs[1]), const(hi), const(lo)
    if zero is None or one is None or minus_one is None:
        return None
    if not (np.all(zero == 0) and np.all(one == 1) and np.all(minus_one == -1)):
        return None
    return ge.inputs[0]


def apply(graph: gs.Graph) -> int:
    fired = 0
    for node in graph.nodes:
        if is_op(node, "BinaryConv", custom=True):
            src = _binarized_source(node.inputs[0])
            if src is not None:
                node.inputs[0] = src
                fired += 1
    return fired
