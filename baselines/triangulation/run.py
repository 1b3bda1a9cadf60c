"""Task 2 baseline: triangulate every frame's four views and score against the 3D keypoints.

    python -m baselines.triangulation --dataset PATH_OR_REPO --split test --input gt|noisy|PRED.npz --out DIR

Inputs: ``gt`` the dataset's 2D keypoints (confidence 1 where visible); ``noisy`` the same through
the documented detector noise model (``simspine_dataset.synthetic.detector``, seeded);
``PRED.npz`` detections (e.g. from the 2D baseline) with arrays ``subject``, ``action``,
``subaction``, ``frame``, ``camera``, ``keypoints_2d_px`` (R, 37, 2), ``scores`` (R, 37).
Protocol: the split's frames seen by all four cameras, world frame, no root alignment (MPJPE) and
per-frame similarity Procrustes (P-MPJPE); table rows: actions and their mean; columns: the
regions of the skeleton table. Writes ``results.json`` and ``results.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from baselines.data import frame_groups, load_split, row_cameras
from simspine_dataset import h36m, metrics
from simspine_dataset import skeleton as sk
from simspine_dataset.geometry.triangulation import triangulate
from simspine_dataset.synthetic.detector import DetectorNoise, facing_camera, simulate_detections

COLUMNS = (
    "subject", "action", "subaction", "frame", "camera", "keypoints_2d_px", "keypoints_visible",
    "keypoints_3d_world_mm", "camera_intrinsics", "camera_rotation", "camera_translation_mm", "image_size",
)  # fmt: skip


def _inputs(
    mode: str, columns: dict, index: np.ndarray, keys: list[dict], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """2D input (C, G, 37, 2) and confidence (C, G, 37) for the groups."""
    px = columns["keypoints_2d_px"][index.T].astype(float)
    conf = columns["keypoints_visible"][index.T].astype(float)
    if mode == "gt":
        return px, conf
    if mode == "noisy":
        rng = np.random.default_rng(seed)
        world = columns["keypoints_3d_world_mm"][index[:, 0]].astype(float)
        out_px, out_conf = np.empty_like(px), np.empty_like(conf)
        for c in range(index.shape[1]):
            camera = row_cameras(columns, [index[0, c]])[0]
            facing = facing_camera(world, camera.center_mm)
            out_px[c], out_conf[c] = simulate_detections(
                px[c], facing, camera.image_size, rng, DetectorNoise()
            )
        return out_px, out_conf
    return _predictions(Path(mode), columns, index, keys)


def _predictions(
    path: Path, columns: dict, index: np.ndarray, keys: list[dict]
) -> tuple[np.ndarray, np.ndarray]:
    pred = np.load(path)
    fields = zip(
        pred["subject"], pred["action"], pred["subaction"], pred["frame"], pred["camera"], strict=True
    )
    lookup = {(str(s), str(a), int(sa), int(f), str(c)): i for i, (s, a, sa, f, c) in enumerate(fields)}
    C, G = index.shape[1], len(keys)
    px, conf = np.full((C, G, sk.NUM_KEYPOINTS, 2), np.nan), np.zeros((C, G, sk.NUM_KEYPOINTS))
    for g, key in enumerate(keys):
        for c in range(C):
            i = lookup.get(
                (
                    key["subject"],
                    key["action"],
                    key["subaction"],
                    key["frame"],
                    str(columns["camera"][index[g, c]]),
                )
            )
            if i is not None:
                px[c, g], conf[c, g] = pred["keypoints_2d_px"][i], pred["scores"][i]
    return px, conf


def evaluate(dataset: str, split: str, mode: str, seed: int = 0) -> dict:
    """Triangulate the split and return the MPJPE and P-MPJPE tables (mm)."""
    columns = load_split(dataset, split, COLUMNS)
    index, keys = frame_groups(columns, h36m.CAMERA_IDS)
    px, conf = _inputs(mode, columns, index, keys, seed)
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
    return {
        "protocol": f"split {split}, {len(keys)} frames seen by all 4 cameras, world frame, input {mode}",
        "mpjpe_mm": metrics.region_means(metrics.keypoint_errors(predicted, truth), actions),
        "p_mpjpe_mm": metrics.region_means(
            metrics.keypoint_errors(metrics.procrustes_align(predicted, truth), truth), actions
        ),
    }


def markdown(results: dict) -> str:
    regions = list(sk.REGIONS)
    lines = [f"Protocol: {results['protocol']}.", ""]
    for name, key in (("MPJPE (mm)", "mpjpe_mm"), ("P-MPJPE (mm)", "p_mpjpe_mm")):
        lines += [
            f"### {name}",
            "",
            "| action | " + " | ".join(regions) + " |",
            "|---|" + "---:|" * len(regions),
        ]
        lines += [
            f"| {a} | " + " | ".join(f"{row[r]:.2f}" for r in regions) + " |"
            for a, row in results[key].items()
        ]
        lines.append("")
    return "\n".join(lines)


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
    results = evaluate(args.dataset, args.split, args.input, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(results) + "\n")
    print(markdown(results))
    return 0
