"""Both models on both truths: synthetic captures whose truth is our model or SIMSPINE's own
(``capture-demo --truth-model``), at 0 and 3 mm mocap noise, with the synthetic detector's 2D
detections, built with our model (the default) and with ``--model simspine``, each timed in the same run.

    python benchmarks/bench_models.py [--subject S5] [--seed 21] [--seconds 4] [--out /tmp/bench_models]

Per cell: spine-15 keypoint error (mean distance to the truth), per region (lumbar Spine_01..03,
thoracic, cervical), total lumbar flexion RMS (L5_S1_Flex_Ext through the lumbar rhythm both models
share: x 7.1429 for L5_S1..L1_T12), and the build's mocap frames per second (scaling, IK, keypoints;
one process). The diagonal (each build on its own model's truth) measures the labels; the cross
rows measure how far the two definitions of the same vertebrae lie apart. Captures are generated
once under ``--out`` and reused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.model_table import LUMBAR_RHYTHM
from simspine_dataset.commands.build import BuildConfig, build
from simspine_dataset.synthetic.generator import GROUND_TRUTH, CaptureSettings, generate_capture

ACTIONS = ("Walking", "Sitting", "Greeting", "Phoning")
REGIONS = {
    "lumbar": ("Spine_01", "Spine_02", "Spine_03"),
    "thoracic": ("Spine_04", "Spine_05", "RLatissimus", "LLatissimus", "RClavicle", "LClavicle"),
    "cervical": ("Neck", "Neck_02", "Neck_03", "Head"),
}
LUMBAR_TOTAL = 1.0 + sum(r[0] for r in LUMBAR_RHYTHM.values())  # total lumbar flexion / L5_S1's


def capture(out: Path, truth: str, noise_mm: float, args: argparse.Namespace) -> Path:
    root = out / f"{args.subject}_seed{args.seed}_{args.seconds:g}s_noise{noise_mm:g}_{truth}"
    if not (root / "metadata.xml").is_file():
        settings = CaptureSettings((args.subject,), args.seconds, seed=args.seed, mocap_noise_mm=noise_mm,
                                   videos=False, actions=ACTIONS, truth_model=truth)  # fmt: skip
        generate_capture(root, settings)
    return root


def measure(raw: Path, out: Path, model: str | None) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    config = BuildConfig(detections=str(raw / "detections"), check_videos=False, model=model)
    start = time.perf_counter()
    report = build(raw, out, config)
    seconds = time.perf_counter() - start
    from datasets import load_dataset

    rows = load_dataset(str(out), split=None)
    rows = next(iter(rows.values())).with_format("numpy")[:]
    one = rows["camera"] == rows["camera"][0]  # every camera carries the same 3D labels
    axes = [a["name"] for a in json.loads((out / "meta" / "kinematic_axes.json").read_text())]
    error, flexion = [], []
    for entry in report.sequences:
        truth = np.load(raw / GROUND_TRUTH.format(subject=entry["subject"], sequence=entry["sequence"]))
        pick = one & (rows["action"] == entry["action"]) & (rows["subaction"] == entry["subaction"])
        frames = rows["frame"][pick]
        error.append(
            np.linalg.norm(rows["keypoints_3d_world_mm"][pick] - truth["keypoints_world_mm"][frames], axis=-1)
        )
        names = list(truth["coordinate_names"])
        true_flex = truth["coordinates"][frames, names.index("L5_S1_Flex_Ext")]
        flexion.append(rows["kinematics"][pick][:, axes.index("L5_S1_Flex_Ext")] - true_flex)
    error = np.concatenate(error)
    flexion = np.concatenate(flexion) * LUMBAR_TOTAL
    row = {"spine15_mm": float(error[:, list(sk.SPINE_SUBSET)].mean())}
    for region, names in REGIONS.items():
        row[f"{region}_mm"] = float(error[:, [sk.INDEX[n] for n in names]].mean())
    row["lumbar_flexion_rms_deg"] = float(np.sqrt(np.mean(flexion**2)))
    row["frames_per_s"] = sum(len(np.load(raw / GROUND_TRUTH.format(subject=e["subject"], sequence=e["sequence"]))[
        "coordinates"]) for e in report.sequences) / seconds  # fmt: skip
    row["flagged"] = sum(e["status"] == "flagged" for e in report.sequences)
    row["failed"] = sum(e["status"] == "failed" for e in report.sequences)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="S5")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--noise-mm", type=float, nargs="+", default=[0.0, 3.0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_models"))
    args = parser.parse_args()
    header = ("truth", "build", "noise", "spine-15", "lumbar", "thoracic", "cervical", "flex RMS", "frames/s",
              "flagged", "failed")  # fmt: skip
    print(("{:>9} " * len(header)).format(*header))
    for noise in args.noise_mm:
        for truth in ("ours", "simspine"):
            raw = capture(args.out, truth, noise, args)
            for model in (None, "simspine"):
                r = measure(raw, args.out / "build", model)
                print(f"{truth:>9} {model or 'default':>9} {noise:>9g} {r['spine15_mm']:>9.2f} {r['lumbar_mm']:>9.2f} "
                      f"{r['thoracic_mm']:>9.2f} {r['cervical_mm']:>9.2f} {r['lumbar_flexion_rms_deg']:>9.2f} "
                      f"{r['frames_per_s']:>9.1f} {r['flagged']:>9d} {r['failed']:>9d}", flush=True)  # fmt: skip
    print("(mm; flexion: total lumbar flexion RMS, degrees; frames/s: mocap frames per second of the whole build,"
          " one process; flagged / failed: sequences beyond the gates / failed)")  # fmt: skip


if __name__ == "__main__":
    main()
