#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up (system packages, including the aarch64 cross
# compiler and qemu unless NATIVE_TESTS=0; .venv; native build), then
#   1. the C++ kernel tests on every x86 dispatch path (ctest),
#   2. the same under AddressSanitizer + UBSan, plus the Python kernel tests on the sanitized library,
#   3. the aarch64 build (Debian cross compiler) with its tests under qemu-aarch64-static,
#   4. the AVX-512 paths' C++ tests inside Bochs, an emulated Tiger Lake (runtimes/ort/emulate_avx512.sh),
#   5. the aarch64 device bundle (runtimes/bench/build_bundle.sh), which tests/test_bundle.py runs under qemu,
#   6. pytest (last, so its summary closes the run).
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not slow"`); NATIVE_TESTS=0 skips 1-5.
set -euo pipefail
cd "$(dirname "$0")/.."
# Bold only on a terminal: logs (CI, `| tee`) get plain text.
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s[test] %s%s\n' "$bold" "$*" "$plain"; }
if [ "${NATIVE_TESTS:-1}" != 0 ]; then
  bash scripts/setup.sh --test-tools  # also the system packages of step 3 (cross compiler, qemu)
  step "C++ kernel tests (x86 paths)";  bash runtimes/ort/run_cpp_tests.sh
  step "sanitizers (ASan + UBSan)";     bash runtimes/ort/run_sanitizers.sh
  step "aarch64 under qemu";            bash runtimes/ort/cross_aarch64.sh
  step "AVX-512 paths under Bochs";     bash runtimes/ort/emulate_avx512.sh
  step "aarch64 device bundle";         bash runtimes/bench/build_bundle.sh
else
  bash scripts/setup.sh
fi
step "pytest"
exec .venv/bin/python -m pytest "$@"
