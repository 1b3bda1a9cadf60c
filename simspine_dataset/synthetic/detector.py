"""A documented model of a 2D keypoint detector's errors (SpinePose-like), seeded.

From true keypoints in pixels it draws what a detector reports:

- Gaussian pixel noise, sigma = ``pixel_sigma_px`` x (keypoint's OKS sigma / 0.079) x person
  scale (box height / 500 px): harder keypoints (spine, shoulder blades) are noisier, as in the
  OKS table;
- self-occlusion: back-of-body keypoints (vertebrae, neck, shoulder blades) seen from the front,
  and face and clavicle points seen from behind, get ``occluded_noise_factor`` x the noise and a
  confidence in [0.25, 0.55];
- confidences otherwise ~0.9, falling with the drawn error (0.9 - 0.1 x error / sigma);
- misses (score 0, reported at (0, 0)) with probability ``miss_rate``, and keypoints outside the
  image are missed;
- gross outliers (uniform in the person box grown by 50 %, score 0.3-0.6) with probability
  ``outlier_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simspine_dataset import skeleton as sk

_BACK = sk.BACK_OF_TRUNK  # hidden when the person faces the camera
_FRONT = ("Nose", "REye", "LEye", "RClavicle", "LClavicle")  # hidden from behind (this model's choice)


@dataclass(frozen=True)
class DetectorNoise:
    pixel_sigma_px: float = 3.0
    occluded_noise_factor: float = 2.5
    miss_rate: float = 0.02
    outlier_rate: float = 0.01


def facing_camera(keypoints_world_mm: np.ndarray, camera_center_mm: np.ndarray) -> np.ndarray:
    """(T,) True where the person's front faces the camera. keypoints (T, 37, 3) world mm."""
    k = keypoints_world_mm
    right = k[:, sk.INDEX["RShoulder"]] - k[:, sk.INDEX["LShoulder"]]
    up = k[:, sk.INDEX["Neck"]] - k[:, sk.INDEX["Hip"]]
    forward = np.cross(up, right)
    return np.einsum("td,td->t", forward, camera_center_mm - k[:, sk.INDEX["Hip"]]) > 0


def simulate_detections(
    keypoints_px: np.ndarray,
    facing: np.ndarray,
    image_size: tuple[int, int],
    rng: np.random.Generator,
    noise: DetectorNoise = DetectorNoise(),
) -> tuple[np.ndarray, np.ndarray]:
    """True pixels (T, 37, 2) and facing (T,) -> detections (T, 37, 2), NaN where missed, and
    scores (T, 37)."""
    T = len(keypoints_px)
    width, height = image_size
    finite = np.isfinite(keypoints_px).all(-1)
    lo = np.nanmin(np.where(finite[..., None], keypoints_px, np.nan), axis=1)
    hi = np.nanmax(np.where(finite[..., None], keypoints_px, np.nan), axis=1)
    box_height = np.nan_to_num(hi[:, 1] - lo[:, 1], nan=500.0)
    sigma = (
        noise.pixel_sigma_px
        * (np.array(sk.SIGMAS) / 0.079)[None]
        * (np.maximum(box_height, 50.0) / 500.0)[:, None]
    )
    occluded = np.zeros((T, sk.NUM_KEYPOINTS), bool)
    occluded[:, [sk.INDEX[n] for n in _BACK]] = facing[:, None]
    occluded[:, [sk.INDEX[n] for n in _FRONT]] = ~facing[:, None]
    sigma = np.where(occluded, sigma * noise.occluded_noise_factor, sigma)
    error = rng.normal(size=(T, sk.NUM_KEYPOINTS, 2)) * sigma[..., None]
    detected = keypoints_px + error
    ratio = np.linalg.norm(error, axis=-1) / (np.sqrt(2) * sigma)
    scores = np.clip(0.92 - 0.1 * ratio + rng.normal(0, 0.02, ratio.shape), 0.05, 0.99)
    scores = np.where(occluded, rng.uniform(0.25, 0.55, scores.shape), scores)
    outlier = rng.random((T, sk.NUM_KEYPOINTS)) < noise.outlier_rate
    grow = (hi - lo) * 0.25
    anywhere = rng.uniform(lo - grow, hi + grow, (sk.NUM_KEYPOINTS, T, 2)).transpose(1, 0, 2)
    detected = np.where(outlier[..., None], anywhere, detected)
    scores = np.where(outlier, rng.uniform(0.3, 0.6, scores.shape), scores)
    inside = (
        (detected[..., 0] >= 0)
        & (detected[..., 0] < width)
        & (detected[..., 1] >= 0)
        & (detected[..., 1] < height)
    )
    missed = (rng.random((T, sk.NUM_KEYPOINTS)) < noise.miss_rate) | ~inside | ~finite
    detected[missed] = np.nan
    scores[missed] = 0.0
    return detected, scores
