"""What inverse kinematics fits: Human3.6M mocap joints and triangulated pseudo-markers.

The mocap arrives in Human3.6M world mm (Z up) and leaves as ``MarkerObservations`` in OpenSim
metres (Y up), converted once, by ``geometry.transforms``. Pseudo-markers are 3D keypoints (by
SIMSPINE name) with a confidence in [0, 1] per frame, e.g. from triangulating 2D detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simspine_dataset.biomech.ik import MarkerObservations
from simspine_dataset.biomech.model_table import h36m_marker_name
from simspine_dataset.config import IKConfig
from simspine_dataset.errors import ShapeError
from simspine_dataset.geometry.transforms import world_mm_to_opensim_m


@dataclass(frozen=True)
class PseudoMarkers:
    """3D keypoints to fit besides the mocap: names (K,), positions (T, K, 3) world mm, NaN where
    missing, and confidence (T, K) in [0, 1]."""

    names: tuple[str, ...]
    positions_world_mm: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        shape = self.positions_world_mm.shape
        if len(shape) != 3 or shape[1:] != (len(self.names), 3) or self.confidence.shape != shape[:2]:
            k = len(self.names)
            raise ShapeError(
                f"pseudo-markers: positions (T, {k}, 3) and confidence (T, {k}) expected, "
                f"got {shape} and {self.confidence.shape}"
            )


def ik_observations(
    joints_world_mm: np.ndarray,
    config: IKConfig = IKConfig(),
    pseudo: PseudoMarkers | None = None,
    fps_hz: float = 50.0,
) -> MarkerObservations:
    """Mocap joints (T, 32, 3) world mm, plus optional pseudo-markers -> IK observations."""
    joints = np.asarray(joints_world_mm, dtype=float)
    if joints.ndim != 3 or joints.shape[1:] != (32, 3):
        raise ShapeError(f"joints_world_mm must be (T, 32, 3), got {joints.shape}")
    used = sorted(config.h36m_weights)
    names = [h36m_marker_name(j) for j in used]
    positions = world_mm_to_opensim_m(joints[:, used])
    weights = np.broadcast_to([config.h36m_weights[j] for j in used], positions.shape[:2])
    if pseudo is not None:
        keep = [k for k, name in enumerate(pseudo.names) if name in config.pseudo_marker_weights]
        names += [pseudo.names[k] for k in keep]
        positions = np.concatenate(
            [positions, world_mm_to_opensim_m(pseudo.positions_world_mm[:, keep])], axis=1
        )
        base = np.array([config.pseudo_marker_weights[pseudo.names[k]] for k in keep])
        weights = np.concatenate([weights, base * np.clip(pseudo.confidence[:, keep], 0.0, 1.0)], axis=1)
    return MarkerObservations(tuple(names), positions, np.array(weights, dtype=float), fps_hz)
