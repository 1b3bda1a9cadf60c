"""Evaluate a 2D model on a split of the ``frames`` config: a trained mmpose model, or SpinePose.

    python -m baselines.pose2d.evaluate --config CFG --checkpoint CKPT --dataset PATH_OR_REPO \\
        --split test --out DIR
    python -m baselines.pose2d.evaluate --model spinepose-m [--model-version v1] --dataset ... --out DIR
    python -m baselines.pose2d.evaluate --onnx MODEL.onnx [--input-size W H] --dataset ... --out DIR

For an mmpose model, mmengine's Runner runs it over the split (the crops' person boxes as the
detections) and mmpose's ``CocoMetric`` writes its predictions. SpinePose's published models and
any ONNX with their SimCC I/O (the paper's "before fine-tuning" rows) run through
``simspine_dataset.pose_models`` on the same crops and boxes, as ``simspine detect`` runs them.
From the predictions this reports COCO AP/AR with our sigmas on
all 37 keypoints and on SpinePose's body (17) and spine (9) subsets, and PCK-AUC (threshold
0..0.95 x 30 px in the crop) as mmpose computes it (``metrics``). Writes ``results.json``,
``results.md`` and ``predictions.npz`` in full-image pixels, the input format of
``python -m baselines.triangulation --input DIR/predictions.npz``: tasks 1 and 2 chain.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from baselines.data import ROW_KEY
from baselines.pose2d import full_unpickling
from baselines.pose2d.metrics import SUBSETS, coco_keypoint_ap, pck_auc
from baselines.pose2d.train import configure
from baselines.report import write_results
from simspine_dataset import skeleton as sk
from simspine_dataset.io.atomic import atomic_path
from simspine_dataset.stages.frames import crop_to_full_px

if TYPE_CHECKING:
    from simspine_dataset.pose_models import TopDownModel


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


def predict_onnx(model: TopDownModel, coco_gt: dict, image_dir: Path, batch: int = 64) -> list[dict]:
    """COCO-format predictions of a ``pose_models`` model on the exported crops, each run on its
    annotation's person box (in the crop's pixels), as the mmpose path does."""
    import cv2

    from simspine_dataset.pose_models import CropBatch, crop_images, crop_transform

    images = {im["id"]: im for im in coco_gt["images"]}
    anns = coco_gt["annotations"]
    predictions = []
    for start in range(0, len(anns), batch):
        chunk = anns[start : start + batch]
        boxes = np.array([a["bbox"] for a in chunk], float)
        centres, scales = crop_transform(
            np.c_[boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], model.input_size_wh
        )
        crops = [
            crop_images(cv2.imread(str(image_dir / images[a["image_id"]]["file_name"])), c[None], s[None],
                        model.input_size_wh)[0]
            for a, c, s in zip(chunk, centres, scales, strict=True)
        ]  # fmt: skip
        xy, scores = model.predict(CropBatch(np.stack(crops), centres, scales))
        found = np.isfinite(xy).all(-1)
        flat = np.concatenate([np.where(found[..., None], xy, 0.0), scores[..., None]], axis=-1)
        predictions += [
            {"image_id": a["image_id"], "category_id": 1, "keypoints": k.ravel().tolist(),
             "score": float(s[s > 0].mean()) if (s > 0).any() else 0.0}
            for a, k, s in zip(chunk, flat, scores, strict=True)
        ]  # fmt: skip
    return predictions


def evaluate_model(model: TopDownModel, dataset: str, split: str, out: str | Path) -> dict:
    """Score a ``pose_models`` model (SpinePose by name, or an ONNX file) on ``split``."""
    from baselines.pose2d.adapter import export

    out = Path(out)
    ann = export(dataset, split, out / "data")
    coco_gt = json.loads(ann.read_text())
    predictions = predict_onnx(model, coco_gt, out / "data" / "images" / split)
    results = {
        "protocol": f"model {model.identity}, split {split}, crops of the frames config with their person "
        "boxes (padded 1.25 as SpinePose does), OKS sigmas of the skeleton table, body/spine subsets as "
        "SpinePose defines them, PCK-AUC thresholds 0..0.95 x 30 px",
        **score(coco_gt, predictions),
    }
    write_results(results, out, markdown)
    predictions_npz(coco_gt, predictions, out / "predictions.npz")
    return results


def evaluate(
    config: str | Path,
    checkpoint: str | Path,
    dataset: str,
    split: str,
    out: str | Path,
    device: str | None = None,
) -> dict:
    from mmengine.runner import Runner

    out = Path(out)
    cfg = configure(config, dataset, out, splits=(split,), device=device)
    ann = Path(cfg.test_dataloader.dataset.data_root) / "annotations" / f"{split}.json"
    cfg.test_dataloader.dataset.update(ann_file=str(ann), data_prefix=dict(img=f"images/{split}/"))
    cfg.test_evaluator = dict(type="CocoMetric", ann_file=str(ann), outfile_prefix=str(out / "mmpose"))
    cfg.load_from = str(checkpoint)
    with full_unpickling():  # the checkpoint under test
        mmpose_metrics = Runner.from_cfg(cfg).test()
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
    parser.add_argument("--config", type=Path, help="an mmpose config (with --checkpoint)")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--model", help="a SpinePose model by name (spinepose-s|m|l|x) instead")
    parser.add_argument("--model-version", choices=["v2", "v1"])
    parser.add_argument("--onnx", type=Path, help="any ONNX model with SpinePose's SimCC I/O instead")
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("W", "H"))
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)
    if args.config and args.checkpoint:
        results = evaluate(args.config, args.checkpoint, args.dataset, args.split, args.out, args.device)
    elif args.model or args.onnx:
        from simspine_dataset.pose_models import default_threads, load_model

        model = load_model(args.model or "spinepose-m", version=args.model_version, onnx=args.onnx,
                           input_size_wh=tuple(args.input_size) if args.input_size else None,
                           threads=default_threads(), device=args.device or "auto")  # fmt: skip
        results = evaluate_model(model, args.dataset, args.split, args.out)
    else:
        parser.error("give --config and --checkpoint, or --model, or --onnx")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
