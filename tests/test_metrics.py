"""Metrics against independent implementations (scipy's orthogonal Procrustes) and anchors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes

from simspine_dataset import metrics


def reference_p_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """Independent: per pose, scipy's orthogonal Procrustes (rotation, reflection removed by
    flipping the last singular direction), optimal scale, translation by centroids."""
    errors = []
    for p, t in zip(pred, target, strict=True):
        p0, t0 = p - p.mean(0), t - t.mean(0)
        rotation, _ = orthogonal_procrustes(p0, t0)
        if np.linalg.det(rotation) < 0:
            u, _, vt = np.linalg.svd(p0.T @ t0)
            u[:, -1] *= -1
            rotation = u @ vt
        scale = np.trace(p0 @ rotation @ t0.T) / np.sum(p0**2)
        errors.append(np.linalg.norm(scale * p0 @ rotation - t0, axis=1).mean())
    return float(np.mean(errors))


def random_poses(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    target = rng.normal(0, 300, (n, 37, 3))
    rotations = np.linalg.qr(rng.normal(size=(n, 3, 3)))[0]
    rotations *= np.sign(np.linalg.det(rotations))[:, None, None]  # proper rotations...
    rotations[n // 2 :, :, 2] *= -1  # ...and reflections for the second half
    pred = 1.3 * np.einsum("bij,bkj->bki", rotations, target) + rng.normal(0, 20, (n, 37, 3)) + 50
    return pred, target


def test_p_mpjpe_equals_scipy_procrustes_with_reflections() -> None:
    pred, target = random_poses(50, 0)
    assert metrics.p_mpjpe(pred, target) == pytest.approx(reference_p_mpjpe(pred, target), abs=1e-6)


def test_identity_and_known_values() -> None:
    _, target = random_poses(5, 1)
    assert metrics.mpjpe(target, target) == 0.0
    assert metrics.p_mpjpe(target, target) == pytest.approx(0.0, abs=1e-9)
    shifted = target + np.array([3.0, 4.0, 0.0])
    assert metrics.mpjpe(shifted, target) == pytest.approx(5.0)
    assert metrics.p_mpjpe(2.0 * shifted, target) == pytest.approx(0.0, abs=1e-9)  # similarity removed
    assert metrics.n_mpjpe(
        0.5 * (target - target.mean(1, keepdims=True)) + target.mean(1, keepdims=True), target
    ) == pytest.approx(0.0, abs=1e-9)


def test_missing_keypoints_are_ignored() -> None:
    pred, target = random_poses(4, 2)
    holey = pred.copy()
    holey[:, 5] = np.nan
    keep = [k for k in range(37) if k != 5]
    assert metrics.mpjpe(holey, target) == pytest.approx(metrics.mpjpe(pred[:, keep], target[:, keep]))
    assert metrics.p_mpjpe(holey, target) == pytest.approx(
        reference_p_mpjpe(pred[:, keep], target[:, keep]), abs=1e-6
    )


def test_region_table() -> None:
    errors = np.zeros((4, 37))
    errors[:, 1:4] = 10.0  # lumbar keypoints
    table = metrics.region_means(errors, ["Walking", "Walking", "Sitting", "Sitting"])
    assert table["Walking"]["S_L"] == 10.0 and table["Walking"]["S_C"] == 0.0
    assert table["Mean"]["S"] == pytest.approx(30.0 / 15.0) and table["Sitting"]["All"] == pytest.approx(
        30.0 / 37.0
    )
