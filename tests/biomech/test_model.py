"""The model table, its OpenSim build and our numpy kinematics agree exactly."""

from __future__ import annotations

import numpy as np
import pytest

from simspine_dataset.biomech import osim as bo
from simspine_dataset.biomech.kinematics import KinematicModel, body_scale_factors, scale_spec
from simspine_dataset.biomech.model_table import (
    LUMBAR_RHYTHM,
    THORACIC_RHYTHM,
    model_spec,
)
from simspine_dataset.skeleton import NAMES


def random_pose(spec, rng, n: int, spread: float = 0.6) -> np.ndarray:
    """(n, Q) table-unit coordinates inside the ranges (locked ones at default)."""
    low = np.array([max(c.range[0], -60.0) for c in spec.coordinates])
    high = np.array([min(c.range[1], 60.0) for c in spec.coordinates])
    mid, half = (low + high) / 2, (high - low) / 2 * spread
    q = rng.uniform(mid - half, mid + half, (n, len(low)))
    locked = [i for i, c in enumerate(spec.coordinates) if c.locked]
    q[:, locked] = [spec.coordinates[i].default for i in locked]
    return q


@pytest.mark.parametrize("spine", ["articulated", "rigid"])
def test_numpy_kinematics_equal_opensim(spine: str) -> None:
    spec = model_spec(spine)
    model, km = bo.build_model(spec), KinematicModel(spec)
    state = model.initSystem()
    q = random_pose(spec, np.random.default_rng(0), 4)
    ours = km.markers(km.to_si(q))
    for i in range(len(q)):
        bo.set_pose(model, state, spec, q[i])
        np.testing.assert_allclose(bo.marker_positions(model, state, km.marker_names), ours[i], atol=1e-12)


def test_scaling_equals_opensim_model_scale() -> None:
    import opensim as osim

    spec = model_spec()
    factors = body_scale_factors(
        spec, {"torso": 1.08, "thigh": 0.93, "arm": 1.05, "head": 0.96, "pelvis": 1.1}
    )
    model = bo.build_model(spec)
    state = model.initSystem()
    scale_set = osim.ScaleSet()
    for body, f in factors.items():
        scale = osim.Scale()
        scale.setSegmentName(body)
        scale.setScaleFactors(osim.Vec3(*f))
        scale.setApply(True)
        scale_set.cloneAndAppend(scale)
    model.scale(state, scale_set, True, 70.0)
    state = model.initSystem()
    km = KinematicModel(scale_spec(spec, factors))
    q = random_pose(spec, np.random.default_rng(1), 2)
    for i in range(2):
        bo.set_pose(model, state, spec, q[i])
        expected = km.markers(km.to_si(q[i : i + 1]))[0]
        np.testing.assert_allclose(bo.marker_positions(model, state, km.marker_names), expected, atol=1e-12)


def test_jacobian_equals_finite_differences() -> None:
    spec = model_spec()
    km = KinematicModel(spec)
    q = km.to_si(random_pose(spec, np.random.default_rng(2), 3))
    idx = km.marker_indices(km.marker_names[:40])
    _, jac = km.markers_and_jacobian(q, idx)
    eps = 1e-6
    for i in range(0, q.shape[1], 5):
        dq = np.zeros_like(q)
        dq[:, i] = eps
        numeric = (km.markers(q + dq, km.marker_names[:40]) - km.markers(q - dq, km.marker_names[:40])) / (
            2 * eps
        )
        np.testing.assert_allclose(jac[..., i], numeric, atol=1e-8)


def test_rhythm_is_exact_in_both_models() -> None:
    spec = model_spec()
    model = bo.build_model(spec)
    state = model.initSystem()
    q = np.zeros(len(spec.coordinates))
    names = [c.name for c in spec.coordinates]
    q[names.index("L5_S1_Flex_Ext")] = 4.0
    q[names.index("thoracic_flexion")] = 20.0
    bo.set_pose(model, state, spec, q)
    model.assemble(state)  # the couplers must already be satisfied: nothing moves
    coords = model.getCoordinateSet()
    assert np.degrees(coords.get("L4_L5_L5_S1_Flex_Ext").getValue(state)) == pytest.approx(
        4.0 * LUMBAR_RHYTHM["L4_L5"][0]
    )
    assert np.degrees(coords.get("T3_T4_thoracic_flexion").getValue(state)) == pytest.approx(
        20.0 * THORACIC_RHYTHM["T3_T4"][0] / THORACIC_RHYTHM["T8_T9"][0] * THORACIC_RHYTHM["T8_T9"][0]
    )
    assert sum(v[0] for v in THORACIC_RHYTHM.values()) == pytest.approx(1.0)


def test_osim_file_round_trip(tmp_path) -> None:
    spec = model_spec()
    path = bo.write_osim(bo.build_model(spec), tmp_path / "simspine.osim")
    reloaded = bo.load_osim(path)
    state = reloaded.initSystem()
    assert reloaded.getNumCoordinates() == bo.build_model(spec).getNumCoordinates()
    q = random_pose(spec, np.random.default_rng(3), 1)[0]
    bo.set_pose(reloaded, state, spec, q)
    km = KinematicModel(spec)
    np.testing.assert_allclose(
        bo.marker_positions(reloaded, state, km.marker_names),
        km.markers(km.to_si(q[None]))[0],
        atol=1e-7,
    )


def test_model_carries_the_keypoints() -> None:
    markers = {m.name for m in model_spec().markers}
    assert set(NAMES) <= markers  # every one of the 37 keypoints is a model marker
    bodies = {m.name: m.body for m in model_spec().markers}
    assert bodies["Spine_04"] == "thorax_middle" and bodies["Spine_05"] == "thorax_upper"
    assert bodies["Neck_02"] == "cervical_lower" and bodies["Neck_03"] == "cervical_upper"
    rigid = {m.name: m.body for m in model_spec("rigid").markers}
    assert rigid["Neck_02"] == "cervical_lower"  # welded: rigid on the torso, as the reference
