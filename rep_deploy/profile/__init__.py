"""Cost accounting for BNNs: OPs as the BNN literature counts them (PyTorch and ONNX sides), and
(later) measured latency."""
from .onnx_ops import NodeCost, OnnxOpCount, bn_flops_paper, bn_share_factor, count_onnx_ops
from .opcount import LayerCount, OpCount, count_ops

__all__ = ["LayerCount", "OpCount", "count_ops", "NodeCost", "OnnxOpCount", "count_onnx_ops",
           "bn_flops_paper", "bn_share_factor"]
