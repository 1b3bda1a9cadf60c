#!/usr/bin/env bash
# Regenerate the dataset on a Ray cluster with datatrove's RayPipelineExecutor.
#   RAY_ADDRESS=auto bash builder_scripts/build_ray.sh /shared/h36m /shared/simspine [/shared/spinepose]
# With no RAY_ADDRESS a local Ray instance is started on this machine. RAW and OUT must be on storage
# every node sees. Re-running skips finished tasks and units.
set -euo pipefail
RAW="$1"; OUT="$2"; DETECTIONS="${3:-}"
TASKS="${TASKS:-64}"
cd "$(dirname "$0")/.."
.venv/bin/pip install --quiet -e ".[distributed]"
.venv/bin/simspine build "$RAW" "$OUT" --config builder_scripts/paper.toml --executor ray --tasks "$TASKS" \
  --workers "${WORKERS:-$TASKS}" ${DETECTIONS:+--detections "$DETECTIONS"}
.venv/bin/simspine validate "$OUT"
