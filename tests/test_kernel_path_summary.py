"""The suite's closing table of kernel paths (conftest.py's pytest_terminal_summary): which paths the
path-parametrized tests ran on, and the library's reason for each one skipped."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def test_summary_counts_each_test_once_per_path(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_paths='''
import pytest

@pytest.fixture(params=["avx2", "avx512"])
def kernel_path(request):
    if request.param == "avx512":
        pytest.skip("kernel path avx512 unavailable here: [ONNXRuntimeError] : 6 : "
                    "REP_DEPLOY_KERNEL=avx512: this CPU does not support that instruction set")
    return request.param

def test_grid(kernel_path):
    pass

@pytest.mark.parametrize("path", ["portable", "neon", "not-a-path"])
def test_model(path):
    assert path != "neon"

def test_unparametrized():
    pass
''')
    result = pytester.runpytest()
    result.assert_outcomes(passed=4, failed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "*kernel paths of the path-parametrized tests*",
        "portable       1 passed",
        "avx2           1 passed",
        "avx512         1 skipped (REP_DEPLOY_KERNEL=avx512: this CPU does not support that instruction set)",
        "neon           1 failed",
        "(the C++ kernel tests of the paths this CPU lacks run under Bochs and qemu: scripts/test.sh)",
    ])
    assert "not-a-path" not in result.stdout.str().split("kernel paths of")[1].split("short test")[0]


def test_no_table_without_kernel_path_tests(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_plain="def test_one():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "kernel paths of" not in result.stdout.str()
