#!/usr/bin/env bash
# Quick start 1: set everything up, then run the main job on the embedded synthetic capture.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=build,baselines bash scripts/setup.sh
exec .venv/bin/simspine demo "$@"
