"""rep-deploy: take binary neural networks (RepBNNs above all) from PyTorch to edge devices."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
