"""Cameras of the Human3.6M kind: world <-> camera frames, the lens model, projection matrices.

Frame changes live in ``simspine_dataset.geometry.transforms``.

Conventions (Human3.6M): world frame Z-up in mm; camera frame x right, y down, z forward, mm;
``X_cam = R @ X_world + t`` with ``t = -R @ C``. Pixels are those of the distorted image.

The lens model is Human3.6M's own, not OpenCV's. With normalised coordinates ``x = X/Z, y = Y/Z``
and ``r2 = x^2 + y^2``::

    radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3
    tan    = p1 x + p2 y
    x_d    = x (radial + tan) + p1 r2
    y_d    = y (radial + tan) + p2 r2
    u = fx x_d + cx,   v = fy y_d + cy

The radial part equals OpenCV's; the tangential part has no OpenCV equivalent (it differs by up
to ~0.8 px on the real cameras), so ground-truth 2D must use this model.

Shapes use fixed letters: N points, C cameras, and ``...`` any leading batch dimensions. Camera
arrays broadcast against the points' leading dimensions: ``intrinsics`` (..., 9) with points
(..., N, 3), e.g. (9,) with (T, K, 3), or (C, 9) with (C, N, 3). An intrinsics vector is
``fx, fy, cx, cy, k1, k2, k3, p1, p2`` (the dataset's ``camera_intrinsics`` column).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simspine_dataset.errors import ShapeError
from simspine_dataset.geometry.transforms import MM_PER_M, nearest_rotation, world_to_camera


def _check_last(name: str, array: np.ndarray, size: int) -> None:
    if array.ndim < 1 or array.shape[-1] != size:
        raise ShapeError(f"{name} must have shape (..., {size}), got {array.shape}")


def _check_points(name: str, array: np.ndarray, dim: int) -> None:
    if array.ndim < 2 or array.shape[-1] != dim:
        raise ShapeError(f"{name} must have shape (..., N, {dim}), got {array.shape}")


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera: intrinsics, lens distortion, extrinsics, image size.

    ``rotation`` (3, 3) maps world to camera; ``translation_mm`` (3,) is ``t = -R @ C``.
    """

    id: str
    intrinsics: np.ndarray  # (9,) fx, fy, cx, cy, k1, k2, k3, p1, p2
    rotation: np.ndarray  # (3, 3)
    translation_mm: np.ndarray  # (3,)
    width_px: int
    height_px: int

    def __post_init__(self) -> None:
        for name, shape in (("intrinsics", (9,)), ("rotation", (3, 3)), ("translation_mm", (3,))):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != shape:
                raise ShapeError(f"camera {self.id}: {name} must have shape {shape}, got {value.shape}")
            if not np.all(np.isfinite(value)):
                raise ValueError(f"camera {self.id}: {name} is not finite")
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        if not np.allclose(self.rotation @ self.rotation.T, np.eye(3), atol=1e-6):
            raise ValueError(f"camera {self.id}: rotation is not orthonormal")
        # Published rotations are rounded (~1e-9); use the nearest exact rotation so that
        # R^T is R^-1 everywhere downstream.
        rotation = nearest_rotation(self.rotation)
        rotation.setflags(write=False)
        object.__setattr__(self, "rotation", rotation)
        if self.width_px <= 0 or self.height_px <= 0:
            raise ValueError(f"camera {self.id}: image size must be positive")

    @classmethod
    def from_center(
        cls,
        id: str,
        intrinsics: Sequence[float] | np.ndarray,
        rotation: Sequence[Sequence[float]] | np.ndarray,
        center_mm: Sequence[float] | np.ndarray,
        width_px: int,
        height_px: int,
    ) -> Camera:
        """Build from the camera centre C in world mm (t = -R @ C)."""
        rotation = nearest_rotation(np.asarray(rotation, dtype=np.float64))
        translation = -rotation @ np.asarray(center_mm, dtype=np.float64)
        return cls(id, np.asarray(intrinsics, np.float64), rotation, translation, width_px, height_px)

    @property
    def center_mm(self) -> np.ndarray:
        """Camera centre in world mm, (3,)."""
        return -self.rotation.T @ self.translation_mm

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.width_px, self.height_px

    def parameters(self) -> list:
        """Everything that defines the camera, as plain numbers (a calibration's identity)."""
        return [self.id, *self.intrinsics.tolist(), *self.rotation.ravel().tolist(),
                *self.translation_mm.tolist(), self.width_px, self.height_px]  # fmt: skip

    def world_to_camera(self, points_world_mm: np.ndarray) -> np.ndarray:
        """(..., N, 3) world mm -> (..., N, 3) camera mm."""
        return world_to_camera(points_world_mm, self.rotation, self.translation_mm)

    def project(self, points_world_mm: np.ndarray) -> np.ndarray:
        """(..., N, 3) world mm -> (..., N, 2) distorted pixels."""
        return project(self.world_to_camera(points_world_mm), self.intrinsics)

    def ray_directions(self, points_px: np.ndarray) -> np.ndarray:
        """The world unit directions of the rays through distorted pixels (..., N, 2) -> (..., N, 3),
        from the camera centre (``center_mm``): the inverse of ``project`` up to depth."""
        normalized = undistort(points_px, self.intrinsics)
        rays = np.concatenate([normalized, np.ones((*normalized.shape[:-1], 1))], axis=-1) @ self.rotation
        return rays / np.linalg.norm(rays, axis=-1, keepdims=True)

    def projection_matrix(self) -> np.ndarray:
        """K [R | t], (3, 4), for undistorted pixels."""
        return projection_matrix(self.rotation, self.translation_mm, self.intrinsics)


def in_view(depth_mm: np.ndarray, points_px: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Whether a camera sees each point (the dataset's ``keypoints_visible`` rule): in front of it
    (``depth_mm`` (...,) > 0), projected finite, and inside the image, ``[0, w) x [0, h)``.
    ``points_px`` (..., 2); ``image_size`` (w, h), broadcast against ``points_px``."""
    inside = (points_px >= 0) & (points_px < np.asarray(image_size))
    return (depth_mm > 0) & np.isfinite(points_px).all(-1) & inside.all(-1)


def stack_cameras(cameras: Sequence[Camera]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """C cameras -> intrinsics (C, 9), rotations (C, 3, 3), translations_mm (C, 3)."""
    return (
        np.stack([c.intrinsics for c in cameras]),
        np.stack([c.rotation for c in cameras]),
        np.stack([c.translation_mm for c in cameras]),
    )


def distort(normalized: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Apply the Human3.6M lens model to normalised coordinates. (..., N, 2) -> (..., N, 2)."""
    xy = np.asarray(normalized, dtype=np.float64)
    params = np.asarray(intrinsics, dtype=np.float64)
    _check_points("normalized", xy, 2)
    _check_last("intrinsics", params, 9)
    params = params[..., None, :]  # broadcast over N
    k, p = params[..., 4:7], params[..., 7:9]
    r2 = np.sum(xy * xy, axis=-1, keepdims=True)
    radial = 1.0 + k[..., 0:1] * r2 + k[..., 1:2] * r2**2 + k[..., 2:3] * r2**3
    tangential = np.sum(p * xy, axis=-1, keepdims=True)
    return xy * (radial + tangential) + p * r2


def project(points_camera_mm: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Camera-frame points to distorted pixels. (..., N, 3), (..., 9) -> (..., N, 2).

    Points at or behind the camera plane (z <= 0) give NaN.
    """
    points = np.asarray(points_camera_mm, dtype=np.float64)
    _check_points("points_camera_mm", points, 3)
    depth = points[..., 2:3]
    with np.errstate(divide="ignore", invalid="ignore"):
        normalized = np.where(depth > 0, points[..., :2] / depth, np.nan)
    return normalized_to_pixels(distort(normalized, intrinsics), intrinsics)


def normalized_to_pixels(normalized: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Apply focal lengths and principal point (no distortion). (..., N, 2) -> (..., N, 2)."""
    params = np.asarray(intrinsics, dtype=np.float64)[..., None, :]
    return np.asarray(normalized, dtype=np.float64) * params[..., 0:2] + params[..., 2:4]


def pixels_to_normalized(points_px: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Remove focal lengths and principal point (no undistortion). (..., N, 2) -> (..., N, 2)."""
    params = np.asarray(intrinsics, dtype=np.float64)[..., None, :]
    return (np.asarray(points_px, dtype=np.float64) - params[..., 2:4]) / params[..., 0:2]


def undistort(
    points_px: np.ndarray,
    intrinsics: np.ndarray,
    *,
    max_iterations: int = 20,
    tolerance: float = 1e-12,
) -> np.ndarray:
    """Invert the lens model: distorted pixels -> normalised coordinates (x/z, y/z).

    Newton's method on ``distort(xy) = observed`` with the analytic Jacobian, all points at once,
    starting from the distorted point; it converges in 3-4 steps on the Human3.6M cameras and
    stops when every step is below ``tolerance`` (normalised units, ~1e-9 px) or after
    ``max_iterations``. (..., N, 2), (..., 9) -> (..., N, 2); NaN stays NaN.
    """
    observed_px = np.asarray(points_px, dtype=np.float64)
    params = np.asarray(intrinsics, dtype=np.float64)
    _check_points("points_px", observed_px, 2)
    _check_last("intrinsics", params, 9)
    target = pixels_to_normalized(observed_px, params)
    k1, k2, k3, p1, p2 = (params[..., None, i] for i in range(4, 9))
    tx, ty = target[..., 0], target[..., 1]
    x, y = tx.copy(), ty.copy()
    for _ in range(max_iterations):
        r2 = x * x + y * y
        d_radial = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)  # d radial / d r2
        scale = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3)) + p1 * x + p2 * y  # radial + tan
        fx, fy = x * scale + p1 * r2 - tx, y * scale + p2 * r2 - ty
        # Jacobian [[a, b], [c, d]] of (x_d, y_d) with respect to (x, y), solved in closed form
        a = scale + x * (2.0 * x * d_radial + p1) + 2.0 * p1 * x
        b = x * (2.0 * y * d_radial + p2) + 2.0 * p1 * y
        c = y * (2.0 * x * d_radial + p1) + 2.0 * p2 * x
        d = scale + y * (2.0 * y * d_radial + p2) + 2.0 * p2 * y
        det = a * d - b * c
        step_x, step_y = (d * fx - b * fy) / det, (a * fy - c * fx) / det
        x -= step_x
        y -= step_y
        if not (np.any(np.abs(step_x) > tolerance) or np.any(np.abs(step_y) > tolerance)):
            break  # NaN compares False: missing points do not keep the loop going
    return np.stack([x, y], axis=-1)


def undistort_pixels(points_px: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Distorted pixels -> pixels of the ideal pinhole camera with the same K. (..., N, 2)."""
    return normalized_to_pixels(undistort(points_px, intrinsics), intrinsics)


def intrinsic_matrix(intrinsics: np.ndarray) -> np.ndarray:
    """K (..., 3, 3) from intrinsics vectors (..., 9)."""
    params = np.asarray(intrinsics, dtype=np.float64)
    _check_last("intrinsics", params, 9)
    K = np.zeros((*params.shape[:-1], 3, 3))
    K[..., 0, 0], K[..., 1, 1] = params[..., 0], params[..., 1]
    K[..., 0, 2], K[..., 1, 2], K[..., 2, 2] = params[..., 2], params[..., 3], 1.0
    return K


def projection_matrix(
    rotation: np.ndarray, translation_mm: np.ndarray, intrinsics: np.ndarray | None = None
) -> np.ndarray:
    """P = K [R | t], (..., 3, 4). Without intrinsics, [R | t] (for normalised coordinates).

    P maps homogeneous world mm to homogeneous undistorted pixels (or normalised coordinates);
    pair it with ``undistort_pixels`` (or ``undistort``) for distorted observations.
    """
    rotation, translation = np.asarray(rotation, np.float64), np.asarray(translation_mm, np.float64)
    if rotation.shape[-2:] != (3, 3):
        raise ShapeError(f"rotation must have shape (..., 3, 3), got {rotation.shape}")
    _check_last("translation_mm", translation, 3)
    extrinsic = np.concatenate([rotation, translation[..., None]], axis=-1)
    return extrinsic if intrinsics is None else intrinsic_matrix(intrinsics) @ extrinsic


def opencv_distortion(intrinsics: np.ndarray, image_size: tuple[int, int], grid: int = 41) -> np.ndarray:
    """OpenCV's 4-term lens (k1, k2, p1, p2) closest to a Human3.6M lens over the image, (4,).

    The Human3.6M model has k3 and its own tangential form (module docstring), which OpenCV's
    4-term model (Pose2Sim's ``distortions``) lacks. Both models are linear in their coefficients
    for a given undistorted point, so the closest OpenCV lens is a linear least-squares fit in
    pixels over a ``grid`` x ``grid`` lattice of the image: k1, k2 absorb k3; OpenCV's p1 (the y
    term) and p2 (the x term) absorb Human3.6M's p2 and p1. On the four Human3.6M cameras it
    leaves at most 0.45 px over the image (0.05-0.09 px median; copying k1, k2, p1, p2 as they are
    leaves up to 4.1 px), measured against OpenCV's ``projectPoints`` in
    ``tests/geometry/test_camera.py``.
    """
    params = np.asarray(intrinsics, dtype=np.float64)
    _check_last("intrinsics", params, 9)
    width, height = image_size
    u, v = np.meshgrid(np.linspace(0, width - 1, grid), np.linspace(0, height - 1, grid))
    pixels = np.stack([u.ravel(), v.ravel()], axis=-1)
    x, y = undistort(pixels, params).T
    target = pixels_to_normalized(pixels, params)
    r2 = x * x + y * y
    design_x = np.stack([x * r2, x * r2**2, 2 * x * y, r2 + 2 * x * x], axis=-1) * params[0]
    design_y = np.stack([y * r2, y * r2**2, r2 + 2 * y * y, 2 * x * y], axis=-1) * params[1]
    rhs = np.concatenate([(target[:, 0] - x) * params[0], (target[:, 1] - y) * params[1]])
    coefficients, *_ = np.linalg.lstsq(np.concatenate([design_x, design_y]), rhs, rcond=None)
    return coefficients


@dataclass(frozen=True)
class OpenCVCamera:
    """A camera in OpenCV's (and Pose2Sim's) terms: ``x = K distort(R X + t)``, metres."""

    name: str
    size_px: tuple[int, int]
    matrix: np.ndarray  # (3, 3) K
    distortions: np.ndarray  # (4,) k1, k2, p1, p2
    rotation_rodrigues: np.ndarray  # (3,)
    translation_m: np.ndarray  # (3,)


def to_opencv(camera: Camera) -> OpenCVCamera:
    """A Human3.6M camera as OpenCV's 4-term model (``opencv_distortion`` for the lens), named by
    its bare id: the official preprocessing copies the name into image names (``...1.54138969/``)."""
    import cv2

    rodrigues, _ = cv2.Rodrigues(camera.rotation)
    return OpenCVCamera(
        str(camera.id),
        camera.image_size,
        intrinsic_matrix(camera.intrinsics),
        opencv_distortion(camera.intrinsics, camera.image_size),
        rodrigues.ravel(),
        camera.translation_mm / MM_PER_M,
    )
