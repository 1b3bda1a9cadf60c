#!/usr/bin/env bash
# Regenerate the dataset from a Human3.6M download on one machine, with the paper's settings:
# SpinePose 2D detections of every video (simspine detect), then the build on them, then validate.
#   bash builder_scripts/build_local.sh /data/h36m /data/simspine [/data/spinepose]
# DETECTIONS defaults to OUT-detections. Resumable: run it again after an interruption; finished
# videos and units are skipped. MODEL (default spinepose-m, v2 weights) picks SpinePose's model;
# offline machines put its ONNX file in ~/.cache/spinepose/hub/checkpoints/ first (see README).
set -euo pipefail
RAW="$1"; OUT="$2"; DETECTIONS="${3:-$2-detections}"
MODEL="${MODEL:-spinepose-m}"; WORKERS="${WORKERS:-$(nproc)}"
cd "$(dirname "$0")/.."
.venv/bin/pip install --quiet -e ".[detect]"
.venv/bin/pip install --quiet --no-deps spinepose==2.1.0 OneEuroFilter==0.2.1
.venv/bin/simspine inspect "$RAW"
.venv/bin/simspine detect "$RAW" "$DETECTIONS" --model "$MODEL" --workers "$WORKERS"
.venv/bin/simspine build "$RAW" "$OUT" --config builder_scripts/paper.toml --workers "$WORKERS" \
  --detections "$DETECTIONS"
.venv/bin/simspine validate "$OUT"
