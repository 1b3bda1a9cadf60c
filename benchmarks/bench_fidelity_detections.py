"""Label fidelity with detections: a synthetic capture with mocap noise and SpinePose-like detections
(the synthetic detector model) built with ``--detections``, against its known truth, with the
triangulation's two outlier rules (every view subset, the default; greedy one-view removal).

    python benchmarks/bench_fidelity_detections.py [--noise-mm 3] [--seconds 2] [--out /tmp/bench_fidelity]

Prints, per rule, the mean distance to the truth of the spine-15 keypoints and of the lumbar
keypoints (Spine_01..03), over every frame of every sequence (after the 5 Hz filter).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np


def errors(capture: Path, out: Path) -> tuple[float, float]:
    from datasets import load_dataset

    from simspine_dataset import skeleton as sk
    from simspine_dataset.synthetic.generator import GROUND_TRUTH

    report = json.loads((out / "build_report.json").read_text())
    names = {(e["subject"], e["action"], e["subaction"]): e["sequence"] for e in report["sequences"]}
    spine, lumbar = [], []
    for split in report["rows"]:
        rows = load_dataset(str(out), split=split).with_format("numpy")[:]
        first = rows["camera"] == rows["camera"][0]
        for key, sequence in names.items():
            mine = (
                first
                & (rows["subject"] == key[0])
                & (rows["action"] == key[1])
                & (rows["subaction"] == key[2])
            )
            if not mine.any():
                continue
            truth = np.load(capture / GROUND_TRUTH.format(subject=key[0], sequence=sequence))[
                "keypoints_world_mm"
            ]
            built = rows["keypoints_3d_world_mm"][mine][np.argsort(rows["frame"][mine])]
            e = np.linalg.norm(built - truth[: len(built)], axis=-1)
            spine.append(e[:, list(sk.SPINE_SUBSET)])
            lumbar.append(e[:, [sk.INDEX[n] for n in ("Spine_01", "Spine_02", "Spine_03")]])
    return float(np.concatenate(spine).mean()), float(np.concatenate(lumbar).mean())


def main() -> None:
    import simspine_dataset.geometry.triangulation as tri
    from simspine_dataset.commands.build import BuildConfig, build
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    parser = argparse.ArgumentParser()
    parser.add_argument("--noise-mm", type=float, default=3.0)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_fidelity"))
    args = parser.parse_args()
    capture = args.out / "capture"
    if not (capture / "metadata.xml").is_file():
        settings = CaptureSettings(subjects=("S1", "S9"), seconds=args.seconds, seed=31, mocap_noise_mm=args.noise_mm,
                                   actions=("Walking", "Sitting", "Greeting", "Phoning"), workers=2)  # fmt: skip
        generate_capture(capture, settings)
    config = BuildConfig(
        detections=str(capture / "detections"), check_videos=False
    )  # one process: the patch holds
    every_subset = tri.MAX_SUBSET_CAMERAS
    for label, limit in (("every view subset (default)", every_subset), ("greedy one-view removal", 0)):
        tri.MAX_SUBSET_CAMERAS = limit
        out = args.out / f"build_{limit}"
        shutil.rmtree(out, ignore_errors=True)
        build(capture, out, config)
        spine, lumbar = errors(capture, out)
        print(
            f"{label:30s} spine-15 {spine:.2f} mm, lumbar {lumbar:.2f} mm ({args.noise_mm:g} mm mocap noise)"
        )
    tri.MAX_SUBSET_CAMERAS = every_subset


if __name__ == "__main__":
    main()
