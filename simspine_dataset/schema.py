"""The published dataset's columns (DESIGN.md section 5): one table, from which the Hugging Face
``Features`` of each config and the dataset card's column table are made.

A row is one camera view of one mocap frame. Keypoint arrays are ``Array2D`` (materialise ~100x
faster than nested lists). ``kinematics`` has one value per model coordinate; its names and units
are in ``meta/kinematic_axes.json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from simspine_dataset.h36m import FPS_HZ
from simspine_dataset.skeleton import NUM_KEYPOINTS

K = NUM_KEYPOINTS


@dataclass(frozen=True)
class Column:
    name: str
    feature: str  # as written in the card
    meaning: str


DEFAULT_COLUMNS: tuple[Column, ...] = (
    Column("subject", "string", 'Human3.6M subject, e.g. "S1"'),
    Column("action", "string", "one of the 15 canonical actions"),
    Column("subaction", "int8", "1 or 2"),
    Column("camera", "string", 'camera id, e.g. "54138969"'),
    Column("frame", "int32", f"0-based mocap frame at {FPS_HZ:g} Hz"),
    Column("timestamp_s", "float32", f"frame / {FPS_HZ:g}"),
    Column("keypoints_3d_world_mm", f"Array2D(({K}, 3), float32)", "Human3.6M world frame (Z up), mm"),
    Column(
        "keypoints_3d_camera_mm",
        f"Array2D(({K}, 3), float32)",
        "camera frame (x right, y down, z forward), mm",
    ),
    Column("keypoints_2d_px", f"Array2D(({K}, 2), float32)", "distorted image pixels (Human3.6M lens)"),
    Column("keypoints_visible", f"List(bool, length={K})", "inside the image and in front of the camera"),
    Column("bbox_xywh_px", "List(float32, length=4)", "person box"),
    Column(
        "camera_intrinsics", "List(float32, length=9)", "fx, fy, cx, cy, k1, k2, k3, p1, p2 (Human3.6M model)"
    ),
    Column("camera_rotation", "Array2D((3, 3), float32)", "world -> camera"),
    Column("camera_translation_mm", "List(float32, length=3)", "X_cam = R X_world + t"),
    Column("image_size", "List(int32, length=2)", "width, height"),
    Column(
        "kinematics", "List(float32, length=Q)", "model coordinates, degrees / mm (meta/kinematic_axes.json)"
    ),
    Column("ik_marker_rmse_mm", "float32", "inverse-kinematics residual of that frame"),
    Column("ik_residual_mocap_mm", "float32", "residual RMS over the mocap joints (published pose)"),
    Column(
        "ik_residual_detections_mm", "float32", "residual RMS over the triangulated detections; NaN without"
    ),
    Column(
        "keypoints_uncertainty_mm",
        f"List(float32, length={K})",
        "standard deviation of each keypoint label (IK posterior; measured noise for mocap points)",
    ),
)
QUALITY_COLUMNS = ("ik_residual_mocap_mm", "ik_residual_detections_mm", "keypoints_uncertainty_mm")
FRAMES_COLUMNS: tuple[Column, ...] = (
    Column("image", "Image (JPEG)", "the camera frame, cropped around the person or full"),
    Column("crop_xywh_px", "List(float32, length=4)", "the crop's box in the full image"),
)


def default_features(n_kinematics: int):  # -> datasets.Features
    """Features of the ``default`` config for a model with ``n_kinematics`` coordinates."""
    from datasets import Array2D, Features, List, Value

    return Features({
        "subject": Value("string"),
        "action": Value("string"),
        "subaction": Value("int8"),
        "camera": Value("string"),
        "frame": Value("int32"),
        "timestamp_s": Value("float32"),
        "keypoints_3d_world_mm": Array2D((K, 3), "float32"),
        "keypoints_3d_camera_mm": Array2D((K, 3), "float32"),
        "keypoints_2d_px": Array2D((K, 2), "float32"),
        "keypoints_visible": List(Value("bool"), length=K),
        "bbox_xywh_px": List(Value("float32"), length=4),
        "camera_intrinsics": List(Value("float32"), length=9),
        "camera_rotation": Array2D((3, 3), "float32"),
        "camera_translation_mm": List(Value("float32"), length=3),
        "image_size": List(Value("int32"), length=2),
        "kinematics": List(Value("float32"), length=n_kinematics),
        "ik_marker_rmse_mm": Value("float32"),
        "ik_residual_mocap_mm": Value("float32"),
        "ik_residual_detections_mm": Value("float32"),
        "keypoints_uncertainty_mm": List(Value("float32"), length=K),
    })  # fmt: skip


def frames_features(n_kinematics: int):  # -> datasets.Features
    """Features of the ``frames`` config: the default columns plus the image and its crop box."""
    from datasets import Features, Image, List, Value

    return Features({
        **default_features(n_kinematics),
        "image": Image(),
        "crop_xywh_px": List(Value("float32"), length=4),
    })  # fmt: skip
