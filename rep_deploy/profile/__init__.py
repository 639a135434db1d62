"""Cost accounting for BNNs: OPs as the BNN literature counts them (PyTorch and ONNX sides), and
measured latency per node and kind (``latency``), the report and the plot.

The names load on first use (PEP 562), so ``rep-deploy --help``, which imports the ``profile``
command from ``profile.cli``, does not pay for onnx and torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from rep_deploy._lazy import lazy_exports

_EXPORTS = {
    "NodeCost": "onnx_ops", "OnnxOpCount": "onnx_ops", "bn_flops_paper": "onnx_ops",
    "bn_share_factor": "onnx_ops", "count_onnx_ops": "onnx_ops",
    "LayerCount": "opcount", "OpCount": "opcount", "count_ops": "opcount",
}
__all__ = ["LayerCount", "OpCount", "count_ops", "NodeCost", "OnnxOpCount", "count_onnx_ops",
           "bn_flops_paper", "bn_share_factor"]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from .onnx_ops import NodeCost, OnnxOpCount, bn_flops_paper, bn_share_factor, count_onnx_ops  # noqa: F401
    from .opcount import LayerCount, OpCount, count_ops  # noqa: F401
