"""``--model simspine``: SIMSPINE's own model (Pose2Sim's ``Model_Pose2Sim_muscles_flex.osim`` with
SIMSPINE's 33 markers), its official 62 axes, and a model marker observed by two sources."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest

from simspine_dataset.biomech.ik import MarkerObservations
from simspine_dataset.biomech.osim import marker_positions, write_coordinate
from simspine_dataset.biomech.simspine_model import FACE, H36M_JOINTS
from simspine_dataset.biomech.user_model import PRESET, UserModel, user_keypoints
from simspine_dataset.config import IKConfig, SimulationConfig
from simspine_dataset.errors import MetadataError, MissingFileError
from simspine_dataset.geometry.transforms import opensim_m_to_world_mm
from simspine_dataset.skeleton import NAMES

pytest.importorskip("opensim")

LEVELS = ("L5_S1", "L4_L5", "L3_L4", "L2_L3", "L1_L2", "L1_T12")
ARM = ("arm_flex", "arm_add", "arm_rot", "elbow_flex", "pro_sup", "wrist_flex", "wrist_dev")
LEG = ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "knee_angle_{}_beta", "ankle_angle")
# The official serializer's KINEMATIC_AXES, as ../shared/reference/simspine_release.md lists them
OFFICIAL_AXES = (
    *("pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz"),
    *(n.format(s) if "{}" in n else f"{n}_{s}" for s in "rl" for n in (*LEG, "subtalar_angle", "mtp_angle")),
    *(f"{level}_{kind}" for level in LEVELS for kind in ("Flex_Ext", "Lat_Bending", "axial_rotation")),
    *("Abs_r3", "Abs_r2", "Abs_r1", "Abs_t1", "Abs_t2", "neck_flexion", "neck_bending", "neck_rotation"),
    *(f"{n}_{s}" for s in "rl" for n in ARM),
)
# SIMSPINE's markers (reference/spine_model.md, "Marker positions"): body, location (m)
ANCHORS = {
    "Spine_01": ("lumbar5", (-0.036870, 0.014393, 0.0)),
    "Spine_04": ("torso", (-0.080639, 0.215644, 0.000348)),
    "LShoulder": ("torso", (-0.012752, 0.366307, -0.201574)),
    "RElbow": ("humerus_r", (0.025, -0.297955, -0.008738)),
    "LBigToe": ("toes_l", (0.064664, 0.009869, 0.014580)),
}


@pytest.fixture(scope="module")
def simspine():
    user = UserModel.resolve(PRESET)
    return user, user.load()


def test_the_preset_is_pose2sims_model_with_simspines_markers(simspine) -> None:
    user, model = simspine
    assert user.osim_path.name == "Model_Pose2Sim_muscles_flex.osim"
    coords = model.getCoordinateSet()
    assert tuple(coords.get(i).getName() for i in range(coords.getSize())) == OFFICIAL_AXES
    markers = model.getMarkerSet()
    names = {markers.get(i).getName() for i in range(markers.getSize())}
    simspines = set(NAMES) - set(FACE)
    assert len(simspines) == 33 and names == simspines | set(H36M_JOINTS)  # + the mocap's joints
    for name, (body, xyz) in ANCHORS.items():
        marker = markers.get(name)
        assert marker.getParentFrameName() == f"/bodyset/{body}"
        np.testing.assert_allclose([marker.get_location().get(i) for i in range(3)], xyz, atol=1e-9)
    assert {user.markers[n] for n in NAMES if n in user.markers} == simspines  # keypoints by name
    assert all(user.markers[j] == j for j in H36M_JOINTS)
    user.check(user.mapping_path)  # every segment it scales has a mapped pair
    bodies = model.getBodySet()
    scaled = [b for names in user.segments.values() for b in names]
    assert sorted(scaled) == sorted(bodies.get(i).getName() for i in range(bodies.getSize()))  # every body


def _pose(model, values: dict[str, float]):
    state = model.initSystem()
    coords = model.getCoordinateSet()
    for name, value in values.items():
        write_coordinate(coords.get(name), state, value)
    model.assemble(state)  # the lumbar couplers' dependents follow L5_S1
    model.realizePosition(state)
    return state


def test_a_marker_two_sources_observe_is_fitted_to_both_and_the_pose_recovered(simspine) -> None:
    """Human3.6M's thorax joint and the detections' Spine_04 both observe the model's Spine_04 (and
    the head, neck, nose and toes alike), which OpenSim refused ("Marker name 'Spine_04' was
    already use"). Exact markers of a known pose give back that pose and its keypoints."""
    user, model = simspine
    onto = {
        "H36M_12": "Spine_04",
        "H36M_13": "Neck",
        "H36M_14": "Nose",
        "H36M_15": "Head",
        "H36M_04": "RBigToe",
    }
    user = replace(user, markers={**user.markers, **onto})  # as SIMSPINE's pipeline maps them
    truth = {"pelvis_tilt": -8.0, "L5_S1_Flex_Ext": 6.0, "L5_S1_axial_rotation": 3.0, "hip_flexion_r": 25.0,
             "neck_flexion": 10.0, "arm_flex_l": 30.0, "elbow_flex_l": 40.0, "pelvis_ty": 0.95}  # fmt: skip
    state = _pose(model, truth)
    h36m = [n for n in user.markers if n.startswith("H36M_")]
    pseudo = ["Spine_01", "Spine_02", "Spine_03", "Spine_04", "Spine_05", "Neck", "Head", "Nose"]
    names = (*h36m, *pseudo)
    points = marker_positions(model, state, [user.markers[n] for n in names])
    observed = {user.markers[n] for n in names}
    shown = [i for i, n in enumerate(NAMES) if user.markers.get(n) in observed]  # keypoints observed
    expected = marker_positions(model, state, [user.markers[NAMES[i]] for i in shown])
    positions = np.repeat(points[None], 3, axis=0)
    obs = MarkerObservations(names, positions, np.ones((3, len(names))))
    assert len({user.markers[n] for n in names}) < len(names)  # several sources per marker
    result, keypoints = user_keypoints(user, model, obs, SimulationConfig(ik=IKConfig(accuracy=1e-8)))
    # OpenSim's solver on this model (abdominal coordinates no marker observes, shoulders near their
    # gimbal lock) stops within ~1 mm RMS of exact markers (0.4-1.0 mm here at accuracy 1e-8)
    assert np.nanmax(result.marker_rmse_m) < 1.5e-3  # m: every source fitted, copies included
    model_keypoints = keypoints[:, shown]
    np.testing.assert_allclose(
        model_keypoints, np.repeat(opensim_m_to_world_mm(expected)[None], 3, 0), atol=2.0
    )
    for name, value in truth.items():  # (a shoulder's three angles may land on an equal rotation)
        if name.startswith(("arm_", "elbow_")):
            continue
        assert abs(result.coordinate(name)[-1] - value) < (1e-3 if name == "pelvis_ty" else 0.5), name


def test_without_pose2sim_the_preset_says_what_to_install(monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "Pose2Sim" else real(n, *a))
    with pytest.raises(
        MetadataError, match=r"pip install --no-deps pose2sim==0\.10\.49.*--model PATH/Model\.osim"
    ):
        UserModel.resolve(PRESET)


def test_an_osim_file_takes_the_presets_markers(simspine, tmp_path) -> None:
    """``--model Model.osim`` (the official file): SIMSPINE's markers and mapping on that model;
    the file's content is part of the build's identity."""
    user, _ = simspine
    official = tmp_path / "Model.osim"
    shutil.copy(user.osim_path, official)
    other = UserModel.resolve(official)
    assert (
        other.osim_path == official
        and other.markers == user.markers
        and other.marker_file == user.marker_file
    )
    assert official in other.files and user.mapping_path in other.files
    with pytest.raises(MissingFileError, match=r"Model\.osim"):
        UserModel.resolve(tmp_path / "gone" / "Model.osim")


def test_a_build_with_detections_in_simspines_model_gives_the_official_axes(tmp_path) -> None:
    """``--model simspine`` with detections builds every sequence (each failed before: marker
    name collisions, then OpenSim's "assemble() must be called first"); the build, its
    ``kinematics`` column and its ``simspine.h5`` export carry the 62 official axes in order."""
    import json

    import h5py
    from datasets import load_dataset

    from simspine_dataset.cli import main
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    settings = CaptureSettings(subjects=("S9",), seconds=0.4, seed=5, actions=("Walking",), videos=False)
    raw = generate_capture(tmp_path / "raw", settings)
    out = tmp_path / "out"
    args = ["build", str(raw), str(out), "--model", "simspine", "--detections", str(raw / "detections")]
    assert main([*args, "--no-videos", "--frames", "none"]) in (0, 1)  # 1: labels flagged, see below
    report = json.loads((out / "build_report.json").read_text())
    assert (
        all(e["status"] in ("ok", "flagged") for e in report["sequences"]) and len(report["sequences"]) == 2
    )
    axes = json.loads((out / "meta" / "kinematic_axes.json").read_text())
    assert tuple(a["name"] for a in axes) == OFFICIAL_AXES
    rows = load_dataset(str(out), split="test").with_format("numpy")[:]
    assert rows["kinematics"].shape[1] == 62 and np.isfinite(rows["kinematics"]).all()
    model_points = [i for i, n in enumerate(NAMES) if n not in ("REye", "LEye", "REar", "LEar")]
    assert np.isfinite(rows["keypoints_3d_world_mm"][:, model_points]).all()
    card = (out / "README.md").read_text()  # which model defines the keypoints, and its solver
    assert (
        "SIMSPINE's own OpenSim model (`--model simspine`" in card
        and "OpenSim's InverseKinematicsSolver" in card
    )
    assert "The keypoints are SIMSPINE's definition of the vertebrae, not our model's" in card
    assert main(["export", "--format", "h5", str(out), str(tmp_path / "h5")]) == 0
    with h5py.File(tmp_path / "h5" / "simspine.h5") as f:
        assert tuple(a.decode() for a in f["metadata/kinematic_axes"][()]) == OFFICIAL_AXES
        assert tuple(m.decode() for m in f["metadata/markers_names"][()]) == NAMES
        assert f["S9/Walking/kinematics"].shape[1] == 62


def test_a_capture_whose_truth_is_simspines_model_is_recovered_by_that_model(tmp_path) -> None:
    """``--truth-model simspine``: our motions drive SIMSPINE's model (its 62 coordinates, the
    lumbar couplers respected); a ``--model simspine`` build recovers its spine within a few
    millimetres, closer than our model's build, whose keypoints are another definition."""
    from datasets import load_dataset

    from simspine_dataset.commands.build import BuildConfig, build
    from simspine_dataset.skeleton import SPINE_SUBSET
    from simspine_dataset.synthetic.generator import GROUND_TRUTH, CaptureSettings, generate_capture

    settings = CaptureSettings(
        subjects=("S9",), seconds=0.6, seed=8, actions=("Walking",), videos=False, truth_model="simspine"
    )
    raw = generate_capture(tmp_path / "raw", settings)
    truth = {
        s: np.load(raw / GROUND_TRUTH.format(subject="S9", sequence=n))
        for s, n in ((1, "Walking 1"), (2, "Walking"))
    }
    q = truth[1]["coordinates"]
    assert tuple(truth[1]["coordinate_names"]) == OFFICIAL_AXES
    lumbar = [OFFICIAL_AXES.index(n) for n in ("L5_S1_Flex_Ext", "L4_L5_Flex_Ext", "L1_T12_Flex_Ext")]
    np.testing.assert_allclose(q[:, lumbar[1]], 1.8571 * q[:, lumbar[0]], atol=1e-4)  # the couplers
    np.testing.assert_allclose(q[:, lumbar[2]], 0.5714 * q[:, lumbar[0]], atol=1e-4)
    assert np.ptp(q[:, lumbar[0]]) > 0.5  # deg: the lumbar spine moves
    error = {}
    for model in ("simspine", None):
        out = tmp_path / str(model)
        config = BuildConfig(detections=str(raw / "detections"), check_videos=False, model=model)
        report = build(raw, out, config)
        assert all(e["status"] != "failed" for e in report.sequences), report.sequences
        rows = load_dataset(str(out), split="test").with_format("numpy")[:]
        true = np.stack(
            [truth[s]["keypoints_world_mm"][f] for s, f in zip(rows["subaction"], rows["frame"], strict=True)]
        )
        error[model] = np.linalg.norm(rows["keypoints_3d_world_mm"] - true, axis=-1)[
            :, list(SPINE_SUBSET)
        ].mean()
    assert error["simspine"] < 4.0 and error["simspine"] < error[None] / 2, error  # mm
