"""Fidelity against known truth: scaling + IK + virtual markers on a generated capture (a subject
and seed used nowhere else), compared with the ground-truth sidecar."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.model_table import LUMBAR_RHYTHM
from simspine_dataset.biomech.pipeline import simulate_subject
from simspine_dataset.stages.capture import discover, load_mocap
from simspine_dataset.synthetic.generator import GROUND_TRUTH, CaptureSettings, generate_capture

ACTIONS = ("Walking", "Sitting", "Phoning", "Photo")
LUMBAR_TOTAL = sum(r[0] for r in LUMBAR_RHYTHM.values())
SPINE = list(sk.SPINE_SUBSET)


def run(root, noise_mm: float):
    settings = CaptureSettings(
        subjects=("S6",),
        seconds=1.5,
        seed=23,
        actions=ACTIONS,
        mocap_noise_mm=noise_mm,
        videos=False,
        detections=False,
    )
    generate_capture(root, settings)
    capture = discover(root, check_videos=False)
    scale, results = simulate_subject("S6", {s.key: load_mocap(s).joints_world_mm for s in capture.sequences})
    truths = {
        r.key: np.load(root / GROUND_TRUTH.format(subject="S6", sequence=r.key.split("/")[1]))
        for r in results
    }
    return scale, results, truths


def errors(results, truths, attribute: str) -> np.ndarray:
    return np.concatenate(
        [
            np.linalg.norm(
                getattr(r, attribute)[:, SPINE] - truths[r.key]["keypoints_world_mm"][:, SPINE],
                axis=-1,
            )
            for r in results
        ]
    )


def lumbar_flexion_error_deg(results, truths) -> np.ndarray:
    out = []
    for r in results:
        i = r.coordinate_names.index("L5_S1_Flex_Ext")
        out.append((r.coordinates[:, i] - truths[r.key]["coordinates"][:, i]) * LUMBAR_TOTAL)
    return np.concatenate(out)


@pytest.mark.slow
def test_noise_free_capture_is_recovered(tmp_path) -> None:
    scale, results, truths = run(tmp_path, 0.0)
    true_factors = json.loads(str(next(iter(truths.values()))["segment_factors"]))
    for segment, factor in true_factors.items():
        assert scale.segment_factors[segment] == pytest.approx(factor, rel=1e-3)
    assert errors(results, truths, "keypoints_unfiltered_world_mm").mean() < 1.0  # mm, the 15 spine-centric
    assert np.sqrt(np.mean(lumbar_flexion_error_deg(results, truths) ** 2)) < 2.0  # deg RMS, total lumbar


@pytest.mark.slow
def test_three_mm_mocap_noise(tmp_path) -> None:
    _, results, truths = run(tmp_path, 3.0)
    assert errors(results, truths, "keypoints_world_mm").mean() < 5.0  # mm, after the pipeline's filter
