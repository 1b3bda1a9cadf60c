"""The simulated labels under noise, against the known truth of a generated capture (a subject and
seed used nowhere else): rigid model segments stay rigid, the temporal IK and the measured weights
beat the frame-by-frame recipe, and the published uncertainty ranks the true error."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import spearmanr

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.biomech.model_table import model_spec
from simspine_dataset.biomech.observations import temporal_outliers
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

SPINE = list(sk.SPINE_SUBSET)
MODEL_DERIVED = [sk.INDEX[n] for n in ("Spine_01", "Spine_02", "Spine_03", "Spine_04", "Spine_05", "Neck")]


def frame_by_frame() -> SimulationConfig:
    c = SimulationConfig()
    return replace(
        c,
        ik=replace(c.ik, temporal=False, weights="configured", outlier_gate=0.0),
        filter=replace(c.filter, space="keypoints", method="butterworth"),
    )


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    root = tmp_path_factory.mktemp("noisy")
    settings = CaptureSettings(("S7",), 3.0, seed=41, mocap_noise_mm=3.0, videos=False,
                               actions=("Sitting", "Greeting", "Eating"))  # fmt: skip
    generate_capture(root, settings)
    records = discover(root, check_videos=False).sequences
    joints = {r.key: load_mocap(r).joints_world_mm for r in records}
    spec = model_spec()
    scale = scale_from_mocap("S7", list(joints.values()), SimulationConfig(), spec)
    return root, records, joints, KinematicModel(scale.scaled_spec(spec))


def simulate(capture, config):
    root, records, joints, model = capture
    out = []
    for r in records:
        result = simulate_sequence(
            r.key, model, joints[r.key], config, pseudo_markers(root / DETECTIONS_DIR, r)
        )
        truth = np.load(root / GROUND_TRUTH.format(subject="S7", sequence=r.sequence))["keypoints_world_mm"]
        out.append((result, np.linalg.norm(result.keypoints_world_mm - truth, axis=-1)))
    return out


@pytest.mark.slow
def test_labels_on_a_noisy_capture(capture) -> None:
    ours = simulate(capture, SimulationConfig())
    before = simulate(capture, frame_by_frame())
    error = np.concatenate([e for _, e in ours])
    error_before = np.concatenate([e for _, e in before])
    assert error[:, SPINE].mean() < 0.8 * error_before[:, SPINE].mean()
    assert error[:, SPINE].mean() < 2.5  # mm; 3 mm mocap noise, detections
    # model-rigid distances stay rigid (the published keypoints, float64 here)
    pairs = rigid_keypoint_pairs(capture[3].spec)
    for result, _ in ours:
        k = result.keypoints_world_mm
        lengths = np.linalg.norm(k[:, [a for a, _ in pairs]] - k[:, [b for _, b in pairs]], axis=-1)
        assert np.ptp(lengths, axis=0).max() < 0.1  # mm
    # ... which the keypoint filter bends
    k = before[0][0].keypoints_world_mm
    assert np.ptp(np.linalg.norm(k[:, pairs[0][0]] - k[:, pairs[0][1]], axis=-1)) > 0.1
    # the published uncertainty ranks the true error of the model-derived spine keypoints
    uncertainty = np.concatenate([r.keypoint_uncertainty_mm for r, _ in ours])
    rho, p = spearmanr(uncertainty[:, MODEL_DERIVED].ravel(), error[:, MODEL_DERIVED].ravel())
    assert rho > 0.1 and p < 1e-6
    # residuals are split by kind and filled
    for result, _ in ours:
        assert (
            np.isfinite(result.residual_mocap_mm).all() and np.isfinite(result.residual_detections_mm).any()
        )
        assert result.residual_detections_mm[np.isfinite(result.residual_detections_mm)].mean() > np.mean(
            result.residual_mocap_mm
        )  # the detections are the noisier input


def test_a_triangulation_spike_is_gated() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(100)
    points = np.stack([np.c_[10 * np.sin(t / 8), t, np.zeros(100)]] * 2, axis=1) + rng.normal(
        0, 2, (100, 2, 3)
    )
    points[40, 1] += 80.0  # one gross error on the second point
    points[60:63, 0] = np.nan
    flagged = temporal_outliers(points, np.array([2.0, 2.0]), 5.0)
    assert flagged[40, 1] and flagged.sum() == 1
