#!/usr/bin/env bash
# Regenerate the dataset on a Ray cluster with datatrove's RayPipelineExecutor: SpinePose 2D
# detections of every video, then the build on them, then validate.
#   RAY_ADDRESS=auto bash builder_scripts/build_ray.sh /shared/h36m /shared/simspine [/shared/spinepose]
# With no RAY_ADDRESS a local Ray instance is started on this machine. RAW, OUT and DETECTIONS
# (default OUT-detections) must be on storage every node sees. Re-running skips finished work.
# As build_local.sh: failed or flagged sequences are named, the rest is built and validated, and
# the exit status is the worst of detect, build (1: some failed or flagged) and validate.
set -euo pipefail
RAW="$1"; OUT="$2"; DETECTIONS="${3:-$2-detections}"
TASKS="${TASKS:-64}"
cd "$(dirname "$0")/.."
if [ -z "${SIMSPINE_SKIP_INSTALL:-}" ]; then
  .venv/bin/pip install --quiet -e ".[distributed,detect]"
  .venv/bin/pip install --quiet --no-deps spinepose==2.1.0 OneEuroFilter==0.2.1 pose2sim==0.10.49
fi
status=0
# shellcheck disable=SC2086  # DETECT_MODEL is options: split on purpose
.venv/bin/simspine detect "$RAW" "$DETECTIONS" ${DETECT_MODEL:---model "${MODEL:-spinepose-m}"} --executor ray \
  --tasks "$TASKS" --workers "${WORKERS:-$TASKS}" || { code=$?; [ "$code" -eq 1 ] || exit "$code"; status=1; }
.venv/bin/simspine build "$RAW" "$OUT" --config builder_scripts/paper.toml --executor ray --tasks "$TASKS" \
  --workers "${WORKERS:-$TASKS}" --detections "$DETECTIONS" || { code=$?; [ "$code" -eq 1 ] || exit "$code"; status=1; }
.venv/bin/simspine validate "$OUT" || status=$?
exit "$status"
