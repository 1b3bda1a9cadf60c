"""Task 1 baseline: 2D spine pose estimation with mmpose (top-down HRNet-w32, ViTPose-b, RTMPose-m).

``install.sh`` (the mmpose 1.3.2 stack on CPU torch), ``metainfo`` (mmpose keypoint metadata from the
skeleton table), ``adapter`` (the ``frames`` config -> COCO-style annotations + images), ``configs/``,
``train``, ``evaluate`` and ``metrics`` (COCO AP/AR on the body and spine subsets, PCK-AUC).
"""
