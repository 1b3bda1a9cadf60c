"""Zero-phase low-pass filtering of keypoint trajectories, gap-aware (scipy.signal).

A Butterworth low-pass run forward and backward (``filtfilt``): no phase lag, and the magnitude
response squared, so the *effective* order is twice the design order. ``order`` here is the
effective order (Pose2Sim's convention, used by SIMSPINE: "2nd order, 5 Hz at 50 Hz" designs a
first-order filter). Missing samples (NaN) split a trajectory into runs; each run long enough for
``filtfilt``'s padding is filtered on its own, shorter runs are left raw, gaps stay NaN.
"""

from __future__ import annotations

import numpy as np

from simspine_dataset.errors import ShapeError
from simspine_dataset.h36m import FPS_HZ


def _design(cutoff_hz: float, fps_hz: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.signal import butter

    if order < 2 or order % 2:
        raise ValueError(f"effective order must be even and >= 2 (forward-backward), got {order}")
    if not 0 < cutoff_hz < fps_hz / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must lie in (0, {fps_hz / 2}) Hz at {fps_hz} Hz")
    return butter(order // 2, cutoff_hz / (fps_hz / 2.0), btype="low")


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The runs of True in a (T,) boolean mask, as (start, stop) index pairs (stop exclusive)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(mask, bool).view(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def lowpass(signal: np.ndarray, cutoff_hz: float = 5.0, fps_hz: float = FPS_HZ, order: int = 2) -> np.ndarray:
    """Filter along axis 0 (time). (T, ...) -> (T, ...); NaN gaps preserved, short runs raw."""
    from scipy.signal import filtfilt

    x = np.asarray(signal, dtype=np.float64)
    if x.ndim < 1:
        raise ShapeError("signal must have a time axis")
    b, a = _design(cutoff_hz, fps_hz, order)
    padlen = 3 * max(len(a), len(b))
    if np.isfinite(x).all():
        return filtfilt(b, a, x, axis=0) if len(x) > padlen else x.copy()
    out = x.copy()
    flat = out.reshape(len(x), -1)
    for column in range(flat.shape[1]):
        for start, stop in true_runs(np.isfinite(flat[:, column])):
            if stop - start > padlen:
                flat[start:stop, column] = filtfilt(b, a, flat[start:stop, column])
    return out


def _band_fraction(b: np.ndarray, a: np.ndarray) -> float:
    """The fraction of white noise's variance that ``filtfilt(b, a)`` passes: mean of |H|^4."""
    from scipy.signal import freqz

    _, h = freqz(b, a, worN=4096)
    return float(np.mean(np.abs(h) ** 4))


def white_noise_std(signal: np.ndarray, fps_hz: float = FPS_HZ) -> np.ndarray:
    """The standard deviation of white noise on each column of ``signal`` (T, ...) -> (...),
    estimated from its upper half-band (above fps / 4, 12.5 Hz at 50 Hz, where human motion has
    next to no power): a zero-phase Butterworth high-pass (effective order 8), the robust spread
    of what passes (1.4826 x median absolute value), divided by the share of a white spectrum the
    filter passes. NaN samples are left out; columns with fewer than 30 finite samples give NaN."""
    from scipy.signal import butter, filtfilt

    x = np.asarray(signal, dtype=np.float64)
    b, a = butter(4, 0.5, btype="high")
    flat = x.reshape(len(x), -1)
    finite = np.isfinite(flat)
    enough = finite.sum(axis=0) >= 30
    filled = np.zeros_like(flat)
    frames = np.arange(len(flat))
    for column in np.flatnonzero(enough & ~finite.all(axis=0)):  # gaps: bridged for the filter only
        filled[:, column] = np.interp(frames, frames[finite[:, column]], flat[finite[:, column], column])
    complete = enough & finite.all(axis=0)
    filled[:, complete] = flat[:, complete]
    out = np.full(flat.shape[1], np.nan)
    if enough.any():
        high = np.abs(filtfilt(b, a, filled[:, enough], axis=0))
        spread = np.nanmedian(np.where(finite[:, enough], high, np.nan), axis=0)
        out[enough] = 1.4826 * spread / np.sqrt(_band_fraction(b, a))
    return out.reshape(x.shape[1:])


def lowpass_noise_share(cutoff_hz: float = 5.0, fps_hz: float = FPS_HZ, order: int = 2) -> float:
    """The share of white noise's variance that ``lowpass`` with these settings lets through."""
    return _band_fraction(*_design(cutoff_hz, fps_hz, order))


# Variance of the second difference of unit white noise below fps / 4 (its leak into the band where
# motion is measured): (1 / pi) * integral_0^(pi/2) (2 - 2 cos w)^2 dw = 3 - 8 / pi.
LOW_BAND_LEAK = 3.0 - 8.0 / np.pi


def second_difference_gram(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diagonals 0, 1, 2 of D^T D for the (n - 2, n) second-difference operator D (n >= 4)."""
    d0 = np.full(n, 6.0)
    d0[[0, -1]], d0[[1, -2]] = 1.0, 5.0
    d1 = np.full(n - 1, -4.0)
    d1[[0, -1]] = -2.0
    return d0, d1, np.ones(n - 2)


def acceleration_variance(
    signal: np.ndarray,
    fps_hz: float,
    noise_var: np.ndarray | float,
    robust: bool = False,
    floor_fraction: float = 1e-3,
) -> np.ndarray:
    """The variance per frame^2 of each column's true acceleration, (T, ...) -> (...): the spread of
    the second difference below fps / 4 (the variance, or with ``robust`` the squared 1.4826 x
    median absolute deviation, blind to sparse jumps) minus the leak of white noise of variance
    ``noise_var`` into that band, floored at ``floor_fraction`` of the spread."""
    low = lowpass(np.asarray(signal, dtype=np.float64), fps_hz / 4.0, fps_hz, 8)
    acc = np.diff(low, n=2, axis=0)
    if robust:
        total = (1.4826 * np.median(np.abs(acc - np.median(acc, axis=0)), axis=0)) ** 2
    else:
        total = np.var(acc, axis=0)
    return np.maximum(total - LOW_BAND_LEAK * noise_var, floor_fraction * total)


# The lowest half-power frequency ``smooth_adaptive`` may smooth down to (Hz)
ADAPTIVE_MIN_CUTOFF_HZ = 4.0


def whittaker_lambda(cutoff_hz: float, fps_hz: float) -> float:
    """The second-difference Whittaker smoother's lambda whose gain 1 / (1 + lambda (2 - 2 cos w)^2)
    is 1/2 at ``cutoff_hz``."""
    return 1.0 / (2.0 - 2.0 * np.cos(2.0 * np.pi * cutoff_hz / fps_hz)) ** 2


def smooth_adaptive(signal: np.ndarray, fps_hz: float = FPS_HZ) -> np.ndarray:
    """Each column of ``signal`` (T, ...) smoothed by the maximum a posteriori estimate under
    white measurement noise and white acceleration (a Whittaker smoother with a second-difference
    penalty), both variances measured on the column itself: the noise above fps / 4
    (``white_noise_std``), the acceleration below it minus the noise's leak. No cutoff to choose:
    a quiet joint is smoothed hard, a fast one little; never harder than a half-power at
    ``ADAPTIVE_MIN_CUTOFF_HZ``: a fast limb's own motion above fps / 4 (a swing's harmonics) reads
    as noise, its leak then swallows the measured acceleration and lambda explodes (a noisy
    walking wrist came out 30-41 mm from the truth, 4.6 mm as measured). NaN runs are left out;
    columns too short to measure are returned as they are."""
    from scipy.linalg import solveh_banded

    x = np.asarray(signal, dtype=np.float64)
    flat = x.reshape(len(x), -1)
    out = flat.copy()
    if len(x) < 30:
        return out.reshape(x.shape)
    noise = white_noise_std(flat, fps_hz) ** 2
    finite = np.isfinite(flat)
    most = whittaker_lambda(ADAPTIVE_MIN_CUTOFF_HZ, fps_hz)
    for column in np.flatnonzero(np.isfinite(noise) & (noise > 0)):
        keep = finite[:, column]
        y = flat[keep, column]
        acceleration = max(float(acceleration_variance(y, fps_hz, noise[column])), 1e-18)
        ratio = min(noise[column] / acceleration, most)  # lambda in units of the data term
        d0, d1, d2 = second_difference_gram(len(y))
        ab = np.zeros((3, len(y)))
        ab[0] = 1.0 + ratio * d0
        ab[1, :-1] = ratio * d1
        ab[2, :-2] = ratio * d2
        out[keep, column] = solveh_banded(ab, y, lower=True, check_finite=False)
    return out.reshape(x.shape)
