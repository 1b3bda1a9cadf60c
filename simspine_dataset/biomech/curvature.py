"""Spinal curvature and range-of-motion metrics, with their definitions.

- **Lumbar lordosis angle** (deg): the sagittal angle between the L5 body axis (centre of the
  L5/S1 joint to the L4/L5 joint) and the L1 body axis (L1/L2 joint to T12/L1 joint), the
  joint-centre analogue of the radiographic L1-S1 Cobb angle. Positive = lordotic (concave
  posteriorly). Our model's neutral posture gives 39.4 deg (adults: 31.7-41.3 deg).
- **Thoracic kyphosis angle** (deg): the sagittal angle between the lower thoracic axis (T12/L1 to
  T8/T9 joint centres) and the upper thoracic axis (T3/T4 to C6/C7). Positive = kyphotic. Neutral
  35.3 deg (adults: 28.1-38.6 deg).
- "Sagittal" is the pelvis's sagittal plane (normal: the pelvis's left-right axis), so turning the
  whole body does not change the angles.
- **Torso height** (mm): distance from the Hip keypoint to the Neck keypoint.
- **Segmental lumbar range of motion** (deg): per level, max - min of its flexion-extension over a
  sequence (level angle = rhythm ratio x the L5_S1 coordinate).
- **Neck lateral bending range** (deg): max - min of the ``neck_bending`` coordinate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.biomech.model_table import LUMBAR_LEVELS, LUMBAR_RHYTHM

# Adult standing ranges (deg) of the two angles, as cited in the docstring above.
ADULT_STANDING_DEG: dict[str, tuple[float, float]] = {
    "lordosis_deg": (31.7, 41.3),
    "kyphosis_deg": (28.1, 38.6),
}

_LORDOSIS = (("lumbar5", "lumbar4"), ("lumbar1", "thorax"))  # (lower, upper) joint-centre pairs
_KYPHOSIS = (("thorax", "thorax_middle"), ("thorax_upper", "cervical_lower"))


def _sagittal_angle(lower: np.ndarray, upper: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Signed angle (deg) from ``upper`` to ``lower`` about ``normal`` after projecting both on
    the plane orthogonal to it. (T, 3) x3 -> (T,)."""

    def project(v: np.ndarray) -> np.ndarray:
        return v - np.einsum("td,td->t", v, normal)[:, None] * normal

    a, b = project(upper), project(lower)
    return -np.degrees(np.arctan2(np.einsum("td,td->t", np.cross(a, b), normal), np.einsum("td,td->t", a, b)))


def curvature_angles(model: KinematicModel, coordinates: np.ndarray) -> dict[str, np.ndarray]:
    """Lordosis and kyphosis (deg) per frame from coordinates (T, Q) in table units."""
    centres, rotations = model.joint_centres(model.to_si(np.atleast_2d(coordinates)))
    index = {name: i for i, name in enumerate(model.body_names)}
    normal = rotations[:, index["pelvis"], :, 2]

    def angle(pairs: tuple[tuple[str, str], tuple[str, str]], sign: float) -> np.ndarray:
        (l0, l1), (u0, u1) = pairs
        lower = centres[:, index[l1]] - centres[:, index[l0]]
        upper = centres[:, index[u1]] - centres[:, index[u0]]
        return sign * _sagittal_angle(lower, upper, normal)

    return {"lordosis_deg": angle(_LORDOSIS, 1.0), "kyphosis_deg": angle(_KYPHOSIS, -1.0)}


def torso_height_mm(keypoints_mm: np.ndarray) -> np.ndarray:
    """Hip-to-Neck distance (T,) from keypoints (T, 37, 3) in mm."""
    return np.linalg.norm(keypoints_mm[:, sk.INDEX["Neck"]] - keypoints_mm[:, sk.INDEX["Hip"]], axis=-1)


def lumbar_segmental_rom_deg(coordinates: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Flexion-extension range (deg) of each lumbar level over a sequence."""
    l5 = coordinates[:, list(names).index("L5_S1_Flex_Ext")]
    span = float(np.nanmax(l5) - np.nanmin(l5)) if len(l5) else 0.0
    return {level: LUMBAR_RHYTHM[level][0] * span for level in LUMBAR_LEVELS}


def neck_lateral_bending_range_deg(coordinates: np.ndarray, names: Sequence[str]) -> float:
    bending = coordinates[:, list(names).index("neck_bending")]
    return float(np.nanmax(bending) - np.nanmin(bending))


def summarize_by_action(
    model: KinematicModel, sequences: Sequence[tuple[str, np.ndarray, tuple[str, ...]]]
) -> dict[str, dict[str, float]]:
    """Per action: mean lordosis and kyphosis (deg), lumbar ROM per level and neck lateral bending
    range (deg, mean over the action's sequences). ``sequences``: (action, coordinates, names)."""
    rows: dict[str, list[dict[str, float]]] = {}
    for action, coordinates, names in sequences:
        angles = curvature_angles(model, coordinates)
        row = {
            "lordosis_deg": float(angles["lordosis_deg"].mean()),
            "kyphosis_deg": float(angles["kyphosis_deg"].mean()),
        }
        row |= {f"rom_{level}_deg": v for level, v in lumbar_segmental_rom_deg(coordinates, names).items()}
        row["neck_bending_range_deg"] = neck_lateral_bending_range_deg(coordinates, names)
        rows.setdefault(action, []).append(row)
    return {
        action: {k: float(np.mean([r[k] for r in rs])) for k in rs[0]} for action, rs in sorted(rows.items())
    }
