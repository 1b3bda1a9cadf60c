#!/usr/bin/env bash
# Regenerate the dataset on a Slurm cluster with datatrove's SlurmPipelineExecutor: three array jobs
# (scale: one task per subject group, sequences: TASKS tasks, finalize: one), chained by dependencies.
#   bash builder_scripts/build_slurm.sh /shared/h36m /shared/simspine [/shared/spinepose]
# RAW, OUT and the logging folder must be on storage every node sees. Re-running resubmits only
# unfinished tasks (datatrove's completion markers in $OUT/work/<hash>/logs).
set -euo pipefail
RAW="$1"; OUT="$2"; DETECTIONS="${3:-}"
TASKS="${TASKS:-64}"; PARTITION="${PARTITION:-cpu}"; TIME="${TIME:-12:00:00}"
cd "$(dirname "$0")/.."
.venv/bin/pip install --quiet -e ".[distributed]"
.venv/bin/simspine build "$RAW" "$OUT" --config builder_scripts/paper.toml --executor slurm --tasks "$TASKS" \
  --slurm-partition "$PARTITION" --slurm-time "$TIME" ${DETECTIONS:+--detections "$DETECTIONS"}
echo "submitted; when the finalize job is done: .venv/bin/simspine validate $OUT"
