#!/usr/bin/env bash
# Install the mmpose 1.3.2 stack into .venv on CPU torch 2.13 / Python 3.11. Idempotent.
#
#   mmcv 2.1.0     built from source with its ops (no CPU wheel exists for torch 2.13; 10-30 min on 2 cores).
#                  The built wheel is cached in $SIMSPINE_WHEEL_CACHE (default ~/.cache/simspine/wheels)
#                  and reused by later runs and other clones.
#   mmengine 0.10.7, mmdet 3.2.0, mmpose 1.3.2, mmpretrain 1.2.0 (ViTPose's VisionTransformer backbone)
#                  installed --no-deps: their declared opencv-python would shadow the headless OpenCV we
#                  use, mmpose's chumpy does not build and torchvision has no CPU build for torch 2.13.
#                  Their other runtime requirements come from their own metadata (requirements.py).
#   xtcocotools    built from source against the numpy 2 in .venv (the PyPI wheels are built on numpy 1).
#   shim/          a `torchvision` with ToPILImage and an import-only ops.boxes, never installed: the
#                  baseline puts it on sys.path where no torchvision imports (baselines/pose2d/__init__.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
[ -x "$PY" ] || { echo "run scripts/setup.sh first (needs .venv)" >&2; exit 1; }
# an earlier version installed the stand-in torchvision into the environment: take it out
"$PY" -m pip uninstall --quiet --yes simspine-torchvision-shim 2>/dev/null || true
if "$PY" -c 'import baselines.pose2d, mmpose.apis, mmdet, mmcv.ops, mmpretrain.models, xtcocotools' 2>/dev/null \
    && "$PY" -c 'import mmcv, mmpose, mmdet, mmengine, mmpretrain; assert (mmcv.__version__, mmpose.__version__, mmdet.__version__, mmengine.__version__, mmpretrain.__version__) == ("2.1.0", "1.3.2", "3.2.0", "0.10.7", "1.2.0")' 2>/dev/null; then
  exit 0
fi
CACHE="${SIMSPINE_WHEEL_CACHE:-$HOME/.cache/simspine/wheels}"
mkdir -p "$CACHE"
PIP=("$PY" -m pip install --quiet)

"${PIP[@]}" "torch==2.13.0"
# What building mmcv and xtcocotools needs (mmcv's setup.py imports pkg_resources, gone in setuptools 80).
"${PIP[@]}" "setuptools<80" wheel ninja cython packaging pyyaml addict yapf

if ! ls "$CACHE"/mmcv-2.1.0-*.whl >/dev/null 2>&1; then
  echo "building mmcv 2.1.0 with ops from source (once; cached in $CACHE) ..." >&2
  MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="$(nproc)" \
    "$PY" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$CACHE" mmcv==2.1.0
fi
if ! ls "$CACHE"/xtcocotools-*.whl >/dev/null 2>&1; then
  "$PY" -m pip wheel --quiet --no-deps --no-build-isolation --no-binary xtcocotools --wheel-dir "$CACHE" xtcocotools
fi
"${PIP[@]}" --no-deps "$CACHE"/mmcv-2.1.0-*.whl "$CACHE"/xtcocotools-*.whl \
  mmengine==0.10.7 mmdet==3.2.0 mmpose==1.3.2 mmpretrain==1.2.0
# Their runtime requirements, read from their own metadata (minus chumpy, opencv-python, torchvision).
"$PY" baselines/pose2d/requirements.py | xargs "${PIP[@]}"
"$PY" -c 'import baselines.pose2d, mmcv.ops, mmpose.apis, mmdet, mmpretrain.models, xtcocotools; print("mmpose", mmpose.__version__, "mmcv", mmcv.__version__, "ready")'
