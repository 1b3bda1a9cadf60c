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
    intrinsics = columns["camera_intrinsics"].astype(np.float64)
    return LiftingArrays(
        inputs=pixels_to_normalized(px[:, list(keypoints)], intrinsics).astype(np.float32),
        targets=root_relative(columns["keypoints_3d_camera_mm"].astype(np.float64), keypoints).astype(
            np.float32
        ),
        keypoints=keypoints,
        actions=columns["action"].astype(str),
        subjects=columns["subject"].astype(str),
        cameras=columns["camera"].astype(str),
    )
