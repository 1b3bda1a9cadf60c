"""Write one sequence of a capture in the exact Human3.6M layout (CDFs and mp4 per camera).

Used by the synthetic capture generator and by test fixtures, so both produce files the reader
treats exactly as a real download. Paths come from the templates in ``simspine_dataset.h36m``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from simspine_dataset import h36m
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.io import cdf
from simspine_dataset.io.video import write_video

# camera, frame index -> RGB image (H, W, 3) uint8 of that camera's size
FrameRenderer = Callable[[Camera, int], np.ndarray]


def write_sequence(
    root: str | Path,
    subject: str,
    sequence: str,
    joints_world_mm: np.ndarray,
    cameras: Sequence[Camera],
    render: FrameRenderer | None = None,
    extra_video_frames: int | Sequence[int] = 3,
) -> None:
    """Write D3_Positions, D3_Positions_mono and D2_Positions (H36M distortion) and, with a
    ``render`` function, one mp4 per camera holding ``T + extra_video_frames`` frames (one number,
    or one per camera: the real videos run a few frames longer than the mocap).

    ``joints_world_mm`` is (T, 32, 3) in Human3.6M world mm.
    """
    root = Path(root)
    joints = np.asarray(joints_world_mm, dtype=np.float64)
    names = {"subject": subject, "sequence": sequence}
    cdf.write_pose(root / h36m.D3_POSITIONS.format(**names), joints)
    extras = (
        [extra_video_frames] * len(cameras) if isinstance(extra_video_frames, int) else extra_video_frames
    )
    for cam, extra in zip(cameras, extras, strict=True):
        paths = {"camera": cam.id, **names}
        cdf.write_pose(root / h36m.D3_POSITIONS_MONO.format(**paths), cam.world_to_camera(joints))
        cdf.write_pose(root / h36m.D2_POSITIONS.format(**paths), cam.project(joints))
        if render is not None:
            n_video = len(joints) + extra
            write_video(root / h36m.VIDEO.format(**paths), _frames(render, cam, n_video))


def _frames(render: FrameRenderer, camera: Camera, n_frames: int) -> Iterator[np.ndarray]:
    for i in range(n_frames):
        yield render(camera, i)
