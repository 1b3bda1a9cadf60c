"""Gates that stop a wrong fit: a residual far beyond what the measured marker noise explains.

A marker with white noise of standard deviation sigma per axis lies sqrt(3) sigma (RMS) from where
it truly is; a model that fits the markers' true positions leaves at most that, as a per-frame
marker RMS, and less where the fit absorbs part of the noise. So the residual a correct fit can
leave is ``expected_residual_mm`` = sqrt(3 mean_k sigma_k^2), with sigma_k each marker's noise as
the build measures it (``observations.marker_noise_mm``: the white noise above fps / 4 with the
configured floor ``ik.noise_floor_mm``, which stands for the model's mismatch). A fit whose
residual exceeds ``gates.residual_factor`` times that is wrong: a subject scaled to the wrong
segment lengths (its scaling residual), or a sequence fitted into another minimum (the 95th
percentile of its frames' mocap residual), and each such frame. Measured (``docs/benchmarks.md``):
correct scalings leave at most 0.67x the explained residual on 189 captures of the seed scan
(``benchmarks/bench_scaling_scan.py``), the wrong scalings of the issue that brought these gates
4.6-5.7x; with detections at 3 mm noise, sequences' 95th percentiles reach 1.05-1.75x, and the
frames beyond 2x (0.2 %) are IK failures whose spine keypoints are 11-15 mm off (the others 1.5).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# ``label_flags`` bits of a row (``schema``): which gate its label failed
FLAG_SCALING = 1  # its subject's scaling residual is beyond the gate
FLAG_IK_RESIDUAL = 2  # this frame's IK residual over the mocap joints is beyond the gate


def expected_residual_mm(noise_mm: np.ndarray) -> float:
    """The per-frame marker RMS (mm) that markers of per-axis noise ``noise_mm`` (K,) leave around
    a correct fit (an upper bound)."""
    noise = np.asarray(noise_mm, float)
    return float(np.sqrt(3.0 * np.mean(noise**2))) if noise.size else float("nan")


@dataclass(frozen=True)
class Gate:
    """One gate's verdict: what the measured noise explains, what the fit left, and the limit."""

    name: str  # "scaling" or "sequence IK"
    expected_mm: float
    found_mm: float
    limit_mm: float

    @property
    def passed(self) -> bool:
        return not self.found_mm > self.limit_mm  # NaN (nothing fitted) passes: nothing to judge

    def describe(self) -> str:
        return (
            f"{self.name} residual {self.found_mm:.1f} mm where the measured marker noise explains "
            f"{self.expected_mm:.1f} mm (limit {self.limit_mm:.1f} mm)"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}

    @classmethod
    def from_dict(cls, data: dict) -> Gate:
        return cls(data["name"], data["expected_mm"], data["found_mm"], data["limit_mm"])


def gate(name: str, expected_mm: float, found_mm: float, factor: float) -> Gate:
    """The verdict on a residual ``found_mm`` against ``factor`` x ``expected_mm`` (factor 0: off)."""
    limit = factor * expected_mm if factor > 0 else float("inf")
    return Gate(name, float(expected_mm), float(found_mm), float(limit))


def frame_flags(residual_mm: np.ndarray, expected_mm: float, factor: float) -> np.ndarray:
    """(T,) ``FLAG_IK_RESIDUAL`` where a frame's residual exceeds the gate, else 0."""
    if factor <= 0:
        return np.zeros(len(residual_mm), np.int16)
    over = np.nan_to_num(np.asarray(residual_mm, float), nan=0.0) > factor * expected_mm
    return np.where(over, FLAG_IK_RESIDUAL, 0).astype(np.int16)


def sequence_gate(residual_mm: np.ndarray, expected_mm: float, factor: float) -> Gate:
    """A sequence's gate: the 95th percentile of its frames' residuals (a wrong minimum over more
    than 5 % of the frames trips it; a few glitches do not)."""
    finite = np.asarray(residual_mm, float)[np.isfinite(residual_mm)]
    found = float(np.percentile(finite, 95)) if finite.size else float("nan")
    return gate("sequence IK", expected_mm, found, factor)
