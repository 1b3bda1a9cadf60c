"""Triangulation on identical noisy inputs: ours vs Pose2Sim vs aniposelib, and vs a plain DLT.

Scene: N keypoints spread over the capture volume, projected into the four cameras of S1 with the
Human3.6M lens; 3 px Gaussian noise, confidences ~0.9, 5 % of points with one view replaced by a
gross outlier (80-200 px off, confidence 0.5-0.8), 2 % missed views. Confidence threshold 0.3 and
reprojection threshold 15 px for the methods that reject.

- ours: ``simspine_dataset.triangulate`` (undistortion included in its time), every view subset
  of the points above the threshold (the default for <= 6 cameras), and the greedy one-view-at-a-time
  removal (the path for more cameras) for comparison;
- ours without rejection: the same weighted DLT over all usable views (the arithmetic's limit);
- Pose2Sim 0.10.49 ``triangulation_from_best_cameras`` (its rejection loop, per keypoint);
- aniposelib 0.8.0 ``CameraGroup.triangulate`` (plain DLT, no weights, no rejection).
The peers get pre-undistorted (pinhole) pixels, undistorted outside their timing, since their lens
models are OpenCV's, not Human3.6M's.

Run in an environment holding the peers (``benchmarks/peers/requirements.txt``):

    python benchmarks/bench_triangulation.py [--points 2000]
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np

from simspine_dataset import h36m
from simspine_dataset.geometry.camera import Camera, undistort_pixels
from simspine_dataset.geometry.triangulation import triangulate


def cameras() -> list[Camera]:
    cal = h36m.reference_calibration()
    return [
        Camera.from_center(c, cal.intrinsics[c], *cal.extrinsics["S1"][c], *cal.image_size[c])
        for c in h36m.CAMERA_IDS
    ]


def scene(n: int, cams: list[Camera], seed: int = 0):
    rng = np.random.default_rng(seed)
    points = rng.uniform([-1200, -1200, 0], [1200, 1200, 1900], (n, 3))
    pixels = np.stack([c.project(points) for c in cams]) + rng.normal(0, 3.0, (len(cams), n, 2))
    confidence = np.clip(rng.normal(0.9, 0.05, (len(cams), n)), 0.31, 1.0)
    outlier = rng.random(n) < 0.05
    view = rng.integers(0, len(cams), n)
    pixels[view[outlier], np.flatnonzero(outlier)] += rng.uniform(80, 200, (outlier.sum(), 2)) * rng.choice(
        [-1, 1], (outlier.sum(), 2)
    )
    confidence[view[outlier], np.flatnonzero(outlier)] = rng.uniform(0.5, 0.8, outlier.sum())
    missed = rng.random((len(cams), n)) < 0.02
    pixels[missed], confidence[missed] = np.nan, 0.0
    return points, pixels, confidence, outlier


def pose2sim(
    pixels_pinhole: np.ndarray, confidence: np.ndarray, cams: list[Camera]
) -> tuple[np.ndarray, float]:
    from Pose2Sim.triangulation import triangulation_from_best_cameras

    logging.getLogger().setLevel(logging.WARNING)
    config = {"triangulation": {"reproj_error_threshold_triangulation": 15, "min_cameras_for_triangulation": 2,
                                "handle_LR_swap": False, "undistort_points": False}}  # fmt: skip
    P = [c.projection_matrix() for c in cams]
    x, y = pixels_pinhole[..., 0].copy(), pixels_pinhole[..., 1].copy()
    likelihood = np.where(np.isfinite(x) & (confidence >= 0.3), confidence, 0.0)
    x[likelihood == 0], y[likelihood == 0] = np.nan, np.nan  # what Pose2Sim does before triangulating
    out = np.full((pixels_pinhole.shape[1], 3), np.nan)
    start = time.perf_counter()
    for k in range(pixels_pinhole.shape[1]):
        kpt = (x[:, k], y[:, k], likelihood[:, k])
        Q, *_ = triangulation_from_best_cameras(config, kpt, kpt, P, None)
        out[k] = Q[:3]
    return out, time.perf_counter() - start


def aniposelib(pixels_pinhole: np.ndarray, cams: list[Camera]) -> tuple[np.ndarray, float]:
    import cv2
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup

    group = CameraGroup([
        ACamera(name=c.id, size=c.image_size, matrix=c.projection_matrix()[:, :3] @ c.rotation.T,
                dist=np.zeros(5), rvec=cv2.Rodrigues(c.rotation)[0].ravel(), tvec=c.translation_mm)
        for c in cams
    ])  # fmt: skip
    start = time.perf_counter()
    out = group.triangulate(pixels_pinhole, undistort=True, progress=False)  # zero distortion: K only
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=2000)
    args = parser.parse_args()
    cams = cameras()
    truth, pixels, confidence, outlier = scene(args.points, cams)
    n = args.points

    def error(points: np.ndarray) -> str:
        e = np.linalg.norm(points - truth, axis=1)
        return (
            f"MPJPE {np.nanmean(e):7.2f} mm (median {np.nanmedian(e):5.2f}, {np.isnan(e).mean() * 100:.1f} % NaN); "
            f"points with an outlier view {np.nanmean(e[outlier]):6.2f} mm, others {np.nanmean(e[~outlier]):6.2f} mm"
        )

    def best_of_3(**kwargs) -> tuple[np.ndarray, float]:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            result = triangulate(pixels, confidence, cams, **kwargs)
            times.append(time.perf_counter() - start)
        return result.points_mm, min(times)

    ours, ours_s = best_of_3()
    plain, plain_s = best_of_3(max_error_px=np.inf)
    import simspine_dataset.geometry.triangulation as tri

    tri.MAX_SUBSET_CAMERAS, every_subset = 0, tri.MAX_SUBSET_CAMERAS  # the greedy removal, for comparison
    greedy, greedy_s = best_of_3()
    tri.MAX_SUBSET_CAMERAS = every_subset
    pinhole = np.stack([undistort_pixels(pixels[c], cams[c].intrinsics) for c in range(len(cams))])
    p2s, p2s_s = pose2sim(pinhole, confidence, cams)
    anipose, anipose_s = aniposelib(pinhole, cams)

    print(f"{n} points, 4 cameras, identical inputs")
    for label, points, seconds in (("ours (every view subset), best of 3", ours, ours_s),
                                   ("ours, greedy one-view removal", greedy, greedy_s),
                                   ("ours without rejection (plain weighted DLT)", plain, plain_s),
                                   ("Pose2Sim triangulation_from_best_cameras", p2s, p2s_s),
                                   ("aniposelib CameraGroup.triangulate", anipose, anipose_s)):  # fmt: skip
        print(f"  {label:44s} {n / seconds:12,.0f} points/s   {error(points)}")
    print(
        f"throughput ours / Pose2Sim: {p2s_s / ours_s:.0f}x;  ours / plain batched DLT: {plain_s / ours_s:.2f}"
    )


if __name__ == "__main__":
    main()
