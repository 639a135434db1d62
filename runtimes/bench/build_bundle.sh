#!/usr/bin/env bash
# Build the self-contained aarch64 benchmark bundle: ort_bench, ONNX Runtime's aarch64
# libonnxruntime.so.1 (from the pinned onnxruntime wheel), rep-deploy's custom-op library; tflite_bench,
# LiteRT's aarch64 libLiteRtRuntimeCApi.so (from the pinned ai-edge-litert wheel), rep-deploy's LCE op
# library librep_deploy_litert.so; and the dynamic loader + C/C++ runtime from the cross toolchain's
# sysroot, with manifest.json. On the device:
#   cd <bundle> && ./ld-linux-aarch64.so.1 --library-path . ./ort_bench ...      (or ./tflite_bench ...)
# runs on any aarch64 Linux kernel (glibc boards of any version, Android's bionic userland), because
# nothing is taken from the device's own /lib.
#
# Also builds ort_bench for the host (build/bench-host/ort_bench), which tests run against the venv's
# ONNX Runtime without qemu.
#
# Needs the Debian packages g++-aarch64-linux-gnu (its binutils and libc6-arm64-cross come with it),
# cmake, g++ and ninja-build or make; pip (the repo's .venv, or PYTHON) to fetch the wheel.
# Idempotent and incremental: a second run rebuilds nothing and rewrites no file.
# Usage: runtimes/bench/build_bundle.sh
# Env: REP_DEPLOY_BUNDLE (output dir, build/bundle-aarch64), PYTHON, ORT_INCLUDE_DIR, BENCH_HOST=0 (skip host build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${REP_DEPLOY_BUNDLE:-$repo/build/bundle-aarch64}
sysroot=/usr/aarch64-linux-gnu/lib
cache=$repo/.third_party/onnxruntime-wheel-aarch64
litert_cache=$repo/.third_party/litert-wheel-aarch64

ORT_VERSION=1.31.1
WHEEL=onnxruntime-$ORT_VERSION-cp311-cp311-manylinux_2_28_aarch64.whl
WHEEL_SHA256=da05378364c44d4407e463982d2bf8d5e4cfea873283757e48beeb41df97b7f3
# ai-edge-litert 2.0.3 is the newest wheel whose aarch64 library still exports the TFLite C API with
# custom-op registration (2.1+ ship only LiteRt*; no x86 build exports it): see runtimes/litert/README.md.
LITERT_VERSION=2.0.3
LITERT_WHEEL=ai_edge_litert-$LITERT_VERSION-cp311-cp311-manylinux_2_27_aarch64.whl
LITERT_WHEEL_SHA256=2d3c0867af845230d060bd555b0942b960caabe9d1cce98bcb3536b380ded372
BUNDLE_FORMAT=1

step() { printf '[bundle] %s\n' "$*"; }
die() { printf 'build_bundle: %s\n' "$*" >&2; exit 1; }

# --- tools --------------------------------------------------------------------------------------
missing=()
for pair in aarch64-linux-gnu-g++:g++-aarch64-linux-gnu aarch64-linux-gnu-readelf:binutils-aarch64-linux-gnu \
            cmake:cmake g++:g++ sha256sum:coreutils; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
[ -f "$sysroot/ld-linux-aarch64.so.1" ] || missing+=(libc6-arm64-cross)
((${#missing[@]} == 0)) || die "missing tools; install the Debian packages: ${missing[*]} (or run scripts/setup.sh --test-tools)"
PY=${PYTHON:-$repo/.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3) || die "needs python3 with pip (or set PYTHON)"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
toolchain=
for t in "$repo/runtimes/cmake/aarch64-linux-gnu.cmake" "$repo/runtimes/core/cmake/aarch64-linux-gnu.cmake" \
         "$repo/runtimes/ort/cmake/aarch64-linux-gnu.cmake"; do
  [ -f "$t" ] && { toolchain=$t; break; }
done
[ -n "$toolchain" ] || die "no aarch64-linux-gnu.cmake toolchain file under runtimes/"

inc=$(bash "$repo/runtimes/ort/fetch_ort_headers.sh" | tail -n1)

# --- programs -----------------------------------------------------------------------------------
# The custom-op library: the build dir runtimes/ort/cross_aarch64.sh uses, configured the same way
# (same options and generator), so neither script compiles what the other already did.
ort_build=$repo/build/ort-aarch64
if [ ! -f "$ort_build/CMakeCache.txt" ]; then
  step "configure $ort_build"
  cmake -S "$repo/runtimes/ort" -B "$ort_build" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DREP_DEPLOY_ORT_TESTS=ON -DREP_DEPLOY_ORT_LIBRARY=ON >/dev/null
fi
step "build librep_deploy_ort.so (aarch64)"
cmake --build "$ort_build" -j"$(nproc)" --target rep_deploy_ort | { grep -Ev '^(ninja: no work to do|\[[0-9]+/[0-9]+\] )' || true; }

# The LiteRT op library, over the same core sources (its own build dir: the core is compiled into it).
litert_build=$repo/build/litert-aarch64
if [ ! -f "$litert_build/CMakeCache.txt" ]; then
  step "configure $litert_build"
  cmake -S "$repo/runtimes/litert" -B "$litert_build" "${gen[@]}" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
    -DREP_DEPLOY_CORE_TESTS=OFF >/dev/null
fi
step "build librep_deploy_litert.so (aarch64)"
cmake --build "$litert_build" -j"$(nproc)" --target rep_deploy_litert | { grep -Ev '^(ninja: no work to do|\[[0-9]+/[0-9]+\] )' || true; }

build_bench() {  # build_bench DIR [cmake args...]
  local dir=$1; shift
  [ -f "$dir/CMakeCache.txt" ] || cmake -S "$here" -B "$dir" "${gen[@]}" -DORT_INCLUDE_DIR="$inc" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)" | { grep -Ev '^(ninja: no work to do|\[[0-9]+/[0-9]+\] )' || true; }
}
step "build ort_bench, tflite_bench (aarch64)"
build_bench "$repo/build/bench-aarch64" -DCMAKE_TOOLCHAIN_FILE="$toolchain"
if [ "${BENCH_HOST:-1}" != 0 ]; then
  step "build ort_bench (host)"
  build_bench "$repo/build/bench-host"
fi

# --- the pinned wheels: download once, check the sha256, extract the files the bundle ships ---------
# fetch_wheel DIR WHEEL SHA256 PLATFORM SPEC SRC=NAME...: the wheel's member SRC is written to DIR/NAME.
fetch_wheel() {
  local dir=$1 wheel=$2 sha=$3 platform=$4 spec=$5; shift 5
  mkdir -p "$dir"
  if [ ! -f "$dir/$wheel" ]; then
    step "pip download $spec ($platform)"
    "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform "$platform" --python-version 3.11 -d "$dir" "$spec" || die "pip download of $spec failed"
  fi
  local got
  got=$(sha256sum "$dir/$wheel" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    rm -f "$dir/$wheel" "$dir/.extracted"
    die "checksum mismatch for $wheel: got $got, expected $sha (removed; run again to re-download)"
  fi
  if [ "$(cat "$dir/.extracted" 2>/dev/null)" != "$sha" ]; then
    step "extract ${*#*=} from $wheel"
    "$PY" - "$dir/$wheel" "$dir" "$@" <<'PYEOF'
import sys, zipfile
wheel, dest, *pairs = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for pair in pairs:
        src, name = pair.split("=", 1)
        with z.open(src) as f, open(f"{dest}/{name}", "wb") as out:
            out.write(f.read())
PYEOF
    echo "$sha" > "$dir/.extracted"
  fi
}
fetch_wheel "$cache" "$WHEEL" "$WHEEL_SHA256" manylinux_2_28_aarch64 "onnxruntime==$ORT_VERSION" \
  "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION=libonnxruntime.so.1" \
  "onnxruntime/LICENSE=LICENSE.onnxruntime" "onnxruntime/ThirdPartyNotices.txt=ThirdPartyNotices.onnxruntime.txt"
# LiteRT: only its C API library is used; the wheel has no licence file, its METADATA states the
# licence (Apache 2.0) and is shipped as such.
fetch_wheel "$litert_cache" "$LITERT_WHEEL" "$LITERT_WHEEL_SHA256" manylinux_2_27_aarch64 \
  "ai-edge-litert==$LITERT_VERSION" "ai_edge_litert/libLiteRtRuntimeCApi.so=libLiteRtRuntimeCApi.so" \
  "ai_edge_litert-$LITERT_VERSION.dist-info/METADATA=METADATA.ai_edge_litert"

# --- assemble -----------------------------------------------------------------------------------
# name -> source; then the NEEDED closure from the sysroot (copied under their NEEDED names).
declare -A src=(
  [ort_bench]=$repo/build/bench-aarch64/ort_bench
  [librep_deploy_ort.so]=$ort_build/librep_deploy_ort.so
  [libonnxruntime.so.1]=$cache/libonnxruntime.so.1
  [LICENSE.onnxruntime]=$cache/LICENSE.onnxruntime
  [ThirdPartyNotices.onnxruntime.txt]=$cache/ThirdPartyNotices.onnxruntime.txt
  [tflite_bench]=$repo/build/bench-aarch64/tflite_bench
  [librep_deploy_litert.so]=$litert_build/librep_deploy_litert.so
  [libLiteRtRuntimeCApi.so]=$litert_cache/libLiteRtRuntimeCApi.so
  [METADATA.ai_edge_litert]=$litert_cache/METADATA.ai_edge_litert
  [ld-linux-aarch64.so.1]=$sysroot/ld-linux-aarch64.so.1
)
queue=(ort_bench librep_deploy_ort.so libonnxruntime.so.1 tflite_bench librep_deploy_litert.so libLiteRtRuntimeCApi.so)
while ((${#queue[@]})); do
  elf=${src[${queue[0]}]}; queue=("${queue[@]:1}")
  for lib in $(aarch64-linux-gnu-readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -n "${src[$lib]:-}" ] && continue
    [ -f "$sysroot/$lib" ] || die "$(basename "$elf") needs $lib, which $sysroot does not have"
    src[$lib]=$sysroot/$lib
    queue+=("$lib")
  done
done

mkdir -p "$out"
for name in $(printf '%s\n' "${!src[@]}" | sort); do
  if ! cmp -s "${src[$name]}" "$out/$name"; then
    step "copy $name"
    cp -L "${src[$name]}" "$out/$name.tmp" && mv -f "$out/$name.tmp" "$out/$name"
  fi
  case $name in *.txt|LICENSE.*|METADATA.*) chmod 644 "$out/$name" ;; *) chmod 755 "$out/$name" ;; esac
done
for f in "$out"/*; do  # leftovers of an older bundle
  name=$(basename "$f")
  [ "$name" = manifest.json ] || [ -n "${src[$name]:-}" ] || { step "remove stale $name"; rm -rf "$f"; }
done

runner_version=$(sed -n 's/.*kRunnerVersion = "\([^"]*\)".*/\1/p' "$here/ort_bench.cc")
tflite_runner_version=$(sed -n 's/.*kRunnerVersion = "\([^"]*\)".*/\1/p' "$here/tflite_bench.cc")
glibc=$(dpkg-query -W -f='${Version}' libc6-arm64-cross 2>/dev/null || echo unknown)
"$PY" - "$out" "$BUNDLE_FORMAT" "$ORT_VERSION" "$runner_version" "$WHEEL" "$WHEEL_SHA256" "$glibc" \
  "$LITERT_VERSION" "$tflite_runner_version" "$LITERT_WHEEL" "$LITERT_WHEEL_SHA256" "${!src[@]}" <<'PYEOF'
import hashlib, json, os, sys
out, fmt, ort, runner, wheel, wheel_sha, glibc, litert, tflite_runner, litert_wheel, litert_sha, *names = sys.argv[1:]
ort_command = ("./ld-linux-aarch64.so.1 --library-path . ./ort_bench --ort libonnxruntime.so.1 "
               "--custom-ops ./librep_deploy_ort.so --model {model} --input {input} --output {output} "
               "--json {json} --threads {threads} --runs {runs} --warmup {warmup}")
tflite_command = ("./ld-linux-aarch64.so.1 --library-path . ./tflite_bench --litert libLiteRtRuntimeCApi.so "
                  "--custom-ops ./librep_deploy_litert.so --model {model} --input {input} --output {output} "
                  "--json {json} --threads {threads} --runs {runs} --warmup {warmup}")
files = []
for name in sorted(names):
    data = open(os.path.join(out, name), "rb").read()
    files.append({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
manifest = {
    "format": int(fmt), "kind": "rep-deploy device bundle", "arch": "aarch64",
    "runner": "ort_bench", "runner_version": runner,
    "onnxruntime_version": ort, "onnxruntime_wheel": {"file": wheel, "sha256": wheel_sha},
    "sysroot": {"libc6-arm64-cross": glibc},
    "litert_version": litert, "litert_wheel": {"file": litert_wheel, "sha256": litert_sha},
    "tflite_runner": "tflite_bench", "tflite_runner_version": tflite_runner,
    # "command" (ort_bench, .onnx) is kept for hosts that read format 1 without "commands".
    "command": ort_command,
    "commands": {"onnx": ort_command, "tflite": tflite_command},
    "files": files,
}
text = json.dumps(manifest, indent=2) + "\n"
path = os.path.join(out, "manifest.json")
if not os.path.exists(path) or open(path).read() != text:
    print("[bundle] write manifest.json")
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
PYEOF
step "ready: $out ($(du -sh "$out" | cut -f1), ${#src[@]} files + manifest.json)"
