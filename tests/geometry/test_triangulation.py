"""Triangulation: exact recovery with distortion, outlier rejection, missing views."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import reference_cameras

from simspine_dataset.errors import ShapeError
from simspine_dataset.geometry.triangulation import triangulate

CAMERAS = reference_cameras("S9")


def scene(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = rng.uniform([-1500, -1500, 0], [1500, 1500, 1900], (n, 3))
    return points, np.stack([c.project(points) for c in CAMERAS])


def test_exact_pixels_give_the_points_back() -> None:
    points, pixels = scene()
    result = triangulate(pixels, np.ones(pixels.shape[:2]), CAMERAS)
    assert np.abs(result.points_mm - points).max() < 1e-3  # mm, through the Human3.6M distortion
    assert result.error_px.max() < 1e-6 and result.views.all()


def test_a_gross_outlier_view_is_rejected() -> None:
    points, pixels = scene(seed=1)
    rng = np.random.default_rng(2)
    noisy = pixels + rng.normal(0, 1.0, pixels.shape)
    noisy[1] += rng.uniform(80, 150, noisy[1].shape) * rng.choice(
        [-1, 1], noisy[1].shape
    )  # camera 1 is wrong
    confidence = np.full(pixels.shape[:2], 0.9)
    robust = triangulate(noisy, confidence, CAMERAS)
    plain = triangulate(noisy, confidence, CAMERAS, max_error_px=np.inf)
    clean = triangulate(
        np.delete(noisy, 1, axis=0),
        np.delete(confidence, 1, axis=0),
        [c for i, c in enumerate(CAMERAS) if i != 1],
    )
    robust_mm = np.linalg.norm(robust.points_mm - points, axis=1).mean()
    assert not robust.views[1].any()
    assert robust_mm == pytest.approx(np.linalg.norm(clean.points_mm - points, axis=1).mean(), rel=1e-9)
    assert robust_mm < 10.0 < np.linalg.norm(plain.points_mm - points, axis=1).mean()


def test_confidence_threshold_and_missing_views() -> None:
    points, pixels = scene(10, seed=3)
    confidence = np.ones(pixels.shape[:2])
    confidence[0, 0] = 0.1  # below the threshold: not used
    pixels[2, 1] = np.nan  # a missed detection
    confidence[1:, 2] = 0.0  # only one view left: no point
    result = triangulate(pixels, confidence, CAMERAS)
    assert not result.views[0, 0] and not result.views[2, 1]
    assert np.abs(result.points_mm[[0, 1]] - points[[0, 1]]).max() < 1e-3
    assert np.isnan(result.points_mm[2]).all() and np.isnan(result.error_px[2])


def test_shapes_are_checked() -> None:
    with pytest.raises(ShapeError):
        triangulate(np.zeros((3, 5, 2)), np.ones((3, 5)), CAMERAS)


def test_short_gaps_are_interpolated_long_ones_kept() -> None:
    from simspine_dataset.geometry.triangulation import fill_short_gaps

    track = np.stack([np.arange(20.0), 2 * np.arange(20.0), np.zeros(20)], axis=1)[:, None]  # (T, 1, 3)
    holey = track.copy()
    holey[3:6] = np.nan  # 3 frames: filled
    holey[10:17] = np.nan  # 7 frames: too long
    holey[0] = np.nan  # no frame before: kept
    filled = fill_short_gaps(holey, max_gap=5)
    np.testing.assert_allclose(filled[3:6], track[3:6])
    assert np.isnan(filled[10:17]).all() and np.isnan(filled[0]).all()


def test_two_bad_views_of_four_are_dropped_for_the_two_good_ones() -> None:
    """Two gross-outlier views out of four: every subset is tried, the good pair is found (the
    largest subset under the threshold); a point with no good subset is NaN, as Pose2Sim gives."""
    points, pixels = scene(200, seed=5)
    rng = np.random.default_rng(6)
    noisy = pixels + rng.normal(0, 1.0, pixels.shape)
    for c in (0, 2):  # cameras 0 and 2 wrong, in different directions
        noisy[c] += rng.uniform(60, 120, noisy[c].shape) * rng.choice([-1, 1], noisy[c].shape)
    confidence = np.full(pixels.shape[:2], 0.9)
    result = triangulate(noisy, confidence, CAMERAS)
    pair = triangulate(noisy[[1, 3]], confidence[[1, 3]], [CAMERAS[1], CAMERAS[3]])
    good = (result.views == np.array([False, True, False, True])[:, None]).all(0)
    assert good.mean() > 0.95  # 195 of 200 (measured)
    np.testing.assert_allclose(result.points_mm[good], pair.points_mm[good], atol=1e-9)
    assert np.linalg.norm(result.points_mm[good] - points[good], axis=1).mean() < 12.0  # mm: 1 px, two views
    # the others: another pair that happens to fit better (two views always fit a point whose
    # offsets lie along the epipolar line) is chosen by the rule, smallest error among pairs
    assert (result.views[:, ~good].sum(0) == 2).all() and (
        result.error_px[~good] < pair.error_px[~good]
    ).all()
    strict = triangulate(pixels + rng.normal(0, 1.0, pixels.shape), confidence, CAMERAS, max_error_px=1e-9)
    assert np.isnan(strict.points_mm).all() and not strict.views.any()  # no subset fits: NaN
