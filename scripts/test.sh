#!/usr/bin/env bash
# The whole test suite, from a fresh clone: set up (system packages, .venv, native build), then
# pytest. Extra arguments go to pytest (e.g. `bash scripts/test.sh -m "not slow"`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
