"""Task 1 baseline: 2D spine pose estimation with mmpose (top-down HRNet-w32, ViTPose-b, RTMPose-m).

``install.sh`` (the mmpose 1.3.2 stack on CPU torch), ``metainfo`` (mmpose keypoint metadata from the
skeleton table), ``adapter`` (the ``frames`` config -> COCO-style annotations + images), ``configs/``,
``train``, ``evaluate`` and ``metrics`` (COCO AP/AR on the body and spine subsets, PCK-AUC).
"""

# The one stand-in the mmpose stack needs here: a `torchvision` module (shim/torchvision) with only
# what mmpose and mmpretrain import at import time. PyPI's torchvision wheels do not import on the
# CPU build of torch 2.13 (their compiled ops are built for the CUDA torch: "operator
# torchvision::nms does not exist") and no CPU build exists on PyPI. mmpose 1.3.2 imports
# `torchvision.transforms.ToPILImage` (`mmpose/visualization/simcc_vis.py`), implemented there;
# mmpretrain 1.2.0 imports `torchvision.ops.boxes` for its visual-grounding metric and box utils,
# never reached by ViTPose: those names raise NotImplementedError when called. Everything else that
# mentions torchvision (mmcv's deform-conv fallback, mmengine's torchvision:// checkpoints,
# mmpretrain's datasets) is imported lazily and never reached by our configs. It is never
# installed: importing this package puts shim/ at the end of sys.path when no torchvision is
# importable, so a real one always wins and nothing outside this process sees the stand-in.

import sys
from importlib.util import find_spec
from pathlib import Path

SHIM = Path(__file__).parent / "shim"
if find_spec("torchvision") is None and str(SHIM) not in sys.path:
    sys.path.append(str(SHIM))

from simspine_dataset.pose_models import full_unpickling  # noqa: E402, F401 - the baselines load checkpoints with it
