"""The rep-deploy model zoo (installed as ``rep_deploy.models``).

One file per architecture; each is imported here explicitly so that every registered model is
present whenever the registry is used.
"""
from __future__ import annotations

from . import bireal, reactnet  # noqa: F401  (ImageNet: Bi-Real-18, ReActNet-A and variants)
from . import resnet_cifar, vgg_small  # noqa: F401  (CIFAR / digits ResNets, VGG-small)

__all__: list[str] = []


def verification_data(name: str):  # -> tuple[np.ndarray, np.ndarray, str] | None
    """Real held-out data for ``name`` when the package ships some, normalized as the model expects.

    Returns ``(x, labels, description)`` for the shipped digits demo models, else None (the exporter
    then verifies on a random batch).
    """
    import numpy as np

    from rep_deploy.registry import get_model_info

    from . import demo

    if name not in demo.MODELS:
        return None
    info = get_model_info(name)
    x, y = demo.load_test_split()
    mean = np.asarray(info.mean, np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(info.std, np.float32).reshape(1, -1, 1, 1)
    return (x - mean) / std, y, f"digits held-out split ({len(y)} images)"
