#!/usr/bin/env bash
# Regenerate the dataset on a Ray cluster with datatrove's RayPipelineExecutor: SpinePose 2D
# detections of every video, then the build on them, then validate.
#   RAY_ADDRESS=auto bash builder_scripts/build_ray.sh /shared/h36m /shared/simspine [/shared/spinepose]
# With no RAY_ADDRESS a local Ray instance is started on this machine. RAW, OUT and DETECTIONS
# (default OUT-detections) must be on storage every node sees. Re-running skips finished work.
set -euo pipefail
RAW="$1"; OUT="$2"; DETECTIONS="${3:-$2-detections}"
TASKS="${TASKS:-64}"
cd "$(dirname "$0")/.."
.venv/bin/pip install --quiet -e ".[distributed,detect]"
.venv/bin/pip install --quiet --no-deps spinepose==2.1.0 OneEuroFilter==0.2.1
.venv/bin/simspine detect "$RAW" "$DETECTIONS" --model "${MODEL:-spinepose-m}" --executor ray --tasks "$TASKS" \
  --workers "${WORKERS:-$TASKS}"
.venv/bin/simspine build "$RAW" "$OUT" --config builder_scripts/paper.toml --executor ray --tasks "$TASKS" \
  --workers "${WORKERS:-$TASKS}" --detections "$DETECTIONS"
.venv/bin/simspine validate "$OUT"
