"""Single-view rays (``ik.single_view_rays``) against their absence, on the label-quality captures.

    python benchmarks/bench_single_view_rays.py [--captures /tmp/bench_lq] [--subject S5] [--seed 11] [--noise-mm 3]

With detections, per setting (rays off / on, everything else the defaults): total lumbar flexion
RMS (deg) over all frames, over the frames whose lumbar keypoints (Spine_01..03) were triangulated
and over those where they were not (one camera saw them), the spine-15 and lumbar keypoint errors
(mm) and the mean signed flexion error (deg: a bias the rays cannot remove). ``--bias``: the lumbar
and thoracic flexion biases with rays, with and without detections. ``--true-scale``: the same with
the model scaled by the generator's own segment factors instead of the ones scaled from the
capture, the flexion error split into its per-take means and what varies within a take: the
scaling's share of the error. The captures are the ones ``bench_label_quality.py`` writes
(generated here when missing).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from bench_label_quality import LUMBAR, LUMBAR_RHYTHM_FLEX, capture_at

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.kinematics import KinematicModel, body_scale_factors, scale_spec
from simspine_dataset.biomech.model_table import model_spec
from simspine_dataset.biomech.pipeline import scale_from_mocap, simulate_sequence
from simspine_dataset.config import SimulationConfig
from simspine_dataset.stages.capture import discover, load_mocap
from simspine_dataset.stages.pseudo_markers import pseudo_markers
from simspine_dataset.synthetic.generator import DETECTIONS_DIR, GROUND_TRUTH, subject_factors


def rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values**2))) if len(values) else float("nan")


def measure(
    root: Path, subject: str, rays: bool, detections: bool = True, true_scale_seed: int | None = None
) -> dict[str, float]:
    """The measures above on one capture; ``true_scale_seed``: the model scaled by the factors the
    generator drew for the subject with that seed (the scaling's error taken out)."""
    config = SimulationConfig()
    config = replace(config, ik=replace(config.ik, single_view_rays=rays))
    records = [s for s in discover(root, check_videos=False).sequences if s.subject == subject]
    joints = {s.key: load_mocap(s).joints_world_mm for s in records}
    spec = model_spec(config.ik.spine)
    if true_scale_seed is None:
        factors = scale_from_mocap(subject, list(joints.values()), config, spec).segment_factors
    else:
        factors = subject_factors(subject, true_scale_seed)
    model = KinematicModel(scale_spec(spec, body_scale_factors(spec, factors)))
    flex = model.coordinate_names.index("L5_S1_Flex_Ext")
    thoracic = model.coordinate_names.index("thoracic_flexion")
    lumbar_names = [sk.NAMES[i] for i in LUMBAR]
    errors, seen, spine, lumbar, thoracic_errors = [], [], [], [], []
    for record in records:
        pseudo = pseudo_markers(root / DETECTIONS_DIR, record)
        result = simulate_sequence(
            record.key, model, joints[record.key], config, pseudo if detections else None
        )
        truth = np.load(root / GROUND_TRUTH.format(subject=subject, sequence=record.sequence))
        errors.append((result.coordinates[:, flex] - truth["coordinates"][:, flex]) * sum(LUMBAR_RHYTHM_FLEX))
        thoracic_errors.append(result.coordinates[:, thoracic] - truth["coordinates"][:, thoracic])
        seen.append((pseudo.confidence[:, [pseudo.names.index(n) for n in lumbar_names]] > 0).any(axis=1))
        distance = np.linalg.norm(result.keypoints_world_mm - truth["keypoints_world_mm"], axis=-1)
        spine.append(distance[:, list(sk.SPINE_SUBSET)])
        lumbar.append(distance[:, LUMBAR])
    error, triangulated = np.concatenate(errors), np.concatenate(seen)
    take_means = np.concatenate([np.full(len(e), e.mean()) for e in errors])  # frame-weighted
    return {
        "torso_factor": factors["torso"],
        "take_mean_rms_deg": rms(take_means),
        "within_take_rms_deg": rms(np.concatenate([e - e.mean() for e in errors])),
        "flexion_rms_deg": rms(error),
        "triangulated_rms_deg": rms(error[triangulated]),
        "one_view_rms_deg": rms(error[~triangulated]),
        "one_view_share": float((~triangulated).mean()),
        "flexion_bias_deg": float(error.mean()),
        "thoracic_bias_deg": float(np.concatenate(thoracic_errors).mean()),
        "spine15_mm": float(np.concatenate(spine).mean()),
        "lumbar_mm": float(np.concatenate(lumbar).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--captures", type=Path, default=Path("/tmp/bench_lq"))
    parser.add_argument("--subject", default="S5")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--noise-mm", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    parser.add_argument(
        "--bias", action="store_true", help="also without detections (the flexion bias's source)"
    )
    parser.add_argument(
        "--true-scale", action="store_true", help="also with the generator's segment factors (rays on)"
    )
    args = parser.parse_args()
    print(
        "| mocap noise | rays | flexion RMS | lumbar triangulated | one view only (share) | flexion bias |"
        " spine-15 | lumbar |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for noise in args.noise_mm:
        root = capture_at(args.captures, args.subject, args.seed, args.seconds, noise)
        for rays in (False, True):
            m = measure(root, args.subject, rays)
            print(
                f"| {noise:g} mm | {'on' if rays else 'off'} | {m['flexion_rms_deg']:.2f} | "
                f"{m['triangulated_rms_deg']:.2f} | {m['one_view_rms_deg']:.2f} ({m['one_view_share']:.0%}) | "
                f"{m['flexion_bias_deg']:+.2f} | {m['spine15_mm']:.2f} | {m['lumbar_mm']:.2f} |"
            )
        for seed in (None, args.seed) if args.true_scale else ():
            m = measure(root, args.subject, True, true_scale_seed=seed)
            print(
                f"{noise:g} mm, {'generated' if seed else 'scaled'} factors (torso {m['torso_factor']:.4f}): "
                f"flexion RMS {m['flexion_rms_deg']:.2f} deg = per-take means {m['take_mean_rms_deg']:.2f} "
                f"(+) within takes {m['within_take_rms_deg']:.2f}; bias {m['flexion_bias_deg']:+.2f}, "
                f"spine-15 {m['spine15_mm']:.2f} mm"
            )
        for detections in (False, True) if args.bias else ():
            m = measure(root, args.subject, True, detections)
            print(
                f"{noise:g} mm, detections {'yes' if detections else 'no'}: lumbar flexion bias "
                f"{m['flexion_bias_deg']:+.2f} deg, thoracic flexion bias {m['thoracic_bias_deg']:+.2f} deg"
            )


if __name__ == "__main__":
    main()
