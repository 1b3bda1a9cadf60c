"""What inverse kinematics fits: Human3.6M mocap joints and triangulated pseudo-markers.

The mocap arrives in Human3.6M world mm (Z up) and leaves as ``MarkerObservations`` in OpenSim
metres (Y up), converted once, by ``geometry.transforms``. Pseudo-markers are 3D keypoints (by
SIMSPINE name) with a confidence in [0, 1] per frame, e.g. from triangulating 2D detections.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from simspine_dataset.biomech.ik import MarkerObservations
from simspine_dataset.biomech.model_table import h36m_marker_name
from simspine_dataset.config import IKConfig
from simspine_dataset.errors import ShapeError
from simspine_dataset.geometry.transforms import MM_PER_M, world_mm_to_opensim_m, world_to_opensim_direction
from simspine_dataset.h36m import FPS_HZ


@dataclass(frozen=True)
class PseudoMarkers:
    """3D keypoints to fit besides the mocap: names (K,), positions (T, K, 3) world mm, NaN where
    missing, and confidence (T, K) in [0, 1]. Optionally, where a keypoint has no position but one
    camera saw it: the ray from that camera, ``ray_origins_mm`` (T, K, 3) world mm (the camera
    centre) and ``ray_directions`` (T, K, 3) world unit vectors, NaN elsewhere, and its detection
    score ``ray_confidence`` (T, K)."""

    names: tuple[str, ...]
    positions_world_mm: np.ndarray
    confidence: np.ndarray
    ray_origins_mm: np.ndarray | None = None
    ray_directions: np.ndarray | None = None
    ray_confidence: np.ndarray | None = None
    ray_noise_mm: np.ndarray | None = None  # (T, K): the ray's noise across it, from the pixel noise

    def __post_init__(self) -> None:
        shape = self.positions_world_mm.shape
        if len(shape) != 3 or shape[1:] != (len(self.names), 3) or self.confidence.shape != shape[:2]:
            k = len(self.names)
            raise ShapeError(
                f"pseudo-markers: positions (T, {k}, 3) and confidence (T, {k}) expected, "
                f"got {shape} and {self.confidence.shape}"
            )


def ik_observations(
    joints_world_mm: np.ndarray,
    config: IKConfig = IKConfig(),
    pseudo: PseudoMarkers | None = None,
    fps_hz: float = FPS_HZ,
) -> MarkerObservations:
    """Mocap joints (T, 32, 3) world mm, plus optional pseudo-markers -> IK observations."""
    joints = np.asarray(joints_world_mm, dtype=float)
    if joints.ndim != 3 or joints.shape[1:] != (32, 3):
        raise ShapeError(f"joints_world_mm must be (T, 32, 3), got {joints.shape}")
    used = sorted(config.h36m_weights)
    names = [h36m_marker_name(j) for j in used]
    positions = world_mm_to_opensim_m(joints[:, used])
    base = _base_weights([config.h36m_weights[j] for j in used], config)
    weights = np.broadcast_to(base / _noise_variance(joints[:, used], config, fps_hz), positions.shape[:2])
    if pseudo is not None:
        keep = [k for k, name in enumerate(pseudo.names) if name in config.pseudo_marker_weights]
        names += [pseudo.names[k] for k in keep]
        points = pseudo.positions_world_mm[:, keep]
        positions = np.concatenate([positions, world_mm_to_opensim_m(points)], axis=1)
        confidence = np.clip(pseudo.confidence[:, keep], 0.0, 1.0)
        seen = np.where((confidence > 0)[..., None], points, np.nan)
        if config.outlier_gate > 0:
            sigma = marker_noise_mm(seen, config.noise_floor_mm, fps_hz)
            confidence = np.where(temporal_outliers(seen, sigma, config.outlier_gate), 0.0, confidence)
            seen = np.where((confidence > 0)[..., None], points, np.nan)
        base = _base_weights([config.pseudo_marker_weights[pseudo.names[k]] for k in keep], config)
        scale = base / _noise_variance(seen, config, fps_hz)
        weights = np.concatenate([weights, scale * confidence], axis=1)
        if config.single_view_rays and pseudo.ray_directions is not None:
            return _with_rays(tuple(names), positions, weights, pseudo, keep, scale, fps_hz)
    return MarkerObservations(tuple(names), positions, np.array(weights, dtype=float), fps_hz)


def _with_rays(
    names: tuple[str, ...],
    positions: np.ndarray,
    weights: np.ndarray,
    pseudo: PseudoMarkers,
    keep: list[int],
    scale: np.ndarray,
    fps_hz: float,
) -> MarkerObservations:
    """The pseudo-markers' single-view rays where they have no triangulated position: the marker's
    distance from the ray is fitted, weighted by the detection's score over the ray's noise across
    it (``ray_noise_mm``, with the noise floor), or the configured weight times the score."""
    n = positions.shape[1] - len(keep)  # the mocap markers come first
    positions, weights = positions.copy(), np.array(weights, dtype=float)
    directions = np.zeros_like(positions)
    ray_weight = scale * np.clip(np.nan_to_num(pseudo.ray_confidence[:, keep]), 0.0, 1.0)
    use = (weights[:, n:] <= 0) & np.isfinite(pseudo.ray_directions[:, keep]).all(-1) & (ray_weight > 0)
    origins = world_mm_to_opensim_m(np.nan_to_num(pseudo.ray_origins_mm[:, keep]))
    axes = world_to_opensim_direction(np.nan_to_num(pseudo.ray_directions[:, keep]))
    positions[:, n:] = np.where(use[..., None], origins, positions[:, n:])
    directions[:, n:] = np.where(use[..., None], axes, 0.0)
    weights[:, n:] = np.where(use, ray_weight, weights[:, n:])
    return MarkerObservations(names, positions, weights, fps_hz, directions)


def temporal_outliers(
    points_mm: np.ndarray, noise_mm: np.ndarray, gate: float, half_width: int = 4
) -> np.ndarray:
    """(T, K) True where a point lies more than ``gate`` x its noise from the median of its
    neighbours in time (a Hampel filter on the 3D trajectory, the 2 x ``half_width`` + 1 frames
    around it, NaN left out): the gross errors of a triangulation (a wrong view kept, a swapped
    side) that a least-squares fit would follow."""
    from numpy.lib.stride_tricks import sliding_window_view

    T = len(points_mm)
    padded = np.pad(points_mm, ((half_width, half_width), (0, 0), (0, 0)), constant_values=np.nan)
    windows = sliding_window_view(padded, 2 * half_width + 1, axis=0)[:T]  # (T, K, 3, W)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        reference = np.nanmedian(windows, axis=-1)
    distance = np.linalg.norm(points_mm - reference, axis=-1)
    return np.nan_to_num(distance, nan=0.0) > gate * noise_mm


def marker_noise_mm(points_mm: np.ndarray, floor_mm: float, fps_hz: float) -> np.ndarray:
    """Each marker's noise (mm) in a sequence (T, K, 3): the white noise measured above fps / 4
    (``geometry.filters.white_noise_std``, mean variance of the three axes) combined with the floor
    (root sum of squares). Markers too short to measure get the floor."""
    from simspine_dataset.geometry.filters import white_noise_std

    variance = np.nan_to_num(np.mean(white_noise_std(points_mm, fps_hz) ** 2, axis=-1))
    return np.sqrt(variance + floor_mm**2)


def _base_weights(configured: list[float], config: IKConfig) -> np.ndarray:
    """The configured weights (``weights = "configured"``), or 1 for every marker used (weight > 0)
    when the weights are measured: the noise variance alone then sets each marker's trust."""
    values = np.asarray(configured, dtype=float)
    return values if config.weights == "configured" else (values > 0).astype(float)


def _noise_variance(points_mm: np.ndarray, config: IKConfig, fps_hz: float) -> np.ndarray | float:
    """The variance (m^2) that divides the base weights (``_base_weights``), per marker; 1 with
    ``weights = "configured"``."""
    if config.weights == "configured":
        return 1.0
    return (marker_noise_mm(points_mm, config.noise_floor_mm, fps_hz) / MM_PER_M) ** 2
