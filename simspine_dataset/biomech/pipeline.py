"""The simulation of one subject, composed from the stages: scale -> inverse kinematics ->
virtual vertebra markers (merge rules) -> filter. The builder runs the same functions as separate,
resumable units; this composition serves the fidelity tests, benchmarks and notebooks.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.gates import expected_residual_mm
from simspine_dataset.biomech.ik import IKResult, MarkerObservations, free_coordinates, solve_ik
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.biomech.model_table import ModelSpec, model_spec
from simspine_dataset.biomech.observations import PseudoMarkers, ik_observations, marker_noise_mm
from simspine_dataset.biomech.scaling import SubjectScale, scale_subject
from simspine_dataset.biomech.temporal import (
    TemporalProblem,
    acceleration_weights,
    frame_noise_variance,
    keypoint_uncertainty,
    solve_temporal_em,
)
from simspine_dataset.biomech.vertebrae import SPINE_CHAIN, merge_keypoints, simulated_keypoints
from simspine_dataset.config import FilterConfig, IKConfig, MergeConfig, SimulationConfig
from simspine_dataset.geometry.filters import lowpass, lowpass_noise_share, smooth_adaptive
from simspine_dataset.geometry.transforms import MM_PER_M, world_mm_to_opensim_m

if TYPE_CHECKING:
    import opensim

    from simspine_dataset.biomech.user_model import UserModel


@dataclass(frozen=True)
class SequenceSimulation:
    """Result of one sequence: coordinates (table units), keypoints, IK residuals and the labels'
    quality (residuals split by marker kind, keypoint uncertainty)."""

    key: str
    coordinate_names: tuple[str, ...]
    coordinates: np.ndarray  # (T, Q) degrees / metres, as published (filtered when in that space)
    keypoints_world_mm: np.ndarray  # (T, 37, 3), merged and filtered
    ik_marker_rmse_mm: np.ndarray  # (T,) all markers
    keypoints_unfiltered_world_mm: np.ndarray  # (T, 37, 3), merged, before the filter
    residual_mocap_mm: np.ndarray  # (T,) RMS over the mocap joints of the published pose
    residual_detections_mm: np.ndarray  # (T,) RMS over the pseudo-markers; NaN without any
    keypoint_uncertainty_mm: np.ndarray  # (T, 37) standard deviation of each keypoint's label
    expected_residual_mocap_mm: float = float("nan")  # what the mocap's measured noise explains (gates)
    # (T,) the IK solution's residual over the mocap joints before any filter: the fit the gates judge
    # (a low-pass of the published pose leaves a residual of its own, which is not a wrong fit)
    fit_residual_mocap_mm: np.ndarray | None = None


def scale_from_mocap(
    subject: str, joints_world_mm: Sequence[np.ndarray], config: SimulationConfig, spec: ModelSpec
) -> SubjectScale:
    """Scale ``spec`` to a subject from all its sequences' joints, each (T_i, 32, 3) world mm."""
    joints = np.concatenate(list(joints_world_mm), axis=0)
    # the configured weights: scaling pools frames of every sequence, where a noise measured per
    # sequence does not apply (measured weights there cost 1.5 % of torso length on a test capture)
    obs = ik_observations(joints, replace(config.ik, weights="configured"))
    scale = scale_subject(subject, spec, obs, world_mm_to_opensim_m(joints), config.scaling)
    variance = [mocap_noise_mm(j, config.ik, config.filter.fps_hz) ** 2 * len(j) for j in joints_world_mm]
    noise = np.sqrt(np.sum(variance, axis=0) / len(joints))  # per marker, pooled over the sequences
    return replace(scale, expected_residual_mm=expected_residual_mm(noise))


def mocap_noise_mm(joints_world_mm: np.ndarray, ik: IKConfig, fps_hz: float) -> np.ndarray:
    """(K,) the measured noise (mm, with the floor) of each mocap joint that IK fits, in one sequence."""
    used = [j for j, w in sorted(ik.h36m_weights.items()) if w > 0]
    return marker_noise_mm(np.asarray(joints_world_mm, float)[:, used], ik.noise_floor_mm, fps_hz)


def simulate_sequence(
    key: str,
    model: KinematicModel,
    joints_world_mm: np.ndarray,
    config: SimulationConfig,
    pseudo: PseudoMarkers | None = None,
) -> SequenceSimulation:
    """IK on one sequence (``config.ik.solver``: our batched solver, or OpenSim's
    ``InverseKinematicsSolver`` on the same model), refined jointly over time (``ik.temporal``),
    then the 37 keypoints (merge rules) filtered in ``filter.space``, with their quality."""
    obs = ik_observations(joints_world_mm, config.ik, pseudo, config.filter.fps_hz)
    if config.ik.solver == "opensim":
        from simspine_dataset.biomech.ik import solve_ik_opensim
        from simspine_dataset.biomech.osim import build_model

        result: IKResult = solve_ik_opensim(
            build_model(model.spec), obs, accuracy=config.ik.accuracy, coordinate_names=model.coordinate_names
        )
    else:
        result = solve_ik(model, obs, block_frames=config.ik.block_frames)
    q = unwrap_angles(model, model.to_si(result.coordinates))
    ik = config.ik
    problem = temporal_problem(model, obs, q, ik.temporal, ik.weights == "measured")
    if ik.temporal:
        q, problem = solve_temporal_em(
            problem, obs, q, ik.acceleration_rounds, window_frames=ik.window_frames
        )
    f = config.filter
    solved = model.from_si(q)
    published = smooth(solved, f) if f.space == "coordinates" else solved
    simulated = simulated_keypoints(model, published)
    merged = merge_keypoints(simulated, joints_world_mm, pseudo, config.merge, f)
    keypoints = _filter_points(merged, f, config.merge, pseudo is not None)
    residual = np.linalg.norm(obs.residuals(model.markers(model.to_si(published), obs.names)), axis=-1)
    residual[obs.weights <= 0] = np.nan
    fit = np.linalg.norm(obs.residuals(model.markers(q, obs.names)), axis=-1)  # before any filter
    fit[obs.weights <= 0] = np.nan
    n_mocap = len(config.ik.h36m_weights)
    uncertainty = _uncertainty(problem, obs, model.to_si(published), joints_world_mm, pseudo, config)
    return SequenceSimulation(
        key,
        result.coordinate_names,
        published,
        keypoints,
        _rms(residual),
        merged,
        _rms(residual[:, :n_mocap]),
        _rms(residual[:, n_mocap:]),
        uncertainty,
        expected_residual_mm(mocap_noise_mm(joints_world_mm, config.ik, config.filter.fps_hz)),
        _rms(fit[:, :n_mocap]),
    )


# The least acceleration per frame^2 a coordinate is assumed capable of (deg, mm at 50 Hz: 125
# deg/s^2 and 125 mm/s^2, far below any human movement's): bounds the temporal IK's penalty.
ACCELERATION_FLOOR = {"rotation": 0.05, "translation": 0.05e-3}


def unwrap_angles(model: KinematicModel, q_si: np.ndarray) -> np.ndarray:
    """Free-turning rotations (unclamped, e.g. pelvis_rotation) made continuous in time: a frame
    solved alone may land a full turn away from its neighbour, the same pose for the markers but
    a jump of 360 degrees for anything that compares frames."""
    out = q_si.copy()
    for i, c in enumerate(model.spec.coordinates):
        if c.kind == "rotation" and not c.clamped:
            out[:, i] = np.unwrap(q_si[:, i])
    return out


def temporal_problem(
    model: KinematicModel,
    obs: MarkerObservations,
    q_frames: np.ndarray,
    temporal: bool,
    measured: bool = True,
) -> TemporalProblem:
    """The temporal IK's fixed parts; acceleration weights from the frame-by-frame solution (zero
    without ``temporal``: the frames' own posterior for the uncertainty)."""
    free, bounds = free_coordinates(model)
    problem = TemporalProblem(model, model.marker_indices(obs.names), free, bounds, np.zeros(len(free)))
    if not temporal:
        return problem
    noise = frame_noise_variance(problem, obs, q_frames) if measured else None
    floor = model.to_si(np.array([ACCELERATION_FLOOR[c.kind] for c in model.spec.coordinates]))[free]
    lam = acceleration_weights(q_frames[:, free], obs.fps_hz, noise, floor)
    return replace(problem, acceleration_weights=lam, acceleration_floor=floor)


def _rms(errors_m: np.ndarray) -> np.ndarray:
    """Per-frame RMS (mm) over the markers present; NaN where none."""
    if errors_m.shape[1] == 0:
        return np.full(len(errors_m), np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.sqrt(np.nanmean(errors_m**2, axis=1)) * MM_PER_M


def _model_derived(merge: MergeConfig, pseudo_given: bool) -> np.ndarray:
    """(37,) True for the keypoints the published coordinates determine (not re-anchored or
    blended by the merge options, not replaced by the mocap or triangulated points)."""
    derived = np.array([k.source == "simulated" for k in sk.KEYPOINTS])
    derived |= np.array([k.source == "triangulated" and not pseudo_given for k in sk.KEYPOINTS])
    if merge.reanchor_spine or (merge.blend_detections > 0 and pseudo_given):
        derived[[sk.INDEX[n] for n in SPINE_CHAIN]] = False
    if merge.geometric_latissimus:
        derived[[sk.INDEX["RLatissimus"], sk.INDEX["LLatissimus"]]] = False
    return derived


def _filter_points(merged: np.ndarray, f: FilterConfig, merge: MergeConfig, pseudo_given: bool) -> np.ndarray:
    """The filter on the merged keypoints: all of them in "keypoints" space, the ones the
    coordinates do not determine in "coordinates" space, none in "none"."""
    if f.space == "none":
        return merged.copy()
    if f.space == "keypoints":
        return smooth(merged, f)
    out = merged.copy()
    points = ~_model_derived(merge, pseudo_given)
    out[:, points] = smooth(merged[:, points], f)
    return out


def smooth(signal: np.ndarray, f: FilterConfig) -> np.ndarray:
    """The configured filter along time: Butterworth or the adaptive smoother."""
    if f.method == "butterworth":
        return lowpass(signal, f.cutoff_hz, f.fps_hz, f.order)
    return smooth_adaptive(signal, f.fps_hz)


def _uncertainty(
    problem: TemporalProblem,
    obs: MarkerObservations,
    q_si: np.ndarray,
    joints_world_mm: np.ndarray,
    pseudo: PseudoMarkers | None,
    config: SimulationConfig,
) -> np.ndarray:
    """(T, 37) mm: the IK posterior's spread for the model-derived keypoints; the measured noise
    for the mocap and triangulated ones, times the filter's share of white noise."""
    ik, f = config.ik, config.filter
    spread = keypoint_uncertainty(
        problem, obs, q_si, sk.NAMES, ik.uncertainty_samples, window_frames=ik.window_frames
    )
    out = spread * MM_PER_M
    # the share of white noise the filter passes; 1 (an upper bound) for the adaptive smoother
    share = 1.0
    if f.space != "none" and f.method == "butterworth":
        share = lowpass_noise_share(f.cutoff_hz, f.fps_hz, f.order)
    for i, keypoint in enumerate(sk.KEYPOINTS):
        if keypoint.source == "mocap":
            joint = joints_world_mm[:, keypoint.h36m_joint][:, None]
            out[:, i] = marker_noise_mm(joint, ik.noise_floor_mm, f.fps_hz)[0] * np.sqrt(share)
    if pseudo is not None:
        for k, name in enumerate(pseudo.names):
            i = sk.INDEX.get(name)
            if i is not None and sk.KEYPOINTS[i].source == "triangulated":
                seen = pseudo.confidence[:, k] > 0
                points = np.where(seen[:, None], pseudo.positions_world_mm[:, k], np.nan)[:, None]
                noise = marker_noise_mm(points, ik.noise_floor_mm, f.fps_hz)[0] * np.sqrt(share)
                out[seen, i] = noise
    return out


def simulate_sequence_user(
    key: str,
    user: UserModel,
    model: opensim.Model,  # the user's model, scaled
    joints_world_mm: np.ndarray,
    config: SimulationConfig,
    pseudo: PseudoMarkers | None = None,
) -> SequenceSimulation:
    """As ``simulate_sequence`` with a user-supplied OpenSim model (OpenSim's IK solver, frame by
    frame; the keypoints filtered as points, the uncertainty not estimated: NaN)."""
    from simspine_dataset.biomech.user_model import user_keypoints

    obs = ik_observations(joints_world_mm, config.ik, pseudo, config.filter.fps_hz)
    result, keypoints = user_keypoints(user, model, obs, config)
    f = config.filter
    merged = merge_keypoints(keypoints, joints_world_mm, pseudo, config.merge, f)
    filtered = merged.copy() if f.space == "none" else smooth(merged, f)
    n_mocap = len(config.ik.h36m_weights)
    return SequenceSimulation(
        key,
        result.coordinate_names,
        result.coordinates,
        filtered,
        result.marker_rmse_m * MM_PER_M,
        merged,
        _rms(result.marker_errors_m[:, :n_mocap]),
        _rms(result.marker_errors_m[:, n_mocap:]),
        np.full(merged.shape[:2], np.nan),
        expected_residual_mm(mocap_noise_mm(joints_world_mm, config.ik, config.filter.fps_hz)),
        _rms(result.marker_errors_m[:, :n_mocap]),  # OpenSim's IK, before the keypoints' filter
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
