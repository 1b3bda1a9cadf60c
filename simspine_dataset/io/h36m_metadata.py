"""Human3.6M ``metadata.xml``: the sequence mapping, action names, frame counts, calibration.

Structure (``reference/h36m.md``): ``<mapping>`` rows ``action id, subaction id, S1..S11`` giving
each subject's sequence file prefix (then a row of subject names and one of image sizes
``[h w;...]`` per camera); ``<actionnames>`` (id = position + 1); ``<frames>`` one row per
subject, one cell per mapping row, ``[n_cam1 n_cam2 n_cam3 n_cam4 n_mocap200Hz]``; ``<w0>``
300 calibration floats; ``<dbcameras><index2id>`` the camera ids. ``write_metadata`` writes
the same structure.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simspine_dataset.errors import (
    CorruptFileError,
    MetadataError,
    MissingCameraError,
    MissingFileError,
    UnknownActionError,
)
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.h36m import (
    ACTION_ALIASES,
    CAMERA_IDS,
    METADATA_ACTION_NAMES,
    canonical_action,
    is_skipped_sequence,
    subject_number,
)
from simspine_dataset.io.atomic import write_text_atomic

log = logging.getLogger(__name__)

NUM_SUBJECT_SLOTS = 11  # w0 and <frames> have slots for S1..S11
NUM_CAMERA_SLOTS = 4
W0_LENGTH = 300
_INTRINSICS_OFFSET = 6 * NUM_CAMERA_SLOTS * NUM_SUBJECT_SLOTS  # 264


@dataclass(frozen=True)
class SequenceEntry:
    """One (subject, sequence) of the mapping table, with its frame counts if listed."""

    subject: str
    sequence: str  # file prefix as on disk, e.g. "Eating 2"
    action: str  # canonical action name
    subaction: int  # 1 or 2
    camera_frames: tuple[int, ...] | None = None  # per camera, in camera-id order
    mocap_frames_200hz: int | None = None


@dataclass(frozen=True)
class H36MMetadata:
    """The parsed metadata.xml. ``cameras[subject][camera_id]`` is a calibrated ``Camera``."""

    path: Path
    camera_ids: tuple[str, ...]
    subjects: tuple[str, ...]
    action_names: tuple[str, ...]  # as written in the file, id = position + 1
    entries: tuple[SequenceEntry, ...]  # benchmark sequences only (no _ALL)
    cameras: Mapping[str, Mapping[str, Camera]] = field(repr=False)

    def entry(self, subject: str, sequence: str) -> SequenceEntry | None:
        """The mapping entry of a sequence file prefix, or None when the mapping lacks it."""
        for entry in self.entries:
            if entry.subject == subject and entry.sequence == sequence:
                return entry
        return None

    def camera(self, subject: str, camera_id: str) -> Camera:
        """Calibrated camera of a subject; ``MissingCameraError`` names metadata.xml if absent."""
        try:
            return self.cameras[subject][camera_id]
        except KeyError:
            raise MissingCameraError(
                self.path, f"no calibration for camera {camera_id} of subject {subject}"
            ) from None

    def camera_frames(self, subjects: Sequence[str]) -> int:
        """Camera-frames (summed over cameras) of the benchmark sequences of ``subjects``."""
        return sum(sum(e.camera_frames or ()) for e in self.entries if e.subject in subjects)


def _rotation_xyz(rx: float, ry: float, rz: float) -> np.ndarray:
    """R = Rx(rx) @ Ry(ry) @ Rz(rz), the Human3.6M convention (world -> camera)."""
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return Rx @ Ry @ Rz


def rotation_to_xyz_angles(rotation: np.ndarray) -> tuple[float, float, float]:
    """Inverse of the Rx @ Ry @ Rz convention (for writing ``<w0>``); |ry| < 90 deg assumed."""
    R = np.asarray(rotation, dtype=np.float64)
    ry = np.arcsin(np.clip(R[0, 2], -1.0, 1.0))
    rx = np.arctan2(-R[1, 2], R[2, 2])
    rz = np.arctan2(-R[0, 1], R[0, 0])
    return float(rx), float(ry), float(rz)


def _numbers(text: str | None) -> np.ndarray:
    return np.array((text or "").replace("[", " ").replace("]", " ").replace(";", " ").split(), float)


def _cells(row: ET.Element) -> list[str]:
    return [(td.text or "").strip() for td in row.findall("td")]


def _parse_cameras(
    path: Path,
    root: ET.Element,
    camera_ids: tuple[str, ...],
    subjects: Sequence[str],
    sizes: Mapping[tuple[str, str], tuple[int, int]],
) -> dict[str, dict[str, Camera]]:
    try:
        w0 = _numbers(root.findtext("w0"))
    except ValueError as e:
        raise MetadataError(path, f"<w0> holds a value that is not a number ({e})") from e
    if w0.size != W0_LENGTH:
        raise MetadataError(path, f"<w0> holds {w0.size} numbers, expected {W0_LENGTH}")
    cameras: dict[str, dict[str, Camera]] = {}
    for subject in subjects:
        s = subject_number(subject)
        cameras[subject] = {}
        for c, camera_id in enumerate(camera_ids, start=1):
            extrinsic = w0[6 * ((c - 1) * NUM_SUBJECT_SLOTS + (s - 1)) :][:6]
            intrinsic = w0[_INTRINSICS_OFFSET + (c - 1) * 9 :][:9]
            if not extrinsic.any() or not intrinsic[:2].all():
                continue  # an all-zero block: this subject has no calibration for this camera
            rx, ry, rz, *center = extrinsic
            fx, fy, cx, cy, k1, k2, k3, p_a, p_b = intrinsic
            width, height = sizes.get((subject, camera_id), (1000, 1000))
            intrinsics = (fx, fy, cx, cy, k1, k2, k3, p_b, p_a)  # the formula's p1, p2 = pB, pA
            try:
                cameras[subject][camera_id] = Camera.from_center(
                    camera_id, intrinsics, _rotation_xyz(rx, ry, rz), center, width, height
                )
            except ValueError as e:  # NaN or infinite numbers
                raise MetadataError(path, f"<w0>: camera {camera_id} of {subject} is unusable ({e})") from e
    return cameras


def _parse_mapping(path: Path, root: ET.Element, action_names: tuple[str, ...], camera_ids: tuple[str, ...]):
    """-> subjects, [(row index, action id, subaction, {subject: sequence})], image sizes."""
    mapping = root.find("mapping")
    if mapping is None:
        raise MetadataError(path, "no <mapping> element")
    rows = [_cells(r) for r in mapping.findall("tr")]
    if not rows or rows[0][:2] != ["Action", "subaction"]:
        raise MetadataError(path, "<mapping> does not start with an 'Action, subaction, S..' row")
    subjects = tuple(rows[0][2:])
    table, sizes = [], {}
    for i, cells in enumerate(rows[1:], start=1):
        if len(cells) != len(subjects) + 2:
            raise MetadataError(
                path, f"<mapping> row {i} has {len(cells)} cells, expected {len(subjects) + 2}"
            )
        if cells[0].isdigit() and cells[1].isdigit():
            if not 1 <= int(cells[0]) <= len(action_names):
                raise MetadataError(path, f"<mapping> row {i} names action id {cells[0]}, unknown")
            table.append((i, int(cells[0]), int(cells[1]), dict(zip(subjects, cells[2:], strict=True))))
        elif not cells[0] and cells[2:] and cells[2].startswith("["):
            for subject, cell in zip(subjects, cells[2:], strict=True):
                if not cell:
                    continue  # a subject without recordings
                hw = _numbers(cell).astype(int)
                if hw.size != 2 * len(camera_ids):
                    raise MetadataError(path, f"image sizes of {subject} are not [h w] per camera: {cell}")
                pairs = zip(camera_ids, hw.reshape(-1, 2), strict=True)
                sizes |= {(subject, cam): (int(w), int(h)) for cam, (h, w) in pairs}
    return subjects, table, sizes


def _frame_counts(root: ET.Element, subjects: tuple[str, ...]) -> dict[tuple[str, int], np.ndarray]:
    """(subject, mapping row index) -> [n_cam1..n_cam4, n_mocap200Hz]."""
    rows = root.find("frames")
    counts = {}
    for r, row in enumerate([] if rows is None else rows.findall("tr")):
        if r >= len(subjects):
            break
        for i, cell in enumerate(_cells(row)):
            if i and cell:
                counts[(subjects[r], i)] = _numbers(cell).astype(int)
    return counts


def read_metadata(path: str | Path) -> H36MMetadata:
    """Parse a Human3.6M metadata.xml. Raises ``MetadataError`` naming the file on bad content."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "metadata.xml not found")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise CorruptFileError(path, f"not well-formed XML ({e})") from e
    camera_ids = tuple((item.text or "").strip() for item in root.findall("dbcameras/index2id/item"))
    if len(camera_ids) != NUM_CAMERA_SLOTS or not all(camera_ids):
        raise MetadataError(
            path, f"<dbcameras><index2id> lists cameras {list(camera_ids)}, expected 4 camera ids"
        )
    action_names = tuple((item.text or "").strip() for item in root.findall("actionnames/item"))
    subjects, table, sizes = _parse_mapping(path, root, action_names, camera_ids)
    counts = _frame_counts(root, subjects)
    entries = []
    for row, action_id, subaction, sequences in table:
        for subject, sequence in sequences.items():
            if not sequence or is_skipped_sequence(sequence):
                continue
            try:
                action = canonical_action(action_names[action_id - 1], path=path)
            except UnknownActionError:
                log.info("%s: action %r is not a benchmark action; skipped", path, sequence)
                continue
            frames = counts.get((subject, row))
            entries.append(
                SequenceEntry(
                    subject,
                    sequence,
                    action,
                    subaction,
                    None if frames is None else tuple(int(n) for n in frames[:NUM_CAMERA_SLOTS]),
                    None if frames is None or len(frames) <= NUM_CAMERA_SLOTS else int(frames[-1]),
                )
            )
    cameras = _parse_cameras(path, root, camera_ids, subjects, sizes)
    return H36MMetadata(path, camera_ids, subjects, action_names, tuple(entries), cameras)


def _row(parent: ET.Element, cells: Sequence[str]) -> None:
    tr = ET.SubElement(parent, "tr")
    for cell in cells:
        ET.SubElement(tr, "td").text = cell or None


def _w0(cameras: Mapping[str, Mapping[str, Camera]], camera_ids: Sequence[str]) -> np.ndarray:
    w0 = np.zeros(W0_LENGTH)
    for subject, by_camera in cameras.items():
        s = subject_number(subject)
        for c, camera_id in enumerate(camera_ids, start=1):
            cam = by_camera[camera_id]
            start = 6 * ((c - 1) * NUM_SUBJECT_SLOTS + (s - 1))
            w0[start : start + 6] = [*rotation_to_xyz_angles(cam.rotation), *cam.center_mm]
            fx, fy, cx, cy, k1, k2, k3, p1, p2 = cam.intrinsics
            w0[_INTRINSICS_OFFSET + (c - 1) * 9 :][:9] = [fx, fy, cx, cy, k1, k2, k3, p2, p1]
    return w0


def write_metadata(
    path: str | Path,
    entries: Sequence[SequenceEntry],
    cameras: Mapping[str, Mapping[str, Camera]],
    camera_ids: Sequence[str] = CAMERA_IDS,
) -> Path:
    """Write a metadata.xml with the official structure (S1..S11 columns, 16 actions x 2 rows).

    ``entries`` give each subject's sequence names and frame counts; subjects without entries get
    empty cells. ``cameras[subject][camera_id]`` gives the calibration written into ``<w0>``.
    """
    slots = [f"S{i}" for i in range(1, NUM_SUBJECT_SLOTS + 1)]
    by_key = {
        (e.subject, METADATA_ACTION_NAMES.index(_metadata_action(e.action)), e.subaction): e for e in entries
    }
    root = ET.Element("a")
    mapping, frames = ET.SubElement(root, "mapping"), ET.SubElement(root, "frames")
    _row(mapping, ["Action", "subaction", *slots])
    frame_rows = [[""] for _ in slots]
    for action_index in range(len(METADATA_ACTION_NAMES)):
        for subaction in (1, 2):
            cells = []
            for s, subject in enumerate(slots):
                entry = by_key.get((subject, action_index, subaction))
                if action_index == 0 and subject in cameras:
                    name = "_ALL 1" if subaction == 1 else "_ALL"
                else:
                    name = entry.sequence if entry else ""
                cells.append(name)
                counts = entry and entry.camera_frames
                mocap = entry.mocap_frames_200hz if entry else None
                frame_rows[s].append(f"[{' '.join(str(n) for n in (*counts, mocap or 0))}]" if counts else "")
            _row(mapping, [str(action_index + 1), str(subaction), *cells])
    _row(mapping, ["", "", *[_size_cell(cameras.get(s), camera_ids) for s in slots]])
    for cells in frame_rows:
        _row(frames, cells)
    ET.SubElement(root, "w0").text = "[" + " ".join(f"{v:.15g}" for v in _w0(cameras, camera_ids)) + "]"
    index2id = ET.SubElement(ET.SubElement(root, "dbcameras"), "index2id")
    for camera_id in camera_ids:
        ET.SubElement(index2id, "item").text = camera_id
    names = ET.SubElement(root, "actionnames")
    for action_name in METADATA_ACTION_NAMES:
        ET.SubElement(names, "item").text = action_name
    ET.indent(root, space="   ")
    text = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    return write_text_atomic(path, text)


def _metadata_action(action: str) -> str:
    """Canonical action -> the name metadata.xml's <actionnames> uses."""
    inverse = {canonical: alias for alias, canonical in ACTION_ALIASES.items()}
    return inverse.get(action, action)


def _size_cell(by_camera: Mapping[str, Camera] | None, camera_ids: Sequence[str]) -> str:
    if not by_camera:
        return ""
    return "[" + ";".join(f"{by_camera[c].height_px} {by_camera[c].width_px}" for c in camera_ids) + "]"
