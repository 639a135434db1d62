#!/usr/bin/env bash
# The main job on the shipped demo model, from a fresh clone: set up, export the trained Rep
# ResNet-20 (digits) to ONNX with rep-deploy's custom ops, verify it against PyTorch on the held-out
# digits, and describe the file. Output goes to ${OUT:-out/demo}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${OUT:-out/demo}
.venv/bin/rep-deploy export rep-resnet20-digits --pretrained -o "$OUT"
.venv/bin/rep-deploy info "$OUT/model.onnx"
