#!/usr/bin/env bash
# Set up a development environment from a fresh clone: system packages, a virtualenv in .venv with
# the tested dependency set (constraints.txt), and rep-deploy installed editable (which runs the
# native build). Idempotent: re-running only redoes what changed. Honors PYTHON (default python3)
# and VENV (.venv).
#
# Usage: scripts/setup.sh [--test-tools] [--check]
#   --test-tools  also the system packages scripts/test.sh needs (aarch64 cross compiler, qemu)
#   --check       change nothing: exit 0 if the environment is up to date, 1 (saying why) if not
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
test_tools=0 check=0
for arg in "$@"; do
  case $arg in
    --test-tools) test_tools=1 ;;
    --check) check=1 ;;
    *) echo "setup: unknown argument $arg (usage: scripts/setup.sh [--test-tools] [--check])" >&2; exit 2 ;;
  esac
done

# Bold only on a terminal: logs (CI, `| tee`) get plain text.
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '%s[setup]%s %s\n' "$bold" "$plain" "$*"; }
# pip's own output stays on (what it downloads, builds, installs); a progress bar only on a terminal.
pip_opts=()
[ -t 1 ] || pip_opts+=(--progress-bar off)

# --- system packages (root on Debian; elsewhere they must be present) ---------------------------
# Only what is missing, in groups that say what each is for: one line tells what apt installs and why.
need_apt=() groups=()
want() {  # want "why" command:package ...
  local why=$1 pkgs=() pair; shift
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || pkgs+=("${pair#*:}"); done
  if ((${#pkgs[@]})); then need_apt+=("${pkgs[@]}"); groups+=("${pkgs[*]} ($why)"); fi
}
want "native build of runtimes/core and runtimes/ort" cmake:cmake g++:g++
# scripts/test.sh, runtimes/ort/cross_aarch64.sh: the NEON build, its tests under qemu, and `file`
# to show the binaries' architecture. (The sanitizer runtimes, libasan/libubsan, come with g++.)
[ $test_tools = 0 ] || want "aarch64 cross build and its tests under qemu, for scripts/test.sh" \
  aarch64-linux-gnu-g++:g++-aarch64-linux-gnu qemu-aarch64-static:qemu-user-static file:file
# tests/test_emulator.py, tests/test_bench.py: the emulated device against Debian's adb 29 (the adb 36
# they also use comes inside the adbutils wheel)
[ $test_tools = 0 ] || want "Debian's adb, for the emulated device's tests" adb:adb
if ((${#need_apt[@]})); then
  what=""; for g in "${groups[@]}"; do what+="${what:+; }$g"; done
  if [ $check = 1 ]; then
    say "not up to date: apt-get would install $what"; exit 1
  elif command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "apt-get install $what"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing $what; install them with your package manager" >&2
    exit 1
  fi
fi

PY="$VENV/bin/python"
stamp="$VENV/.rep-deploy-installed"
# The install is redone when any of its inputs is newer than the stamp: the package metadata, the
# tested dependency set, the CMake files, or a native source (C++ edits do not touch pyproject.toml;
# the rebuild in build/ is incremental).
stale=""
if [ ! -x "$PY" ]; then stale="no virtualenv $VENV"
elif [ ! -f "$stamp" ]; then stale="rep-deploy not installed in $VENV"
else
  for f in pyproject.toml constraints.txt CMakeLists.txt; do
    if [ "$f" -nt "$stamp" ]; then stale="$f changed"; break; fi
  done
  if [ -z "$stale" ]; then
    # the package builds runtimes/core and runtimes/ort (the core's tests are not part of it)
    changed=$(find runtimes/core runtimes/ort -newer "$stamp" -type f -not -path 'runtimes/core/tests/*' -print -quit)
    [ -z "$changed" ] || stale="$changed changed"
  fi
fi
if [ -z "$stale" ]; then
  say "environment up to date ($VENV)"
  exit 0
elif [ $check = 1 ]; then
  say "not up to date: $stale"
  exit 1
fi
say "installing into $VENV ($stale)"

# --- native build prerequisite: the ONNX Runtime C headers -------------------------------------
# From Debian's libonnxruntime-dev .deb (pinned sha256, unpacked into .third_party/, nothing
# installed; cached after the first run); set ORT_INCLUDE_DIR to use other headers (API >= 17).
ort_inc=$(bash runtimes/ort/fetch_ort_headers.sh) || {
  echo "setup: could not get the ONNX Runtime headers (see above); set ORT_INCLUDE_DIR" >&2; exit 1; }
say "ONNX Runtime headers: $ort_inc"

if [ ! -x "$PY" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
venv_pip() { "$PY" -m pip "$@"; }
# torch first and alone: only this exact pin resolves to the local CPU wheel (others pull CUDA).
say "step 1/4: torch==2.13.0 (CPU wheel)"
venv_pip install "${pip_opts[@]}" -c constraints.txt torch==2.13.0
say "step 2/4: build tools (scikit-build-core, cmake, ninja)"
venv_pip install "${pip_opts[@]}" -c constraints.txt scikit-build-core cmake ninja
# The dependencies on their own, then the package with --no-deps: the package step runs pip -v
# (the only way to see the build backend's output) without the resolver's verbose chatter.
say "step 3/4: rep-deploy's dependencies (pyproject.toml [project], [dev], [tflite], [plot] and [device], pinned by constraints.txt)"
reqs="$VENV/.rep-deploy-requirements.txt"
"$PY" - > "$reqs" <<'EOF'
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the copy pip vendors
    from pip._vendor import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
extras = project["optional-dependencies"]
print("\n".join(project["dependencies"] + extras["dev"] + extras["tflite"] + extras["plot"] + extras["device"]))
EOF
venv_pip install "${pip_opts[@]}" -c constraints.txt -r "$reqs"
# build.verbose: ninja prints every compiler command line. CMake gets the headers fetched above.
say "step 4/4: rep-deploy (editable) and its native build (runtimes/core, runtimes/ort)"
ORT_INCLUDE_DIR=$ort_inc venv_pip install "${pip_opts[@]}" -v -c constraints.txt --no-deps \
  --no-build-isolation -Cbuild.verbose=true -e .
touch "$stamp"
say "done: $VENV ready"
