"""The pseudo-marker stage's single-view rays (``pseudo_markers.single_view_rays``)."""

from __future__ import annotations

import numpy as np
from fixtures import random_joints, reference_cameras

CAMERAS = reference_cameras("S1")


def test_a_single_view_ray_passes_through_the_detected_point() -> None:
    """``pseudo_markers.single_view_rays``: from a camera's distorted pixel of a 3D point, the ray
    (camera centre, unit direction) passes through the point (<1e-6 mm)."""
    from simspine_dataset.stages.pseudo_markers import single_view_rays

    points = random_joints(4, seed=7)[:, :5]  # (T, K, 3) world mm
    C, (T, K) = len(CAMERAS), points.shape[:2]
    xy = np.stack([camera.project(points) for camera in CAMERAS])  # (C, T, K, 2)
    scores = np.zeros((C, T, K))
    scores[1] = 0.7  # one camera sees everything
    origins, directions, score, noise = single_view_rays(
        xy, scores, CAMERAS, np.zeros((T, K), bool), np.full(K, 3.0), np.full((T, K, 3), np.nan)
    )
    assert (score == 0.7).all() and np.isfinite(noise).all()
    offset = points - origins
    across = offset - directions * np.sum(offset * directions, axis=-1, keepdims=True)
    assert np.abs(np.linalg.norm(directions, axis=-1) - 1).max() < 1e-12
    assert np.linalg.norm(across, axis=-1).max() < 1e-6
