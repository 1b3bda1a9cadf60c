#!/usr/bin/env bash
# Quick start 2: set everything up, then lint and run the whole test suite. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=dev,all bash scripts/setup.sh
# SpinePose (parity tests of `simspine detect`): --no-deps, as its metadata asks for an unpinned torch
.venv/bin/python -m pip install --quiet --no-deps spinepose==2.1.0 OneEuroFilter==0.2.1
# Pose2Sim's readers (the export's tests read our files with them): --no-deps, as its metadata pulls
# a GUI stack and openvino; what its readers import is installed beside it
.venv/bin/python -m pip install --quiet --no-deps pose2sim==0.10.49
.venv/bin/python -m pip install --quiet c3d==0.6.0 anytree==2.13.0 rtoml==0.14.0
bash baselines/pose2d/install.sh  # the mmpose stack (mmcv built from source once, then cached)
export HF_HUB_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
