"""Fixtures shared across test files."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest


@pytest.fixture(scope="session")
def zoo_tflite(tmp_path_factory) -> Callable[[str, int | None], tuple[Any, Any]]:
    """``zoo_tflite(name, beta) -> (export result, tflite conversion result)``: every zoo model
    exported (random weights, its own input size) and converted by ``rep-deploy tflite`` once per
    session, for the converter's tests (test_tflite.py) and the LiteRT ones (test_litert_zoo.py)."""
    from rep_deploy import get_model_info
    from rep_deploy.converters import tflite
    from rep_deploy.export import ExportOptions, export_model

    cache: dict[tuple[str, int | None], tuple[Any, Any]] = {}

    def get(name: str, beta: int | None) -> tuple[Any, Any]:
        if (name, beta) not in cache:
            info = get_model_info(name, beta)
            out: Path = tmp_path_factory.mktemp(f"zoo-{name}-{beta or 1}")
            exported = export_model(name, out / "onnx", beta=beta, options=ExportOptions(
                input_shape=(1, *info.input_size), reference_images=0, native=False))
            big = info.input_size[1] >= 128
            converted = tflite.convert_to_tflite(exported.model_path, out / "model.tflite", images=2 if big else 8)
            cache[(name, beta)] = (exported, converted)
        return cache[(name, beta)]

    return get
