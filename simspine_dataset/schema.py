"""The published dataset's columns: one table, from which the Hugging Face
``Features`` of each config and the dataset card's column table are made.

A row is one camera view of one mocap frame. Keypoint arrays are ``Array2D`` (materialise ~100x
faster than nested lists). ``kinematics`` has one value per model coordinate; its names and units
are in ``meta/kinematic_axes.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from simspine_dataset.h36m import FPS_HZ
from simspine_dataset.skeleton import NUM_KEYPOINTS

if TYPE_CHECKING:
    import datasets
    from datasets.features.features import FeatureType

K = NUM_KEYPOINTS


# build_report.json: the statuses of a sequence whose rows are in the dataset ("flagged": built, but
# a gate of ``biomech.gates`` failed; "failed" sequences have no rows)
BUILT_STATUSES = ("ok", "flagged")

Q = "Q"  # a column's length that is the model's coordinate count (``meta/kinematic_axes.json``)


@dataclass(frozen=True)
class Column:
    """One column: its element type, its shape per row (``()`` a scalar, ``(n,)`` a fixed-length
    list, ``(r, c)`` an ``Array2D``; ``Q`` the model's coordinate count) and its meaning. The
    Hugging Face feature and the card's feature text are both made from these."""

    name: str
    dtype: str  # a datasets Value dtype, or "image" (JPEG bytes)
    shape: tuple[int | str, ...]
    meaning: str

    def feature(self, n_kinematics: int) -> FeatureType:
        from datasets import Array2D, Image, List, Value

        shape = tuple(n_kinematics if n == Q else n for n in self.shape)
        if self.dtype == "image":
            return Image()
        if len(shape) == 2:
            return Array2D(shape, self.dtype)
        if not shape:
            return Value(self.dtype)
        return List(Value(self.dtype), length=shape[0] if shape[0] else -1)  # Q = 0: an empty list per row

    @property
    def card_feature(self) -> str:
        """The feature as the card's column table writes it."""
        if self.dtype == "image":
            return "Image (JPEG)"
        if len(self.shape) == 2:
            return f"Array2D({self.shape}, {self.dtype})".replace("'", "")
        return f"List({self.dtype}, length={self.shape[0]})" if self.shape else self.dtype


DEFAULT_COLUMNS: tuple[Column, ...] = (
    Column("subject", "string", (), 'Human3.6M subject, e.g. "S1"'),
    Column("action", "string", (), "one of the 15 canonical actions"),
    Column("subaction", "int8", (), "1 or 2"),
    Column("camera", "string", (), 'camera id, e.g. "54138969"'),
    Column("frame", "int32", (), f"0-based mocap frame at {FPS_HZ:g} Hz"),
    Column("timestamp_s", "float32", (), f"frame / {FPS_HZ:g}"),
    Column("keypoints_3d_world_mm", "float32", (K, 3), "Human3.6M world frame (Z up), mm"),
    Column("keypoints_3d_camera_mm", "float32", (K, 3), "camera frame (x right, y down, z forward), mm"),
    Column("keypoints_2d_px", "float32", (K, 2), "distorted image pixels (Human3.6M lens)"),
    Column("keypoints_visible", "bool", (K,), "inside the image and in front of the camera"),
    Column("bbox_xywh_px", "float32", (4,), "person box"),
    Column("camera_intrinsics", "float32", (9,), "fx, fy, cx, cy, k1, k2, k3, p1, p2 (Human3.6M model)"),
    Column("camera_rotation", "float32", (3, 3), "world -> camera"),
    Column("camera_translation_mm", "float32", (3,), "X_cam = R X_world + t"),
    Column("image_size", "int32", (2,), "width, height"),
    Column(
        "kinematics",
        "float32",
        (Q,),
        "model coordinates, degrees / mm (meta/kinematic_axes.json); empty for release labels without any",
    ),
    Column("ik_marker_rmse_mm", "float32", (), "inverse-kinematics residual of that frame"),
    Column("ik_residual_mocap_mm", "float32", (), "residual RMS over the mocap joints (published pose)"),
    Column(
        "ik_residual_detections_mm",
        "float32",
        (),
        "residual RMS over the triangulated detections; NaN without",
    ),
    Column(
        "keypoints_uncertainty_mm",
        "float32",
        (K,),
        "standard deviation of each keypoint label (IK posterior; measured noise for mocap points)",
    ),
    Column(
        "label_flags",
        "int16",
        (),
        "0: the label passed every gate; bit 1: its subject's scaling residual, bit 2: this frame's "
        "IK residual beyond what the measured marker noise explains (biomech.gates)",
    ),
)
QUALITY_COLUMNS = ("ik_residual_mocap_mm", "ik_residual_detections_mm", "keypoints_uncertainty_mm")
FRAMES_COLUMNS: tuple[Column, ...] = (
    Column("image", "image", (), "the camera frame, cropped around the person or full"),
    Column("crop_xywh_px", "float32", (4,), "the crop's box in the full image"),
)


def default_features(n_kinematics: int) -> datasets.Features:
    """Features of the ``default`` config for a model with ``n_kinematics`` coordinates."""
    from datasets import Features

    return Features({c.name: c.feature(n_kinematics) for c in DEFAULT_COLUMNS})


def frames_features(n_kinematics: int) -> datasets.Features:
    """Features of the ``frames`` config: the default columns plus the image and its crop box."""
    from datasets import Features

    return Features({c.name: c.feature(n_kinematics) for c in (*DEFAULT_COLUMNS, *FRAMES_COLUMNS)})
