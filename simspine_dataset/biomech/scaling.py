"""Per-subject scaling of the model from the mocap (SIMSPINE's recipe, plus a refinement).

1. Segment factors from marker-pair distances: for each pair, the trimmed mean over quiet frames
   (lowest marker speed) that are among the most extended for that pair, over the same distance on
   the generic model in its default pose (``SEGMENT_PAIRS``).
2. Refinement (ours; ``ScalingConfig.refine_rounds``): Gauss-Newton on the factors over inverse
   kinematics of a sample of frames (variable projection: each frame's pose re-adjusts). Pairs that
   span joints (shoulder to hip) depend on posture, so distances alone leave errors of ~1-2 %; the
   refinement removes them. It is safeguarded, because an IK it does not check can end in another
   minimum and pull the factors there (25 mm residual and -27 % forearm on a capture where the
   distances alone were within 2.3 %): the sample's first IK runs frame by frame from the previous
   frame's pose, every later one refines each frame from its last accepted pose, a round is kept
   only when it lowers the weighted marker cost over the same frames (halved otherwise), factors
   stay within ``refine_bound`` of the distance estimate, and a result whose median residual is
   above the distance estimate's is dropped for it. Measured on 63+ captures no one tuned on
   (``benchmarks/bench_scaling_scan.py``).
3. The factors scale our numpy model (``scale_spec``) and the OpenSim model (``Model.scale``, mass
   preserved in distribution, total mass from the config); the OpenSim one is saved per subject.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.biomech.gates import Gate, gate
from simspine_dataset.biomech.ik import MarkerObservations, free_coordinates, lm_frames, solve_ik
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
    marker_rmse_m: float  # median IK residual (per-frame marker RMS) over the sample, after scaling
    distance_marker_rmse_m: float = float("nan")  # the same with the distance-only factors
    expected_residual_mm: float = float("nan")  # what the measured marker noise explains (gates)

    def gate(self, factor: float) -> Gate:
        """The scaling's gate: its residual against what the measured noise explains."""
        return gate("scaling", self.expected_residual_mm, self.marker_rmse_m * MM_PER_M, factor)

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


@dataclass(frozen=True)
class _SampleFit:
    """IK of the refinement sample under one set of factors: SI poses (T, Q), the weighted cost of
    each frame (T,) and each frame's unweighted marker RMS (T,) in metres."""

    factors: dict[str, float]
    poses: np.ndarray
    costs: np.ndarray
    rmse_m: np.ndarray


def _fit_sample(
    spec: ModelSpec, factors: dict[str, float], sample: MarkerObservations, poses: np.ndarray | None
) -> _SampleFit:
    """IK of the sample with ``factors``. Without ``poses``: frame by frame in time order, each
    frame warm-started from the one before (the sample's frames are far apart; a block sharing one
    start lands fast movements in other minima) or from a rigid fit where that explains it better.
    With ``poses`` (a fit under nearby factors): every frame refined from its own pose, at once."""
    model = KinematicModel(scale_spec(spec, body_scale_factors(spec, factors)))
    if poses is None:
        q = model.to_si(solve_ik(model, sample, block_frames=1, repair=False).coordinates)
    else:
        free, bounds = free_coordinates(model)
        q, _ = lm_frames(model, poses, sample, free, bounds)
    errors = sample.residuals(model.markers(q, sample.names))
    squared = np.sum(errors**2, axis=-1)  # (T, K)
    present = sample.weights > 0
    rmse = np.sqrt(np.sum(np.where(present, squared, 0.0), axis=1) / np.maximum(present.sum(axis=1), 1))
    return _SampleFit(dict(factors), q, np.einsum("tk,tk->t", sample.weights, squared), rmse)


def _factor_step(
    spec: ModelSpec, factors: dict[str, float], poses: np.ndarray, sample: MarkerObservations
) -> np.ndarray:
    """The Gauss-Newton step on the factors once every frame's pose re-adjusts to first order
    (variable projection: the pose directions are projected out of the factor Jacobian, frame by
    frame), in ``SEGMENTS`` order. ``poses`` (T, Q) SI: the sample's IK under ``factors``."""
    model = KinematicModel(scale_spec(spec, body_scale_factors(spec, factors)))
    sqrt_w = np.sqrt(sample.weights)[..., None]  # (T, K, 1)
    target = np.nan_to_num(sample.positions_m)
    free, _ = free_coordinates(model)
    x, jac_q = model.markers_and_jacobian(poses, model.marker_indices(sample.names), free)
    T = len(poses)
    r = (sqrt_w * (x - target)).reshape(T, -1)  # (T, 3K)
    J_q = (sqrt_w[..., None] * jac_q).reshape(T, -1, len(free))  # (T, 3K, Q)
    J_f = np.empty((T, r.shape[1], len(SEGMENTS)))
    for i, segment in enumerate(SEGMENTS):  # markers are linear in each factor: exact differences
        bumped = KinematicModel(
            scale_spec(spec, body_scale_factors(spec, {**factors, segment: factors[segment] + 1e-3}))
        )
        moved = sqrt_w * (bumped.markers(poses, sample.names) - target)
        J_f[..., i] = (moved.reshape(T, -1) - r) / 1e-3
    JtJ = np.einsum("tmi,tmj->tij", J_q, J_q) + 1e-9 * np.eye(len(free))
    projected = J_f - J_q @ np.linalg.solve(JtJ, np.einsum("tmi,tmf->tif", J_q, J_f))
    step, *_ = np.linalg.lstsq(projected.reshape(-1, len(SEGMENTS)), -r.ravel(), rcond=None)
    return step


def _typical_frames(rmse: np.ndarray) -> np.ndarray:
    """(T,) True for the frames whose IK residual is within 3x the median (all, if that leaves too
    few): a frame the IK fits badly (a mocap glitch, a pose outside the model) does not pull the
    factors."""
    keep = rmse <= 3.0 * np.nanmedian(rmse) + 1e-9
    return keep if keep.sum() >= max(10, len(rmse) // 4) else np.ones(len(rmse), bool)


def _bounded(factors: dict[str, float], start: dict[str, float], bound: float) -> dict[str, float]:
    """Each factor within ``bound`` (relative) of the distance-only estimate ``start``."""
    return {s: float(np.clip(f, start[s] * (1 - bound), start[s] * (1 + bound))) for s, f in factors.items()}


def refine_factors(
    spec: ModelSpec, start: dict[str, float], sample: MarkerObservations, config: ScalingConfig
) -> tuple[_SampleFit, _SampleFit]:
    """Step 2: Gauss-Newton on the factors, each step accepted only when it lowers the weighted
    marker cost over the same frames (the frames the distance-only fit explains typically), halved
    up to three times otherwise; factors bounded around the distance-only estimate. Every IK after
    the first starts each frame from its pose in the last accepted fit, so no round can trade a
    good pose for another minimum. Returns the distance-only fit and the refined one."""
    first = best = _fit_sample(spec, start, sample, None)
    frames = _typical_frames(first.rmse_m)
    for _ in range(config.refine_rounds):
        step = _factor_step(spec, best.factors, best.poses[frames], sample.frames(np.flatnonzero(frames)))
        for shrink in (1.0, 0.5, 0.25, 0.125):
            candidate = {s: best.factors[s] + shrink * step[i] for i, s in enumerate(SEGMENTS)}
            trial = _fit_sample(spec, _bounded(candidate, start, config.refine_bound), sample, best.poses)
            if trial.costs[frames].sum() < best.costs[frames].sum():
                break
        else:
            break  # no step lowers the cost: converged
        converged = max(abs(trial.factors[s] / best.factors[s] - 1) for s in SEGMENTS) < 1e-5
        best = trial
        if converged:
            break
    return first, best


def scale_subject(
    subject: str,
    spec: ModelSpec,
    obs: MarkerObservations,
    joints_m: np.ndarray,
    config: ScalingConfig = ScalingConfig(),
) -> SubjectScale:
    """Scale ``spec`` to a subject. ``obs`` are the IK markers of the subject's frames (any
    sequences), ``joints_m`` (T, 32, 3) the same frames' Human3.6M joints in OpenSim metres."""
    start = distance_factors(KinematicModel(spec), joints_m, config)
    step = max(1, obs.n_frames // config.max_frames)
    first, refined = refine_factors(spec, start, obs.frames(slice(None, None, step)), config)
    start_rmse, rmse = float(np.median(first.rmse_m)), float(np.median(refined.rmse_m))
    if rmse > start_rmse:  # the weighted cost fell, the plain residual did not: keep the distances
        refined, rmse = first, start_rmse
    factors = refined.factors
    height = _height_m(joints_m)
    summary = ", ".join(f"{s} {f:.3f}" for s, f in factors.items())
    log.info(
        "%s: scaled (%s), height %.2f m, IK rmse %.1f mm (distances alone %.1f mm)",
        subject,
        summary,
        height,
        rmse * MM_PER_M,
        start_rmse * MM_PER_M,
    )
    return SubjectScale(subject, factors, height, config.mass_kg, rmse, start_rmse)


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
