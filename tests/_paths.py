"""The kernel paths a test runs a model on, and its unfused session on one of them (or a skip)."""
from __future__ import annotations

import platform
from pathlib import Path

import onnxruntime as ort
import pytest

from rep_deploy.runtime import KERNEL_ENV, make_session_options

PATHS = ["reference", "portable", "avx2", "avx512", "avx512vpopcnt"] if platform.machine() in (
    "x86_64", "AMD64") else ["reference", "portable", "neon"]


def exported_session(model: Path, path: str, monkeypatch: pytest.MonkeyPatch) -> ort.InferenceSession:
    """The file as exported, on kernel path ``path`` (REP_DEPLOY_KERNEL, set for the rest of the
    test), 1 thread; skips the test when the library refuses a path this CPU cannot run."""
    monkeypatch.setenv(KERNEL_ENV, path)
    try:
        return ort.InferenceSession(str(model), make_session_options(1), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - ORT raises its own types
        pytest.skip(f"kernel path {path} unavailable here: {str(e).splitlines()[-1][:160]}")
