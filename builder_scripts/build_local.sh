#!/usr/bin/env bash
# Regenerate the dataset from a Human3.6M download on one machine, with the paper's settings.
#   bash builder_scripts/build_local.sh /data/h36m /data/simspine [/data/spinepose]
# Resumable: run it again after an interruption; finished units are skipped.
set -euo pipefail
RAW="$1"; OUT="$2"; DETECTIONS="${3:-}"
cd "$(dirname "$0")/.."
.venv/bin/simspine inspect "$RAW"
.venv/bin/simspine build "$RAW" "$OUT" --config builder_scripts/paper.toml --workers "$(nproc)" \
  ${DETECTIONS:+--detections "$DETECTIONS"}
.venv/bin/simspine validate "$OUT"
