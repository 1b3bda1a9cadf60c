"""Evaluate a lifting checkpoint on a split.

    python -m baselines.lifting.evaluate --checkpoint DIR/checkpoint.pt --dataset PATH_OR_REPO \
        --split test --out DIR

Protocol: every row (camera view) of the split, camera frame, root-relative (root = Hip, included
with its zero error as in the Human3.6M convention). MPJPE per region of the skeleton table that the
model predicts; P-MPJPE after per-pose similarity Procrustes alignment on the 15 spine keypoints
for the spine regions (S_C, S_T, S_L, S), and on all 37 for B and All (full-body models only), so
spine-only and full-body models are scored on the spine identically. Rows: actions and their mean.
Writes ``results.json`` and ``results.md``.

``--onnx`` scores the official SIMSPINE lifter (``spinepose_lifter_8xb256-90e_simspine-37x2.onnx``)
on the same rows and regions: input (N, 37, 2) in SpineTrack order, pinhole-normalised
``(u - cx) / fx, (v - cy) / fy``, zero where a keypoint is missing; output (N, 37, 3) up to scale
(SpinePose fixes the scale from an assumed body height). Its poses are made root-relative (Hip) and
scaled per pose onto the truth by least squares before MPJPE (so its MPJPE is an N-MPJPE, stated in
the protocol); P-MPJPE is the same alignment as for our checkpoints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from baselines.lifting.data import LiftingArrays, load_arrays
from baselines.lifting.model import Lifter
from baselines.lifting.train import default_device, load_checkpoint
from baselines.report import write_results
from simspine_dataset import metrics
from simspine_dataset import skeleton as sk

SPINE_REGIONS = ("S_C", "S_T", "S_L", "S")


@torch.no_grad()
def predict(model: Lifter, inputs: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Root-relative mm (N, K, 3) for normalised 2D inputs (N, K, 2)."""
    device = next(model.parameters()).device
    model.eval()
    parts = [
        model.predict_mm(torch.as_tensor(inputs[i : i + batch_size], device=device)).cpu().numpy()
        for i in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, inputs.shape[1], 3))


def _embed(poses: np.ndarray, keypoints: tuple[int, ...]) -> np.ndarray:
    """(N, K, 3) in the set's order -> (N, 37, 3), NaN for keypoints outside the set."""
    out = np.full((len(poses), sk.NUM_KEYPOINTS, 3), np.nan)
    out[:, list(keypoints)] = poses
    return out


def score(predicted: np.ndarray, arrays: LiftingArrays, protocol: str) -> dict:
    """MPJPE and P-MPJPE tables (mm) per action x region for predictions in the set's order."""
    pred, true = _embed(predicted, arrays.keypoints), _embed(arrays.targets, arrays.keypoints)
    covered = {n: idx for n, idx in sk.REGIONS.items() if set(idx) <= set(arrays.keypoints)}
    mpjpe = metrics.region_means(metrics.keypoint_errors(pred, true), arrays.actions, covered)
    p_mpjpe: dict[str, dict[str, float]] = {}
    for align_on, regions in (("S", SPINE_REGIONS), ("All", ("B", "All"))):
        if align_on not in covered:
            continue
        idx = list(sk.REGIONS[align_on])
        errors = np.full(pred.shape[:2], np.nan)
        errors[:, idx] = metrics.keypoint_errors(
            metrics.procrustes_align(pred[:, idx], true[:, idx]), true[:, idx]
        )
        table = metrics.region_means(errors, arrays.actions, {r: covered[r] for r in regions})
        for action, row in table.items():
            p_mpjpe.setdefault(action, {}).update(row)
    return {"protocol": protocol, "mpjpe_mm": mpjpe, "p_mpjpe_mm": p_mpjpe}


def evaluate(
    checkpoint: str | Path, dataset: str, split: str = "test", mode: str | None = None, seed: int = 0
) -> dict:
    """Score a checkpoint on ``split``; 2D input ``mode`` defaults to the one it was trained on."""
    model, config, _ = load_checkpoint(checkpoint, default_device())
    mode = mode or config.input
    arrays = load_arrays(dataset, split, config.keypoints, mode, seed)
    protocol = (
        f"split {split}, {len(arrays)} camera views, {config.keypoints} model "
        f"({len(arrays.keypoints)} keypoints), "
        f"2D input {mode}, camera frame, root-relative (Hip included), P-MPJPE aligned on the spine "
        f"(spine regions) or all keypoints (B, All)"
    )
    return score(predict(model, arrays.inputs), arrays, protocol)


def predict_onnx(path: str | Path, arrays: LiftingArrays, batch_size: int = 8192) -> np.ndarray:
    """Root-relative poses (N, 37, 3), SIMSPINE order, of a SpineTrack-order ONNX lifter, scaled per
    pose onto ``arrays.targets`` (the lifter's output has no metric scale)."""
    from simspine_dataset.pose_models import default_threads, onnx_session

    if arrays.keypoints != tuple(range(sk.NUM_KEYPOINTS)):
        raise ValueError(
            "the SIMSPINE lifter takes all 37 keypoints: load the arrays with keypoint set 'full'"
        )
    session = onnx_session(path, default_threads())
    inputs = np.nan_to_num(arrays.inputs[:, list(sk.FROM_SPINETRACK)], nan=0.0).astype(np.float32)
    name = session.get_inputs()[0].name
    out = np.concatenate([session.run(None, {name: inputs[i : i + batch_size]})[0]
                          for i in range(0, len(inputs), batch_size)])  # fmt: skip
    poses = out[:, list(sk.TO_SPINETRACK)].astype(float)
    poses -= poses[:, sk.INDEX["Hip"] : sk.INDEX["Hip"] + 1]
    return metrics.scale_align(poses, arrays.targets.astype(float))  # as metrics.n_mpjpe aligns


def evaluate_onnx(
    path: str | Path, dataset: str, split: str = "test", mode: str = "gt", seed: int = 0
) -> dict:
    """Score an ONNX lifter with SpinePose's lifter I/O (the official SIMSPINE lifter) on ``split``."""
    arrays = load_arrays(dataset, split, "full", mode, seed)
    protocol = (
        f"split {split}, {len(arrays)} camera views, ONNX lifter {Path(path).name} (37 keypoints, "
        f"SpineTrack order), 2D input {mode}, camera frame, root-relative (Hip included), each pose "
        f"scaled onto the truth by least squares before MPJPE (N-MPJPE: the lifter has no metric "
        f"scale), P-MPJPE aligned on the spine (spine regions) or all keypoints (B, All)"
    )
    return score(predict_onnx(path, arrays), arrays, protocol)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.lifting.evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--checkpoint", type=Path, help="one of our lifting checkpoints")
    parser.add_argument("--onnx", type=Path, help="or the official SIMSPINE lifter (or one with its I/O)")
    parser.add_argument("--dataset", required=True, help="build folder or ORG/NAME on the Hub")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--input", default=None, help="gt, noisy, or a predictions .npz (default: as trained)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.onnx:
        results = evaluate_onnx(args.onnx, args.dataset, args.split, args.input or "gt", args.seed)
    elif args.checkpoint:
        results = evaluate(args.checkpoint, args.dataset, args.split, args.input, args.seed)
    else:
        parser.error("give --checkpoint or --onnx")
    print(write_results(results, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
