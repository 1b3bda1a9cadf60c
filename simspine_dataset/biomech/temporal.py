"""Temporal inverse kinematics: all frames of a sequence fitted jointly, and the labels' uncertainty.

The objective (the SIMSPINE paper's form, marker error plus a penalty on coordinate change between
frames) is a maximum a posteriori estimate under two documented noise models:

    sum_t sum_k w_tk |x_k(q_t) - m_tk|^2  +  sum_t sum_i lambda_i (q_t-1,i - 2 q_t,i + q_t+1,i)^2

- the markers' weights ``w = 1 / sigma^2`` (``biomech.observations``: measured per joint and
  per pseudo-marker; with ``ik.weights = "configured"`` the configured weights instead);
- each coordinate's acceleration a white sequence of variance ``sigma_acc,i^2`` per frame^2, so
  ``lambda_i = 1 / sigma_acc,i^2``, estimated per sequence and coordinate from the frame-by-frame
  solution and its Gauss-Newton noise (``acceleration_weights``, ``frame_noise_variance``), then
  re-estimated from the temporal solution's posterior, expectation-maximisation
  (``reestimated_acceleration_weights``, ``solve_temporal_em``): no smoothing constant tuned to a
  capture; one documented floor (``pipeline.ACCELERATION_FLOOR``) keeps a still coordinate's
  weight bounded.

Gauss-Newton (Levenberg-Marquardt) on all frames of a window at once: the normal matrix is the
per-frame ``J^T W J`` blocks on the diagonal plus ``(D^T D) (x) Lambda`` (D the second difference),
a symmetric band matrix of half-width 2F for F free coordinates, so each step is one banded
Cholesky solve (``scipy.linalg.solveh_banded``, O(T F^3)). Long sequences are solved in
overlapping windows; each window keeps its interior.

The same matrix at the solution is the inverse posterior covariance; ``keypoint_uncertainty``
samples it (exactly, by solving against a draw of the right-hand side) and maps the draws to the
37 keypoints through the model.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from simspine_dataset.biomech.ik import MarkerObservations, off_ray, off_ray_jacobian
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.geometry.filters import acceleration_variance, second_difference_gram, white_noise_std


@dataclass(frozen=True)
class TemporalProblem:
    """What a window's solve needs besides its frames."""

    model: KinematicModel
    idx: np.ndarray  # marker indices in the model
    free: np.ndarray  # free coordinate columns
    bounds: tuple[np.ndarray, np.ndarray]  # SI, per free coordinate
    acceleration_weights: np.ndarray  # lambda per free coordinate (F,)
    acceleration_floor: np.ndarray | float = 0.0  # the least acceleration per frame^2 (F,), SI


def acceleration_weights(
    q_si: np.ndarray,
    fps_hz: float,
    noise_var: np.ndarray | None = None,
    floor: np.ndarray | float = 0.0,
    floor_fraction: float = 1e-3,
) -> np.ndarray:
    """lambda_i = 1 / sigma_acc,i^2 per column of a frame-by-frame solution (T, F), SI units.

    sigma_acc^2 = the robust variance (1.4826 x median absolute deviation, squared) of the second
    difference of the solution below fps / 4 - the leak of the frames' white noise into that band
    (robust: a frame solved alone can jump between nearby minima of a weakly observed valley,
    sparse large accelerations that are not motion), floored at ``floor_fraction`` of the first
    term and at ``floor``^2 (the least acceleration a coordinate is assumed capable of: without
    it a still coordinate would get an unbounded weight and the system would lose its
    conditioning). The noise variance
    per coordinate is ``noise_var`` (the IK's own, ``frame_noise_variance``) or, without it, what
    the solution shows above fps / 4 (``white_noise_std``)."""
    q = np.asarray(q_si, dtype=float)
    noise = np.nan_to_num(white_noise_std(q, fps_hz)) ** 2 if noise_var is None else noise_var
    signal = acceleration_variance(q, fps_hz, noise, robust=True, floor_fraction=floor_fraction)
    return _floored_inverse(signal, floor)


def _floored_inverse(variance: np.ndarray, floor: np.ndarray | float) -> np.ndarray:
    """lambda = 1 / sigma_acc^2, sigma_acc at least ``floor`` (and lambda finite)."""
    return 1.0 / np.maximum(variance, np.maximum(np.square(floor), 1e-18))


def frame_noise_variance(problem: TemporalProblem, obs: MarkerObservations, q: np.ndarray) -> np.ndarray:
    """The variance of each free coordinate of a frame solved alone, (F,): the median over frames
    of the diagonal of (J^T W J)^-1 (the Gauss-Newton covariance when the weights are the markers'
    inverse noise variances, ``ik.weights = "measured"``) times the a posteriori variance factor
    (the median over frames of chi^2 / degrees of freedom at the solution: a fit better than the
    weights assume, e.g. noise-free data under the noise floor, scales it down). Weakly observed
    coordinates (the pelvis tilt against the hips and the lumbar spine) come out noisy, as they are."""
    x, jac = problem.model.markers_and_jacobian(q, problem.idx, problem.free)
    H, _ = _normal_blocks(off_ray_jacobian(jac, obs.ray_directions), obs.weights)
    ridge = 1e-9 * np.trace(H, axis1=1, axis2=2)[:, None, None] * np.eye(H.shape[1])
    covariance = np.median(np.diagonal(np.linalg.inv(H + ridge), axis1=1, axis2=2), axis=0)
    chi2 = np.einsum("tk,tkd->t", obs.weights, obs.residuals(x) ** 2)
    observed = np.where(obs.weights > 0, 3 - obs.is_ray, 0)  # a ray constrains 2 of 3 directions
    dof = np.maximum(observed.sum(axis=1) - len(problem.free), 1)
    return covariance * float(np.median(chi2 / dof))


def _banded(H: np.ndarray, lam: np.ndarray, gram: np.ndarray, damping: float) -> np.ndarray:
    """Lower band storage (2F + 1, T F) of blockdiag(H) + (D^T D) (x) diag(lam) + damping diag."""
    T, F, _ = H.shape
    ab = np.zeros((2 * F + 1, T * F))
    for d in range(F):
        ab[d].reshape(T, F)[:, : F - d] = np.diagonal(H, offset=-d, axis1=1, axis2=2)
    d0, d1, d2 = gram
    ab[0] += (d0[:, None] * lam).ravel()
    ab[F, : len(d1) * F] += (d1[:, None] * lam).ravel()
    ab[2 * F, : len(d2) * F] += (d2[:, None] * lam).ravel()
    ab[0] += damping * (ab[0] + 1e-9)
    return ab


def _penalty(q: np.ndarray, lam: np.ndarray) -> tuple[float, np.ndarray]:
    """The smoothness term and its gradient (T, F) for free coordinates q (T, F)."""
    acc = np.diff(q, n=2, axis=0)  # (T - 2, F)
    grad = np.zeros_like(q)
    weighted = acc * lam
    grad[:-2] += weighted
    grad[1:-1] -= 2 * weighted
    grad[2:] += weighted
    return float(np.sum(weighted * acc)), 2 * grad


def _normal_blocks(jac: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame J^T W J (T, F, F) and W J (T, 3K, F) from the Jacobian (T, K, 3, F)."""
    T, F = len(jac), jac.shape[-1]
    J = jac.reshape(T, -1, F)
    Jw = J * np.repeat(weights, 3, axis=1)[..., None]
    return Jw.transpose(0, 2, 1) @ J, Jw


def _marker_term(
    problem: TemporalProblem, q: np.ndarray, target: np.ndarray, weights: np.ndarray, rays: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    x, jac = problem.model.markers_and_jacobian(q, problem.idx, problem.free)
    residual = off_ray(x - target, rays)  # (T, K, 3); off the ray for a ray observation
    return float(np.einsum("tk,tkd->", weights, residual**2)), residual, off_ray_jacobian(jac, rays)


def solve_window(
    problem: TemporalProblem,
    q0: np.ndarray,
    target: np.ndarray,
    weights: np.ndarray,
    max_iterations: int = 15,
    tolerance: float = 1e-7,
    gain_tolerance: float = 1e-3,
    rays: np.ndarray | None = None,
) -> np.ndarray:
    """Levenberg-Marquardt on all frames of a window. q0 (T, Q) SI, target (T, K, 3) m with NaN
    where absent, weights (T, K) -> q (T, Q). Stops when an accepted step moves no coordinate by
    ``tolerance`` or lowers the whole window's cost by less than ``gain_tolerance`` (relative):
    from a frame-by-frame start a few steps settle the estimate; the rest would crawl along the
    weakly observed valleys for changes the data cannot tell apart."""
    from scipy.linalg import solveh_banded

    q = q0.copy()
    free, lam = problem.free, problem.acceleration_weights
    target = np.nan_to_num(target)
    rays = np.zeros_like(target) if rays is None else rays
    if len(q) < 4:
        return q
    gram = second_difference_gram(len(q))
    data, residual, jac = _marker_term(problem, q, target, weights, rays)
    smooth, smooth_grad = _penalty(q[:, free], lam)
    damping = 1e-4
    for _ in range(max_iterations):
        H, Jw = _normal_blocks(jac, weights)
        g = 2 * (Jw.transpose(0, 2, 1) @ residual.reshape(len(q), -1, 1))[..., 0] + smooth_grad
        ab = _banded(2 * H, 2 * lam, gram, damping)
        step = solveh_banded(ab, -g.ravel(), lower=True, check_finite=False).reshape(len(q), -1)
        trial = q.copy()
        trial[:, free] = np.clip(q[:, free] + step, *problem.bounds)
        data_t, residual_t, jac_t = _marker_term(problem, trial, target, weights, rays)
        smooth_t, smooth_grad_t = _penalty(trial[:, free], lam)
        cost, cost_t = data + smooth, data_t + smooth_t
        if cost_t < cost:
            moved = np.abs(trial[:, free] - q[:, free]).max()
            q, data, residual, jac, smooth, smooth_grad = (
                trial,
                data_t,
                residual_t,
                jac_t,
                smooth_t,
                smooth_grad_t,
            )
            damping = max(damping / 3.0, 1e-9)
            if moved < tolerance or cost - cost_t <= gain_tolerance * cost:
                break
        else:
            damping *= 4.0
            if damping > 1e8:
                break
    return q


def solve_temporal(
    problem: TemporalProblem,
    obs: MarkerObservations,
    q_frames: np.ndarray,
    window_frames: int = 1000,
    overlap_frames: int = 50,
) -> np.ndarray:
    """Refine a frame-by-frame solution (T, Q) SI jointly over time, in overlapping windows."""
    T = obs.n_frames
    if T < 4:
        return q_frames.copy()
    out = q_frames.copy()
    step = max(window_frames - 2 * overlap_frames, 1)
    for start in range(0, T, step):
        lo, hi = max(start - overlap_frames, 0), min(start + step + overlap_frames, T)
        solved = solve_window(
            problem,
            q_frames[lo:hi],
            obs.positions_m[lo:hi],
            obs.weights[lo:hi],
            rays=obs.ray_directions[lo:hi],
        )
        keep = slice(start, min(start + step, T))
        out[keep] = solved[keep.start - lo : keep.stop - lo]
        if start + step >= T:
            break
    return out


def _posterior_draws(
    problem: TemporalProblem,
    obs: MarkerObservations,
    q: np.ndarray,
    samples: int,
    seed: int,
    window_frames: int,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Draws of the coordinates' deviation from the solution q (T, Q) SI under the posterior
    N(0, H^-1), H the normal matrix at q (the penalty included), window by window: (lo, hi, dq) with
    dq (hi - lo, F) over the free coordinates, ``samples`` per window, exact (a draw of the
    right-hand side solved against the banded Cholesky factor)."""
    from scipy.linalg import cho_solve_banded, cholesky_banded

    rng = np.random.default_rng(seed)
    free, lam = problem.free, problem.acceleration_weights
    for lo in range(0, len(q), window_frames):
        hi = min(lo + window_frames, len(q))
        n = hi - lo
        _, jac = problem.model.markers_and_jacobian(q[lo:hi], problem.idx, free)
        jac = off_ray_jacobian(jac, obs.ray_directions[lo:hi])
        w = obs.weights[lo:hi]
        H, _ = _normal_blocks(jac, w)
        if n >= 4:
            gram, lam_here = second_difference_gram(n), lam
        else:  # too short for the penalty: the frames' own covariance
            gram, lam_here = (np.zeros(n), np.zeros(n - 1), np.zeros(max(n - 2, 0))), np.zeros_like(lam)
        factor = cholesky_banded(_banded(H, lam_here, gram, 1e-9), lower=True, check_finite=False)
        for _ in range(samples):
            rhs = np.einsum("tkdi,tkd->ti", jac, np.sqrt(w)[..., None] * rng.standard_normal(jac.shape[:3]))
            if n >= 4:
                z = rng.standard_normal((n - 2, len(free))) * np.sqrt(lam_here)
                rhs[:-2] += z
                rhs[1:-1] -= 2 * z
                rhs[2:] += z
            yield lo, hi, cho_solve_banded((factor, True), rhs.ravel(), check_finite=False).reshape(n, -1)


def keypoint_uncertainty(
    problem: TemporalProblem,
    obs: MarkerObservations,
    q: np.ndarray,
    names: tuple[str, ...],
    samples: int = 12,
    seed: int = 0,
    window_frames: int = 1000,
) -> np.ndarray:
    """Posterior standard deviation (m) of the model's markers ``names`` per frame, (T, K'):
    draws of the coordinates from N(q, H^-1), H the normal matrix at the solution (the penalty
    included, so the smoothing's gain in certainty counts), mapped through the model's Jacobian."""
    spread = np.zeros((len(q), len(names)))
    _, keypoint_jac = problem.model.markers_and_jacobian(q, problem.model.marker_indices(names), problem.free)
    for lo, hi, dq in _posterior_draws(problem, obs, q, samples, seed, window_frames):
        moved = keypoint_jac[lo:hi] @ dq[:, None, :, None]  # (n, K', 3, 1), linearised
        spread[lo:hi] += np.sum(moved[..., 0] ** 2, axis=-1)
    return np.sqrt(spread / samples)


def reestimated_acceleration_weights(
    problem: TemporalProblem,
    obs: MarkerObservations,
    q: np.ndarray,
    samples: int = 4,
    seed: int = 0,
    window_frames: int = 1000,
) -> np.ndarray:
    """One expectation-maximisation step on lambda (F,): sigma_acc,i^2 = the mean over the
    sequence of E[(q_t-1,i - 2 q_t,i + q_t+1,i)^2] under the posterior at the temporal solution q
    (the solution's own second difference squared plus the posterior draws' spread of it), floored
    as the first estimate is (``problem.acceleration_floor``). The frame-by-frame estimate
    (``acceleration_weights``) reads the acceleration through the frames' noise, which swamps it
    for weakly observed coordinates (the lumbar flexion: 0.05 to 0.27 deg/frame^2 on a synthetic
    capture whose truth has at most 0.018); the posterior reads it through the smoothed solution."""
    free = problem.free
    mean = np.mean(np.diff(q[:, free], n=2, axis=0) ** 2, axis=0)
    spread, terms = np.zeros(len(free)), 0
    for *_, dq in _posterior_draws(problem, obs, q, samples, seed, window_frames):
        spread += np.sum(np.diff(dq, n=2, axis=0) ** 2, axis=0)
        terms += max(len(dq) - 2, 0)
    return _floored_inverse(mean + spread / max(terms, 1), problem.acceleration_floor)


def solve_temporal_em(
    problem: TemporalProblem,
    obs: MarkerObservations,
    q_frames: np.ndarray,
    rounds: int = 2,
    samples: int = 4,
    window_frames: int = 1000,
) -> tuple[np.ndarray, TemporalProblem]:
    """``solve_temporal``, then ``rounds`` of re-estimating the acceleration weights from the
    solution's posterior (``reestimated_acceleration_weights``) and solving again from the last
    solution; returns the solution and the problem with its final weights. Few draws suffice: the
    spread is averaged over every frame of the sequence (4 and 12 gave the same labels to 0.01 deg
    on a synthetic capture)."""
    q = solve_temporal(problem, obs, q_frames, window_frames)
    for round_ in range(rounds if len(q) >= 4 else 0):  # shorter: no penalty to re-estimate
        lam = reestimated_acceleration_weights(problem, obs, q, samples, round_, window_frames)
        problem = replace(problem, acceleration_weights=lam)
        q = solve_temporal(problem, obs, q, window_frames)
    return q, problem
