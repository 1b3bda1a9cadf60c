"""Frame and unit changes: round trips and the axis convention."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import reference_cameras

from simspine_dataset.geometry.transforms import (
    camera_to_world,
    opensim_m_to_world_mm,
    world_mm_to_opensim_m,
    world_to_camera,
)


def test_world_opensim_axes_and_units() -> None:
    up_mm, forward_mm = np.array([0.0, 0.0, 1000.0]), np.array([1000.0, 0.0, 0.0])
    np.testing.assert_allclose(world_mm_to_opensim_m(up_mm), [0.0, 1.0, 0.0])  # Z-up -> Y-up
    np.testing.assert_allclose(world_mm_to_opensim_m(forward_mm), [0.0, 0.0, 1.0])
    # a proper rotation (no mirror): the axis permutation has determinant +1
    basis = world_mm_to_opensim_m(np.eye(3) * 1000.0)
    assert np.isclose(np.linalg.det(basis), 1.0)


def test_world_opensim_round_trip() -> None:
    points = np.random.default_rng(0).normal(0, 1000, (4, 37, 3))
    np.testing.assert_allclose(opensim_m_to_world_mm(world_mm_to_opensim_m(points)), points, atol=1e-9)


def test_world_camera_round_trip_and_centre() -> None:
    camera = reference_cameras("S9")[1]
    points = np.random.default_rng(1).normal(0, 1000, (10, 3))
    cam = world_to_camera(points, camera.rotation, camera.translation_mm)
    np.testing.assert_allclose(
        camera_to_world(cam, camera.rotation, camera.translation_mm), points, atol=1e-9
    )
    centre = world_to_camera(camera.center_mm[None], camera.rotation, camera.translation_mm)
    np.testing.assert_allclose(centre, 0.0, atol=1e-9)


def test_published_kinematics_round_trip() -> None:
    from simspine_dataset.geometry.transforms import coordinates_from_published, coordinates_to_published

    q = np.array([[12.5, 0.95, -3.0]])  # deg, m, deg
    mask = np.array([False, True, False])
    np.testing.assert_allclose(coordinates_to_published(q, mask), [[12.5, 950.0, -3.0]])
    np.testing.assert_allclose(coordinates_from_published(coordinates_to_published(q, mask), mask), q)


def test_nearest_rotation_is_scipys_procrustes_rotation_and_never_a_reflection() -> None:
    """The one Kabsch step (cameras, IK's pelvis placement, PA-MPJPE) against scipy's solver."""
    from scipy.linalg import orthogonal_procrustes
    from scipy.spatial.transform import Rotation

    from simspine_dataset.geometry.transforms import nearest_rotation

    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 20, 3))
    truth = Rotation.random(4, random_state=1).as_matrix()
    b = np.einsum("bki,bij->bkj", a, truth) + rng.normal(scale=0.01, size=a.shape)
    ours = nearest_rotation(np.einsum("bki,bkj->bij", a, b))  # batched
    for i in range(4):
        np.testing.assert_allclose(ours[i], orthogonal_procrustes(a[i], b[i])[0], atol=1e-12)
    mirrored = a[0] * [1, 1, -1]  # the best orthogonal map is a reflection: ours stays a rotation
    assert np.linalg.det(orthogonal_procrustes(a[0], mirrored)[0]) < 0
    assert np.linalg.det(nearest_rotation(a[0].T @ mirrored)) == pytest.approx(1.0)
