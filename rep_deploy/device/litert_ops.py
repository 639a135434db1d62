"""Which LCE custom ops the bundle's stock LiteRT can run, checked on the host before a device is used.

Stock LiteRT knows none of Larq Compute Engine's ops; ``librep_deploy_litert.so``
(``runtimes/litert/``) registers its own kernels for them, and refuses at ``Prepare`` what they do
not implement (tensor types other than LCE's float32 / bool / int8 / bit-packed int32 forms).
:func:`litert_gaps` reads those limits off a ``.tflite``'s custom-op nodes, so ``rep-deploy info``
can say whether a file will run and ``rep-deploy bench`` can refuse one before pushing anything.
The table mirrors the adapters' own checks; ``tests/test_litert_ops.py`` ties its op names to the
sources, and the device tests run every op in it.
"""
from __future__ import annotations

from typing import Any

__all__ = ["LITERT_OPS", "litert_gaps"]

#: op -> (types its first input may have, types its output may have), as the adapters accept them
LITERT_OPS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "LceQuantize": (frozenset({"float32", "bool", "int8"}), frozenset({"int32"})),
    "LceDequantize": (frozenset({"int32"}), frozenset({"float32", "int8", "bool"})),
    "LceBconv2d": (frozenset({"int32"}), frozenset({"float32", "int32", "int8"})),
    "LceBMaxPool2d": (frozenset({"int32"}), frozenset({"int32"})),
}


def litert_gaps(custom_ops: list[dict[str, Any]]) -> list[str]:
    """What in these custom-op nodes (``TFLiteSummary.custom_ops``) stock LiteRT with rep-deploy's
    LCE ops cannot run, one line per kind of problem with the nodes it affects; empty if nothing."""
    problems: dict[str, list[int]] = {}
    for node in custom_ops:
        op = node["op"]
        if op not in LITERT_OPS:
            what = (f"custom op {op} (rep-deploy's LiteRT library implements "
                    f"{', '.join(LITERT_OPS)})")
        else:
            inputs, outputs = LITERT_OPS[op]
            got_in = node["inputs"][0] if node["inputs"] else "nothing"
            got_out = node["outputs"][0] if node["outputs"] else "nothing"
            if got_in not in inputs:
                what = f"{op} with {got_in} input (implemented: {' or '.join(sorted(inputs))})"
            elif got_out not in outputs:
                what = f"{op} with {got_out} output (implemented: {' or '.join(sorted(outputs))})"
            else:
                continue
        problems.setdefault(what, []).append(int(node["node"]))
    return [f"{what}: node{'s' if len(nodes) > 1 else ''} {', '.join(map(str, nodes[:8]))}"
            f"{' ...' if len(nodes) > 8 else ''}" for what, nodes in problems.items()]
