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
