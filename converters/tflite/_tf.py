"""The one place that imports TensorFlow, tf_keras and Larq Compute Engine (LCE).

They are heavy (about 2 GB, seconds to import) and an optional extra: ``rep-deploy export`` and
``import rep_deploy`` never load them. LCE 0.16 is built against TF 2.16 and needs the legacy Keras
(``TF_USE_LEGACY_KERAS=1``, set here before TensorFlow is first imported).
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NamedTuple

__all__ = ["TFLiteDependencyError", "TF", "load", "INSTALL_HINT"]

INSTALL_HINT = ("install the [tflite] extra: pip install 'rep-deploy[tflite]' (tensorflow==2.16.2, "
                "tf-keras==2.16.0, larq-compute-engine==0.16.0, numpy<2); from a clone, "
                "bash scripts/setup.sh installs it")


class TFLiteDependencyError(ImportError):
    """TensorFlow / tf_keras / LCE are not installed (or are the wrong versions); says how to fix it."""


class TF(NamedTuple):
    tf: ModuleType
    keras: ModuleType  # tf_keras (Keras 2), which LCE's converter understands
    lce: ModuleType


_LOADED: TF | None = None


def load() -> TF:
    """Import the TF stack once; raise :class:`TFLiteDependencyError` with install instructions."""
    global _LOADED
    if _LOADED is not None:
        return _LOADED
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    # TF's C++ log on import (INFO lines, and "Unable to register cuDNN factory" errors of its CUDA
    # plugins on a CPU machine): noise to a user; real failures still arrive as Python exceptions
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    missing = []
    modules = {}
    for name in ("tensorflow", "tf_keras", "larq_compute_engine"):
        try:
            modules[name] = importlib.import_module(name)
        except ImportError as e:
            missing.append(f"{name} ({e.__class__.__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    if missing:
        raise TFLiteDependencyError(f"rep-deploy tflite needs TensorFlow + Larq Compute Engine; missing "
                                    f"{', '.join(missing)}; {INSTALL_HINT}")
    tf = modules["tensorflow"]
    if tf.keras.__name__.split(".")[0] != "tf_keras":
        raise TFLiteDependencyError("TensorFlow was imported before rep-deploy could select the legacy "
                                    "Keras that LCE needs; set TF_USE_LEGACY_KERAS=1 in the environment "
                                    "(or import rep_deploy's converter before tensorflow)")
    if not tf.__version__.startswith("2.16."):
        raise TFLiteDependencyError(f"Larq Compute Engine 0.16 needs TensorFlow 2.16, found "
                                    f"{tf.__version__}; {INSTALL_HINT}")
    tf.get_logger().setLevel("ERROR")
    _LOADED = TF(tf, modules["tf_keras"], modules["larq_compute_engine"])
    return _LOADED
