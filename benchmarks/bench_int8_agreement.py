"""int8 against fp32 on a model that has learnt something: a 2D baseline checkpoint (RTMPose-m
config) exported with SpinePose's I/O, detected at both precisions, scored at both.

    python benchmarks/bench_int8_agreement.py --config CFG --checkpoint CKPT --capture RAW \\
        --dataset BUILD_WITH_FRAMES [--subjects S9] [--stride 5] [--out /tmp/bench_int8]

1. ``baselines.pose2d.export_onnx``: the checkpoint as an ONNX file (its keypoints equal mmpose's);
2. ``simspine detect`` on the capture's ``--subjects`` every ``--stride``-th frame at fp32, then at
   int8 (quantized on the capture's crops, its gate's held-out agreement in ``detect_report.json``),
   timed; the quantization timed apart;
3. the agreement over every detected frame (not only the gate's held-out crops): per keypoint the
   distance between the int8 and fp32 keypoints in image pixels and the score difference;
4. the 2D baseline's metrics (COCO AP with our sigmas, PCK-AUC) of both ONNX files on the build's
   ``frames`` test split (``baselines.pose2d.evaluate``), against the labels.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import baselines.pose2d  # noqa: F401  (a stand-in torchvision where none is installed, for mmpose)


def detections(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every video folder's keypoints (T, 37, 2) and scores (T, 37), keyed by its path."""
    from simspine_dataset.io import detections as det_io

    found = {}
    for folder in sorted(root.glob("S*/*.*")):
        frames = sorted(int(p.stem.split("_")[1]) for p in folder.glob("frame_*.json"))
        sequence, camera = folder.name.rsplit(".", 1)
        xy, scores = det_io.read_sequence(root, folder.parent.name, sequence, camera, frames[-1] + 1)
        found[f"{folder.parent.name}/{folder.name}"] = (xy[frames], scores[frames])
    return found


def main() -> None:
    from baselines.pose2d.evaluate import evaluate_model
    from baselines.pose2d.export_onnx import export_onnx
    from baselines.pose2d.metrics import SUBSETS
    from simspine_dataset import skeleton as sk
    from simspine_dataset.config import DetectConfig
    from simspine_dataset.pose_models import SimccOnnxModel, default_threads
    from simspine_dataset.stages.detect import detect, plan
    from simspine_dataset.stages.precision import prepare

    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--capture", type=Path, required=True)
    parser.add_argument("--dataset", required=True, help="a build with --frames (its test split is scored)")
    parser.add_argument("--subjects", nargs="+", default=["S9"])
    parser.add_argument("--stride", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_int8"))
    args = parser.parse_args()

    onnx = export_onnx(args.config, args.checkpoint, args.out / "model.onnx")
    runs, seconds = {}, {}
    for precision in ("fp32", "int8"):
        config = DetectConfig(onnx=str(onnx), subjects=tuple(args.subjects), stride=args.stride,
                              precision=precision, accept_int8=True)  # fmt: skip  # measured, not gated
        out = args.out / f"detections_{precision}"
        if precision == "int8":
            start = time.perf_counter()
            config = prepare(out, plan(args.capture, config)[0], config)
            seconds["quantization"] = time.perf_counter() - start
        start = time.perf_counter()
        runs[precision] = detect(args.capture, out, config)
        seconds[precision] = time.perf_counter() - start
    crops = sum(r["people"] for r in runs["fp32"]["results"])
    print(
        f"model {runs['fp32']['model']}; {crops} crops ({', '.join(args.subjects)}, every {args.stride}th frame)"
    )
    print(f"detect fp32 {crops / seconds['fp32']:.1f} crops/s, int8 {crops / seconds['int8']:.1f} crops/s "
          f"({seconds['fp32'] / seconds['int8']:.2f}x); quantization {seconds['quantization']:.1f} s")  # fmt: skip
    gate = runs["int8"]["precision"]["agreement"]
    print(f"gate's held-out check ({gate['crops']} crops): input px median {gate['crop_px']['median']:.2f}, "
          f"p95 {gate['crop_px']['p95']:.2f}; image px median {gate['image_px']['median']:.2f}, "
          f"p95 {gate['image_px']['p95']:.2f}; worst {gate['worst_keypoint']}; passed {gate['passed']}")  # fmt: skip

    fp32, int8 = detections(args.out / "detections_fp32"), detections(args.out / "detections_int8")
    xy32, s32 = (np.concatenate([fp32[k][i] for k in fp32]) for i in (0, 1))
    xy8, s8 = (np.concatenate([int8[k][i] for k in fp32]) for i in (0, 1))
    both = np.isfinite(xy32).all(-1) & np.isfinite(xy8).all(-1)
    distance = np.where(both, np.linalg.norm(xy8 - xy32, axis=-1), np.nan)
    one_only = (np.isfinite(xy32).all(-1) != np.isfinite(xy8).all(-1)).sum()
    print(f"\nevery detected frame ({len(xy32)} frames x 37): image px median {np.nanmedian(distance):.2f}, "
          f"p95 {np.nanpercentile(distance, 95):.2f}, max {np.nanmax(distance):.1f}; |score diff| median "
          f"{np.median(np.abs(s8 - s32)):.4f}, p95 {np.percentile(np.abs(s8 - s32), 95):.4f}; found by one only "
          f"{one_only}")  # fmt: skip
    print("\n| subset | image px median | image px p95 | share moved > 5 px |")
    print("|---|---:|---:|---:|")
    for name, index in SUBSETS.items():
        d = distance[:, index]
        print(f"| {name} | {np.nanmedian(d):.2f} | {np.nanpercentile(d, 95):.2f} | {np.nanmean(d > 5):.3f} |")

    scores = {}
    threads = default_threads()
    models = {"fp32": SimccOnnxModel(onnx, threads=threads, device="cpu"),
              "int8": SimccOnnxModel(config.int8_model, name="int8", threads=threads, device="cpu")}  # fmt: skip
    for precision, model in models.items():
        scores[precision] = evaluate_model(model, args.dataset, "test", args.out / f"evaluate_{precision}")
    print("\n| subset | AP fp32 | AP int8 | AR fp32 | AR int8 | PCK-AUC fp32 | PCK-AUC int8 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in SUBSETS:
        a, b = scores["fp32"], scores["int8"]
        print(f"| {name} | {a['coco'][name]['AP']:.3f} | {b['coco'][name]['AP']:.3f} | {a['coco'][name]['AR']:.3f} | "
              f"{b['coco'][name]['AR']:.3f} | {a['pck_auc'][name]:.3f} | {b['pck_auc'][name]:.3f} |")  # fmt: skip
    worst = sorted(gate["per_keypoint"].items(), key=lambda kv: -kv[1]["crop_px"]["p95"])[:5]
    print(
        "\ngate's worst keypoints (input px p95):",
        ", ".join(f"{n} {v['crop_px']['p95']:.2f}" for n, v in worst),
    )
    (args.out / "summary.json").write_text(json.dumps({"seconds": seconds, "crops": crops, "gate": gate,
                                                       "scores": scores, "keypoints": list(sk.NAMES)}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
