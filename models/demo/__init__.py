"""The shipped demo models: binary ResNet-20s trained on scikit-learn's 8x8 digits.

``rep-resnet20-digits`` (beta = 2) and its base twin ``resnet20-digits`` were trained the same way by
``scripts/train_digits.py`` (see ``MODEL_CARD.md`` beside this file for data, recipe and accuracy).
They are small enough to ship in the wheel, so export, verification and the runtimes can be shown on
a real trained BNN without any download. The held-out split is shipped too (``digits_test.npz``), so
checking an exported model needs neither scikit-learn nor the training script.

Files are located with :mod:`importlib.resources`, so an installed package (``rep_deploy.models.demo``)
finds them as well as a source checkout.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["DEMO_MODEL", "BASE_MODEL", "MODELS", "TEST_SPLIT", "MODEL_CARD", "checkpoint_path",
           "load_test_split", "load_model", "normalize"]

DEMO_MODEL = "rep-resnet20-digits"
BASE_MODEL = "resnet20-digits"
#: every model with a shipped checkpoint
MODELS = (DEMO_MODEL, BASE_MODEL)
TEST_SPLIT = "digits_test.npz"
MODEL_CARD = "MODEL_CARD.md"


def _file(name: str) -> Path:
    # Wheels install unpacked, so the package directory is a real directory and a Path is honest.
    return Path(str(resources.files(__name__).joinpath(name)))


def checkpoint_path(name: str = DEMO_MODEL) -> Path:
    """Path of the shipped checkpoint of ``name`` (one of :data:`MODELS`)."""
    if name not in MODELS:
        raise KeyError(f"no shipped demo checkpoint for {name!r}; available: {', '.join(MODELS)}")
    return _file(f"{name}.pt")


def load_test_split() -> tuple[np.ndarray, np.ndarray]:
    """The held-out digits split the model card's accuracies are measured on.

    Returns:
        ``(x, y)``: float32 images (N, 1, 8, 8) with pixels in [0, 1] (digits / 16, *before* the
        model's mean/std normalization; see :func:`normalize`) and int64 labels (N,).
    """
    with np.load(_file(TEST_SPLIT)) as data:
        return data["x"].astype(np.float32, copy=False), data["y"].astype(np.int64, copy=False)


def normalize(x: np.ndarray, name: str = DEMO_MODEL) -> np.ndarray:
    """Apply the registered model's input normalization ``(x - mean) / std`` (float32)."""
    from rep_deploy.registry import get_model_info

    info = get_model_info(name)
    mean = np.asarray(info.mean, dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(info.std, dtype=np.float32).reshape(1, -1, 1, 1)
    return ((x - mean) / std).astype(np.float32)


def load_model(name: str = DEMO_MODEL):
    """The registered model ``name`` with its shipped weights loaded strictly, in eval mode."""
    import torch

    from rep_deploy.checkpoint import load_checkpoint
    from rep_deploy.registry import create_model

    ckpt = torch.load(checkpoint_path(name), map_location="cpu", weights_only=True)
    model = create_model(name, beta=ckpt["beta"]) if ckpt.get("beta", 1) > 1 else create_model(name)
    load_checkpoint(model, ckpt)  # strict: every key and shape checked, mismatches named
    return model.eval()
