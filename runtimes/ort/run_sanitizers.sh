#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build of the core (runtimes/core) and its C++ tests
# (test_core and test_lce on every kernel path), then - unless --core-only - the ORT library built the same way and the Python kernel tests
# run against it (libasan preloaded into Python; leak checks off, CPython itself "leaks"). Then a
# ThreadSanitizer build of test_lce, whose cases also run on the LiteRT adapter's thread pool
# (core/thread_pool.h) and which tests that pool from two threads at once.
#
# Usage: runtimes/ort/run_sanitizers.sh [--core-only]
# Env:   BUILD_DIR (default build/ort-asan; the ThreadSanitizer build goes to BUILD_DIR-tsan),
#        CASES (random cases per path, default 80)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build/ort-asan}
core_only=0
[ "${1:-}" = "--core-only" ] && core_only=1
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
lib=ON
[ $core_only = 1 ] && lib=OFF
cmake -S "$here" -B "$build" "${gen[@]}" -DREP_DEPLOY_SANITIZE=ON -DREP_DEPLOY_ORT_TESTS=ON \
  -DREP_DEPLOY_ORT_LIBRARY=$lib >/dev/null
cmake --build "$build" -j2
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=abort_on_error=1:detect_stack_use_after_return=1
CASES=${CASES:-80} ctest --test-dir "$build" --output-on-failure

if [ $core_only = 0 ]; then
  py=${PYTHON:-$repo/.venv/bin/python}
  asan=$(${CXX:-c++} -print-file-name=libasan.so)
  ubsan=$(${CXX:-c++} -print-file-name=libubsan.so)
  echo "== Python kernel tests against the sanitized library ($build/librep_deploy_ort.so)"
  (cd "$repo" && \
    LD_PRELOAD="$asan $ubsan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    REP_DEPLOY_ORT_LIBRARY="$build/librep_deploy_ort.so" \
    "$py" -m pytest -q -p no:cacheprovider tests/test_ort_kernels.py)
fi
echo "== ThreadSanitizer: test_lce ($build-tsan)"
cmake -S "$repo/runtimes/core" -B "$build-tsan" "${gen[@]}" -DREP_DEPLOY_SANITIZE_THREAD=ON >/dev/null
cmake --build "$build-tsan" -j2 --target test_lce
TSAN_OPTIONS=halt_on_error=1 "$build-tsan/test_lce" --cases "${CASES:-80}"
echo "sanitizers: all clean"
