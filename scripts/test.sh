#!/usr/bin/env bash
# Quick start 2: set everything up, then lint and run the whole test suite. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=dev,baselines,distributed bash scripts/setup.sh
bash baselines/pose2d/install.sh  # the mmpose stack (mmcv built from source once, then cached)
export HF_HUB_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
