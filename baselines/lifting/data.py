"""The lifting task's arrays from the dataset (``datasets.load_dataset``, default config).

Input: each row's 2D keypoints in normalised camera coordinates, x = (u - cx) / fx and
y = (v - cy) / fy with the row's own intrinsics (lens distortion left in: it is part of what the
network sees in a real image); missing keypoints (not visible, or not detected) are set to the
training mean after standardisation, i.e. 0. This removes each camera's focal length and
principal point, so one network serves all four cameras.
Target: 3D keypoints in that camera's frame (mm), relative to the root (Hip, index 0). The root is
always 0 and is not predicted.
Keypoint sets (from the skeleton table): ``spine`` the 15 spine-centric keypoints (the reference
order of ``skeleton.SPINE_SUBSET``), ``full`` all 37.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from baselines.data import input_2d, input_columns, load_split
from simspine_dataset import skeleton as sk
from simspine_dataset.geometry.camera import pixels_to_normalized

KEYPOINT_SETS: dict[str, tuple[int, ...]] = {
    "spine": sk.SPINE_SUBSET,
    "full": tuple(range(sk.NUM_KEYPOINTS)),
}
ROOT = sk.INDEX["Hip"]
COLUMNS = ("subject", "action", "camera", "frame", "keypoints_3d_camera_mm", "camera_intrinsics")
# What streamed training reads (``train --stream``: ground-truth 2D only).
STREAM_COLUMNS = ("keypoints_2d_px", "keypoints_visible", "camera_intrinsics", "keypoints_3d_camera_mm")


@dataclass(frozen=True)
class LiftingArrays:
    """One split: ``inputs`` (N, K, 2) normalised camera coordinates (NaN where missing),
    ``targets`` (N, K, 3) root-relative camera-frame mm, ``keypoints`` their indices into the 37,
    and per-row ``actions``, ``subjects``, ``cameras``."""

    inputs: np.ndarray
    targets: np.ndarray
    keypoints: tuple[int, ...]
    actions: np.ndarray
    subjects: np.ndarray
    cameras: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)


def root_relative(keypoints_mm: np.ndarray, keypoints: tuple[int, ...]) -> np.ndarray:
    """(N, 37, 3) -> the chosen keypoints (N, K, 3) relative to the root."""
    return keypoints_mm[:, list(keypoints)] - keypoints_mm[:, ROOT : ROOT + 1]


def lifting_pair(
    px: np.ndarray, intrinsics: np.ndarray, camera_mm: np.ndarray, keypoints: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows' 2D pixels (N, 37, 2, NaN where missing), intrinsics (N, 9) and camera-frame keypoints
    (N, 37, 3) -> the network's inputs (N, K, 2) and targets (N, K, 3), float32."""
    inputs = pixels_to_normalized(
        np.asarray(px, np.float64)[:, list(keypoints)], np.asarray(intrinsics, np.float64)
    )
    targets = root_relative(np.asarray(camera_mm, np.float64), keypoints)
    return inputs.astype(np.float32), targets.astype(np.float32)


def batch_pair(batch: Mapping, keypoints: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """One ``simspine_dataset.loader.BatchLoader`` batch of ``STREAM_COLUMNS`` -> (inputs, targets),
    with the ground-truth 2D (visible keypoints only), as ``load_arrays(..., "gt")`` makes them."""
    visible = np.asarray(batch["keypoints_visible"], bool)
    px = np.where(visible[..., None], np.asarray(batch["keypoints_2d_px"], np.float64), np.nan)
    return lifting_pair(px, batch["camera_intrinsics"], batch["keypoints_3d_camera_mm"], keypoints)


def load_arrays(
    dataset: str, split: str, keypoint_set: str, mode: str = "gt", seed: int = 0
) -> LiftingArrays:
    """Load a split and build the lifting arrays. ``mode``: 2D input as in ``baselines.data.input_2d``
    (gt, noisy, or a predictions .npz)."""
    if keypoint_set not in KEYPOINT_SETS:
        raise ValueError(f"keypoint set must be one of {sorted(KEYPOINT_SETS)}, got {keypoint_set!r}")
    keypoints = KEYPOINT_SETS[keypoint_set]
    columns = load_split(dataset, split, sorted({*COLUMNS, *input_columns(mode)}))
    px, _ = input_2d(mode, columns, seed)
    inputs, targets = lifting_pair(
        px, columns["camera_intrinsics"], columns["keypoints_3d_camera_mm"], keypoints
    )
    return LiftingArrays(
        inputs=inputs,
        targets=targets,
        keypoints=keypoints,
        actions=columns["action"].astype(str),
        subjects=columns["subject"].astype(str),
        cameras=columns["camera"].astype(str),
    )
