"""Inverse kinematics: fit model coordinates to 3D markers, frame by frame.

Two solvers on one interface (``MarkerObservations`` in, ``IKResult`` out):

- ``solve_ik`` (ours, the default for our model): weighted Levenberg-Marquardt on the batched
  numpy kinematics, the rhythms exact, coordinate ranges as bounds. Frames are solved in blocks of
  consecutive frames, each block warm-started from the last solution of the previous one.
  Validated against OpenSim's solver in the tests (same model, same weights).
- ``solve_ik_opensim``: OpenSim's ``InverseKinematicsSolver`` on any OpenSim model (a user's
  ``.osim``, the official SIMSPINE model, or ours with its rhythm couplers), fed from in-memory
  tables (no files), warm-started frame to frame by ``track``.

No coordinate prior is added: the solution is what the markers say (the Pose2Sim setups pull
L5_S1 flexion toward zero; a prior must be a deliberate, documented choice and is not offered
here). Markers are in OpenSim ground (m, Y up); missing markers are NaN or weight 0.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.errors import ShapeError
from simspine_dataset.geometry.transforms import nearest_rotation
from simspine_dataset.h36m import FPS_HZ

if TYPE_CHECKING:
    import opensim

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MarkerObservations:
    """Markers to fit. positions_m (T, K, 3) in OpenSim ground; weights (T, K) (0 = absent).

    ``ray_directions`` (T, K, 3), optional: where a row is a unit vector, that observation is a
    ray (a keypoint seen by one camera: ``positions_m`` a point on it, the camera centre) and only
    the marker's distance from the ray counts (``off_ray``); zero rows are points."""

    names: tuple[str, ...]
    positions_m: np.ndarray
    weights: np.ndarray
    fps_hz: float = FPS_HZ
    ray_directions: np.ndarray | None = None

    def __post_init__(self) -> None:
        T, K = self.positions_m.shape[:2]
        if self.positions_m.shape != (T, len(self.names), 3):
            raise ShapeError(f"positions_m must be (T, {len(self.names)}, 3), got {self.positions_m.shape}")
        if self.weights.shape != (T, K):
            raise ShapeError(f"weights must be (T, {K}), got {self.weights.shape}")
        missing = ~np.isfinite(self.positions_m).all(axis=-1)
        object.__setattr__(self, "weights", np.where(missing, 0.0, np.clip(self.weights, 0.0, None)))
        rays = np.zeros((T, K, 3)) if self.ray_directions is None else np.nan_to_num(self.ray_directions)
        if rays.shape != (T, K, 3):
            raise ShapeError(f"ray_directions must be (T, {K}, 3), got {rays.shape}")
        object.__setattr__(self, "ray_directions", rays)

    @property
    def is_ray(self) -> np.ndarray:
        """(T, K) True where the observation is a ray."""
        return np.any(self.ray_directions != 0, axis=-1)

    def residuals(self, markers_m: np.ndarray) -> np.ndarray:
        """Model markers (T, K, 3) minus the observations, off the rays where they are rays;
        zero where absent."""
        return off_ray(markers_m - np.nan_to_num(self.positions_m), self.ray_directions)

    def frames(self, pick: np.ndarray) -> MarkerObservations:
        """The observations of frames ``pick`` (an index array or a slice)."""
        return MarkerObservations(
            self.names, self.positions_m[pick], self.weights[pick], self.fps_hz, self.ray_directions[pick]
        )

    @property
    def n_frames(self) -> int:
        return len(self.positions_m)

    @classmethod
    def constant_weights(
        cls,
        names: Sequence[str],
        positions_m: np.ndarray,
        weights: Sequence[float],
        fps_hz: float = FPS_HZ,
    ) -> MarkerObservations:
        w = np.broadcast_to(np.asarray(weights, float), positions_m.shape[:2]).copy()
        return cls(tuple(names), np.asarray(positions_m, float), w, fps_hz)


def off_ray(vectors: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """The part of each vector orthogonal to its unit direction: ``v - d (d . v)``. (..., 3) with
    directions (..., 3); a zero direction leaves the vector as it is. For a Jacobian (..., 3, F),
    pass ``directions[..., None]`` moved to match: ``off_ray_jacobian``."""
    return vectors - directions * np.sum(directions * vectors, axis=-1, keepdims=True)


def off_ray_jacobian(jacobian: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``off_ray`` applied to each column of a marker Jacobian (..., K, 3, F), directions (..., K, 3)."""
    return (
        jacobian
        - directions[..., None] * np.einsum("...kd,...kdf->...kf", directions, jacobian)[..., None, :]
    )


@dataclass(frozen=True)
class IKResult:
    """Coordinates per frame (table units: degrees, metres) and marker residuals."""

    coordinate_names: tuple[str, ...]
    coordinates: np.ndarray  # (T, Q)
    marker_names: tuple[str, ...]
    marker_errors_m: np.ndarray  # (T, K), NaN where a marker was absent
    iterations: np.ndarray = field(default_factory=lambda: np.zeros(0, int))  # (T,)

    @property
    def marker_rmse_m(self) -> np.ndarray:
        """Per-frame root-mean-square marker error over the markers present, (T,)."""
        with np.errstate(invalid="ignore"):
            return np.sqrt(np.nanmean(self.marker_errors_m**2, axis=1))

    def coordinate(self, name: str) -> np.ndarray:
        return self.coordinates[:, self.coordinate_names.index(name)]


def free_coordinates(model: KinematicModel) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """The columns IK solves for (not locked) and their bounds in SI (infinite where unclamped)."""
    coords = model.spec.coordinates
    free = np.array([i for i, c in enumerate(coords) if not c.locked])
    low = model.to_si(np.array([c.range[0] if c.clamped else -np.inf for c in coords]))[free]
    high = model.to_si(np.array([c.range[1] if c.clamped else np.inf for c in coords]))[free]
    return free, (low, high)


def initial_pose(model: KinematicModel, obs: MarkerObservations, frame: int = 0) -> np.ndarray:
    """SI coordinates placing the default-posed model on a frame's markers (rigid Kabsch fit of the
    pelvis and trunk markers present), (Q,). The start of the first block."""
    from scipy.spatial.transform import Rotation

    q = model.default_q()
    names = model.coordinate_names
    for axis in ("pelvis_tx", "pelvis_ty", "pelvis_tz"):
        q[names.index(axis)] = 0.0
    template = model.markers(q[None], obs.names)[0]
    present = (obs.weights[frame] > 0) & np.isfinite(obs.positions_m[frame]).all(axis=1) & ~obs.is_ray[frame]
    if present.sum() < 3:
        raise ValueError(f"frame {frame}: fewer than 3 markers to place the model")
    a, b = template[present], obs.positions_m[frame][present]
    w = obs.weights[frame][present][:, None]
    ca, cb = (w * a).sum(0) / w.sum(), (w * b).sum(0) / w.sum()
    rot = nearest_rotation(((b - cb) * w).T @ (a - ca))
    tilt, list_, rotation = Rotation.from_matrix(rot).as_euler("ZXY")
    q[[names.index("pelvis_tilt"), names.index("pelvis_list"), names.index("pelvis_rotation")]] = (
        tilt,
        list_,
        rotation,
    )
    translation = cb - rot @ ca
    q[[names.index("pelvis_tx"), names.index("pelvis_ty"), names.index("pelvis_tz")]] = translation
    return q


def _lm_block(
    model: KinematicModel,
    q0: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    idx: np.ndarray,
    free: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    max_iterations: int,
    tolerance: float,
    gain_tolerance: float = 1e-4,
    rays: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg-Marquardt for a block of independent frames. q0 (B, Q) SI -> (q, iterations).

    A frame stops when its step is below ``tolerance`` (radians or metres) or an accepted step
    lowers its cost by less than ``gain_tolerance`` (relative): with mocap alone the split of
    axial rotation between lumbar and thoracic levels is weakly observed, and LM would otherwise
    spend tens of iterations crawling along that valley for changes of hundredths of a degree."""
    q = q0.copy()
    B = len(q)
    lam = np.full(B, 1e-3)
    iterations = np.zeros(B, int)
    active = np.ones(B, bool)
    target = np.nan_to_num(target)
    rays = np.zeros_like(target) if rays is None else rays  # (B, K, 3): unit rows for ray observations
    w = np.repeat(weights, 3, axis=1)  # (B, 3K)
    eye = np.eye(len(free))
    x, jac = model.markers_and_jacobian(q, idx, free)
    jac = off_ray_jacobian(jac, rays)
    residual = off_ray(x - target, rays).reshape(B, -1)
    cost = np.einsum("bm,bm->b", w, residual**2)
    for _ in range(max_iterations):
        J = jac.reshape(B, -1, len(free))
        Jw = J * w[..., None]
        H = Jw.transpose(0, 2, 1) @ J
        g = np.einsum("bmi,bm->bi", Jw, residual)
        step = -np.linalg.solve(H + lam[:, None, None] * (H * eye + 1e-9 * eye), g[..., None])[..., 0]
        trial = q.copy()
        trial[:, free] = np.clip(q[:, free] + step, bounds[0], bounds[1])
        residual_t = off_ray(model.markers(trial, model.marker_names_at(idx)) - target, rays).reshape(B, -1)
        cost_t = np.einsum("bm,bm->b", w, residual_t**2)
        better = (cost_t < cost) & active
        moved = np.abs(trial[:, free] - q[:, free]).max(axis=1)  # after clipping at the bounds
        converged = (moved < tolerance) | (better & (cost - cost_t <= gain_tolerance * cost))
        q[better], residual[better], cost[better] = (
            trial[better],
            residual_t[better],
            cost_t[better],
        )
        lam = np.where(better, lam / 3.0, lam * 4.0)
        iterations += active
        active &= ~converged & (lam < 1e8)
        if not active.any():
            break
        refresh = better & active
        if refresh.any():
            _, fresh = model.markers_and_jacobian(q[refresh], idx, free)
            jac[refresh] = off_ray_jacobian(fresh, rays[refresh])
    return q, iterations


def lm_frames(
    model: KinematicModel,
    q0: np.ndarray,
    obs: MarkerObservations,
    free: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    max_iterations: int = 40,
    tolerance: float = 1e-7,
) -> tuple[np.ndarray, np.ndarray]:
    """Every frame of ``obs`` refined at once from its own start pose ``q0`` (T, Q) SI (e.g. its
    solution under a slightly different model) -> (q (T, Q) SI, iterations (T,))."""
    if q0.shape != (obs.n_frames, len(model.spec.coordinates)):
        raise ShapeError(f"q0 must be ({obs.n_frames}, {len(model.spec.coordinates)}), got {q0.shape}")
    idx = model.marker_indices(obs.names)
    return _lm_block(model, np.asarray(q0, float), obs.positions_m, obs.weights, idx, free, bounds,
                     max_iterations, tolerance, rays=obs.ray_directions)  # fmt: skip


def _cost(model: KinematicModel, obs: MarkerObservations, frame: int, q: np.ndarray) -> float:
    error = obs.frames(slice(frame, frame + 1)).residuals(model.markers(q[None], obs.names))[0]
    return float(np.sum(obs.weights[frame] * np.sum(error**2, axis=-1)))


def _better_start(model: KinematicModel, obs: MarkerObservations, frame: int, warm: np.ndarray) -> np.ndarray:
    """The warm start, unless a rigid fit of the default pose explains the frame better (a jump
    between sequences, or a sample of far-apart frames)."""
    if _cost(model, obs, frame, warm) < 1e-4 * max(obs.weights[frame].sum(), 1.0):
        return warm  # within ~1 cm rms: keep the warm start
    try:
        rigid = initial_pose(model, obs, frame)
    except ValueError:
        return warm
    return rigid if _cost(model, obs, frame, rigid) < _cost(model, obs, frame, warm) else warm


def solve_ik(
    model: KinematicModel,
    obs: MarkerObservations,
    *,
    block_frames: int = 25,
    max_iterations: int = 40,
    tolerance: float = 1e-7,
    initial_q: np.ndarray | None = None,
    repair: bool = True,
) -> IKResult:
    """Our batched solver. Returns coordinates in table units and per-frame marker errors.
    ``repair=False`` skips the second pass over outlier frames (see ``_repair``)."""
    idx = model.marker_indices(obs.names)
    free, (low, high) = free_coordinates(model)
    spec_coords = model.spec.coordinates
    q_prev = initial_pose(model, obs) if initial_q is None else np.asarray(initial_q, float)
    solved = np.empty((obs.n_frames, len(spec_coords)))
    iterations = np.zeros(obs.n_frames, int)
    for start in range(0, obs.n_frames, block_frames):
        stop = min(start + block_frames, obs.n_frames)
        if start and initial_q is None:  # re-seed where the warm start is worse than a rigid fit
            q_prev = _better_start(model, obs, start, q_prev)
        q0 = np.repeat(q_prev[None], stop - start, axis=0)
        target, weights = obs.positions_m[start:stop], obs.weights[start:stop]
        q, its = _lm_block(
            model,
            q0,
            target,
            weights,
            idx,
            free,
            (low, high),
            max_iterations,
            tolerance,
            rays=obs.ray_directions[start:stop],
        )
        solved[start:stop], iterations[start:stop] = q, its
        q_prev = q[-1]
    if repair:
        bounds = (low, high)
        solved, iterations = _repair(
            model, obs, solved, iterations, idx, free, bounds, max_iterations, tolerance
        )
    errors = np.linalg.norm(obs.residuals(model.markers(solved, obs.names)), axis=-1)
    errors[obs.weights <= 0] = np.nan
    return IKResult(model.coordinate_names, model.from_si(solved), obs.names, errors, iterations)


def _frame_costs(model: KinematicModel, obs: MarkerObservations, q: np.ndarray) -> np.ndarray:
    error = obs.residuals(model.markers(q, obs.names))
    return np.einsum("tk,tk->t", obs.weights, np.sum(error**2, axis=-1)) / np.maximum(
        obs.weights.sum(1), 1e-9
    )


def _repair(
    model: KinematicModel,
    obs: MarkerObservations,
    solved: np.ndarray,
    iterations: np.ndarray,
    idx: np.ndarray,
    free: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    max_iterations: int,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Frames whose weighted residual stands out are re-solved in order from two seeds, the previous
    frame's solution and a rigid fit of the default pose, and the best answer is kept: those above
    16x the lower-quartile cost, and those above 4x the cost of the frame before. A block's
    shared warm start can land a fast movement in another minimum (an arm flipped at its range
    bound), and Human3.6M's collinear pelvis joints leave a shallow valley (pelvis tilt against
    hip, lumbar and thoracic flexion) where warm starts can settle beside the optimum."""
    costs = _frame_costs(model, obs, solved)
    threshold = max(16.0 * float(np.quantile(costs, 0.25)), 1e-8)  # 4x the lower-quartile rms, >= 0.1 mm
    for t in range(len(costs)):
        # a frame stands out from the sequence, or from the frame before it (after that one's own
        # repair: a wrong minimum reached from a block's warm start can fill most of a sequence)
        if costs[t] <= threshold and (t == 0 or costs[t] <= max(4.0 * costs[t - 1], 1e-8)):
            continue
        seeds = [solved[t - 1]] if t else []
        with contextlib.suppress(ValueError):  # fewer than 3 markers: no rigid seed
            seeds.append(initial_pose(model, obs, t))
        if not seeds:
            continue
        n = len(seeds)
        q, its = _lm_block(
            model,
            np.stack(seeds),
            np.repeat(obs.positions_m[t : t + 1], n, 0),
            np.repeat(obs.weights[t : t + 1], n, 0),
            idx,
            free,
            bounds,
            max_iterations,
            tolerance,
            rays=np.repeat(obs.ray_directions[t : t + 1], n, 0),
        )
        trial = _frame_costs(model, obs.frames(np.full(n, t)), q)
        best = int(np.argmin(trial))
        if trial[best] < costs[t]:
            solved[t], costs[t], iterations[t] = q[best], trial[best], iterations[t] + its.sum()
    return solved, iterations


def solve_ik_opensim(
    model: opensim.Model,
    obs: MarkerObservations,
    *,
    accuracy: float = 1e-5,
    coordinate_names: Sequence[str] | None = None,
) -> IKResult:
    """OpenSim's InverseKinematicsSolver, markers passed in memory. ``model`` is an OpenSim Model
    (``initSystem`` is called here). Weights that change between frames (detections'
    confidences, markers absent for a while) are applied with ``updateMarkerWeight``; a changed
    weight leaves OpenSim's assembler uninitialised (``track`` then raises "assemble() must be
    called first"), so such a frame is solved by ``assemble``, which starts from the state's
    current pose, the previous frame's solution: a warm start as ``track``'s. OpenSim fits points
    only: a single-view ray is an absent marker here (weight 0; a marker weighted but unobserved
    pulled a synthetic walk's frame to 17 mm of mocap residual)."""
    import opensim as osim

    from simspine_dataset.biomech.osim import read_coordinate

    weights = np.where(obs.is_ray, 0.0, obs.weights)
    table = osim.TimeSeriesTableVec3()
    table.setColumnLabels(osim.StdVectorString(list(obs.names)))
    for t in range(obs.n_frames):
        row = osim.RowVectorVec3(len(obs.names), osim.Vec3(np.nan))
        for k in np.flatnonzero(weights[t] > 0):
            row[int(k)] = osim.Vec3(*map(float, obs.positions_m[t, k]))
        table.appendRow(t / obs.fps_hz, row)
    weight_set = osim.SetMarkerWeights()
    for name, w in zip(obs.names, weights[0], strict=True):
        weight_set.cloneAndAppend(osim.MarkerWeight(name, float(w)))
    reference = osim.MarkersReference(table, weight_set)
    solver = osim.InverseKinematicsSolver(model, reference, osim.SimTKArrayCoordinateReference(), np.inf)
    solver.setAccuracy(accuracy)
    state = model.initSystem()
    coords = model.getCoordinateSet()
    names = tuple(coordinate_names or [coords.get(i).getName() for i in range(coords.getSize())])
    out = np.empty((obs.n_frames, len(names)))
    errors = np.full((obs.n_frames, len(obs.names)), np.nan)
    order = {name: k for k, name in enumerate(obs.names)}
    for t in range(obs.n_frames):
        state.setTime(t / obs.fps_hz)
        changed = np.flatnonzero(weights[t] != weights[t - 1]) if t else []
        for k in changed:  # (updating a weight before the first assemble crashes OpenSim 4.6)
            solver.updateMarkerWeight(obs.names[k], float(weights[t, k]))
        if t == 0 or len(changed):
            solver.assemble(state)
        else:
            solver.track(state)
        for i, name in enumerate(names):
            out[t, i] = read_coordinate(coords.get(name), state)
        for m in range(solver.getNumMarkersInUse()):
            name = solver.getMarkerNameForIndex(m)
            errors[t, order[name]] = solver.computeCurrentMarkerError(name)
    errors[weights <= 0] = np.nan
    return IKResult(names, out, obs.names, errors, np.zeros(obs.n_frames, int))
