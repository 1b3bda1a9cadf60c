#!/usr/bin/env bash
# Regenerate the dataset on a Slurm cluster with datatrove's SlurmPipelineExecutor, in two phases:
#   PHASE=detect bash builder_scripts/build_slurm.sh /shared/h36m /shared/simspine /shared/spinepose
#     one array job (TASKS tasks, DETECT_PARTITION, a GPU partition by default): SpinePose 2D
#     detections of every video;
#   PHASE=build  bash builder_scripts/build_slurm.sh /shared/h36m /shared/simspine /shared/spinepose
#     after it: three array jobs (scale, sequences, finalize) chained by dependencies.
# RAW, OUT, DETECTIONS and the logging folders must be on storage every node sees. Re-running a
# phase resubmits only unfinished tasks; finished videos and units are skipped inside a task too.
set -euo pipefail
RAW="$1"; OUT="$2"; DETECTIONS="$3"; PHASE="${PHASE:-detect}"
TASKS="${TASKS:-64}"; PARTITION="${PARTITION:-cpu}"; TIME="${TIME:-12:00:00}"
cd "$(dirname "$0")/.."
.venv/bin/pip install --quiet -e ".[distributed,detect]"
if [ "$PHASE" = detect ]; then
  .venv/bin/pip install --quiet --no-deps spinepose==2.1.0 OneEuroFilter==0.2.1 pose2sim==0.10.49
  .venv/bin/simspine detect "$RAW" "$DETECTIONS" --model "${MODEL:-spinepose-m}" --executor slurm \
    --tasks "$TASKS" --slurm-partition "${DETECT_PARTITION:-gpu}" --slurm-time "$TIME"
  echo "submitted detect; when it is done: PHASE=build bash $0 $RAW $OUT $DETECTIONS"
else
  .venv/bin/simspine build "$RAW" "$OUT" --config builder_scripts/paper.toml --executor slurm --tasks "$TASKS" \
    --slurm-partition "$PARTITION" --slurm-time "$TIME" --detections "$DETECTIONS"
  echo "submitted the build; when the finalize job is done: .venv/bin/simspine validate $OUT"
fi
