"""The registry as pytest parameters: every zoo model, at beta 1 and 2 for Rep models, ImageNet-size
ones marked ``slow`` (they still run in CI; ``-m "not slow"`` skips them locally)."""
from __future__ import annotations

import pytest

from rep_deploy import get_model_info, list_models

__all__ = ["zoo_cases"]


def zoo_cases() -> list:
    cases = []
    for name in list_models():
        info = get_model_info(name)
        marks = [pytest.mark.slow] if info.input_size[1] >= 128 else []
        for beta in ((1, 2) if info.rep_of is not None else (None,)):
            cases.append(pytest.param(name, beta, id=f"{name}-beta{beta or 1}", marks=marks))
    return cases
