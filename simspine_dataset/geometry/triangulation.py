"""Multi-view triangulation with confidence weights and outlier rejection, batched over points.

``triangulate(points_px (C, N, 2), confidence (C, N), cameras) -> Triangulation`` with points (N, 3)
world mm, the mean reprojection error (N,) px and the views used (C, N).

1. Pixels are undistorted with each camera's Human3.6M lens model (``geometry.camera.undistort``).
2. All points at once: the confidence-weighted linear least squares of the DLT equations
   ``x P3 - P1 = 0``, ``y P3 - P2 = 0`` on normalised coordinates (inhomogeneous, 3 x 3 normal
   equations per point, solved in closed form), and the mean reprojection error in pixels.
3. Views whose confidence is below ``min_confidence`` (or missing: NaN) never count. A point whose
   error with all its usable views exceeds ``max_error_px`` is solved with every subset of at least
   two of them (11 subsets for 4 cameras, each solved in batch over those points), and Pose2Sim's
   rule chooses: the largest subset whose error is under the threshold, then the smallest error.
   Where no subset meets the threshold the point is NaN, as Pose2Sim returns it
   (``triangulation_from_best_cameras``). Trying every subset finds the two good views of a point
   with two bad ones, which greedy one-view-at-a-time removal can miss. With more than
   ``MAX_SUBSET_CAMERAS`` cameras (subsets grow as 2^C), the greedy removal is used instead.
4. NaN where fewer than two views remain.

No Python loop runs over points or frames; the only loops are over the subsets (or the greedy
removal steps), each vectorised over the points that need it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simspine_dataset.errors import ShapeError
from simspine_dataset.geometry.camera import Camera, project, projection_matrix, stack_cameras, undistort
from simspine_dataset.geometry.filters import true_runs
from simspine_dataset.geometry.transforms import world_to_camera

MAX_SUBSET_CAMERAS = 6  # up to 57 subsets; beyond, the greedy removal


@dataclass(frozen=True)
class Triangulation:
    points_mm: np.ndarray  # (N, 3) world mm, NaN where fewer than two views
    error_px: np.ndarray  # (N,) mean reprojection error over the views used
    views: np.ndarray  # (C, N) bool, the views used


def _dlt_rows(normalized: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """The two DLT rows of every camera, per point: (C, N, 2), (C, 3, 4) -> (N, 2C, 4)."""
    P = extrinsics[:, None]  # (C, 1, 3, 4)
    rows = normalized[..., :, None] * P[..., 2:3, :] - P[..., 0:2, :]  # (C, N, 2, 4)
    return rows.transpose(1, 0, 2, 3).reshape(normalized.shape[1], -1, 4)


def _solve(rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least squares per point: rows (N, 2C, 4), weights (C, N) -> (N, 3).

    A^T W^2 A is one batched matrix product; the 3 x 3 normal equations are solved in closed form
    (Cramer's rule); singular ones give NaN."""
    weighted = rows * np.repeat(weights.T, 2, axis=1)[..., None]
    M = weighted.transpose(0, 2, 1) @ weighted
    a, b = M[:, :3, :3], -M[:, :3, 3]
    c0, c1, c2 = np.cross(a[:, 1], a[:, 2]), np.cross(a[:, 2], a[:, 0]), np.cross(a[:, 0], a[:, 1])
    det = np.einsum("ni,ni->n", a[:, 0], c0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_det = np.where(np.abs(det) > 1e-12 * np.abs(a).max(axis=(1, 2)) ** 3, 1.0 / det, np.nan)
    return (c0 * b[:, 0:1] + c1 * b[:, 1:2] + c2 * b[:, 2:3]) * inv_det[:, None]


CameraArrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # intrinsics, rotations, translations (C, ...)
SolveInputs = tuple[np.ndarray, np.ndarray, np.ndarray, CameraArrays]  # DLT rows, weights, points, cameras
Solution = tuple[np.ndarray, np.ndarray, np.ndarray]  # points (N, 3), errors (N,), views used (C, N)


def _mean_error(X: np.ndarray, pts: np.ndarray, views: np.ndarray, cams: CameraArrays) -> np.ndarray:
    """Mean reprojection error (px) over each point's views; inf with fewer than two. (N,)."""
    intrinsics, rotations, translations = cams
    reproj = project(world_to_camera(X[None], rotations, translations), intrinsics)  # (C, N, 2)
    dist = np.linalg.norm(reproj - pts, axis=-1)
    n = views.sum(0)
    with np.errstate(invalid="ignore"):
        mean = np.where(views, dist, 0.0).sum(0) / np.maximum(n, 1)
    return np.where((n >= 2) & np.isfinite(mean), mean, np.inf)


def triangulate(
    points_px: np.ndarray,
    confidence: np.ndarray,
    cameras: Sequence[Camera],
    *,
    min_confidence: float = 0.3,
    max_error_px: float = 15.0,
    chunk: int = 20000,
) -> Triangulation:
    """Triangulate N points seen by C cameras. points (C, N, 2) distorted px, confidence (C, N)."""
    pts = np.asarray(points_px, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    C = len(cameras)
    if pts.ndim != 3 or pts.shape[0] != C or pts.shape[2] != 2:
        raise ShapeError(f"points_px must have shape (C={C}, N, 2), got {pts.shape}")
    if conf.shape != pts.shape[:2]:
        raise ShapeError(f"confidence must have shape {pts.shape[:2]}, got {conf.shape}")
    parts = [
        _triangulate_chunk(
            pts[:, s : s + chunk], conf[:, s : s + chunk], cameras, min_confidence, max_error_px
        )
        for s in range(0, pts.shape[1], chunk)
    ]
    if not parts:
        return Triangulation(np.zeros((0, 3)), np.zeros(0), np.zeros((C, 0), bool))
    return Triangulation(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts], axis=1),
    )


def _triangulate_chunk(
    pts: np.ndarray, conf: np.ndarray, cameras: Sequence[Camera], min_confidence: float, max_error_px: float
) -> Solution:
    arrays = stack_cameras(cameras)
    intrinsics, rotations, translations = arrays
    views = np.isfinite(pts).all(-1) & np.isfinite(conf) & (conf >= min_confidence)  # (C, N)
    weights = np.where(views, conf, 0.0)
    normalized = np.nan_to_num(undistort(np.nan_to_num(pts), intrinsics))
    rows = _dlt_rows(normalized, projection_matrix(rotations, translations))
    X = _solve(rows, weights)
    error = _mean_error(X, pts, views, arrays)
    solve = (rows, weights, pts, arrays)
    if len(cameras) <= MAX_SUBSET_CAMERAS:
        X, error, views = _best_subsets(X, error, views, solve, max_error_px)
    else:
        X, error, views = _greedy_removal(X, error, views, solve, max_error_px)
    ok = np.isfinite(error)
    return np.where(ok[:, None], X, np.nan), np.where(ok, error, np.nan), views & ok[None]


def _best_subsets(
    X: np.ndarray, error: np.ndarray, views: np.ndarray, solve: SolveInputs, max_error_px: float
) -> Solution:
    """Pose2Sim's rule for the points above the threshold: over every subset of >= 2 of their
    usable views, the largest subset under the threshold, then the smallest error; inf (NaN
    later) where none is. Sizes are tried from the largest down, each only for the points that no
    larger subset satisfied (a smaller one cannot win), so most points stop at C - 1 views."""
    rows, weights, pts, arrays = solve
    C = len(views)
    usable = views
    X, error, views = X.copy(), error.copy(), views.copy()
    failed = np.flatnonzero(error > max_error_px)  # all their usable views together: too large
    error[failed], X[failed], views[:, failed] = np.inf, np.nan, False
    pending = failed[usable[:, failed].sum(0) > 2]  # with two views there is no smaller subset
    for size in range(C - 1, 1, -1):
        if not len(pending):
            break
        for subset in itertools.combinations(range(C), size):
            keep = np.zeros((C, 1), bool)
            keep[list(subset)] = True
            trial = usable[:, pending] & keep
            X_s = _solve(rows[pending], weights[:, pending] * trial)
            e_s = _mean_error(X_s, pts[:, pending], trial, arrays)
            n = trial.sum(0)
            best_n = views[:, pending].sum(0)
            better = (e_s <= max_error_px) & ((n > best_n) | ((n == best_n) & (e_s < error[pending])))
            chosen = pending[better]
            X[chosen], error[chosen], views[:, chosen] = X_s[better], e_s[better], trial[:, better]
        pending = pending[~np.isfinite(error[pending])]  # no subset of this size fits: go smaller
    return X, error, views


def _greedy_removal(
    X: np.ndarray, error: np.ndarray, views: np.ndarray, solve: SolveInputs, max_error_px: float
) -> Solution:
    """Many cameras: while a point's error is too large and more than two views remain, drop the
    view whose removal lowers it most (every single-view removal solved in batch)."""
    rows, weights, pts, arrays = solve
    for _ in range(len(views) - 2):
        idx = np.flatnonzero((error > max_error_px) & np.isfinite(error) & (views.sum(0) > 2))
        if not len(idx):
            break
        best = np.full(len(idx), np.inf)
        best_X, best_views = X[idx].copy(), views[:, idx].copy()
        for c in range(len(views)):
            trial = views[:, idx].copy()
            had = trial[c].copy()
            trial[c] = False
            X_c = _solve(rows[idx], weights[:, idx] * trial)
            e_c = np.where(had, _mean_error(X_c, pts[:, idx], trial, arrays), np.inf)
            better = e_c < best
            best, best_X[better], best_views[:, better] = (
                np.where(better, e_c, best),
                X_c[better],
                trial[:, better],
            )
        moved = np.isfinite(best)
        X[idx[moved]], error[idx[moved]], views[:, idx[moved]] = (
            best_X[moved],
            best[moved],
            best_views[:, moved],
        )
    return X, error, views


def fill_short_gaps(points: np.ndarray, max_gap: int = 5) -> np.ndarray:
    """Temporal clean-up: linearly interpolate runs of at most ``max_gap`` missing frames that
    have valid frames on both sides. (T, ...) with NaN gaps -> same shape; longer gaps stay NaN."""
    x = np.asarray(points, dtype=np.float64).copy()
    flat = x.reshape(len(x), -1)
    t = np.arange(len(x))
    for column in range(flat.shape[1]):
        finite = np.isfinite(flat[:, column])
        if finite.all() or finite.sum() < 2:
            continue
        for start, stop in true_runs(~finite):
            if start > 0 and stop < len(x) and stop - start <= max_gap:
                flat[start:stop, column] = np.interp(t[start:stop], t[finite], flat[finite, column])
    return x
