#!/usr/bin/env bash
# Set up a development environment from a fresh clone: system packages, a virtualenv in .venv with
# the pinned dependency set, and rep-deploy installed editable (which runs the native build).
# Idempotent: re-running only redoes what changed. Honors PYTHON (default python3) and VENV (.venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# System packages (root on Debian; skipped elsewhere or when already present).
need_apt=()
command -v cmake >/dev/null || need_apt+=(cmake)
command -v g++ >/dev/null || need_apt+=(g++)
if ((${#need_apt[@]})); then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    say "apt-get install ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing ${need_apt[*]}; install them with your package manager" >&2; exit 1
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
stamp="$VENV/.rep-deploy-installed"

# --- native build: ONNX Runtime custom-op library (runtimes/ort) ----------------------------------
# The ORT C headers come from Debian's libonnxruntime-dev .deb (pinned sha256, unpacked into
# .third_party/, nothing installed); set ORT_INCLUDE_DIR to use other headers (API >= 17).
ort_inc=$(bash runtimes/ort/fetch_ort_headers.sh) || {
  echo "setup: could not get the ONNX Runtime headers (see above); set ORT_INCLUDE_DIR" >&2; exit 1; }
say "ONNX Runtime headers: $ort_inc"
# C++ edits do not touch pyproject.toml/CMakeLists.txt: force the reinstall (an incremental rebuild
# in build/) when any native source is newer than the last install.
if [ -f "$stamp" ] && [ -n "$(find runtimes -newer "$stamp" -type f -print -quit)" ]; then
  rm -f "$stamp"
fi
# --- end native build ----------------------------------------------------------------------------
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ CMakeLists.txt -nt "$stamp" ]; then
  # torch first and alone: only this exact pin resolves to the local CPU wheel (others pull CUDA).
  say "installing torch==2.13.0 (CPU)"
  "$PY" -m pip install -q torch==2.13.0
  say "installing rep-deploy and its pinned dependencies"
  "$PY" -m pip install -q scikit-build-core cmake ninja
  "$PY" -m pip install -q --no-build-isolation -e '.[dev]'
  touch "$stamp"
else
  say "environment up to date ($VENV)"
fi
