#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up (system packages, .venv, native build), then
#   1. the C++ kernel tests on every x86 dispatch path (ctest),
#   2. the same under AddressSanitizer + UBSan, plus the Python kernel tests on the sanitized library,
#   3. the aarch64 build (Debian cross compiler) with its tests under qemu-aarch64-static,
#   4. pytest (last, so its summary closes the run).
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not slow"`); NATIVE_TESTS=0 skips 1-3.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${NATIVE_TESTS:-1}" != 0 ]; then
  step() { printf '\n\033[1m[test] %s\033[0m\n' "$*"; }
  step "C++ kernel tests (x86 paths)";  bash runtimes/ort/run_cpp_tests.sh
  step "sanitizers (ASan + UBSan)";     bash runtimes/ort/run_sanitizers.sh
  step "aarch64 under qemu";            bash runtimes/ort/cross_aarch64.sh
  step "pytest"
fi
exec .venv/bin/python -m pytest "$@"
