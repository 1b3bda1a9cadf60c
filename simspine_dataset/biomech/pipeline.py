"""The simulation of one subject, composed from the stages: scale -> inverse kinematics ->
virtual vertebra markers (merge rules) -> filter. The builder runs the same functions as separate,
resumable units; this composition serves the fidelity tests, benchmarks and notebooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simspine_dataset.biomech.ik import IKResult, solve_ik
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.biomech.model_table import ModelSpec, model_spec
from simspine_dataset.biomech.observations import PseudoMarkers, ik_observations
from simspine_dataset.biomech.scaling import SubjectScale, scale_subject
from simspine_dataset.biomech.vertebrae import merge_keypoints, simulated_keypoints
from simspine_dataset.config import SimulationConfig
from simspine_dataset.geometry.filters import lowpass
from simspine_dataset.geometry.transforms import MM_PER_M, world_mm_to_opensim_m


@dataclass(frozen=True)
class SequenceSimulation:
    """Result of one sequence: coordinates (table units), keypoints and IK residuals."""

    key: str
    coordinate_names: tuple[str, ...]
    coordinates: np.ndarray  # (T, Q) degrees / metres
    keypoints_world_mm: np.ndarray  # (T, 37, 3), merged and filtered
    ik_marker_rmse_mm: np.ndarray  # (T,)
    keypoints_unfiltered_world_mm: np.ndarray  # (T, 37, 3), merged, before the filter


def scale_from_mocap(
    subject: str, joints_world_mm: Sequence[np.ndarray], config: SimulationConfig, spec: ModelSpec
) -> SubjectScale:
    """Scale ``spec`` to a subject from all its sequences' joints, each (T_i, 32, 3) world mm."""
    joints = np.concatenate(list(joints_world_mm), axis=0)
    obs = ik_observations(joints, config.ik)
    return scale_subject(subject, spec, obs, world_mm_to_opensim_m(joints), config.scaling)


def simulate_sequence(
    key: str,
    model: KinematicModel,
    joints_world_mm: np.ndarray,
    config: SimulationConfig,
    pseudo: PseudoMarkers | None = None,
) -> SequenceSimulation:
    """IK on one sequence (``config.ik.solver``: our batched solver, or OpenSim's
    ``InverseKinematicsSolver`` on the same model), then the 37 keypoints (merge rules) low-passed."""
    obs = ik_observations(joints_world_mm, config.ik, pseudo, config.filter.fps_hz)
    if config.ik.solver == "opensim":
        from simspine_dataset.biomech.ik import solve_ik_opensim
        from simspine_dataset.biomech.osim import build_model

        result: IKResult = solve_ik_opensim(
            build_model(model.spec), obs, accuracy=config.ik.accuracy, coordinate_names=model.coordinate_names
        )
    else:
        result = solve_ik(model, obs, block_frames=config.ik.block_frames)
    return _merged(
        key, result, simulated_keypoints(model, result.coordinates), joints_world_mm, config, pseudo
    )


def simulate_sequence_user(
    key: str,
    user,  # biomech.user_model.UserModel
    model,  # its scaled opensim.Model
    joints_world_mm: np.ndarray,
    config: SimulationConfig,
    pseudo: PseudoMarkers | None = None,
) -> SequenceSimulation:
    """As ``simulate_sequence`` with a user-supplied OpenSim model (OpenSim's IK solver)."""
    from simspine_dataset.biomech.user_model import user_keypoints

    obs = ik_observations(joints_world_mm, config.ik, pseudo, config.filter.fps_hz)
    result, keypoints = user_keypoints(user, model, obs, config)
    return _merged(key, result, keypoints, joints_world_mm, config, pseudo)


def _merged(key, result: IKResult, simulated, joints_world_mm, config, pseudo) -> SequenceSimulation:
    """The merge rules and the low-pass filter on a sequence's simulated keypoints."""
    merged = merge_keypoints(simulated, joints_world_mm, pseudo, config.merge, config.filter)
    f = config.filter
    keypoints = lowpass(merged, f.cutoff_hz, f.fps_hz, f.order)
    return SequenceSimulation(
        key,
        result.coordinate_names,
        result.coordinates,
        keypoints,
        result.marker_rmse_m * MM_PER_M,
        merged,
    )


def simulate_subject(
    subject: str,
    sequences: Mapping[str, np.ndarray],
    config: SimulationConfig = SimulationConfig(),
    pseudo: Mapping[str, PseudoMarkers] | None = None,
) -> tuple[SubjectScale, list[SequenceSimulation]]:
    """Scale on all of a subject's sequences (key -> joints (T, 32, 3) world mm), then simulate
    each one."""
    spec = model_spec(config.ik.spine)
    scale = scale_from_mocap(subject, list(sequences.values()), config, spec)
    model = KinematicModel(scale.scaled_spec(spec))
    results = [
        simulate_sequence(key, model, joints, config, None if pseudo is None else pseudo.get(key))
        for key, joints in sequences.items()
    ]
    return scale, results
