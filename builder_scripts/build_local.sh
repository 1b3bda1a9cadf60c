#!/usr/bin/env bash
# Regenerate the dataset from a Human3.6M download on one machine, with the paper's settings:
# SpinePose 2D detections of every video (simspine detect), then the build on them, then validate.
#   bash builder_scripts/build_local.sh /data/h36m /data/simspine [/data/spinepose]
# DETECTIONS defaults to OUT-detections. Resumable: run it again after an interruption; finished
# videos and units are skipped. MODEL (default spinepose-m, v2 weights) picks SpinePose's model
# (DETECT_MODEL="--onnx FILE" any other); offline machines put its ONNX file in
# ~/.cache/spinepose/hub/checkpoints/ first (see README). SIMSPINE_SKIP_INSTALL=1 skips the pip step.
# Known problems of the download (S11 Directions' broken camera) are built around and listed; a
# sequence that fails, or whose labels a gate flags, is named and the others are built and
# validated: the exit status is the worst of build (1: some failed or flagged) and validate.
set -euo pipefail
RAW="$1"; OUT="$2"; DETECTIONS="${3:-$2-detections}"
MODEL="${MODEL:-spinepose-m}"; WORKERS="${WORKERS:-$(nproc)}"
cd "$(dirname "$0")/.."
if [ -z "${SIMSPINE_SKIP_INSTALL:-}" ]; then
  .venv/bin/pip install --quiet -e ".[detect]"
  .venv/bin/pip install --quiet --no-deps spinepose==2.1.0 OneEuroFilter==0.2.1 pose2sim==0.10.49
fi
status=0
.venv/bin/simspine inspect "$RAW" || { code=$?; [ "$code" -eq 1 ] || exit "$code"; status=1; }
# shellcheck disable=SC2086  # DETECT_MODEL is options: split on purpose
.venv/bin/simspine detect "$RAW" "$DETECTIONS" ${DETECT_MODEL:---model "$MODEL"} --workers "$WORKERS" \
  || { code=$?; [ "$code" -eq 1 ] || exit "$code"; status=1; }
.venv/bin/simspine build "$RAW" "$OUT" --config builder_scripts/paper.toml --workers "$WORKERS" \
  --detections "$DETECTIONS" || { code=$?; [ "$code" -eq 1 ] || exit "$code"; status=1; }
.venv/bin/simspine validate "$OUT" || status=$?
exit "$status"
