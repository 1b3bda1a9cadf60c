"""The merge rules that assemble the 37 published keypoints."""

from __future__ import annotations

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.observations import PseudoMarkers
from simspine_dataset.biomech.vertebrae import merge_keypoints
from simspine_dataset.config import MergeConfig


def scene(seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 500, (6, 37, 3)), rng.normal(0, 500, (6, 32, 3))


def test_mocap_points_come_from_the_mocap() -> None:
    simulated, joints = scene()
    out = merge_keypoints(simulated, joints)
    for name, joint in (("Hip", 0), ("RShoulder", 25), ("LWrist", 19), ("RKnee", 2), ("Nose", 14)):
        np.testing.assert_array_equal(out[:, sk.INDEX[name]], joints[:, joint])
    for name in ("Spine_02", "Neck_03", "RHeel", "LLatissimus"):
        np.testing.assert_array_equal(out[:, sk.INDEX[name]], simulated[:, sk.INDEX[name]])


def test_face_points_prefer_detections_where_seen() -> None:
    simulated, joints = scene()
    positions = np.full((6, 1, 3), 7.0)
    confidence = np.array([[0.9], [0.0], [0.9], [0.9], [0.9], [0.9]])
    out = merge_keypoints(simulated, joints, PseudoMarkers(("REye",), positions, confidence))
    eye = sk.INDEX["REye"]
    np.testing.assert_array_equal(out[[0, 2, 3], eye], 7.0)
    np.testing.assert_array_equal(out[1, eye], simulated[1, eye])  # unseen: the model's


def test_reanchoring_puts_the_chain_on_the_mocap_segment() -> None:
    simulated, joints = scene(1)
    out = merge_keypoints(simulated, joints, config=MergeConfig(reanchor_spine=True))
    hip, neck = out[:, sk.INDEX["Hip"]], out[:, sk.INDEX["Neck"]]
    np.testing.assert_allclose(hip, joints[:, 0], atol=1e-9)
    np.testing.assert_allclose(neck, joints[:, 13], atol=1e-6)  # Hip->Neck now the mocap pelvis->thorax


def test_geometric_shoulder_blades() -> None:
    """SIMSPINE's rule on a scene worked by hand: Spine_04 at the origin, Spine_05 100 mm above it,
    the right shoulder 200 mm to the side of Spine_05 -> the blade at (120, 0, 50)."""
    simulated, joints = scene(2)
    simulated[:, sk.INDEX["Spine_04"]] = (0.0, 0.0, 0.0)
    simulated[:, sk.INDEX["Spine_05"]] = (0.0, 0.0, 100.0)
    joints[:, sk.KEYPOINTS[sk.INDEX["RShoulder"]].h36m_joint] = (200.0, 0.0, 100.0)
    out = merge_keypoints(simulated, joints, config=MergeConfig(geometric_latissimus=True))
    np.testing.assert_allclose(out[:, sk.INDEX["RLatissimus"]], np.tile((120.0, 0.0, 50.0), (6, 1)))
