"""The Human3.6M camera model against independent formulas, OpenCV and round trips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from fixtures import random_joints, reference_cameras

from simspine_dataset.errors import ShapeError
from simspine_dataset.geometry.camera import (
    Camera,
    opencv_distortion,
    project,
    projection_matrix,
    stack_cameras,
    undistort,
    undistort_pixels,
)
from simspine_dataset.geometry.transforms import world_to_camera

CAMERAS = reference_cameras("S1")


def transcribed_projection(point_cam: np.ndarray, intr: np.ndarray) -> tuple[float, float]:
    """The Human3.6M formula written out for one point, term by term (as in h36m_cameras.json)."""
    fx, fy, cx, cy, k1, k2, k3, p1, p2 = (float(v) for v in intr)
    x, y = point_cam[0] / point_cam[2], point_cam[1] / point_cam[2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
    tan = p1 * x + p2 * y
    return fx * (x * (radial + tan) + p1 * r2) + cx, fy * (y * (radial + tan) + p2 * r2) + cy


def wide_points(n: int = 2000, seed: int = 1) -> np.ndarray:
    """World points spread over the whole capture volume (mm)."""
    rng = np.random.default_rng(seed)
    return rng.uniform([-1500, -1500, 0], [1500, 1500, 2000], (n, 3))


@pytest.mark.parametrize("camera", CAMERAS, ids=lambda c: c.id)
def test_projection_equals_transcribed_formula(camera: Camera) -> None:
    points_cam = camera.world_to_camera(wide_points(300))
    ours = project(points_cam, camera.intrinsics)
    expected = np.array([transcribed_projection(p, camera.intrinsics) for p in points_cam])
    np.testing.assert_allclose(ours, expected, atol=1e-9)


@pytest.mark.parametrize("camera", CAMERAS, ids=lambda c: c.id)
def test_radial_part_equals_opencv(camera: Camera) -> None:
    """With p1 = p2 = 0 the Human3.6M model is OpenCV's (k1, k2, 0, 0, k3)."""
    intr = camera.intrinsics.copy()
    intr[7:] = 0.0
    points = wide_points()
    ours = project(camera.world_to_camera(points), intr)
    rvec, _ = cv2.Rodrigues(camera.rotation)
    dist = np.array([intr[4], intr[5], 0.0, 0.0, intr[6]])
    K = np.array([[intr[0], 0, intr[2]], [0, intr[1], intr[3]], [0, 0, 1]])
    theirs, _ = cv2.projectPoints(points, rvec, camera.translation_mm, K, dist)
    np.testing.assert_allclose(ours, theirs[:, 0], atol=1e-4)  # R -> Rodrigues -> R costs ~3e-5 px


def test_tangential_part_is_not_opencv() -> None:
    """OpenCV's tangential terms differ from Human3.6M's: the reason we do not use cv2."""
    camera = CAMERAS[0]
    points = wide_points()
    intr = camera.intrinsics
    rvec, _ = cv2.Rodrigues(camera.rotation)
    K = np.array([[intr[0], 0, intr[2]], [0, intr[1], intr[3]], [0, 0, 1]])
    dist = np.array([intr[4], intr[5], intr[7], intr[8], intr[6]])
    theirs, _ = cv2.projectPoints(points, rvec, camera.translation_mm, K, dist)
    gap = np.linalg.norm(camera.project(points) - theirs[:, 0], axis=-1)
    assert 0.05 < gap.max() < 5.0


@pytest.mark.parametrize("camera", CAMERAS, ids=lambda c: c.id)
def test_undistort_inverts_projection(camera: Camera) -> None:
    points_cam = camera.world_to_camera(wide_points())
    pixels = project(points_cam, camera.intrinsics)
    normalized = undistort(pixels, camera.intrinsics)
    error_px = np.abs(normalized - points_cam[:, :2] / points_cam[:, 2:]) * camera.intrinsics[:2]
    assert error_px.max() < 1e-6


def test_projection_matrix_maps_to_undistorted_pixels() -> None:
    camera = CAMERAS[2]
    points = wide_points(500)
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ camera.projection_matrix().T
    pinhole = homogeneous[:, :2] / homogeneous[:, 2:]
    np.testing.assert_allclose(
        undistort_pixels(camera.project(points), camera.intrinsics), pinhole, atol=1e-6
    )


def test_batched_cameras_broadcast() -> None:
    """(C, 9) intrinsics with (C, N, 3) points equals projecting camera by camera."""
    intrinsics, rotations, translations = stack_cameras(CAMERAS)
    points = wide_points(50)
    batched = project(world_to_camera(points[None], rotations, translations), intrinsics)
    assert batched.shape == (4, 50, 2)
    for c, camera in enumerate(CAMERAS):
        np.testing.assert_allclose(batched[c], camera.project(points), atol=1e-9)
    sequence = random_joints(7)  # (T, 32, 3) with one camera's (9,) intrinsics
    assert CAMERAS[0].project(sequence).shape == (7, 32, 2)
    assert projection_matrix(rotations, translations, intrinsics).shape == (4, 3, 4)


def test_points_behind_the_camera_are_nan() -> None:
    out = project(np.array([[0.0, 0.0, -100.0], [10.0, 5.0, 1000.0]]), CAMERAS[0].intrinsics)
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


def test_nan_survives_undistortion() -> None:
    out = undistort(np.array([[np.nan, np.nan], [500.0, 500.0]]), CAMERAS[0].intrinsics)
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


def test_wrong_shapes_raise() -> None:
    with pytest.raises(ShapeError, match=r"\(\.\.\., N, 3\)"):
        project(np.zeros((5, 2)), CAMERAS[0].intrinsics)
    with pytest.raises(ShapeError, match="9"):
        project(np.ones((5, 3)), np.ones(8))
    with pytest.raises(ShapeError, match="rotation"):
        Camera("x", np.ones(9), np.eye(2), np.zeros(3), 10, 10)
    with pytest.raises(ValueError, match="orthonormal"):
        Camera("x", np.ones(9), 2 * np.eye(3), np.zeros(3), 10, 10)


@pytest.mark.parametrize("camera", CAMERAS, ids=lambda c: c.id)
def test_the_opencv_lens_fit_stays_within_half_a_pixel_of_the_human36m_lens(camera: Camera) -> None:
    """The Pose2Sim export's lens (OpenCV's 4 terms) against the Human3.6M model, over the whole
    image, measured with OpenCV's own projectPoints; copying the terms as they are is far worse."""
    from simspine_dataset.geometry.camera import intrinsic_matrix

    width, height = camera.image_size
    u, v = np.meshgrid(np.linspace(0, width - 1, 50), np.linspace(0, height - 1, 50))
    normalized = undistort(np.stack([u.ravel(), v.ravel()], axis=-1), camera.intrinsics)
    points = np.concatenate([normalized, np.ones((len(normalized), 1))], axis=-1) * 4000.0
    ours = project(points, camera.intrinsics)
    K = intrinsic_matrix(camera.intrinsics)

    def opencv(distortion: np.ndarray) -> np.ndarray:
        pixels, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), K, distortion)
        return np.linalg.norm(pixels[:, 0] - ours, axis=-1)

    fitted = opencv(opencv_distortion(camera.intrinsics, camera.image_size))
    copied = opencv(camera.intrinsics[[4, 5, 7, 8]])
    assert fitted.max() < 0.5 and np.median(fitted) < 0.1
    assert fitted.max() < copied.max() / 2


def test_the_pose2sim_calibration_round_trips_and_projects_like_opencv(tmp_path) -> None:
    from simspine_dataset.geometry.camera import to_opencv
    from simspine_dataset.io.pose2sim_calib import read_calibration, write_calibration

    written = [to_opencv(c) for c in CAMERAS]
    read = read_calibration(write_calibration(tmp_path / "Calib_S1.toml", written))
    assert [c.name for c in read] == [c.id for c in CAMERAS]  # bare ids, as image names take them
    assert f"[cam_{CAMERAS[0].id}]" in (tmp_path / "Calib_S1.toml").read_text()
    points_m = random_joints(3, seed=4).reshape(-1, 3) / 1000.0
    for camera, theirs in zip(CAMERAS, read, strict=True):
        for field in ("matrix", "distortions", "rotation_rodrigues", "translation_m"):
            np.testing.assert_array_equal(
                getattr(theirs, field), getattr(written[CAMERAS.index(camera)], field)
            )
        pixels, _ = cv2.projectPoints(
            points_m, theirs.rotation_rodrigues, theirs.translation_m, theirs.matrix, theirs.distortions
        )
        assert np.abs(pixels[:, 0] - camera.project(points_m * 1000.0)).max() < 0.5


@pytest.mark.parametrize("camera", CAMERAS, ids=lambda c: c.id)
def test_ray_directions_invert_the_projection(camera: Camera) -> None:
    points = random_joints(3, seed=9)[0]  # (32, 3) world mm
    directions = camera.ray_directions(camera.project(points))
    offset = points - camera.center_mm
    across = offset - directions * np.sum(offset * directions, axis=-1, keepdims=True)
    assert np.linalg.norm(across, axis=-1).max() < 1e-6 and (np.sum(offset * directions, axis=-1) > 0).all()
