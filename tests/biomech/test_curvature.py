"""Curvature metrics: the model's neutral values and exact responses to the rhythm."""

from __future__ import annotations

import numpy as np
import pytest

from simspine_dataset.biomech.curvature import (
    curvature_angles,
    lumbar_segmental_rom_deg,
    neck_lateral_bending_range_deg,
    torso_height_mm,
)
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.biomech.model_table import LUMBAR_RHYTHM, model_spec
from simspine_dataset.skeleton import INDEX


@pytest.fixture(scope="module")
def model():
    return KinematicModel(model_spec())


def pose(model, **values) -> np.ndarray:
    q = np.array([c.default for c in model.spec.coordinates])
    for name, value in values.items():
        q[model.coordinate_names.index(name)] = value
    return q


def test_neutral_posture_is_inside_the_adult_ranges(model) -> None:
    angles = curvature_angles(model, pose(model))
    assert 31.7 <= angles["lordosis_deg"][0] <= 41.3  # adult means (SIMSPINE's references)
    assert 28.1 <= angles["kyphosis_deg"][0] <= 38.6
    assert angles["lordosis_deg"][0] == pytest.approx(39.383, abs=1e-3)


def test_rhythm_moves_the_angles_exactly(model) -> None:
    neutral = curvature_angles(model, pose(model))
    flexed = curvature_angles(model, pose(model, L5_S1_Flex_Ext=4.0, thoracic_flexion=15.0))
    between = sum(LUMBAR_RHYTHM[level][0] for level in ("L4_L5", "L3_L4", "L2_L3", "L1_L2"))
    assert neutral["lordosis_deg"][0] - flexed["lordosis_deg"][0] == pytest.approx(4.0 * between, abs=1e-9)
    assert flexed["kyphosis_deg"][0] - neutral["kyphosis_deg"][0] == pytest.approx(15.0, abs=1e-9)
    turned = curvature_angles(model, pose(model, pelvis_rotation=120.0, pelvis_tilt=25.0, pelvis_list=-10.0))
    assert turned["lordosis_deg"][0] == pytest.approx(neutral["lordosis_deg"][0], abs=1e-9)


def test_ranges_of_motion() -> None:
    names = ("L5_S1_Flex_Ext", "neck_bending")
    coords = np.array([[0.0, -5.0], [2.0, 10.0], [-1.0, 3.0]])
    rom = lumbar_segmental_rom_deg(coords, names)
    assert rom["L5_S1"] == pytest.approx(3.0) and rom["L4_L5"] == pytest.approx(3.0 * 1.8571)
    assert neck_lateral_bending_range_deg(coords, names) == pytest.approx(15.0)
    keypoints = np.zeros((1, 37, 3))
    keypoints[0, INDEX["Neck"]] = (0.0, 30.0, 400.0)
    assert torso_height_mm(keypoints)[0] == pytest.approx(np.hypot(30.0, 400.0))
