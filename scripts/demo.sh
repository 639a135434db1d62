#!/usr/bin/env bash
# The main job on the shipped demo model, from a fresh clone: set up, export the trained Rep
# ResNet-20 (digits) to ONNX with rep-deploy's custom ops, verify it against PyTorch on the held-out
# digits, describe the file, then convert it to a Larq Compute Engine .tflite for aarch64 phones and
# boards, verified against ONNX Runtime on the same digits. Output goes to ${OUT:-out/demo}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${OUT:-out/demo}
# Bold only on a terminal: logs (`| tee`) get plain text.
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s[demo] %s%s\n' "$bold" "$*" "$plain"; }
step "export rep-resnet20-digits (shipped checkpoint) to $OUT/ and verify it"
# --force: the demo is re-runnable; it replaces its own earlier output
.venv/bin/rep-deploy export rep-resnet20-digits --pretrained --force -o "$OUT"
step "what $OUT/model.onnx holds"
.venv/bin/rep-deploy info "$OUT/model.onnx"
step "convert $OUT/model.onnx to $OUT/model.tflite (Larq Compute Engine, aarch64) and verify it"
.venv/bin/rep-deploy tflite "$OUT/model.onnx" --target aarch64 --force -o "$OUT/model.tflite"
