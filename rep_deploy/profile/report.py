"""OPs of an exported model by category, and a Rep model's overhead over its base in both BN conventions.

What ``rep-deploy profile`` prints and writes as JSON. The categories are the *cost* kinds of the
RepBNN paper's accounting (a fused BinaryConvBlock's BN counts under "bn", its conv under
"binary_conv"), so the same model reports the same rows whatever form it was exported in.
"""
from __future__ import annotations

from typing import Any

from .onnx_ops import OnnxOpCount, bn_flops_paper

__all__ = ["ops_rows", "ops_summary", "overhead"]


def ops_rows(c: OnnxOpCount) -> list[dict[str, Any]]:
    """One row per cost kind: what is counted, its OPs (paper conventions) and share of the total.

    OPs here use the paper's Table 1 BOPs (binary MACs + pre-tile output elements) and the literal
    BN count; tiles, pooling and elementwise ops are listed with their elements and 0 OPs.
    """
    bn = c.bn_flops()
    total = c.ops(with_bn=True)
    rows = [
        {"kind": "binary conv", "count": c.bops, "unit": "BOPs", "ops": c.bops / 64},
        {"kind": "FP conv", "count": c.conv_macs, "unit": "MACs", "ops": c.conv_macs},
        {"kind": "FC", "count": c.fc_macs, "unit": "MACs", "ops": c.fc_macs},
        {"kind": "BatchNorm", "count": c.bn_elements + c.folded_bn_elements, "unit": "elements", "ops": bn},
        {"kind": "tile", "count": c.tile_elements, "unit": "elements", "ops": 0},
        {"kind": "pooling", "count": c.pool_elements, "unit": "elements", "ops": 0},
        {"kind": "elementwise", "count": c.elementwise_elements, "unit": "elements", "ops": 0},
    ]
    for r in rows:
        r["share"] = r["ops"] / total if total else 0.0
    return rows


def ops_summary(c: OnnxOpCount) -> dict[str, Any]:
    """Totals: OPs without / with BN, FLOPs, BOPs both ways, per-kind rows."""
    return {"beta": c.beta, "input_shape": list(c.input_shape), "flops": c.fp_macs,
            "binary_macs": c.binary_macs, "bops": c.bops, "bn_flops": c.bn_flops(),
            "ops": c.ops(), "ops_with_bn": c.ops(with_bn=True), "rows": ops_rows(c)}


def overhead(rep: OnnxOpCount, base: OnnxOpCount, beta: int | None) -> dict[str, Any]:
    """The Rep model's OPs over its base's: without BN, with the literal BN count, and with the
    paper's shared-normalization BN (the base's BN x (1/(2 beta) + beta/2)), side by side.

    The two BN conventions differ because the paper charges the widened BN as if it were shared
    across the beta copies; a runtime normalizes every element it stores, which is what the
    literal count (and latency) sees.
    """
    out = {"ops_without_bn": rep.ops() / base.ops() - 1,
           "ops_with_bn_literal": rep.ops(with_bn=True) / base.ops(with_bn=True) - 1}
    if beta and beta > 1:
        paper_bn = bn_flops_paper(base.bn_flops(), beta)
        out["ops_with_bn_paper"] = (rep.ops() + paper_bn) / base.ops(with_bn=True) - 1
        out["bn_flops_paper"] = paper_bn
    out["bn_flops_literal"] = rep.bn_flops()
    return out
