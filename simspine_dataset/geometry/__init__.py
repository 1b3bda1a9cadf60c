"""Geometry on numpy and scipy: frame and unit changes (``transforms``), the Human3.6M camera model
(``camera``), batched triangulation (``triangulation``) and filters along time (``filters``).
Nothing here imports opensim, torch or datasets."""

from simspine_dataset.geometry.camera import (
    Camera,
    distort,
    intrinsic_matrix,
    normalized_to_pixels,
    pixels_to_normalized,
    project,
    projection_matrix,
    stack_cameras,
    undistort,
    undistort_pixels,
)
from simspine_dataset.geometry.transforms import (
    camera_to_world,
    opensim_m_to_world_mm,
    world_mm_to_opensim_m,
    world_to_camera,
)

__all__ = [
    "Camera",
    "camera_to_world",
    "distort",
    "intrinsic_matrix",
    "normalized_to_pixels",
    "opensim_m_to_world_mm",
    "pixels_to_normalized",
    "project",
    "projection_matrix",
    "stack_cameras",
    "undistort",
    "undistort_pixels",
    "world_mm_to_opensim_m",
    "world_to_camera",
]
