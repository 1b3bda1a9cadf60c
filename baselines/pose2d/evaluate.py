"""Evaluate a trained mmpose model on a split of the ``frames`` config.

    python -m baselines.pose2d.evaluate --config CFG --checkpoint CKPT --dataset PATH_OR_REPO \\
        --split test --out DIR

mmengine's Runner runs the model over the split (the crops' person boxes as the detections) and
mmpose's ``CocoMetric`` writes its predictions; from them this reports COCO AP/AR with our sigmas on
all 37 keypoints and on SpinePose's body (17) and spine (9) subsets, and PCK-AUC (threshold
0..0.95 x 30 px in the crop) as mmpose computes it (``metrics``). Writes ``results.json``,
``results.md`` and ``predictions.npz`` in full-image pixels, the input format of
``python -m baselines.triangulation --input DIR/predictions.npz``: tasks 1 and 2 chain.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from baselines.data import ROW_KEY
from baselines.pose2d.metrics import SUBSETS, coco_keypoint_ap, pck_auc
from baselines.pose2d.train import configure
from baselines.report import write_results
from simspine_dataset import skeleton as sk
from simspine_dataset.frames import crop_to_full_px
from simspine_dataset.io.atomic import atomic_path


def score(coco_gt: dict, predictions: list[dict]) -> dict:
    """AP/AR per subset and PCK-AUC of COCO-format predictions (one per annotation)."""
    by_image = {p["image_id"]: p for p in predictions}
    anns = [a for a in coco_gt["annotations"] if a["image_id"] in by_image]
    gt = np.array([a["keypoints"] for a in anns], float).reshape(len(anns), sk.NUM_KEYPOINTS, 3)
    pred = np.array([by_image[a["image_id"]]["keypoints"] for a in anns], float).reshape(gt.shape)
    return {
        "images": len(anns),
        "coco": {name: coco_keypoint_ap(coco_gt, predictions, name) for name in SUBSETS},
        "pck_auc": {
            name: pck_auc(pred[:, idx, :2], gt[:, idx, :2], gt[:, idx, 2] > 0)
            for name, idx in SUBSETS.items()
        },
    }


def predictions_npz(coco_gt: dict, predictions: list[dict], path: Path) -> Path:
    """Predictions in full-image pixels with each row's key, for the triangulation baseline."""
    images = {im["id"]: im for im in coco_gt["images"]}
    chosen = sorted(predictions, key=lambda p: p["image_id"])
    keypoints = np.array([p["keypoints"] for p in chosen], float).reshape(len(chosen), sk.NUM_KEYPOINTS, 3)
    sources = [images[p["image_id"]]["simspine"] for p in chosen]
    crops = np.array([s["crop_xywh_px"] for s in sources], float)
    widths = np.array([images[p["image_id"]]["width"] for p in chosen], float)
    arrays = {k: np.array([s[k] for s in sources]) for k in ROW_KEY}
    arrays["keypoints_2d_px"] = crop_to_full_px(keypoints[..., :2], crops, widths).astype(np.float32)
    arrays["scores"] = keypoints[..., 2].astype(np.float32)
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez(f, **arrays)
    return path


def markdown(results: dict) -> str:
    lines = [
        f"Protocol: {results['protocol']}.",
        "",
        "| subset | AP | AP .5 | AP .75 | AR | PCK-AUC |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in SUBSETS:
        c = results["coco"][name]
        values = [c["AP"], c["AP .5"], c["AP .75"], c["AR"], results["pck_auc"][name]]
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    return "\n".join(lines)


def evaluate(config, checkpoint, dataset: str, split: str, out, device=None) -> dict:
    from mmengine.runner import Runner

    out = Path(out)
    cfg = configure(config, dataset, out, splits=(split,), device=device)
    ann = Path(cfg.test_dataloader.dataset.data_root) / "annotations" / f"{split}.json"
    cfg.test_dataloader.dataset.update(ann_file=str(ann), data_prefix=dict(img=f"images/{split}/"))
    cfg.test_evaluator = dict(type="CocoMetric", ann_file=str(ann), outfile_prefix=str(out / "mmpose"))
    cfg.load_from = str(checkpoint)
    runner = Runner.from_cfg(cfg)
    mmpose_metrics = runner.test()
    coco_gt = json.loads(ann.read_text())
    predictions = json.loads((out / "mmpose.keypoints.json").read_text())
    results = {
        "protocol": f"split {split}, crops of the frames config with their person boxes, OKS sigmas of the "
        "skeleton table, body/spine subsets as SpinePose defines them, PCK-AUC thresholds 0..0.95 x 30 px",
        **score(coco_gt, predictions),
        "mmpose_coco_metric": {k: float(v) for k, v in mmpose_metrics.items()},
    }
    write_results(results, out, markdown)
    predictions_npz(coco_gt, predictions, out / "predictions.npz")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.pose2d.evaluate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)
    print(markdown(evaluate(args.config, args.checkpoint, args.dataset, args.split, args.out, args.device)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
