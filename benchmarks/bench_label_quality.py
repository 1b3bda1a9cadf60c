"""Label fidelity against known truth: synthetic captures at 0, 1 and 3 mm mocap noise, with and
without the synthetic detector's 2D detections (triangulated into pseudo-markers), simulated with
two settings, the previous one (each frame fitted alone, the keypoints low-passed) and the
current defaults (``SimulationConfig()``), timed in the same run.

    python benchmarks/bench_label_quality.py [--subject S5] [--seed 11] [--seconds 4] [--out /tmp/bench_lq]

Per setting: spine-15 keypoint error (mean distance to the truth), lumbar keypoints (Spine_01..03),
the keypoints that are Human3.6M joints (their worst median, beside the measured mocap's),
total lumbar flexion RMS and the RMS per lumbar level, the largest change of a model-rigid
keypoint distance within a sequence, the simulation's frames per second (IK, markers, filter and
quality; scaling excluded), and Spearman's rank correlation of the published
``keypoints_uncertainty_mm`` with the true error per keypoint group. Captures are generated once
under ``--out`` and reused.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.gates import sequence_gate
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.biomech.model_table import LUMBAR_RHYTHM, model_spec
from simspine_dataset.biomech.pipeline import scale_from_mocap, simulate_sequence
from simspine_dataset.biomech.vertebrae import rigid_keypoint_pairs
from simspine_dataset.config import SimulationConfig
from simspine_dataset.stages.capture import discover, load_mocap
from simspine_dataset.stages.pseudo_markers import pseudo_markers
from simspine_dataset.synthetic.generator import (
    DETECTIONS_DIR,
    GROUND_TRUTH,
    CaptureSettings,
    generate_capture,
)

ACTIONS = ("Walking", "Sitting", "Greeting", "Phoning", "Eating", "Directions")
LUMBAR = [sk.INDEX[n] for n in ("Spine_01", "Spine_02", "Spine_03")]


def previous_config() -> SimulationConfig:
    """The settings before #12: each frame alone, configured weights, no single-view rays, keypoints
    filtered."""
    config = SimulationConfig()
    return replace(
        config,
        ik=replace(config.ik, temporal=False, weights="configured", outlier_gate=0.0, single_view_rays=False),
        filter=replace(config.filter, space="keypoints", method="butterworth"),
    )


def capture_at(out: Path, subject: str, seed: int, seconds: float, noise_mm: float) -> Path:
    root = out / f"{subject}_seed{seed}_{seconds:g}s_noise{noise_mm:g}"
    if not (root / "metadata.xml").is_file():
        settings = CaptureSettings((subject,), seconds, seed=seed, mocap_noise_mm=noise_mm, videos=False,
                                   actions=ACTIONS, workers=2)  # fmt: skip
        generate_capture(root, settings)
    return root


def measure(root: Path, subject: str, config: SimulationConfig, detections: bool) -> dict[str, float]:
    capture = discover(root, check_videos=False)
    records = [s for s in capture.sequences if s.subject == subject]
    joints = {s.key: load_mocap(s).joints_world_mm for s in records}
    spec = model_spec(config.ik.spine)
    scale = scale_from_mocap(subject, list(joints.values()), config, spec)
    gate_ratios = [scale.gate(1.0).found_mm / scale.gate(1.0).expected_mm]  # scaling, then each sequence
    model = KinematicModel(scale.scaled_spec(spec))
    pairs = rigid_keypoint_pairs(spec)
    spine, lumbar, flexion, rigid, seconds, frames = [], [], [], [], 0.0, 0
    measured, raw = [], []  # the keypoints that are Human3.6M joints: published, and as measured
    uncertainty, errors = [], []
    flex = model.coordinate_names.index("L5_S1_Flex_Ext")
    for record in records:
        pseudo = pseudo_markers(root / DETECTIONS_DIR, record) if detections else None
        start = time.perf_counter()
        result = simulate_sequence(record.key, model, joints[record.key], config, pseudo)
        seconds += time.perf_counter() - start
        verdict = sequence_gate(result.fit_residual_mocap_mm, result.expected_residual_mocap_mm, 1.0)
        gate_ratios.append(verdict.found_mm / verdict.expected_mm)
        frames += len(result.coordinates)
        truth = np.load(root / GROUND_TRUTH.format(subject=subject, sequence=record.sequence))
        error = np.linalg.norm(result.keypoints_world_mm - truth["keypoints_world_mm"], axis=-1)
        spine.append(error[:, list(sk.SPINE_SUBSET)])
        measured.append(error[:, MOCAP])
        joints_kp = joints[record.key][:, [sk.KEYPOINTS[i].h36m_joint for i in MOCAP]]
        raw.append(np.linalg.norm(joints_kp - truth["keypoints_world_mm"][:, MOCAP], axis=-1))
        uncertainty.append(result.keypoint_uncertainty_mm)
        errors.append(error)
        lumbar.append(error[:, LUMBAR])
        flexion.append(result.coordinates[:, flex] - truth["coordinates"][:, flex])
        k = result.keypoints_world_mm
        lengths = np.linalg.norm(k[:, [a for a, _ in pairs]] - k[:, [b for _, b in pairs]], axis=-1)
        rigid.append(np.ptp(lengths, axis=0).max())
    flexion = np.concatenate(flexion)
    row = {
        "spine15_mm": float(np.concatenate(spine).mean()),
        "lumbar_mm": float(np.concatenate(lumbar).mean()),
        "lumbar_flexion_rms_deg": float(np.sqrt(np.mean((flexion * sum(LUMBAR_RHYTHM_FLEX)) ** 2))),
        "rigid_change_mm": float(max(rigid)),
        # the Human3.6M joints among the keypoints: the worst one's median, published and as measured
        "mocap_worst_median_mm": float(np.median(np.concatenate(measured), axis=0).max()),
        "mocap_worst_median_as_measured_mm": float(np.median(np.concatenate(raw), axis=0).max()),
        "frames_per_s": frames / seconds,
        "scaling_gate_ratio": gate_ratios[0],  # residual over what the measured noise explains
        "sequence_gate_ratio": max(gate_ratios[1:]),  # the gates trip above gates.residual_factor
    }
    row |= rank_correlations(np.concatenate(uncertainty), np.concatenate(errors))
    for level, factor in zip(LUMBAR_RHYTHM, LUMBAR_RHYTHM_FLEX, strict=True):
        row[f"{level}_rms_deg"] = float(np.sqrt(np.mean((flexion * factor) ** 2)))
    return row


LUMBAR_RHYTHM_FLEX = [r[0] for r in LUMBAR_RHYTHM.values()]
MOCAP = [i for i, k in enumerate(sk.KEYPOINTS) if k.source == "mocap"]
GROUPS = {
    "lumbar": ("Spine_01", "Spine_02", "Spine_03"),
    "thoracic": ("Spine_04", "Spine_05", "RLatissimus", "LLatissimus", "RClavicle", "LClavicle"),
    "cervical": ("Neck", "Neck_02", "Neck_03", "Head"),
}


def rank_correlations(uncertainty: np.ndarray, error: np.ndarray) -> dict[str, float]:
    """Spearman's rank correlation between the published uncertainty and the true error, over
    every frame and keypoint of each group (and its p-value)."""
    from scipy.stats import spearmanr

    out = {}
    for group, names in GROUPS.items():
        idx = [sk.INDEX[n] for n in names]
        rho, p = spearmanr(uncertainty[:, idx].ravel(), error[:, idx].ravel())
        out[f"rho_{group}"], out[f"p_{group}"] = float(rho), float(p)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", default="S5")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--noise-mm", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_lq"))
    parser.add_argument("--detections", choices=("both", "yes", "no"), default="both")
    parser.add_argument("--settings", choices=("both", "current"), default="both")
    args = parser.parse_args()
    settings = {"previous": previous_config(), "current": SimulationConfig()}
    if args.settings == "current":
        settings.pop("previous")
    print(
        f"{'noise':>5} {'detections':>10} {'setting':>9} {'spine-15':>8} {'lumbar':>7} {'flex RMS':>8} "
        + " ".join(f"{level:>6}" for level in LUMBAR_RHYTHM)
        + f" {'rigid':>6} {'frames/s':>8}  rank corr. uncertainty ~ error (lumbar, thoracic, cervical)"
    )
    for noise in args.noise_mm:
        root = capture_at(args.out, args.subject, args.seed, args.seconds, noise)
        for detections in {"both": (False, True), "yes": (True,), "no": (False,)}[args.detections]:
            speed = {}
            for label, config in settings.items():
                r = measure(root, args.subject, config, detections)
                speed[label] = r["frames_per_s"]
                print(
                    f"{noise:5g} {'yes' if detections else 'no':>10} {label:>9} {r['spine15_mm']:8.2f} "
                    f"{r['lumbar_mm']:7.2f} {r['lumbar_flexion_rms_deg']:8.2f} "
                    + " ".join(f"{r[f'{level}_rms_deg']:6.2f}" for level in LUMBAR_RHYTHM)
                    + f" {r['rigid_change_mm']:6.2f} {r['frames_per_s']:8.0f}  "
                    + ", ".join(f"{r[f'rho_{g}']:.2f} (p {r[f'p_{g}']:.0e})" for g in GROUPS)
                    + f"; gates: scaling {r['scaling_gate_ratio']:.2f}, worst sequence {r['sequence_gate_ratio']:.2f}"
                    + f"; mocap keypoints: worst median {r['mocap_worst_median_mm']:.1f} mm "
                    + f"(as measured {r['mocap_worst_median_as_measured_mm']:.1f})",
                    flush=True,
                )
            if "previous" in speed:
                print(
                    f"{'':27} time per frame, current / previous: {speed['previous'] / speed['current']:.2f}x"
                )
    print("(mm; flexion in degrees; rigid: largest change of a model-rigid keypoint distance in a sequence; "
          "gates: residual over what the measured marker noise explains, tripping above "
          f"{SimulationConfig().gates.residual_factor:g})")  # fmt: skip


if __name__ == "__main__":
    main()
