"""The simulation on a synthetic capture: time per stage, fidelity against the ground truth, and
curvature per action (the SIMSPINE paper's findings to compare with).

    python benchmarks/bench_simulation.py [--subjects S1 S9] [--seconds 2] [--noise-mm 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.curvature import summarize_by_action
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.biomech.model_table import model_spec
from simspine_dataset.biomech.pipeline import simulate_subject
from simspine_dataset.stages.capture import discover, load_mocap
from simspine_dataset.synthetic.generator import GROUND_TRUTH, CaptureSettings, generate_capture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", nargs="+", default=["S1", "S9"])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--noise-mm", type=float, default=0.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        settings = CaptureSettings(tuple(args.subjects), args.seconds, seed=1, mocap_noise_mm=args.noise_mm,
                                   videos=False, detections=False)  # fmt: skip
        generate_capture(root, settings)
        print(f"capture (mocap only): {time.perf_counter() - start:.1f} s")
        capture = discover(root, check_videos=False)
        table, errors, frames = [], [], 0
        for subject in args.subjects:
            records = [s for s in capture.sequences if s.subject == subject]
            start = time.perf_counter()
            _, results = simulate_subject(subject, {s.key: load_mocap(s).joints_world_mm for s in records})
            seconds = time.perf_counter() - start
            n = sum(len(r.coordinates) for r in results)
            frames += n
            print(
                f"{subject}: scale + IK + markers + filter for {n} frames in {seconds:.1f} s ({n / seconds:.0f} frames/s)"
            )
            for record, result in zip(records, results, strict=True):
                truth = np.load(root / GROUND_TRUTH.format(subject=subject, sequence=record.sequence))
                spine = list(sk.SPINE_SUBSET)
                errors.append(
                    np.linalg.norm(
                        result.keypoints_unfiltered_world_mm[:, spine]
                        - truth["keypoints_world_mm"][:, spine],
                        axis=-1,
                    )
                )
                table.append((record.action, result.coordinates, result.coordinate_names))
        print(
            f"spine-15 keypoint error vs ground truth (before the filter): mean {np.concatenate(errors).mean():.3f} mm"
        )
        summary = summarize_by_action(KinematicModel(model_spec()), table)
        print(
            f"\n{'action':13} {'lordosis':>8} {'kyphosis':>8} {'L5_S1':>6} {'L4_L5':>6} {'L3_L4':>6} {'L2_L3':>6} {'L1_L2':>6} {'neck bend':>9}"
        )
        for action, row in summary.items():
            rom = [row[f"rom_{level}_deg"] for level in ("L5_S1", "L4_L5", "L3_L4", "L2_L3", "L1_L2")]
            print(
                f"{action:13} {row['lordosis_deg']:8.1f} {row['kyphosis_deg']:8.1f} "
                + " ".join(f"{v:6.1f}" for v in rom)
                + f" {row['neck_bending_range_deg']:9.1f}"
            )
        print("(degrees; lordosis/kyphosis means; lumbar columns: segmental flexion range of motion)")


if __name__ == "__main__":
    main()
