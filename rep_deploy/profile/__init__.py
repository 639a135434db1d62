"""Cost accounting for BNNs: OPs as the BNN literature counts them, and (later) measured latency."""
from .opcount import LayerCount, OpCount, count_ops

__all__ = ["LayerCount", "OpCount", "count_ops"]
