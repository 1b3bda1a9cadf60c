"""3D pose metrics shared by the baselines: MPJPE, P-MPJPE, N-MPJPE, with region reductions.

Shapes: B poses (frames x views), K keypoints; poses are (B, K, 3) in mm. Missing keypoints (NaN in
either pose) are left out of every mean and of the alignments.

- MPJPE: mean Euclidean distance over keypoints and poses.
- P-MPJPE: after per-pose similarity Procrustes alignment of the prediction onto the target
  (scale, rotation, translation; the reflection removed: det R = +1).
- N-MPJPE: after per-pose optimal scaling only (Rhodin et al. 2018), about the centroids.
Regions come from ``skeleton.REGIONS`` (S_C, S_T, S_L, S, B, All), subsets from index lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from simspine_dataset.errors import ShapeError
from simspine_dataset.geometry.transforms import nearest_rotation
from simspine_dataset.skeleton import REGIONS


def _check(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[-1] != 3:
        raise ShapeError(f"poses must both be (B, K, 3), got {pred.shape} and {target.shape}")
    return pred, target


def keypoint_errors(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pose, per-keypoint Euclidean error (B, K); NaN where either is missing."""
    pred, target = _check(pred, target)
    return np.linalg.norm(pred - target, axis=-1)


def procrustes_align(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Similarity-align each predicted pose onto its target (reflection removed). (B, K, 3)."""
    pred, target = _check(pred, target)
    w = (np.isfinite(pred).all(-1) & np.isfinite(target).all(-1)).astype(float)[..., None]  # (B, K, 1)
    n = np.maximum(w.sum(1, keepdims=True), 1.0)
    p, t = np.nan_to_num(pred), np.nan_to_num(target)
    mu_p, mu_t = (w * p).sum(1, keepdims=True) / n, (w * t).sum(1, keepdims=True) / n
    p0, t0 = (p - mu_p) * w, (t - mu_t) * w
    h = np.einsum("bki,bkj->bij", p0, t0)  # H = P^T T
    rotation = nearest_rotation(h)  # maps centred pred onto centred target: p0 @ R (no reflection)
    var = np.maximum((p0**2).sum(axis=(1, 2)), 1e-12)
    scale = np.einsum("bij,bij->b", rotation, h) / var  # trace(R^T H): the singular values, signed
    aligned = scale[:, None, None] * ((p - mu_p) @ rotation) + mu_t
    return np.where(np.isfinite(pred), aligned, np.nan)


def scale_align(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Optimal per-pose scale of the centred prediction onto the centred target. (B, K, 3)."""
    pred, target = _check(pred, target)
    w = (np.isfinite(pred).all(-1) & np.isfinite(target).all(-1)).astype(float)[..., None]
    n = np.maximum(w.sum(1, keepdims=True), 1.0)
    p, t = np.nan_to_num(pred), np.nan_to_num(target)
    mu_p, mu_t = (w * p).sum(1, keepdims=True) / n, (w * t).sum(1, keepdims=True) / n
    p0, t0 = (p - mu_p) * w, (t - mu_t) * w
    scale = (p0 * t0).sum(axis=(1, 2)) / np.maximum((p0**2).sum(axis=(1, 2)), 1e-12)
    return np.where(np.isfinite(pred), scale[:, None, None] * (p - mu_p) + mu_t, np.nan)


def mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean per-joint position error (mm)."""
    return float(np.nanmean(keypoint_errors(pred, target)))


def p_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after per-pose similarity Procrustes alignment (mm)."""
    return mpjpe(procrustes_align(pred, target), target)


def n_mpjpe(pred: np.ndarray, target: np.ndarray) -> float:
    """MPJPE after per-pose scale alignment (mm)."""
    return mpjpe(scale_align(pred, target), target)


def region_means(
    errors: np.ndarray,
    groups: Sequence[str] | np.ndarray | None = None,
    regions: Mapping[str, Sequence[int]] = REGIONS,
) -> dict[str, dict[str, float]]:
    """Mean error per group (e.g. action) and region, plus a "Mean" row over the groups.

    ``errors`` (B, K); ``groups`` (B,) labels (default: one group "All"). The "Mean" row averages
    the group means (each action counts once, as in the paper's tables)."""
    errors = np.asarray(errors, dtype=float)
    labels = np.full(len(errors), "All") if groups is None else np.asarray(groups)
    table: dict[str, dict[str, float]] = {}
    for label in sorted(set(labels.tolist())):
        rows = errors[labels == label]
        table[label] = {name: float(np.nanmean(rows[:, list(idx)])) for name, idx in regions.items()}
    if groups is not None:
        table["Mean"] = {name: float(np.mean([table[g][name] for g in table])) for name in regions}
    return table
