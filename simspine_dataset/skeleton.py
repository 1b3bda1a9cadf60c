"""The skeleton table: the one place where keypoint facts live.

Source of the facts: ``reference/keypoints.md`` (the SIMSPINE marker order, SpineTrack names and
indices, OKS sigmas from SpinePose's ``metainfo.py``; the regions are this project's decision).
Every other keypoint list of the project (dataset features, the mmpose metainfo, the card's
keypoint table, the baselines' subsets, ``meta/skeleton.json``) is derived from ``KEYPOINTS`` below.

Conventions: indices are 0-based; "R"/"L" are the subject's right and left; a keypoint's
``mirror`` is the keypoint it swaps with under a horizontal flip.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Literal

import numpy as np


class J(IntEnum):
    """The 32 joints of Human3.6M's Pose arrays, by index. Names follow Human3.6M's, made unique:
    its "Site" end points are named ``..._END`` after their parent (``HEAD`` is the nose,
    ``HEAD_END`` the head top)."""

    HIPS = 0
    RIGHT_UP_LEG = 1
    RIGHT_LEG = 2
    RIGHT_FOOT = 3
    RIGHT_TOE_BASE = 4
    RIGHT_TOE_END = 5
    LEFT_UP_LEG = 6
    LEFT_LEG = 7
    LEFT_FOOT = 8
    LEFT_TOE_BASE = 9
    LEFT_TOE_END = 10
    SPINE = 11
    SPINE1 = 12
    NECK = 13
    HEAD = 14
    HEAD_END = 15
    LEFT_SHOULDER = 16
    LEFT_ARM = 17
    LEFT_FORE_ARM = 18
    LEFT_HAND = 19
    LEFT_HAND_THUMB = 20
    LEFT_THUMB_END = 21
    LEFT_WRIST_END = 22
    LEFT_WRIST_END_SITE = 23
    RIGHT_SHOULDER = 24
    RIGHT_ARM = 25
    RIGHT_FORE_ARM = 26
    RIGHT_HAND = 27
    RIGHT_HAND_THUMB = 28
    RIGHT_THUMB_END = 29
    RIGHT_WRIST_END = 30
    RIGHT_WRIST_END_SITE = 31


Source = Literal["mocap", "simulated", "blended", "triangulated", "geometric"]
SpineLevel = Literal["lumbar", "thoracic", "cervical"]


@dataclass(frozen=True)
class Keypoint:
    """One of the 37 SIMSPINE keypoints."""

    name: str
    parent: str | None  # None for the root (Hip)
    mirror: str | None  # flip partner, None for midline keypoints
    spinetrack_name: str
    spinetrack_index: int
    sigma: float  # OKS sigma (SpinePose)
    meaning: str  # vertebral level or anatomical meaning
    source: Source  # where the value in the final dataset comes from
    spine_centric: bool  # one of the 15 spine-centric keypoints
    spine_level: SpineLevel | None  # vertebral column segment, None off the column
    h36m_joint: int | None  # index in the Human3.6M 32-joint Pose array that measures or seeds it

    def __post_init__(self) -> None:
        if not 0 <= self.spinetrack_index < 37:
            raise ValueError(f"{self.name}: SpineTrack index {self.spinetrack_index} out of range")
        if self.sigma <= 0:
            raise ValueError(f"{self.name}: OKS sigma must be positive")
        if self.h36m_joint is not None and not 0 <= self.h36m_joint < 32:
            raise ValueError(f"{self.name}: Human3.6M joint {self.h36m_joint} out of range")


def _kp(
    name: str,
    parent: str | None,
    mirror: str | None,
    st: tuple[str, int],
    sigma: float,
    meaning: str,
    source: Source,
    *,
    spine: bool = False,
    level: SpineLevel | None = None,
    h36m: int | None = None,
) -> Keypoint:
    return Keypoint(name, parent, mirror, st[0], st[1], sigma, meaning, source, spine, level, h36m)


# fmt: off
#   name          parent         mirror         SpineTrack (name, idx)     sigma  meaning                    source
KEYPOINTS: tuple[Keypoint, ...] = (
    _kp("Hip",         None,          None,          ("hip", 19),               0.07,  "sacrum midpoint (root)",  "mocap",     spine=True, h36m=J.HIPS),
    _kp("Spine_01",    "Hip",         None,          ("spine_01", 26),          0.10,  "L5",                      "simulated", spine=True, level="lumbar"),
    _kp("Spine_02",    "Spine_01",    None,          ("spine_02", 27),          0.10,  "L3",                      "simulated", spine=True, level="lumbar"),
    _kp("Spine_03",    "Spine_02",    None,          ("spine_03", 28),          0.10,  "T12/L1",                  "simulated", spine=True, level="lumbar"),
    _kp("Spine_04",    "Spine_03",    None,          ("spine_04", 29),          0.08,  "T8",                      "simulated", spine=True, level="thoracic", h36m=J.SPINE1),
    _kp("Spine_05",    "Spine_04",    None,          ("spine_05", 30),          0.08,  "T3",                      "simulated", spine=True, level="thoracic"),
    _kp("Neck",        "Spine_05",    None,          ("neck", 18),              0.04,  "neck base, C7",           "simulated", spine=True, level="cervical", h36m=J.NECK),
    _kp("Neck_02",     "Neck",        None,          ("neck_02", 35),           0.07,  "C3/C4",                   "simulated", spine=True, level="cervical"),
    _kp("Neck_03",     "Neck_02",     None,          ("neck_03", 36),           0.06,  "C1",                      "simulated", spine=True, level="cervical"),
    _kp("Head",        "Neck_03",     None,          ("head", 17),              0.026, "head top",                "simulated", spine=True),
    _kp("Nose",        "Head",        None,          ("nose", 0),               0.026, "nose",                    "mocap",     spine=True, h36m=J.HEAD),
    _kp("REye",        "Nose",        "LEye",        ("right_eye", 2),          0.025, "face pseudo-label",       "triangulated"),
    _kp("LEye",        "Nose",        "REye",        ("left_eye", 1),           0.025, "face pseudo-label",       "triangulated"),
    _kp("REar",        "REye",        "LEar",        ("right_ear", 4),          0.035, "face pseudo-label",       "triangulated"),
    _kp("LEar",        "LEye",        "REar",        ("left_ear", 3),           0.035, "face pseudo-label",       "triangulated"),
    _kp("RLatissimus", "Spine_04",    "LLatissimus", ("right_latissimus", 32),  0.12,  "shoulder blade",          "simulated", spine=True),
    _kp("LLatissimus", "Spine_04",    "RLatissimus", ("left_latissimus", 31),   0.12,  "shoulder blade",          "simulated", spine=True),
    _kp("RClavicle",   "Spine_05",    "LClavicle",   ("right_clavicle", 34),    0.07,  "clavicle",                "simulated", spine=True),
    _kp("RShoulder",   "RClavicle",   "LShoulder",   ("right_shoulder", 6),     0.079, "limb",                    "mocap",     h36m=J.RIGHT_ARM),
    _kp("RElbow",      "RShoulder",   "LElbow",      ("right_elbow", 8),        0.072, "limb",                    "mocap",     h36m=J.RIGHT_FORE_ARM),
    _kp("RWrist",      "RElbow",      "LWrist",      ("right_wrist", 10),       0.062, "limb",                    "mocap",     h36m=J.RIGHT_HAND),
    _kp("LClavicle",   "Spine_05",    "RClavicle",   ("left_clavicle", 33),     0.07,  "clavicle",                "simulated", spine=True),
    _kp("LShoulder",   "LClavicle",   "RShoulder",   ("left_shoulder", 5),      0.079, "limb",                    "mocap",     h36m=J.LEFT_ARM),
    _kp("LElbow",      "LShoulder",   "RElbow",      ("left_elbow", 7),         0.072, "limb",                    "mocap",     h36m=J.LEFT_FORE_ARM),
    _kp("LWrist",      "LElbow",      "RWrist",      ("left_wrist", 9),         0.062, "limb",                    "mocap",     h36m=J.LEFT_HAND),
    _kp("RHip",        "Hip",         "LHip",        ("right_hip", 12),         0.107, "limb",                    "mocap",     h36m=J.RIGHT_UP_LEG),
    _kp("RKnee",       "RHip",        "LKnee",       ("right_knee", 14),        0.087, "limb",                    "mocap",     h36m=J.RIGHT_LEG),
    _kp("RAnkle",      "RKnee",       "LAnkle",      ("right_ankle", 16),       0.089, "limb",                    "mocap",     h36m=J.RIGHT_FOOT),
    _kp("RBigToe",     "RAnkle",      "LBigToe",     ("right_big_toe", 21),     0.079, "foot pseudo-label",       "simulated"),
    _kp("RSmallToe",   "RAnkle",      "LSmallToe",   ("right_small_toe", 23),   0.079, "foot pseudo-label",       "simulated"),
    _kp("RHeel",       "RAnkle",      "LHeel",       ("right_heel", 25),        0.079, "foot pseudo-label",       "simulated"),
    _kp("LHip",        "Hip",         "RHip",        ("left_hip", 11),          0.107, "limb",                    "mocap",     h36m=J.LEFT_UP_LEG),
    _kp("LKnee",       "LHip",        "RKnee",       ("left_knee", 13),         0.087, "limb",                    "mocap",     h36m=J.LEFT_LEG),
    _kp("LAnkle",      "LKnee",       "RAnkle",      ("left_ankle", 15),        0.089, "limb",                    "mocap",     h36m=J.LEFT_FOOT),
    _kp("LBigToe",     "LAnkle",      "RBigToe",     ("left_big_toe", 20),      0.079, "foot pseudo-label",       "simulated"),
    _kp("LSmallToe",   "LAnkle",      "RSmallToe",   ("left_small_toe", 22),    0.079, "foot pseudo-label",       "simulated"),
    _kp("LHeel",       "LAnkle",      "RHeel",       ("left_heel", 24),         0.079, "foot pseudo-label",       "simulated"),
)

# The 15 spine-centric keypoints in the order of the spine-only lifting task (reference order).
SPINE_SUBSET_NAMES: tuple[str, ...] = (
    "Hip", "Spine_01", "Spine_02", "Spine_03", "Spine_04", "Spine_05", "Neck", "Neck_02",
    "Neck_03", "Head", "Nose", "LClavicle", "RClavicle", "LLatissimus", "RLatissimus",
)

# Human3.6M 32-joint Pose arrays (D3_Positions, D2_Positions): name and parent.
H36M_JOINTS: tuple[tuple[str, int], ...] = (
    ("Hips", -1), ("RightUpLeg", J.HIPS), ("RightLeg", J.RIGHT_UP_LEG), ("RightFoot", J.RIGHT_LEG),
    ("RightToeBase", J.RIGHT_FOOT), ("Site", J.RIGHT_TOE_BASE), ("LeftUpLeg", J.HIPS), ("LeftLeg", J.LEFT_UP_LEG),
    ("LeftFoot", J.LEFT_LEG), ("LeftToeBase", J.LEFT_FOOT), ("Site", J.LEFT_TOE_BASE), ("Spine", J.HIPS),
    ("Spine1", J.SPINE), ("Neck", J.SPINE1), ("Head", J.NECK), ("Site", J.HEAD),
    ("LeftShoulder", J.SPINE1), ("LeftArm", J.LEFT_SHOULDER), ("LeftForeArm", J.LEFT_ARM),
    ("LeftHand", J.LEFT_FORE_ARM), ("LeftHandThumb", J.LEFT_HAND), ("Site", J.LEFT_HAND_THUMB),
    ("L_Wrist_End", J.LEFT_HAND), ("Site", J.LEFT_WRIST_END),
    ("RightShoulder", J.SPINE1), ("RightArm", J.RIGHT_SHOULDER), ("RightForeArm", J.RIGHT_ARM),
    ("RightHand", J.RIGHT_FORE_ARM), ("RightHandThumb", J.RIGHT_HAND), ("Site", J.RIGHT_HAND_THUMB),
    ("R_Wrist_End", J.RIGHT_HAND), ("Site", J.RIGHT_WRIST_END),
)
# The common 17-joint subset (VideoPose3D / Martinez), as indices into the 32 joints.
H36M_17_JOINTS: tuple[int, ...] = (
    J.HIPS, J.RIGHT_UP_LEG, J.RIGHT_LEG, J.RIGHT_FOOT, J.LEFT_UP_LEG, J.LEFT_LEG, J.LEFT_FOOT, J.SPINE1,
    J.NECK, J.HEAD, J.HEAD_END, J.LEFT_ARM, J.LEFT_FORE_ARM, J.LEFT_HAND, J.RIGHT_ARM, J.RIGHT_FORE_ARM,
    J.RIGHT_HAND,
)
# fmt: on

# ---------------------------------------------------------------------------------------------
# Everything below is derived from the tables above.

NUM_KEYPOINTS = len(KEYPOINTS)
NAMES: tuple[str, ...] = tuple(k.name for k in KEYPOINTS)
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}
PARENTS: tuple[int, ...] = tuple(-1 if k.parent is None else INDEX[k.parent] for k in KEYPOINTS)
SIGMAS: tuple[float, ...] = tuple(k.sigma for k in KEYPOINTS)
FLIP_INDEX: tuple[int, ...] = tuple(INDEX[k.mirror] if k.mirror else i for i, k in enumerate(KEYPOINTS))
FLIP_PAIRS: tuple[tuple[int, int], ...] = tuple((i, j) for i, j in enumerate(FLIP_INDEX) if i < j)
BONES: tuple[tuple[int, int], ...] = tuple((p, i) for i, p in enumerate(PARENTS) if p >= 0)
# Bones between two keypoints measured by the mocap: rigid in Human3.6M's skeleton.
MOCAP_BONES: tuple[tuple[int, int], ...] = tuple(
    (p, i) for p, i in BONES if KEYPOINTS[p].source == "mocap" and KEYPOINTS[i].source == "mocap"
)


def _descendants(root: str) -> tuple[int, ...]:
    """The keypoints at or below ``root`` in the parent tree."""

    def below(i: int) -> bool:
        return i >= 0 and (NAMES[i] == root or below(PARENTS[i]))

    return tuple(i for i in range(len(KEYPOINTS)) if below(i))


# The upper body (mmpose's "upper" keypoint type): the thoracic spine and everything it carries.
UPPER_BODY: tuple[int, ...] = _descendants("Spine_04")

SPINE_SUBSET: tuple[int, ...] = tuple(INDEX[n] for n in SPINE_SUBSET_NAMES)
# The root and the vertebral column, caudal to cranial (Hip, Spine_01..05, Neck, Neck_02, Neck_03).
VERTEBRAL_CHAIN: tuple[str, ...] = (NAMES[0], *(k.name for k in KEYPOINTS if k.spine_level))
# Points on the back of the trunk: the column and the shoulder blades.
BACK_OF_TRUNK: tuple[str, ...] = (
    *VERTEBRAL_CHAIN[1:],
    *(k.name for k in KEYPOINTS if k.meaning == "shoulder blade"),
)
SPINE_SUBSET_PARENTS: tuple[int, ...] = tuple(
    -1 if PARENTS[i] < 0 else SPINE_SUBSET.index(PARENTS[i]) for i in SPINE_SUBSET
)

# SIMSPINE-37 index -> SpineTrack index, and the inverse.
TO_SPINETRACK: tuple[int, ...] = tuple(k.spinetrack_index for k in KEYPOINTS)
FROM_SPINETRACK: tuple[int, ...] = tuple(TO_SPINETRACK.index(j) for j in range(NUM_KEYPOINTS))
SPINETRACK_NAMES: tuple[str, ...] = tuple(KEYPOINTS[i].spinetrack_name for i in FROM_SPINETRACK)
SPINETRACK_FLIP_PAIRS: tuple[tuple[int, int], ...] = tuple(
    sorted((min(a, b), max(a, b)) for a, b in ((TO_SPINETRACK[i], TO_SPINETRACK[j]) for i, j in FLIP_PAIRS))
)
# SpinePose's evaluation subsets, in SpineTrack indices: "body" (COCO-17) and "spine" (AP^S).
SPINETRACK_BODY_SUBSET: tuple[int, ...] = tuple(range(17))
SPINETRACK_SPINE_SUBSET: tuple[int, ...] = (19, 26, 27, 28, 29, 30, 18, 35, 36)

# Human3.6M joint measured or seeded per SIMSPINE keypoint (-1: none).
H36M_JOINT_OF: tuple[int, ...] = tuple(-1 if k.h36m_joint is None else k.h36m_joint for k in KEYPOINTS)
H36M_JOINT_NAMES: tuple[str, ...] = tuple(name for name, _ in H36M_JOINTS)
H36M_PARENTS: tuple[int, ...] = tuple(parent for _, parent in H36M_JOINTS)

REGIONS: dict[str, tuple[int, ...]] = {
    "S_C": tuple(i for i, k in enumerate(KEYPOINTS) if k.spine_level == "cervical"),
    "S_T": tuple(i for i, k in enumerate(KEYPOINTS) if k.spine_level == "thoracic"),
    "S_L": tuple(i for i, k in enumerate(KEYPOINTS) if k.spine_level == "lumbar"),
    "S": tuple(i for i, k in enumerate(KEYPOINTS) if k.spine_centric),
    "B": tuple(i for i, k in enumerate(KEYPOINTS) if not k.spine_centric),
    "All": tuple(range(NUM_KEYPOINTS)),
}
REGION_NAMES: dict[str, str] = {
    "S_C": "cervical spine (Neck, Neck_02, Neck_03)",
    "S_T": "thoracic spine (Spine_04, Spine_05)",
    "S_L": "lumbar spine (Spine_01, Spine_02, Spine_03)",
    "S": "the 15 spine-centric keypoints",
    "B": "the 22 body keypoints (limbs, face and foot pseudo-labels)",
    "All": "all 37 keypoints",
}


# Display colours (RGB) of the regions, for the viewer and the card's stills
REGION_COLORS: dict[str, tuple[int, int, int]] = {
    "S_L": (230, 85, 13),
    "S_T": (49, 130, 189),
    "S_C": (117, 107, 177),
}
SPINE_COLOR, BODY_COLOR = (253, 174, 107), (170, 170, 170)  # the other spine-centric keypoints, the body


def display_colors() -> np.ndarray:
    """(37, 3) uint8 RGB: lumbar, thoracic and cervical spine in their region's colour, the other
    spine-centric keypoints light orange, the body grey."""
    colors = np.array([SPINE_COLOR if i in REGIONS["S"] else BODY_COLOR for i in range(NUM_KEYPOINTS)])
    for region, color in REGION_COLORS.items():
        colors[list(REGIONS[region])] = color
    return colors.astype(np.uint8)


def skeleton_dict() -> dict:
    """The skeleton as a JSON-ready dict (the content of ``meta/skeleton.json``)."""
    return {
        "num_keypoints": NUM_KEYPOINTS,
        "keypoints": [{"index": i, **asdict(k)} for i, k in enumerate(KEYPOINTS)],
        "names": list(NAMES),
        "parents": list(PARENTS),
        "bones": [list(b) for b in BONES],
        "flip_pairs": [list(p) for p in FLIP_PAIRS],
        "flip_index": list(FLIP_INDEX),
        "sigmas": list(SIGMAS),
        "regions": {name: list(idx) for name, idx in REGIONS.items()},
        "region_descriptions": REGION_NAMES,
        "spine_subset": {
            "names": list(SPINE_SUBSET_NAMES),
            "indices": list(SPINE_SUBSET),
            "parents": list(SPINE_SUBSET_PARENTS),
        },
        "spinetrack": {
            "names": list(SPINETRACK_NAMES),
            "to_spinetrack": list(TO_SPINETRACK),
            "from_spinetrack": list(FROM_SPINETRACK),
            "flip_pairs": [list(p) for p in SPINETRACK_FLIP_PAIRS],
            "body_subset": list(SPINETRACK_BODY_SUBSET),
            "spine_subset": list(SPINETRACK_SPINE_SUBSET),
        },
        "h36m": {
            "joint_names": list(H36M_JOINT_NAMES),
            "joint_parents": list(H36M_PARENTS),
            "joint_of_keypoint": list(H36M_JOINT_OF),
            "subset_17": list(H36M_17_JOINTS),
        },
    }
