"""Task 2 baseline: triangulate every frame's four views and score against the 3D keypoints.

    python -m baselines.triangulation --dataset PATH_OR_REPO --split test --input gt|noisy|PRED.npz --out DIR

Inputs (``baselines.data.input_2d``): ``gt`` the dataset's 2D keypoints (confidence 1 where
visible); ``noisy`` the same through the documented detector noise model (seeded); ``PRED.npz``
detections, e.g. from the 2D baseline.
Protocol: the split's frames seen by all four cameras, world frame, no root alignment (MPJPE) and
per-frame similarity Procrustes (P-MPJPE); table rows: actions and their mean; columns: the
regions of the skeleton table. Writes ``results.json`` and ``results.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from baselines.data import frame_groups, input_2d, input_columns, load_split, row_cameras
from baselines.report import write_results
from simspine_dataset import h36m, metrics
from simspine_dataset import skeleton as sk
from simspine_dataset.geometry.triangulation import triangulate

COLUMNS = (
    "subject", "action", "subaction", "frame", "camera", "keypoints_3d_world_mm",
    "camera_intrinsics", "camera_rotation", "camera_translation_mm", "image_size",
)  # fmt: skip


def evaluate(dataset: str, split: str, mode: str, seed: int = 0) -> dict:
    """Triangulate the split and return the MPJPE and P-MPJPE tables (mm)."""
    columns = load_split(dataset, split, sorted({*COLUMNS, *input_columns(mode)}))
    index, keys = frame_groups(columns, h36m.CAMERA_IDS)
    row_px, row_conf = input_2d(mode, columns, seed)
    px, conf = row_px[index.T], row_conf[index.T]  # (C, G, 37, 2), (C, G, 37)
    truth = columns["keypoints_3d_world_mm"][index[:, 0]].astype(float)
    predicted = np.full_like(truth, np.nan)
    subjects = np.array([k["subject"] for k in keys])
    for subject in sorted(set(subjects.tolist())):
        g = np.flatnonzero(subjects == subject)
        cameras = row_cameras(columns, index[g[0]])  # extrinsics are per subject
        result = triangulate(
            px[:, g].reshape(len(cameras), -1, 2), conf[:, g].reshape(len(cameras), -1), cameras
        )
        predicted[g] = result.points_mm.reshape(len(g), sk.NUM_KEYPOINTS, 3)
    actions = [k["action"] for k in keys]
    coverage = float(np.isfinite(predicted).all(-1).mean())  # no view subset fits: NaN, not scored
    return {
        "protocol": f"split {split}, {len(keys)} frames seen by all 4 cameras, world frame, input {mode}, "
        f"{coverage:.1%} of keypoints triangulated (the others: fewer than two views, or no view subset "
        "under the reprojection threshold; not scored)",
        "triangulated_fraction": coverage,
        "mpjpe_mm": metrics.region_means(metrics.keypoint_errors(predicted, truth), actions),
        "p_mpjpe_mm": metrics.region_means(
            metrics.keypoint_errors(metrics.procrustes_align(predicted, truth), truth), actions
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.triangulation", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", required=True, help="build folder or ORG/NAME on the Hub")
    parser.add_argument("--split", default="test")
    parser.add_argument("--input", default="gt", help="gt, noisy, or a predictions .npz")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(write_results(evaluate(args.dataset, args.split, args.input, args.seed), args.out))
    return 0
