#!/usr/bin/env bash
# aarch64 build with Debian's cross compiler: the core (runtimes/core: NEON kernels), its C++ tests
# (test_core, test_lce), and the ORT custom-op library (the ORT headers are architecture-independent);
# then the tests run under qemu-aarch64-static -L /usr/aarch64-linux-gnu (via
# CMAKE_CROSSCOMPILING_EMULATOR, no binfmt).
# Timings under qemu mean nothing; this checks that the NEON path compiles and is exact.
#
# Needs the Debian packages g++-aarch64-linux-gnu and qemu-user-static (installed here when
# missing and running as root with apt-get).
# Usage: runtimes/ort/cross_aarch64.sh        Env: BUILD_DIR (build/ort-aarch64), CASES (60)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD_DIR:-$repo/build/ort-aarch64}
if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64-static >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++-aarch64-linux-gnu qemu-user-static >/dev/null
  else
    echo "cross_aarch64: needs g++-aarch64-linux-gnu and qemu-user-static" >&2
    exit 1
  fi
fi
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$here" -B "$build" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE="$here/cmake/aarch64-linux-gnu.cmake" \
  -DREP_DEPLOY_ORT_TESTS=ON -DREP_DEPLOY_ORT_LIBRARY=ON >/dev/null
cmake --build "$build" -j2
file "$build/librep_deploy_ort.so" "$build/core/test_core" "$build/core/test_lce" | sed "s|$build/||"
CASES=${CASES:-60} ctest --test-dir "$build" --output-on-failure
