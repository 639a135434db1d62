"""The C++ core's LCE op contract (runtimes/core/lce.h) against the numpy model in
``rep_deploy.lce_reference``, exactly.

``lce_case`` (runtimes/core/tests/lce_case.cc, built by ``runtimes/ort/run_cpp_tests.sh``) runs one
case through both ``bconv2d_reference`` and ``BConv2D`` on the ``REP_DEPLOY_KERNEL`` path; here a
seeded grid of cases (channels, kernels, stride, dilation, padding kinds, groups, activations, both
output kinds) goes through every x86 path this CPU has, and both outputs must equal the numpy model
bit for bit (float outputs included: both sides round ``float32(clamp(conv)) * mul`` and ``+ bias``
once each). The C++ grid itself (test_lce) covers far more cases; this ties its oracle to the spec.
"""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import numpy as np
import pytest

from rep_deploy import lce_reference as lce

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = Path(os.environ.get("BUILD_DIR", ROOT / "build/ort-tests"))
LCE_CASE = BUILD_DIR / "core/lce_case"
PATHS = ["reference", "portable", "avx2", "avx512", "avx512vpopcnt"]
CHANNELS = [1, 3, 31, 32, 33, 63, 64, 65, 100, 255, 300]
KERNELS = [(1, 1), (3, 3), (3, 3), (5, 5), (1, 3), (3, 2)]

pytestmark = [
    pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the x86 kernel paths"),
    pytest.mark.skipif(not LCE_CASE.exists(),
                       reason=f"{LCE_CASE} is not built: run runtimes/ort/run_cpp_tests.sh"),
]


def _cpu_has(path: str) -> bool:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    need = {"avx2": ["avx2"], "avx512": ["avx512f", "avx512bw", "avx512vl"],
            "avx512vpopcnt": ["avx512f", "avx512bw", "avx512vl", "avx512_vpopcntdq", "avx512vbmi", "gfni"]}.get(path, [])
    return all(f" {f}" in flags for f in need)


def _random_case(rng: np.random.Generator) -> dict:
    kh, kw = KERNELS[rng.integers(len(KERNELS))]
    if rng.integers(5) == 0:  # grouped: Cin / groups a multiple of 32
        groups, cin_g = int(rng.integers(2, 5)), 32 * int(rng.integers(1, 4))
        cin, fw, cout = groups * cin_g, cin_g // 32, groups * int(rng.integers(1, 12))
    else:
        cin = CHANNELS[rng.integers(len(CHANNELS))]
        fw, cout = lce.words(cin), int(rng.integers(1, 70))
    bitpacked = bool(rng.integers(3) == 0)
    padding = lce.VALID if rng.integers(3) == 0 else lce.SAME
    return dict(
        n=int(rng.integers(1, 4)), h=int(rng.integers(1, 9)), w=int(rng.integers(1, 9)), cin=cin,
        cout=cout, kh=kh, kw=kw, fw=fw, stride=(int(rng.integers(1, 3)), int(rng.integers(1, 3))),
        dilation=(int(rng.integers(1, 3)),) * 2, padding=padding,
        pad_value=1 if bitpacked and padding == lce.SAME else int(rng.integers(2)),
        activation=lce.NONE if bitpacked else int(rng.integers(4)), bitpacked=bitpacked)


def _run_cpp(tmp_path: Path, case: dict, arrays: dict, path: str) -> tuple[np.ndarray, np.ndarray]:
    c = case
    params = np.array([c["n"], c["h"], c["w"], c["cin"], c["cout"], c["kh"], c["kw"], c["fw"],
                       *c["stride"], *c["dilation"], c["padding"], c["pad_value"], c["activation"],
                       int(c["bitpacked"])], dtype="<i8")
    case_file, out_file = tmp_path / "case.bin", tmp_path / "out.bin"
    case_file.write_bytes(b"".join([
        params.tobytes(), arrays["x"].astype("<i4").tobytes(), arrays["filt"].astype("<i4").tobytes(),
        arrays["mul"].astype("<f4").tobytes(), arrays["bias"].astype("<f4").tobytes(),
        arrays["thr"].astype("<i4").tobytes()]))
    env = dict(os.environ, REP_DEPLOY_KERNEL=path)
    proc = subprocess.run([str(LCE_CASE), str(case_file), str(out_file)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    raw = out_file.read_bytes()
    oh, ow = np.frombuffer(raw[:16], dtype="<i8")
    assert raw[16:48].rstrip(b"\0").decode() == path
    dtype = "<i4" if c["bitpacked"] else "<f4"
    last = lce.words(c["cout"]) if c["bitpacked"] else c["cout"]
    both = np.frombuffer(raw[48:], dtype=dtype).reshape(2, c["n"], int(oh), int(ow), last)
    return both[0], both[1]


def _arrays(case: dict, rng: np.random.Generator) -> dict:
    c = case
    x = lce.pack(rng.standard_normal((c["n"], c["h"], c["w"], c["cin"])).astype(np.float32))
    cin_g = c["cin"] // (lce.words(c["cin"]) // c["fw"])  # channels per group
    filt = lce.pack(rng.standard_normal((c["cout"], c["kh"], c["kw"], cin_g)).astype(np.float32))
    k_bits = c["kh"] * c["kw"] * cin_g
    return dict(
        x=x, filt=filt,
        mul=rng.uniform(-1.5, 1.5, c["cout"]).astype(np.float32),
        bias=rng.uniform(-20, 20, c["cout"]).astype(np.float32),
        thr=(k_bits // 2 + rng.integers(-4, 5, c["cout"])).astype(np.int32))


CASES = list(range(36))


@pytest.mark.parametrize("index", CASES)
def test_cpp_matches_numpy_model(tmp_path: Path, index: int) -> None:
    rng = np.random.default_rng(1000 + index)
    case = _random_case(rng)
    arrays = _arrays(case, rng)
    want = lce.bconv2d(
        arrays["x"], arrays["filt"], case["cin"], multiplier=arrays["mul"], bias=arrays["bias"],
        thresholds=arrays["thr"], stride=case["stride"], dilation=case["dilation"],
        padding=case["padding"], pad_value=case["pad_value"], activation=case["activation"],
        bitpacked_output=case["bitpacked"])
    paths = [p for p in PATHS if _cpu_has(p)]
    # each case on two paths (rotating), so the grid covers every path without multiplying the time
    for path in {paths[index % len(paths)], paths[(index + 2) % len(paths)]}:
        ref, got = _run_cpp(tmp_path, case, arrays, path)
        assert ref.shape == want.shape, (case, ref.shape, want.shape)
        np.testing.assert_array_equal(ref.view(np.int32), want.view(np.int32), err_msg=f"reference {case}")
        np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32), err_msg=f"{path} {case}")


def test_pack_unpack_round_trip() -> None:
    x = np.array([[0.0, -0.0, -1.0, 2.0, np.nan, -3.0] * 7], dtype=np.float32)
    packed = lce.pack(x)
    assert packed.shape == (1, 2) and packed.dtype == np.int32
    assert (packed.view(np.uint32)[0, 1] >> 10) == 0  # bits past the 42 channels are 0
    np.testing.assert_array_equal(lce.unpack(packed, 42), np.where(x < 0, -1.0, 1.0).astype(np.float32))
