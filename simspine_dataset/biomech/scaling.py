"""Per-subject scaling of the model from the mocap (SIMSPINE's recipe, plus a refinement).

1. Segment factors from marker-pair distances: for each pair, the trimmed mean over quiet frames
   (lowest marker speed) that are among the most extended for that pair, over the same distance on
   the generic model in its default pose (``SEGMENT_PAIRS``).
2. Refinement (ours; ``ScalingConfig.refine_rounds``): alternate inverse kinematics on a sample of
   frames and a least-squares update of the segment factors with the poses fixed. Pairs that span
   joints (shoulder to hip) depend on posture, so distances alone leave errors of ~1 %; the
   refinement removes them.
3. The factors scale our numpy model (``scale_spec``) and the OpenSim model (``Model.scale``, mass
   preserved in distribution, total mass from the config); the OpenSim one is saved per subject.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.biomech.ik import MarkerObservations, solve_ik
from simspine_dataset.biomech.kinematics import KinematicModel, body_scale_factors, scale_spec
from simspine_dataset.biomech.model_table import SEGMENTS, ModelSpec, h36m_marker_name
from simspine_dataset.config import ScalingConfig
from simspine_dataset.geometry.transforms import MM_PER_M
from simspine_dataset.skeleton import J

if TYPE_CHECKING:
    import opensim

log = logging.getLogger(__name__)

# Segment -> Human3.6M joint pairs whose distance measures it (joint indices of the 32).
SEGMENT_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {
    "pelvis": ((J.RIGHT_UP_LEG, J.LEFT_UP_LEG),),  # hip centre to hip centre
    "thigh": ((J.RIGHT_UP_LEG, J.RIGHT_LEG), (J.LEFT_UP_LEG, J.LEFT_LEG)),
    "shank": ((J.RIGHT_LEG, J.RIGHT_FOOT), (J.LEFT_LEG, J.LEFT_FOOT)),
    "foot": ((J.RIGHT_FOOT, J.RIGHT_TOE_BASE), (J.LEFT_FOOT, J.LEFT_TOE_BASE)),
    "torso": ((J.RIGHT_ARM, J.RIGHT_UP_LEG), (J.LEFT_ARM, J.LEFT_UP_LEG),  # shoulder-hip pairs
              (J.RIGHT_ARM, J.LEFT_UP_LEG), (J.LEFT_ARM, J.RIGHT_UP_LEG)),
    "head": ((J.HEAD, J.HEAD_END), (J.NECK, J.HEAD_END)),  # nose to head top, thorax to head top
    "arm": ((J.RIGHT_ARM, J.RIGHT_FORE_ARM), (J.LEFT_ARM, J.LEFT_FORE_ARM)),
    "forearm": ((J.RIGHT_FORE_ARM, J.RIGHT_HAND), (J.LEFT_FORE_ARM, J.LEFT_HAND)),
}  # fmt: skip
FOOT_JOINTS = (J.RIGHT_FOOT, J.RIGHT_TOE_BASE, J.RIGHT_TOE_END, J.LEFT_FOOT, J.LEFT_TOE_BASE, J.LEFT_TOE_END)


@dataclass(frozen=True)
class SubjectScale:
    """A subject's scaling result (``segment_factors`` per segment of ``SEGMENTS``)."""

    subject: str
    segment_factors: dict[str, float]
    height_m: float
    mass_kg: float
    marker_rmse_m: float  # median IK residual over the refinement sample, after scaling

    def scaled_spec(self, spec: ModelSpec) -> ModelSpec:
        return scale_spec(spec, body_scale_factors(spec, self.segment_factors))


def _quiet_frames(joints_m: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the frames with the lowest mean joint speed."""
    speed = np.zeros(len(joints_m))
    if len(joints_m) > 1:
        step = np.linalg.norm(np.diff(joints_m, axis=0), axis=-1).mean(axis=1)
        speed[1:] += step
        speed[:-1] += step
    keep = max(1, round(fraction * len(joints_m)))
    return np.sort(np.argsort(speed, kind="stable")[:keep])


def _trimmed_mean(values: np.ndarray, trim_fraction: float) -> float:
    from scipy.stats import trim_mean

    return float(trim_mean(values, trim_fraction / 2.0))


def distance_factors(model: KinematicModel, joints_m: np.ndarray, config: ScalingConfig) -> dict[str, float]:
    """Step 1: factors from marker-pair distances. ``joints_m`` (T, 32, 3) in OpenSim metres."""
    generic = model.markers(model.default_q()[None], [h36m_marker_name(j) for j in J])[0]
    quiet = _quiet_frames(joints_m, config.quiet_fraction)
    factors = {}
    for segment, pairs in SEGMENT_PAIRS.items():
        ratios = []
        for a, b in pairs:
            d = np.linalg.norm(joints_m[quiet, a] - joints_m[quiet, b], axis=-1)
            d = d[np.isfinite(d)]
            extended = np.sort(d)[-max(1, round(config.extended_fraction * len(d))) :]
            ratios.append(
                _trimmed_mean(extended, config.trim_fraction) / np.linalg.norm(generic[a] - generic[b])
            )
        factors[segment] = float(np.mean(ratios))
    return factors


def _refine(
    spec: ModelSpec, factors: dict[str, float], obs: MarkerObservations
) -> tuple[dict[str, float], float]:
    """One variable-projection Gauss-Newton step on the factors: IK with the current factors, then
    the factor step that is best once every frame's pose re-adjusts to first order (the pose
    directions are projected out of the factor Jacobian, frame by frame)."""
    model = KinematicModel(scale_spec(spec, body_scale_factors(spec, factors)))
    result = solve_ik(model, obs, repair=False)
    keep = _typical_frames(result.marker_rmse_m)  # frames that fell in another minimum are left out
    obs = MarkerObservations(obs.names, obs.positions_m[keep], obs.weights[keep], obs.fps_hz)
    poses = model.to_si(result.coordinates[keep])
    sqrt_w = np.sqrt(obs.weights)[..., None]  # (T, K, 1)
    target = np.nan_to_num(obs.positions_m)
    free = np.array([i for i, c in enumerate(spec.coordinates) if not c.locked])
    idx = model.marker_indices(obs.names)
    x, jac_q = model.markers_and_jacobian(poses, idx, free)
    T = len(poses)
    r = (sqrt_w * (x - target)).reshape(T, -1)  # (T, 3K)
    J_q = (sqrt_w[..., None] * jac_q).reshape(T, -1, len(free))  # (T, 3K, Q)
    J_f = np.empty((T, r.shape[1], len(SEGMENTS)))
    for i, segment in enumerate(SEGMENTS):  # markers are linear in each factor: exact differences
        bumped = KinematicModel(
            scale_spec(spec, body_scale_factors(spec, {**factors, segment: factors[segment] + 1e-3}))
        )
        J_f[..., i] = ((sqrt_w * (bumped.markers(poses, obs.names) - target)).reshape(T, -1) - r) / 1e-3
    JtJ = np.einsum("tmi,tmj->tij", J_q, J_q) + 1e-9 * np.eye(len(free))
    projected = J_f - J_q @ np.linalg.solve(JtJ, np.einsum("tmi,tmf->tif", J_q, J_f))
    step, *_ = np.linalg.lstsq(projected.reshape(-1, len(SEGMENTS)), -r.ravel(), rcond=None)
    new = {s: float(np.clip(factors[s] + step[i], 0.5, 2.0)) for i, s in enumerate(SEGMENTS)}
    rmse = float(np.sqrt(np.sum(r**2) / max(1.0, obs.weights.sum())))
    return new, rmse


def _typical_frames(rmse: np.ndarray) -> np.ndarray:
    """Indices of frames whose IK residual is within 3x the median (all, if that leaves too few)."""
    keep = np.flatnonzero(rmse <= 3.0 * np.nanmedian(rmse) + 1e-9)
    return keep if len(keep) >= max(10, len(rmse) // 4) else np.arange(len(rmse))


def scale_subject(
    subject: str,
    spec: ModelSpec,
    obs: MarkerObservations,
    joints_m: np.ndarray,
    config: ScalingConfig = ScalingConfig(),
) -> SubjectScale:
    """Scale ``spec`` to a subject. ``obs`` are the IK markers of the subject's frames (any
    sequences), ``joints_m`` (T, 32, 3) the same frames' Human3.6M joints in OpenSim metres."""
    model = KinematicModel(spec)
    factors = distance_factors(model, joints_m, config)
    step = max(1, obs.n_frames // config.max_frames)
    sample = MarkerObservations(obs.names, obs.positions_m[::step], obs.weights[::step], obs.fps_hz)
    rmse = float("nan")
    for round_ in range(config.refine_rounds):
        factors, rmse = _refine(spec, factors, sample)
        log.debug("%s: refinement round %d, weighted rmse %.2f mm", subject, round_ + 1, rmse * MM_PER_M)
    scaled = KinematicModel(scale_spec(spec, body_scale_factors(spec, factors)))
    final_rmse = float(np.nanmedian(solve_ik(scaled, sample, repair=False).marker_rmse_m))
    height = _height_m(joints_m)
    summary = ", ".join(f"{s} {f:.3f}" for s, f in factors.items())
    log.info(
        "%s: scaled (%s), height %.2f m, IK rmse %.1f mm",
        subject,
        summary,
        height,
        final_rmse * MM_PER_M,
    )
    return SubjectScale(subject, factors, height, config.mass_kg, final_rmse)


def _height_m(joints_m: np.ndarray) -> float:
    """Standing height: head top above the lowest foot point, 95th percentile over frames, plus
    ~2 cm of sole and scalp below and above the markers."""
    top = joints_m[:, J.HEAD_END, 1]
    floor = np.nanmin(joints_m[:, list(FOOT_JOINTS), 1], axis=1)
    return float(np.nanpercentile(top - floor, 95) + 0.02)


def scale_opensim_model(
    spec: ModelSpec, segment_factors: Mapping[str, float], mass_kg: float
) -> opensim.Model:
    """Build our OpenSim model and scale it with ``Model.scale`` (mass distribution preserved)."""
    import opensim as osim

    from simspine_dataset.biomech.osim import build_model

    model = build_model(spec)
    state = model.initSystem()
    scale_set = osim.ScaleSet()
    for body, factors in body_scale_factors(spec, segment_factors).items():
        scale = osim.Scale()
        scale.setSegmentName(body)
        scale.setScaleFactors(osim.Vec3(*factors))
        scale.setApply(True)
        scale_set.cloneAndAppend(scale)
    model.scale(state, scale_set, True, mass_kg)
    model.initSystem()
    return model
