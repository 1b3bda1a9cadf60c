"""The zero-phase low-pass: response at known frequencies, no lag, gaps."""

from __future__ import annotations

import numpy as np
import pytest

from simspine_dataset.geometry.filters import lowpass

FPS = 50.0
T = np.arange(1000) / FPS


def amplitude_after(freq_hz: float) -> float:
    out = lowpass(np.sin(2 * np.pi * freq_hz * T), 5.0, FPS, 2)
    return float(np.abs(out[200:800]).max())


def test_response_matches_the_design() -> None:
    # effective order 2 = a first-order Butterworth run twice: |H(f)|^2 = 1 / (1 + (f/fc)^2),
    # with fc pre-warped by the bilinear transform at 50 Hz
    for f in (1.0, 3.0):
        warped = np.tan(np.pi * f / FPS) / np.tan(np.pi * 5.0 / FPS)
        assert amplitude_after(f) == pytest.approx(1.0 / (1.0 + warped**2), rel=2e-3)
    assert amplitude_after(20.0) < 0.08


def test_zero_phase() -> None:
    signal = np.sin(2 * np.pi * 1.0 * T)
    out = lowpass(signal, 5.0, FPS, 2)
    lag = np.argmax(np.correlate(out[100:900], signal[100:900], "full")) - 799
    assert lag == 0


def test_gaps_stay_and_short_runs_are_raw() -> None:
    x = np.sin(2 * np.pi * 0.5 * T)[:, None] + np.random.default_rng(0).normal(0, 0.1, (1000, 1))
    x[100:110] = np.nan
    x[300:304] = 5.0  # a short island between two gaps
    x[296:300] = np.nan
    x[304:310] = np.nan
    out = lowpass(x, 5.0, FPS, 2)
    assert np.isnan(out[100:110]).all() and np.isnan(out[296:300]).all()
    np.testing.assert_array_equal(out[300:304], 5.0)  # too short to filter: left raw
    assert np.nanstd(out[500:900] - np.sin(2 * np.pi * 0.5 * T[500:900])[:, None]) < 0.06  # noise removed


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="even"):
        lowpass(np.zeros(100), 5.0, FPS, 3)
    with pytest.raises(ValueError, match="cutoff"):
        lowpass(np.zeros(100), 30.0, FPS, 2)


def test_white_noise_is_measured_under_motion() -> None:
    from simspine_dataset.geometry.filters import white_noise_std

    rng = np.random.default_rng(4)
    motion = np.c_[300 * np.sin(2 * np.pi * 1.8 * T), 50 * np.sin(2 * np.pi * 0.3 * T), np.zeros_like(T)]
    sigma = np.array([1.0, 3.0, 6.0])
    noisy = motion + rng.normal(0, sigma, motion.shape)
    noisy[100:130, 1] = np.nan  # a gap
    np.testing.assert_allclose(white_noise_std(noisy, FPS), sigma, rtol=0.08)
    assert np.isnan(white_noise_std(np.full((20, 1), 1.0), FPS)).all()  # too short to measure


def test_lowpass_noise_share_matches_filtered_noise() -> None:
    from simspine_dataset.geometry.filters import lowpass_noise_share

    noise = np.random.default_rng(1).normal(0, 1, 200_000)
    assert lowpass(noise, 5.0, FPS, 2).var() == pytest.approx(lowpass_noise_share(5.0, FPS, 2), rel=0.03)


def test_adaptive_smoother_beats_the_fixed_cutoff_on_fast_and_still_signals() -> None:
    """A 1.8 Hz, 300 mm swing (a walking limb) and a still point, both with 3 mm noise: the
    5 Hz Butterworth cuts the swing's amplitude (~13 %) and leaves noise on the still point; the
    adaptive smoother does neither."""
    from simspine_dataset.geometry.filters import smooth_adaptive

    rng = np.random.default_rng(2)
    truth = np.c_[300 * np.sin(2 * np.pi * 1.8 * T), np.full_like(T, 5.0)]
    noisy = truth + rng.normal(0, 3.0, truth.shape)
    rms = lambda x: np.sqrt(np.mean((x - truth)[50:-50] ** 2, axis=0))  # noqa: E731
    adaptive, butterworth = rms(smooth_adaptive(noisy, FPS)), rms(lowpass(noisy, 5.0, FPS, 2))
    assert (adaptive < butterworth).all()
    assert adaptive[0] < 3.0 and adaptive[1] < 1.0  # mm; measured 2.35 and 0.78 (Butterworth 23.1, 1.03)


@pytest.mark.parametrize("seed", [31, 47])
def test_the_adaptive_smoother_never_makes_noisy_mocap_worse(seed) -> None:
    """The generator's joints (walking, sitting down, a discussion) with 3 mm noise: every joint
    smoothed is closer to the truth than measured, in median and at its 99th percentile. Without
    the smoother's lowest cutoff (``ADAPTIVE_MIN_CUTOFF_HZ``) a wrist came out 30-41 mm from the
    truth (median, 4.6 mm measured): motion in the upper band read as noise made lambda explode."""
    from simspine_dataset.geometry.filters import smooth_adaptive
    from simspine_dataset.synthetic.generator import CaptureSettings, simulate_take

    settings = CaptureSettings(subjects=("S6",), seconds=4.0, seed=seed, videos=False, detections=False)
    rng = np.random.default_rng(seed)
    for action in ("Walking", "SittingDown", "Discussion"):
        _, joints, *_ = simulate_take("S6", action, 1, settings)
        measured = joints + rng.normal(0.0, 3.0, joints.shape)
        before = np.linalg.norm(measured - joints, axis=-1)
        after = np.linalg.norm(smooth_adaptive(measured, FPS) - joints, axis=-1)
        for q in (50, 99):
            worse = np.percentile(after, q, axis=0) > np.percentile(before, q, axis=0)
            assert not worse.any(), (action, q, np.flatnonzero(worse))
