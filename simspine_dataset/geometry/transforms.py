"""Every change of frame and unit in the project, in one module.

- Human3.6M world: mm, Z-up (the published dataset's world frame).
- OpenSim: m, Y-up, X anterior. ``opensim = world[..., [1, 2, 0]] / 1000``.
- Camera: mm, x right, y down, z forward; ``X_cam = R X_world + t``.
Pixels (the lens model) are in ``simspine_dataset.geometry.camera``.

Shapes: points (..., N, 3); rotations (..., 3, 3) and translations (..., 3) broadcast against the
points' leading dimensions.
"""

from __future__ import annotations

import numpy as np

from simspine_dataset.errors import ShapeError

MM_PER_M = 1000.0
LENGTH_UNITS_MM = {"m": MM_PER_M, "cm": 10.0, "mm": 1.0}  # millimetres per length unit
_WORLD_TO_OPENSIM_AXES = (1, 2, 0)  # OpenSim (x, y, z) = Human3.6M (y, z, x)
_OPENSIM_TO_WORLD_AXES = (2, 0, 1)


def _points(name: str, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim < 1 or array.shape[-1] != 3:
        raise ShapeError(f"{name} must have shape (..., 3), got {array.shape}")
    return array


def _rigid(rotation: np.ndarray, translation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rotation, translation = np.asarray(rotation, np.float64), np.asarray(translation, np.float64)
    if rotation.shape[-2:] != (3, 3):
        raise ShapeError(f"rotation must have shape (..., 3, 3), got {rotation.shape}")
    if translation.ndim < 1 or translation.shape[-1] != 3:
        raise ShapeError(f"translation must have shape (..., 3), got {translation.shape}")
    return rotation, translation


def nearest_rotation(matrix: np.ndarray) -> np.ndarray:
    """The rotation closest to each ``matrix`` (..., 3, 3) in the Frobenius norm (its polar
    factor, a reflection turned into a rotation): the Kabsch / Procrustes step. For a cross-
    covariance ``H = A^T B`` of centred point sets it is the ``R`` that best maps ``A @ R`` onto ``B``."""
    u, _, vt = np.linalg.svd(matrix)
    u = u.copy()
    u[..., :, -1] *= np.sign(np.linalg.det(u @ vt))[..., None]
    return u @ vt


def world_mm_to_opensim_m(points_world_mm: np.ndarray) -> np.ndarray:
    """Human3.6M world (mm, Z-up) -> OpenSim ground (m, Y-up). (..., 3) -> (..., 3)."""
    return _points("points_world_mm", points_world_mm)[..., _WORLD_TO_OPENSIM_AXES] / MM_PER_M


def opensim_m_to_world_mm(points_opensim_m: np.ndarray) -> np.ndarray:
    """OpenSim ground (m, Y-up) -> Human3.6M world (mm, Z-up). (..., 3) -> (..., 3)."""
    return _points("points_opensim_m", points_opensim_m)[..., _OPENSIM_TO_WORLD_AXES] * MM_PER_M


def world_to_opensim_direction(directions_world: np.ndarray) -> np.ndarray:
    """Directions (unit vectors, no unit) in the Human3.6M world axes -> OpenSim's. (..., 3)."""
    return _points("directions_world", directions_world)[..., _WORLD_TO_OPENSIM_AXES]


def world_to_camera(
    points_world_mm: np.ndarray, rotation: np.ndarray, translation_mm: np.ndarray
) -> np.ndarray:
    """``X_cam = R X_world + t``. Points (..., N, 3), R (..., 3, 3), t (..., 3) -> (..., N, 3)."""
    points = _points("points_world_mm", points_world_mm)
    rotation, translation = _rigid(rotation, translation_mm)
    if points.ndim < 2:
        raise ShapeError(f"points_world_mm must have shape (..., N, 3), got {points.shape}")
    return np.einsum("...ij,...nj->...ni", rotation, points) + translation[..., None, :]


def camera_to_world(
    points_camera_mm: np.ndarray, rotation: np.ndarray, translation_mm: np.ndarray
) -> np.ndarray:
    """``X_world = R^T (X_cam - t)``. Shapes as in ``world_to_camera``."""
    points = _points("points_camera_mm", points_camera_mm)
    rotation, translation = _rigid(rotation, translation_mm)
    if points.ndim < 2:
        raise ShapeError(f"points_camera_mm must have shape (..., N, 3), got {points.shape}")
    return np.einsum("...ji,...nj->...ni", rotation, points - translation[..., None, :])


def kinematic_axis(name: str, translational: bool) -> dict[str, str]:
    """One entry of ``meta/kinematic_axes.json``: a coordinate's name and published unit."""
    return {"name": name, "unit": "mm" if translational else "deg"}


def axes_is_translation(axes: list[dict]) -> np.ndarray:
    """(Q,) True where a ``kinematic_axes.json`` entry is a translation (published in mm)."""
    return np.array([axis["unit"] == "mm" for axis in axes], dtype=bool)


def coordinates_to_published(coordinates: np.ndarray, is_translation: np.ndarray) -> np.ndarray:
    """Model coordinates in OpenSim units (deg, m) -> the dataset's ``kinematics`` (deg, mm). (..., Q)."""
    return np.where(is_translation, np.asarray(coordinates, dtype=np.float64) * MM_PER_M, coordinates)


def coordinates_from_published(kinematics: np.ndarray, is_translation: np.ndarray) -> np.ndarray:
    """The dataset's ``kinematics`` (deg, mm) -> model coordinates in OpenSim units (deg, m). (..., Q)."""
    return np.where(is_translation, np.asarray(kinematics, dtype=np.float64) / MM_PER_M, kinematics)
