"""Human3.6M facts: cameras, actions and their naming quirks, the protocol split, the raw layout.

Source: ``reference/h36m.md``. This module owns the raw capture's file names (path templates);
readers and writers of the formats live in ``simspine_dataset.io``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from simspine_dataset.errors import UnknownActionError

FPS_HZ = 50.0
NUM_JOINTS = 32
CAMERA_IDS: tuple[str, ...] = ("54138969", "55011271", "58860488", "60457274")
SUBJECTS_WITH_GROUND_TRUTH: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")

ACTIONS: tuple[str, ...] = (
    "Directions",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "Photo",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "Waiting",
    "WalkDog",
    "Walking",
    "WalkTogether",
)
# Names found in files or metadata.xml that mean a canonical action.
ACTION_ALIASES: dict[str, str] = {
    "TakingPhoto": "Photo",
    "WalkingDog": "WalkDog",
    "WalkingTogether": "WalkTogether",
}
# <actionnames> of metadata.xml, in file order (id = position + 1).
METADATA_ACTION_NAMES: tuple[str, ...] = (
    "Miscellaneous",
    "Directions",
    "Discussion",
    "Eating",
    "Greeting",
    "Phoning",
    "Posing",
    "Purchases",
    "Sitting",
    "SittingDown",
    "Smoking",
    "TakingPhoto",
    "Waiting",
    "Walking",
    "WalkingDog",
    "WalkingTogether",
)
# Pseudo-actions of the release that are not part of any benchmark.
SKIPPED_ACTIONS: frozenset[str] = frozenset({"_ALL", "Miscellaneous"})

# The raw layout, relative to the capture root (one module owns these names).
METADATA_FILE = "metadata.xml"
D3_POSITIONS = "{subject}/MyPoseFeatures/D3_Positions/{sequence}.cdf"
D3_POSITIONS_MONO = "{subject}/MyPoseFeatures/D3_Positions_mono/{sequence}.{camera}.cdf"
D2_POSITIONS = "{subject}/MyPoseFeatures/D2_Positions/{sequence}.{camera}.cdf"
VIDEO = "{subject}/Videos/{sequence}.{camera}.mp4"
# SpinePose detections (``io.detections``), relative to the detections root.
# Files of the official download that are known to be broken (reference/h36m.md): a build leaves the
# camera out of that sequence and builds the other three; ``inspect`` lists them as known.
KNOWN_BROKEN_VIDEOS: dict[str, str] = {
    VIDEO.format(subject="S11", sequence="Directions", camera="54138969"): "corrupt in the official download",
}
DETECTION_VIDEO = "{subject}/{sequence}.{camera}"  # one folder per video
DETECTION_FRAME = DETECTION_VIDEO + "/frame_{frame:05d}.json"

_SEQUENCE_NAME = re.compile(r"^(?P<action>[A-Za-z_]+?)(?: (?P<number>\d+))?$")
_SUBJECT_NAME = re.compile(r"^S(?P<number>\d+)$")


def split_sequence_name(sequence: str) -> tuple[str, int | None]:
    """``"Eating 2"`` -> ``("Eating", 2)``; ``"Walking"`` -> ``("Walking", None)``; no aliasing."""
    match = _SEQUENCE_NAME.match(sequence)
    if match is None:
        raise ValueError(f"not a Human3.6M sequence name: {sequence!r}")
    number = match["number"]
    return match["action"], None if number is None else int(number)


def canonical_action(name: str, *, path: str | Path = "<sequence name>") -> str:
    """Canonical action of a sequence or action name (``"TakingPhoto 1"`` -> ``"Photo"``).

    Exact matching after alias resolution, so prefixes never collide (``SittingDown`` is not
    ``Sitting``, ``WalkDog`` is not ``Walking``). Raises ``UnknownActionError`` naming ``path``.
    """
    try:
        action, _ = split_sequence_name(name)
    except ValueError:
        raise UnknownActionError(path, f"cannot parse sequence name {name!r}") from None
    action = ACTION_ALIASES.get(action, action)
    if action not in ACTIONS:
        raise UnknownActionError(path, f"{name!r} is none of the 15 Human3.6M actions ({', '.join(ACTIONS)})")
    return action


def is_skipped_sequence(name: str) -> bool:
    """True for the release's ``_ALL`` sequences and other pseudo-actions."""
    try:
        action, _ = split_sequence_name(name)
    except ValueError:
        return False
    return action in SKIPPED_ACTIONS


def subject_number(subject: str) -> int:
    """``"S11"`` -> 11."""
    match = _SUBJECT_NAME.match(subject)
    if match is None:
        raise ValueError(f"not a Human3.6M subject name: {subject!r}")
    return int(match["number"])


def split_of(
    subject: str, train: tuple[str, ...] = TRAIN_SUBJECTS, test: tuple[str, ...] = TEST_SUBJECTS
) -> str:
    """A subject's split: ``"train"``, ``"test"`` or ``"other"`` (default: the standard protocol's
    lists; a build passes its configured ones)."""
    return "train" if subject in train else "test" if subject in test else "other"


@dataclass(frozen=True)
class ReferenceCalibration:
    """The published Human3.6M calibration shipped with the package (numbers only)."""

    intrinsics: dict[str, tuple[float, ...]]  # camera id -> fx, fy, cx, cy, k1, k2, k3, p1, p2
    image_size: dict[str, tuple[int, int]]  # camera id -> (width, height)
    extrinsics: dict[str, dict[str, tuple[tuple[tuple[float, ...], ...], tuple[float, ...]]]]
    # subject -> camera id -> (R world->camera, C centre in world mm)


@cache
def reference_calibration() -> ReferenceCalibration:
    """Load the packaged ``data/h36m_cameras.json`` (intrinsics shared, extrinsics per subject)."""
    raw = json.loads(resources.files("simspine_dataset").joinpath("data/h36m_cameras.json").read_text())
    intrinsics = {cam["id"]: (*cam["f"], *cam["c"], *cam["k"], *cam["p"]) for cam in raw["cameras"]}
    sizes = {cam["id"]: (int(cam["width"]), int(cam["height"])) for cam in raw["cameras"]}
    extrinsics = {
        subject: {cam["id"]: (tuple(tuple(row) for row in cam["R"]), tuple(cam["C"])) for cam in cams}
        for subject, cams in raw["extrinsics"].items()
    }
    return ReferenceCalibration(intrinsics, sizes, extrinsics)
