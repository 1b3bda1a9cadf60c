"""A user-supplied .osim + marker file + name mapping runs without code changes (here: our own
model exported to files, so the ground truth is known)."""

from __future__ import annotations

import numpy as np
from fixtures import export_user_model

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.kinematics import body_scale_factors, scale_spec
from simspine_dataset.biomech.model_table import SEGMENTS, model_spec
from simspine_dataset.biomech.observations import ik_observations
from simspine_dataset.biomech.user_model import UserModel, scale_user_model, user_keypoints
from simspine_dataset.biomech.vertebrae import merge_keypoints
from simspine_dataset.config import IKConfig, SimulationConfig
from simspine_dataset.geometry.transforms import world_mm_to_opensim_m
from simspine_dataset.synthetic.generator import CaptureSettings, simulate_take


def export(tmp_path, spec, segments: dict) -> UserModel:
    return UserModel.from_json(export_user_model(tmp_path, spec, segments))


def test_user_model_recovers_the_truth(tmp_path) -> None:
    settings = CaptureSettings(subjects=("S7",), seconds=0.5, seed=4)
    _, joints, keypoints, factors, _, _ = simulate_take("S7", "Greeting", 1, settings)
    spec = model_spec()
    user = export(tmp_path, scale_spec(spec, body_scale_factors(spec, factors)), segments={})
    model = user.load()
    config = SimulationConfig(ik=IKConfig(accuracy=1e-8))
    result, ours = user_keypoints(user, model, ik_observations(joints[:20]), config)
    assert np.nanmax(result.marker_rmse_m) < 1e-4  # m
    merged = merge_keypoints(ours, joints[:20])  # the dataset's merge rules, as for our model
    spine = list(sk.SPINE_SUBSET)
    assert np.linalg.norm(merged[:, spine] - keypoints[:20, spine], axis=-1).mean() < 0.1  # mm


def test_user_model_scaling_through_opensim(tmp_path) -> None:
    settings = CaptureSettings(subjects=("S7",), seconds=0.5, seed=4)
    _, joints, _, factors, _, _ = simulate_take("S7", "Walking", 1, settings)
    spec = model_spec()
    segments = {s: [b.name for b in spec.bodies if b.segment == s] for s in SEGMENTS}
    user = export(tmp_path, spec, segments)
    scaled = scale_user_model(user, world_mm_to_opensim_m(joints), 70.0)
    for joint, length, segment in (("knee_r", -0.40, "thigh"), ("elbow_l", -0.29, "arm")):
        offset = scaled.getJointSet().get(joint).get_frames(0).get_translation().get(1)
        np.testing.assert_allclose(offset / length, factors[segment], rtol=1e-6)  # rigid pairs: exact


def test_a_keypoint_one_camera_saw_does_not_pull_a_user_model(tmp_path) -> None:
    """A single-view observation is a ray whose point is the camera's centre, metres away: the
    user-model path dropped the rays, and OpenSim fitted the marker to the camera (a synthetic
    walk: a frame at 17 mm of mocap residual). OpenSim fits points only: the ray is left out."""
    from simspine_dataset.biomech.ik import MarkerObservations

    settings = CaptureSettings(subjects=("S7",), seconds=0.5, seed=4)
    _, joints, keypoints, factors, _, _ = simulate_take("S7", "Greeting", 1, settings)
    spec = model_spec()
    user = export(tmp_path, scale_spec(spec, body_scale_factors(spec, factors)), segments={})
    model = user.load()
    mocap = ik_observations(joints[:5])
    camera = np.array([3.0, 1.5, -4.0])  # m, OpenSim ground
    spine = world_mm_to_opensim_m(keypoints[:5, [sk.INDEX["Spine_04"]]])
    direction = (spine - camera) / np.linalg.norm(spine - camera, axis=-1, keepdims=True)
    obs = MarkerObservations(
        (*mocap.names, "Spine_04"),
        np.concatenate([mocap.positions_m, np.broadcast_to(camera, spine.shape)], axis=1),
        np.concatenate([mocap.weights, np.full((5, 1), 1.0)], axis=1),
        mocap.fps_hz,
        np.concatenate([np.zeros_like(mocap.positions_m), direction], axis=1),
    )
    result, _ = user_keypoints(user, model, obs, SimulationConfig(ik=IKConfig(accuracy=1e-8)))
    assert np.nanmax(result.marker_rmse_m) < 1e-4 and np.isnan(result.marker_errors_m[:, -1]).all()
