"""The skeleton table against the facts of reference/keypoints.md (written out here, by hand)."""

from __future__ import annotations

import json

from simspine_dataset import skeleton as sk

# reference/keypoints.md, copied literally: the derived lists must equal these.
REF_TO_SPINETRACK = [
    19,
    26,
    27,
    28,
    29,
    30,
    18,
    35,
    36,
    17,
    0,
    2,
    1,
    4,
    3,
    32,
    31,
    34,
    6,
    8,
    10,
    33,
    5,
    7,
    9,
    12,
    14,
    16,
    21,
    23,
    25,
    11,
    13,
    15,
    20,
    22,
    24,
]
REF_FROM_SPINETRACK = [
    10,
    12,
    11,
    14,
    13,
    22,
    18,
    23,
    19,
    24,
    20,
    31,
    25,
    32,
    26,
    33,
    27,
    9,
    6,
    0,
    34,
    28,
    35,
    29,
    36,
    30,
    1,
    2,
    3,
    4,
    5,
    16,
    15,
    21,
    17,
    7,
    8,
]
REF_SPINETRACK_FLIPS = [
    (1, 2),
    (3, 4),
    (5, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
    (20, 21),
    (22, 23),
    (24, 25),
    (31, 32),
    (33, 34),
]
REF_SPINE15 = [
    ("Hip", None),
    ("Spine_01", "Hip"),
    ("Spine_02", "Spine_01"),
    ("Spine_03", "Spine_02"),
    ("Spine_04", "Spine_03"),
    ("Spine_05", "Spine_04"),
    ("Neck", "Spine_05"),
    ("Neck_02", "Neck"),
    ("Neck_03", "Neck_02"),
    ("Head", "Neck_03"),
    ("Nose", "Head"),
    ("LClavicle", "Spine_05"),
    ("RClavicle", "Spine_05"),
    ("LLatissimus", "Spine_04"),
    ("RLatissimus", "Spine_04"),
]
REF_SPINE15_IN_37 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 21, 17, 16, 15]
REF_LIMBS_H36M = {
    "RShoulder": 25,
    "RElbow": 26,
    "RWrist": 27,
    "LShoulder": 17,
    "LElbow": 18,
    "LWrist": 19,
    "RHip": 1,
    "RKnee": 2,
    "RAnkle": 3,
    "LHip": 6,
    "LKnee": 7,
    "LAnkle": 8,
}


def test_spinetrack_maps_match_the_reference() -> None:
    assert list(sk.TO_SPINETRACK) == REF_TO_SPINETRACK
    assert list(sk.FROM_SPINETRACK) == REF_FROM_SPINETRACK
    assert list(sk.SPINETRACK_FLIP_PAIRS) == REF_SPINETRACK_FLIPS
    assert sk.SPINETRACK_NAMES[19] == "hip" and sk.SPINETRACK_NAMES[36] == "neck_03"


def test_spine_subset_order_and_parents() -> None:
    assert [sk.NAMES[i] for i in sk.SPINE_SUBSET] == [n for n, _ in REF_SPINE15]
    assert list(sk.SPINE_SUBSET) == REF_SPINE15_IN_37
    parents = [None if p < 0 else sk.SPINE_SUBSET_NAMES[p] for p in sk.SPINE_SUBSET_PARENTS]
    assert parents == [p for _, p in REF_SPINE15]


def test_regions_and_composition() -> None:
    sizes = {name: len(idx) for name, idx in sk.REGIONS.items()}
    assert sizes == {"S_C": 3, "S_T": 2, "S_L": 3, "S": 15, "B": 22, "All": 37}
    assert [sk.NAMES[i] for i in sk.REGIONS["S_L"]] == ["Spine_01", "Spine_02", "Spine_03"]
    assert [sk.NAMES[i] for i in sk.REGIONS["S_C"]] == ["Neck", "Neck_02", "Neck_03"]
    limbs = {sk.NAMES[i]: j for i, j in enumerate(sk.H36M_JOINT_OF) if sk.KEYPOINTS[i].source == "mocap"}
    assert {k: v for k, v in limbs.items() if k in REF_LIMBS_H36M} == REF_LIMBS_H36M
    assert sk.H36M_JOINT_OF[sk.INDEX["Neck"]] == 13 and sk.H36M_JOINT_OF[sk.INDEX["Spine_04"]] == 12


def test_tree_flips_and_sigmas_are_consistent() -> None:
    assert sk.PARENTS[0] == -1 and all(0 <= p < i for i, p in enumerate(sk.PARENTS) if i)
    for i, j in enumerate(sk.FLIP_INDEX):  # an involution pairing R with L
        assert sk.FLIP_INDEX[j] == i
        if i != j:
            assert {sk.NAMES[i][0], sk.NAMES[j][0]} == {"R", "L"} and sk.SIGMAS[i] == sk.SIGMAS[j]
    assert sk.SIGMAS[sk.INDEX["Head"]] == 0.026 and sk.SIGMAS[sk.INDEX["RLatissimus"]] == 0.12
    assert len(sk.H36M_JOINT_NAMES) == 32 and sk.H36M_PARENTS[31] == 30


def test_skeleton_json_round_trip(tmp_path) -> None:
    data = json.loads(json.dumps(sk.skeleton_dict()))
    assert data["names"] == list(sk.NAMES) and data["num_keypoints"] == 37
    assert data["spinetrack"]["to_spinetrack"] == REF_TO_SPINETRACK
    assert data["regions"]["S"] == list(sk.REGIONS["S"])
