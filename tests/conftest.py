"""Fixtures shared across test files."""
from __future__ import annotations

import collections
from pathlib import Path
from typing import Any, Callable

import pytest
from _paths import ALL_PATHS

from rep_deploy.runtime import KERNEL_ENV

# The test parameters that name a kernel path (test_ort_kernels' kernel_path fixture;
# test_block_pairs' and test_link_signs' path).
KERNEL_PARAMS = ("kernel_path", "path")
_outcomes: dict[str, collections.Counter[str]] = {}
_skip_reasons: dict[str, collections.Counter[str]] = {}


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


def _kernel_path(item: pytest.Item) -> str | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    path = next((params[k] for k in KERNEL_PARAMS if k in params), None)
    return path if path in ALL_PATHS else None


def _skip_reason(report: pytest.TestReport) -> str:
    """The skip's message, from the library's own words on where it names the path."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    cut = text.rfind(KERNEL_ENV + "=")
    return (text[cut:] if cut >= 0 else text.removeprefix("Skipped: "))[:100]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    """Counts each kernel-path test's outcome once: a skip or error in set-up, else its call."""
    report: pytest.TestReport = (yield).get_result()
    path = _kernel_path(item)
    if path is None or not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return
    _outcomes.setdefault(path, collections.Counter())[report.outcome] += 1
    if report.skipped:
        _skip_reasons.setdefault(path, collections.Counter())[_skip_reason(report)] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Which kernel paths the path-parametrized tests ran on, and why the others were skipped: a
    test skipped on this machine is not a test that passed (the C++ tests of the paths this CPU
    lacks run under qemu and Bochs in scripts/test.sh, not here)."""
    if not _outcomes:
        return
    terminalreporter.write_sep("-", "kernel paths of the path-parametrized tests")
    for path in ALL_PATHS:
        counts = _outcomes.get(path)
        if not counts:
            continue
        line = f"{path:<14} " + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        if path in _skip_reasons:
            line += f" ({_skip_reasons[path].most_common(1)[0][0]})"
        terminalreporter.write_line(line)
    if _skip_reasons:
        terminalreporter.write_line("(the C++ kernel tests of the paths this CPU lacks run under Bochs "
                                    "and qemu: scripts/test.sh)")
