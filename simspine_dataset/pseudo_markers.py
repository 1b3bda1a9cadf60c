"""Stage: spine pseudo-markers from 2D detections, triangulated per frame (SIMSPINE's step 2).

Reads the SpinePose detections of a sequence's four cameras (``io.detections``), triangulates every
keypoint of every frame at once (``geometry.triangulation``: undistortion, confidence weights,
outlier rejection) and returns ``PseudoMarkers`` for inverse kinematics: positions in world mm and a
confidence per keypoint and frame, the mean score of the views used, lowered when the reprojection
error is large (``exp(-error / 10 px)``). Short gaps (<= 5 frames) are interpolated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.observations import PseudoMarkers
from simspine_dataset.capture import SequenceRecord
from simspine_dataset.geometry.triangulation import fill_short_gaps, triangulate
from simspine_dataset.io import detections as det_io

ERROR_SCALE_PX = 10.0


def pseudo_markers(detections_root: str | Path, record: SequenceRecord) -> PseudoMarkers:
    """Triangulated keypoints of a sequence (T = ``record.n_frames``) from its detections."""
    T, C = record.n_frames, len(record.cameras)
    xy = np.empty((C, T, sk.NUM_KEYPOINTS, 2))
    scores = np.empty((C, T, sk.NUM_KEYPOINTS))
    for c, camera in enumerate(record.cameras):
        xy[c], scores[c] = det_io.read_sequence(
            detections_root, record.subject, record.sequence, camera.id, T
        )
    result = triangulate(xy.reshape(C, -1, 2), scores.reshape(C, -1), record.cameras)
    used = result.views.reshape(C, T, sk.NUM_KEYPOINTS)
    with np.errstate(invalid="ignore"):
        mean_score = np.where(used, scores, 0.0).sum(0) / np.maximum(used.sum(0), 1)
    error = np.nan_to_num(result.error_px.reshape(T, sk.NUM_KEYPOINTS), nan=np.inf)
    confidence = np.where(used.sum(0) >= 2, mean_score * np.exp(-error / ERROR_SCALE_PX), 0.0)
    positions = fill_short_gaps(result.points_mm.reshape(T, sk.NUM_KEYPOINTS, 3))
    return PseudoMarkers(sk.NAMES, positions, confidence)
