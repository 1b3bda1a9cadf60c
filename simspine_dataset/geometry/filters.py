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


def _design(cutoff_hz: float, fps_hz: float, order: int) -> tuple[np.ndarray, np.ndarray]:
    from scipy.signal import butter

    if order < 2 or order % 2:
        raise ValueError(f"effective order must be even and >= 2 (forward-backward), got {order}")
    if not 0 < cutoff_hz < fps_hz / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must lie in (0, {fps_hz / 2}) Hz at {fps_hz} Hz")
    return butter(order // 2, cutoff_hz / (fps_hz / 2.0), btype="low")


def lowpass(signal: np.ndarray, cutoff_hz: float = 5.0, fps_hz: float = 50.0, order: int = 2) -> np.ndarray:
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
        finite = np.isfinite(flat[:, column])
        edges = np.flatnonzero(np.diff(np.concatenate([[0], finite.view(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            if stop - start > padlen:
                flat[start:stop, column] = filtfilt(b, a, flat[start:stop, column])
    return out
