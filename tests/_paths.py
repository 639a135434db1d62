"""The kernel paths a test runs a model on, its unfused session on one of them (or a skip), and the
bit-for-bit comparison of what a rewritten session gives."""
from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from rep_deploy.runtime import KERNEL_ENV, make_session_options

# every kernel path of the native library, in the order tables list them
ALL_PATHS = ("reference", "portable", "avx2", "avx512", "avx512vpopcnt", "neon")
PATHS = ["reference", "portable", "avx2", "avx512", "avx512vpopcnt"] if platform.machine() in (
    "x86_64", "AMD64") else ["reference", "portable", "neon"]


def exported_session(model: Path, path: str, monkeypatch: pytest.MonkeyPatch) -> ort.InferenceSession:
    """The file as exported, on kernel path ``path`` (REP_DEPLOY_KERNEL, set for the rest of the
    test), 1 thread; skips the test when the library refuses a path this CPU cannot run."""
    monkeypatch.setenv(KERNEL_ENV, path)
    try:
        return ort.InferenceSession(str(model), make_session_options(1), providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - ORT raises its own types
        reason = str(e).splitlines()[-1]  # from the library's own words, where it names the path
        pytest.skip(f"kernel path {path} unavailable here: {reason[max(reason.find(KERNEL_ENV), 0):][:160]}")


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape, dtype and float32 bits (-0 and NaN payloads included)."""
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(
        a.view(np.uint32), b.view(np.uint32))


def session_output(source: str | bytes, x: np.ndarray, threads: int) -> np.ndarray:
    """The first output of a session on ``source`` (a path or a serialized model) for input ``x``."""
    sess = ort.InferenceSession(source, make_session_options(threads), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]
