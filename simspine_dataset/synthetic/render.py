"""A shaded figure for the synthetic videos, drawn with OpenCV where the keypoints project.

Body parts are capsules between 3D points (Human3.6M joints and the 37 keypoints), projected
through the camera's Human3.6M lens model, painted far to near, each shaded as a cylinder lit from
above (concentric strokes, dark rim to light core). The background (a floor grid projected with
the same camera) is drawn once per camera.
"""

from __future__ import annotations

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.geometry.camera import Camera

# (from, to, radius mm, colour BGR). Points: ("h", i) Human3.6M joint i, ("k", name) a keypoint.
_PARTS: tuple[tuple[tuple[str, object], tuple[str, object], float, tuple[int, int, int]], ...] = (
    (("h", 1), ("h", 6), 95.0, (70, 60, 55)),  # pelvis
    (("h", 0), ("h", 13), 125.0, (150, 95, 45)),  # trunk
    (("h", 17), ("h", 25), 70.0, (150, 95, 45)),  # shoulders
    (("h", 13), ("k", "Neck_03"), 45.0, (120, 150, 200)),  # neck
    (("h", 1), ("h", 2), 75.0, (70, 60, 55)),
    (("h", 2), ("h", 3), 55.0, (70, 60, 55)),
    (("h", 6), ("h", 7), 75.0, (70, 60, 55)),
    (("h", 7), ("h", 8), 55.0, (70, 60, 55)),
    (("k", "RHeel"), ("k", "RBigToe"), 40.0, (40, 40, 40)),
    (("k", "LHeel"), ("k", "LBigToe"), 40.0, (40, 40, 40)),
    (("h", 25), ("h", 26), 48.0, (150, 95, 45)),
    (("h", 26), ("h", 27), 40.0, (120, 150, 200)),
    (("h", 17), ("h", 18), 48.0, (150, 95, 45)),
    (("h", 18), ("h", 19), 40.0, (120, 150, 200)),
    (("k", "Head"), ("k", "Nose"), 95.0, (120, 150, 200)),  # head
)


def floor_background(camera: Camera, grid_mm: float = 500.0, extent_mm: float = 4000.0) -> np.ndarray:
    """(H, W, 3) uint8: a grey gradient and the floor grid (z = 0) seen by this camera."""
    import cv2

    h, w = camera.height_px, camera.width_px
    shade = np.linspace(95, 60, h, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(shade, (h, w, 3)).astype(np.uint8).copy()
    ticks = np.arange(-extent_mm, extent_mm + 1, grid_mm)
    line = np.linspace(-extent_mm, extent_mm, 80)
    for tick in ticks:
        for points in (
            np.stack([line, np.full_like(line, tick), np.zeros_like(line)], 1),
            np.stack([np.full_like(line, tick), line, np.zeros_like(line)], 1),
        ):
            px = camera.project(points)
            ok = np.isfinite(px).all(1) & (np.abs(px) < 4 * max(h, w)).all(1)
            if ok.sum() > 1:
                cv2.polylines(
                    image,
                    [np.round(px[ok] * 4).astype(np.int32)],
                    False,
                    (120, 120, 110),
                    1,
                    cv2.LINE_AA,
                    2,
                )
    return image


def render_frame(
    background: np.ndarray,
    camera: Camera,
    joints_world_mm: np.ndarray,
    keypoints_world_mm: np.ndarray,
) -> np.ndarray:
    """One RGB frame: joints (32, 3) and keypoints (37, 3) in world mm over ``background``."""
    import cv2

    image = background.copy()
    points = {("h", i): p for i, p in enumerate(joints_world_mm)}
    points.update({("k", name): keypoints_world_mm[i] for i, name in enumerate(sk.NAMES)})
    ends = np.array([[points[a], points[b]] for a, b, _, _ in _PARTS])  # (P, 2, 3)
    cam = camera.world_to_camera(ends.reshape(-1, 3)).reshape(-1, 2, 3)
    px = camera.project(ends.reshape(-1, 3)).reshape(-1, 2, 2)
    focal = camera.intrinsics[0]
    for p in np.argsort(-cam[:, :, 2].mean(axis=1)):  # far first
        depth = cam[p, :, 2].mean()
        if depth <= 100 or not np.isfinite(px[p]).all():
            continue
        radius = _PARTS[p][2] * focal / depth
        colour = np.array(_PARTS[p][3], float)[::-1]  # BGR table -> RGB image
        a, b = np.round(px[p] * 4).astype(np.int32)
        for step, gain in ((1.0, 0.55), (0.75, 0.8), (0.45, 1.0), (0.18, 1.25)):
            thickness = max(1, int(2 * radius * step))
            lift = np.array([0, -int(4 * radius * (1 - step) * 0.35)])  # light from above
            cv2.line(
                image,
                tuple(a + lift),
                tuple(b + lift),
                tuple(np.clip(colour * gain, 0, 255).tolist()),
                thickness,
                cv2.LINE_AA,
                2,
            )
    return image
