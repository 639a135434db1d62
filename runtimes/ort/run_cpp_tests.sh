#!/usr/bin/env bash
# Tier-1 tests: build the framework-free core (runtimes/core) and its tests standalone (no ORT
# headers needed) and run test_core (BinaryConv) and test_lce (LCE's op contract) once per kernel
# path through ctest (paths this CPU cannot run report "skipped"). Also builds
# <build>/core/lce_case, which tests/test_lce_core.py runs.
#
# Usage: runtimes/ort/run_cpp_tests.sh [extra cmake -D options]
# Env:   BUILD_DIR (default build/ort-tests), CASES (random cases per path, default 300)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build/ort-tests}
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$here" -B "$build" "${gen[@]}" -DREP_DEPLOY_ORT_LIBRARY=OFF -DREP_DEPLOY_ORT_TESTS=ON "$@" >/dev/null
cmake --build "$build" -j2
CASES=${CASES:-300} ctest --test-dir "$build" --output-on-failure
