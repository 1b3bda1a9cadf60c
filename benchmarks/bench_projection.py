"""Projection throughput: our batched Human3.6M projection against cv2.projectPoints.

Both project the same world points through the same real camera (S1, 54138969); OpenCV with its
own lens model (the radial part is identical, the tangential part is not), so the ratio compares
equal work. Also times undistortion (ours, Newton) against cv2.undistortPoints (iterative).

    python benchmarks/bench_projection.py [--points 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from simspine_dataset import h36m
from simspine_dataset.geometry.camera import Camera, undistort


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    cal = h36m.reference_calibration()
    cam_id = h36m.CAMERA_IDS[0]
    camera = Camera.from_center(cam_id, cal.intrinsics[cam_id], *cal.extrinsics["S1"][cam_id], 1000, 1002)
    points = np.random.default_rng(0).uniform([-1500, -1500, 0], [1500, 1500, 2000], (args.points, 3))
    intr = camera.intrinsics
    K = np.array([[intr[0], 0, intr[2]], [0, intr[1], intr[3]], [0, 0, 1]])
    dist = np.array([intr[4], intr[5], intr[7], intr[8], intr[6]])
    rvec, _ = cv2.Rodrigues(camera.rotation)
    cv2.setNumThreads(1)

    ours_s = best_of(args.repeats, lambda: camera.project(points))
    cv_s = best_of(args.repeats, lambda: cv2.projectPoints(points, rvec, camera.translation_mm, K, dist))
    pixels = camera.project(points)
    und_s = best_of(args.repeats, lambda: undistort(pixels, intr))
    cv_und_s = best_of(args.repeats, lambda: cv2.undistortPoints(pixels[:, None], K, dist))

    n = args.points
    print(f"points: {n:,}  (best of {args.repeats}, one process)")
    print(
        f"project    ours {n / ours_s / 1e6:8.2f} M points/s   cv2.projectPoints   {n / cv_s / 1e6:8.2f} M points/s   ratio ours/cv2 {cv_s / ours_s:5.2f}"
    )
    print(
        f"undistort  ours {n / und_s / 1e6:8.2f} M points/s   cv2.undistortPoints {n / cv_und_s / 1e6:8.2f} M points/s   ratio ours/cv2 {cv_und_s / und_s:5.2f}"
    )


if __name__ == "__main__":
    main()
