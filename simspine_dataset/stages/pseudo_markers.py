"""Stage: spine pseudo-markers from 2D detections, triangulated per frame (SIMSPINE's step 2).

Reads the SpinePose detections of a sequence's four cameras (``io.detections``), triangulates every
keypoint of every frame at once (``geometry.triangulation``: undistortion, confidence weights,
outlier rejection) and returns ``PseudoMarkers`` for inverse kinematics: positions in world mm and a
confidence per keypoint and frame, the mean score of the views used, lowered when the reprojection
error is large (``exp(-error / 10 px)``). Short gaps (<= 5 frames) are interpolated.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.observations import PseudoMarkers
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.geometry.triangulation import fill_short_gaps, triangulate
from simspine_dataset.io import detections as det_io
from simspine_dataset.stages.capture import SequenceRecord

ERROR_SCALE_PX = 10.0
DEFAULT_NOISE_PX = 5.0  # a keypoint never triangulated in the sequence: its rays' pixel noise
DEFAULT_DEPTH_MM = 5000.0  # a sequence with no triangulated point: the subject's distance


def _or_median(values: np.ndarray, default: float) -> np.ndarray:
    """NaN entries replaced by the median of the others (``default`` when all are NaN)."""
    values = np.asarray(values, float)
    finite = np.isfinite(values)
    return np.where(finite, values, np.median(values[finite]) if finite.any() else default)


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
    triangulated = confidence > 0
    noise_px = _or_median(np.nanmedian(np.where(triangulated, error, np.nan), axis=0), DEFAULT_NOISE_PX)
    rays = single_view_rays(xy, scores, record.cameras, triangulated, noise_px, positions)
    return PseudoMarkers(sk.NAMES, positions, confidence, *rays)


def single_view_rays(
    xy: np.ndarray,
    scores: np.ndarray,
    cameras: Sequence[Camera],
    triangulated: np.ndarray,
    noise_px: np.ndarray,
    points_mm: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where a keypoint is not triangulated but exactly one camera detected it: that camera's ray
    through the undistorted detection. xy (C, T, K, 2) px, scores (C, T, K), triangulated (T, K),
    each keypoint's reprojection noise (K,) px and the triangulated points (T, K, 3) mm -> origins
    (T, K, 3) world mm (the camera centre), unit directions (T, K, 3) world, scores (T, K) and the
    ray's noise across it (T, K) mm: the pixel noise times depth / focal length, the depth that of
    the frame's triangulated points from the camera (NaN and 0 elsewhere)."""
    seen = (scores > 0) & np.isfinite(xy).all(-1)  # (C, T, K)
    single = (seen.sum(0) == 1) & ~triangulated
    T, K = scores.shape[1:]
    origins, directions = np.full((T, K, 3), np.nan), np.full((T, K, 3), np.nan)
    score, noise_mm = np.zeros((T, K)), np.full((T, K), np.nan)
    for c, camera in enumerate(cameras):
        mine = single & seen[c]
        if not mine.any():
            continue
        with warnings.catch_warnings():  # frames with no triangulated point: the sequence's depth
            warnings.simplefilter("ignore", RuntimeWarning)
            depth = np.nanmedian(np.linalg.norm(points_mm - camera.center_mm, axis=-1), axis=1)  # (T,)
        depth = _or_median(depth, DEFAULT_DEPTH_MM)
        noise_mm[mine] = (noise_px[None, :] * depth[:, None] / camera.intrinsics[0])[mine]
        directions[mine] = camera.ray_directions(xy[c][mine][None])[0]
        origins[mine] = camera.center_mm
        score[mine] = scores[c][mine]
    return origins, directions, score, noise_mm
