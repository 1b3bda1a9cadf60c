"""Stage: per-camera views of a sequence's keypoints, as dataset rows (``schema.DEFAULT_COLUMNS``).

From world keypoints (T, 37, 3) and the sequence's cameras: camera-frame 3D, 2D pixels through the
Human3.6M lens, visibility (in front of the camera and inside the image), the person box (the
visible keypoints' extent grown by 15 % and clipped to the image) and the camera parameters.
Rows are ordered frame-major, camera-minor, so the views of one frame are adjacent.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.geometry.camera import Camera, in_view
from simspine_dataset.h36m import FPS_HZ
from simspine_dataset.schema import QUALITY_COLUMNS

if TYPE_CHECKING:
    from simspine_dataset.stages.capture import SequenceRecord
    from simspine_dataset.stages.simulate import SimulatedSequence

BOX_MARGIN = 0.15
VIEW_CHUNK_FRAMES = 2_000  # frames turned into rows at a time


def person_boxes(keypoints_px: np.ndarray, visible: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """(T, K, 2) pixels and (T, K) visibility -> (T, 4) boxes x, y, w, h (NaN where nothing is seen)."""
    pts = np.where(visible[..., None], keypoints_px, np.nan)
    with warnings.catch_warnings():  # a frame where the camera sees nobody: an all-NaN box, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(pts, axis=1), np.nanmax(pts, axis=1)
    grow = (hi - lo) * BOX_MARGIN / 2
    lo = np.clip(lo - grow, 0, None)
    hi = np.minimum(hi + grow, np.array(image_size, float))
    return np.concatenate([lo, hi - lo], axis=1)


def view_rows(
    subject: str,
    action: str,
    subaction: int,
    frames: np.ndarray,
    keypoints_world_mm: np.ndarray,
    kinematics: np.ndarray,
    ik_marker_rmse_mm: np.ndarray,
    cameras: Sequence[Camera],
    quality: Mapping[str, np.ndarray],
    label_flags: np.ndarray | None = None,
    frame_limits: Sequence[int] | None = None,
) -> dict[str, np.ndarray | list]:
    """Column arrays of the T x C rows of a sequence (frame-major). ``frames`` (T,) mocap indices;
    ``quality``: the label-quality columns (``schema.QUALITY_COLUMNS``), per frame; ``label_flags``
    (T,) the gates' bits (``biomech.gates``; None: 0). ``frame_limits`` (C,): a camera has rows for
    the frames below its limit only (a video shorter than the mocap)."""
    label_flags = None if label_flags is None else np.asarray(label_flags, np.int16)
    T, C = len(frames), len(cameras)
    cam_3d = np.stack([c.world_to_camera(keypoints_world_mm) for c in cameras], axis=1)  # (T, C, K, 3)
    px = np.stack([c.project(keypoints_world_mm) for c in cameras], axis=1)  # (T, C, K, 2)
    sizes = np.array([c.image_size for c in cameras])  # (C, 2)
    visible = in_view(cam_3d[..., 2], px, sizes[None, :, None])
    boxes = np.stack([person_boxes(px[:, c], visible[:, c], cameras[c].image_size) for c in range(C)], axis=1)

    def per_camera(values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(values[None], (T, *values.shape)).reshape(T * C, *values.shape[1:])

    def per_frame(values: np.ndarray) -> np.ndarray:
        return np.repeat(values, C, axis=0)

    rows = {
        "subject": [subject] * (T * C),
        "action": [action] * (T * C),
        "subaction": np.full(T * C, subaction, np.int8),
        "camera": [c.id for c in cameras] * T,
        "frame": per_frame(np.asarray(frames, np.int32)),
        "timestamp_s": per_frame((np.asarray(frames) / FPS_HZ).astype(np.float32)),
        "keypoints_3d_world_mm": per_frame(keypoints_world_mm.astype(np.float32)),
        "keypoints_3d_camera_mm": cam_3d.reshape(T * C, -1, 3).astype(np.float32),
        "keypoints_2d_px": px.reshape(T * C, -1, 2).astype(np.float32),
        "keypoints_visible": visible.reshape(T * C, -1),
        "bbox_xywh_px": boxes.reshape(T * C, 4).astype(np.float32),
        "camera_intrinsics": per_camera(np.stack([c.intrinsics for c in cameras]).astype(np.float32)),
        "camera_rotation": per_camera(np.stack([c.rotation for c in cameras]).astype(np.float32)),
        "camera_translation_mm": per_camera(np.stack([c.translation_mm for c in cameras]).astype(np.float32)),
        "image_size": per_camera(sizes.astype(np.int32)),
        "kinematics": per_frame(np.asarray(kinematics, np.float32)),
        "ik_marker_rmse_mm": per_frame(np.asarray(ik_marker_rmse_mm, np.float32)),
        **{name: per_frame(np.asarray(quality[name], np.float32)) for name in QUALITY_COLUMNS},
        "label_flags": per_frame(np.zeros(T, np.int16) if label_flags is None else label_flags),
    }
    if frame_limits is None:
        return rows
    keep = (np.asarray(frames)[:, None] < np.asarray(frame_limits)[None, :]).ravel()  # (T * C,)
    return {k: [v for v, kept in zip(col, keep, strict=True) if kept] if isinstance(col, list) else col[keep]
            for k, col in rows.items()}  # fmt: skip


def write_views(path: Path, record: SequenceRecord, simulated: SimulatedSequence) -> None:
    """The sequence's rows (``view_rows``) into a Parquet file, ``VIEW_CHUNK_FRAMES`` frames at a
    time (bounded memory on long sequences)."""
    from datasets import Dataset

    from simspine_dataset.geometry.transforms import axes_is_translation, coordinates_to_published
    from simspine_dataset.schema import default_features
    from simspine_dataset.stages.shards import write_parquet

    kinematics = coordinates_to_published(
        simulated.coordinates.astype(float), axes_is_translation(simulated.axes)
    )
    features = default_features(kinematics.shape[1])

    def tables() -> Iterator:
        for start in range(0, len(kinematics), VIEW_CHUNK_FRAMES):
            frames = np.arange(start, min(start + VIEW_CHUNK_FRAMES, len(kinematics)))
            rows = view_rows(
                record.subject,
                record.action,
                record.subaction,
                frames,
                simulated.keypoints_world_mm[frames].astype(float),
                kinematics[frames],
                simulated.ik_marker_rmse_mm[frames],
                record.cameras,
                {name: values[frames] for name, values in simulated.quality.items()},
                simulated.label_flags[frames],
                [record.frames_of(c) for c in record.camera_ids],
            )
            yield Dataset.from_dict(rows, features=features).data.table

    write_parquet(path, tables())
