"""Stage 1, capture: find the sequences of a Human3.6M-layout capture and load their mocap.

``discover(root)`` walks every subject, checks every file a sequence needs (calibration, mocap
CDFs, videos) and returns a ``Capture``: the usable sequences as typed records plus every problem
found, all at once. A sequence's labels cover every mocap frame; a video longer than the mocap is
used up to the mocap's length, and a camera whose video is shorter than the mocap has rows only for
the frames its video has (``SequenceRecord.frames_of``): the other cameras keep every frame. Such a
camera is a problem that does not leave the sequence out (``Capture.short_videos``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simspine_dataset import h36m
from simspine_dataset.errors import (
    BadArrayError,
    CaptureError,
    CaptureProblems,
    CorruptVideoError,
    MissingFileError,
    ShortVideoError,
)
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.io import cdf
from simspine_dataset.io.h36m_metadata import H36MMetadata, SequenceEntry, read_metadata
from simspine_dataset.io.video import probe_video

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SequenceFiles:
    """Paths of one sequence's files; per-camera maps are keyed by camera id."""

    d3_positions: Path
    d3_positions_mono: Mapping[str, Path]
    d2_positions: Mapping[str, Path]
    videos: Mapping[str, Path]


@dataclass(frozen=True)
class SequenceRecord:
    """One usable sequence: who, what, which cameras, how many mocap frames (and per camera, video)."""

    subject: str
    sequence: str  # file prefix as on disk, e.g. "Eating 2"
    action: str  # canonical action
    subaction: int
    cameras: tuple[Camera, ...] = field(repr=False)
    n_frames: int  # the labels' frame count: the mocap's
    n_frames_mocap: int
    n_frames_video: tuple[int, ...]  # per camera; empty when videos were not checked
    files: SequenceFiles = field(repr=False)

    def __post_init__(self) -> None:
        if self.action not in h36m.ACTIONS:
            raise ValueError(f"{self.key}: {self.action!r} is not a canonical action")
        if self.subaction not in (1, 2):
            raise ValueError(f"{self.key}: subaction must be 1 or 2, got {self.subaction}")
        if not 0 < self.n_frames <= self.n_frames_mocap:
            raise ValueError(f"{self.key}: frame count {self.n_frames} is invalid")

    @property
    def key(self) -> str:
        """``"S1/Eating 2"``: unique within a capture, used in logs and work-folder names."""
        return f"{self.subject}/{self.sequence}"

    @property
    def camera_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.cameras)

    def frames_of(self, camera_id: str) -> int:
        """The frames a camera has rows for: all of them, or fewer where its video is shorter."""
        if not self.n_frames_video:
            return self.n_frames
        return min(self.n_frames, self.n_frames_video[self.camera_ids.index(camera_id)])

    @property
    def short_cameras(self) -> dict[str, int]:
        """Cameras whose video is shorter than the mocap -> their frame count."""
        return {c: n for c in self.camera_ids if (n := self.frames_of(c)) < self.n_frames}


@dataclass(frozen=True)
class Capture:
    """A discovered capture: its metadata, usable sequences and every problem found."""

    root: Path
    metadata: H36MMetadata = field(repr=False)
    sequences: tuple[SequenceRecord, ...]
    problems: tuple[CaptureError, ...]
    known: tuple[CaptureError, ...] = ()  # known problems of the official download, built around

    @property
    def short_videos(self) -> list[ShortVideoError]:
        """Videos shorter than their mocap: problems of sequences that are built (their camera's rows
        stop where the video does)."""
        return [
            ShortVideoError(
                s.files.videos[c],
                f"holds {n} frames, the mocap {s.n_frames}: camera {c} of {s.key} has rows for frames "
                f"0-{n - 1} only (the other cameras and the labels keep all {s.n_frames})",
            )
            for s in self.sequences
            for c, n in s.short_cameras.items()
        ]

    def raise_for_problems(self) -> None:
        """Raise ``CaptureProblems`` holding every problem, if there is any."""
        if self.problems:
            raise CaptureProblems(f"{len(self.problems)} problem(s) in {self.root}", list(self.problems))

    @property
    def n_camera_frames(self) -> int:
        return sum(s.frames_of(c) for s in self.sequences for c in s.camera_ids)


@dataclass(frozen=True)
class SequenceMocap:
    """Mocap of one sequence, ``record.n_frames`` frames. Human3.6M units (mm, px)."""

    record: SequenceRecord = field(repr=False)
    joints_world_mm: np.ndarray  # (T, 32, 3)
    joints_camera_mm: np.ndarray | None  # (C, T, 32, 3) D3_Positions_mono, if read
    joints_2d_px: np.ndarray | None  # (C, T, 32, 2) D2_Positions, if read


def sequence_files(root: Path, subject: str, sequence: str, camera_ids: Iterable[str]) -> SequenceFiles:
    """The layout's paths of a sequence (from the templates in ``h36m``)."""
    cams = tuple(camera_ids)

    def per_camera(template: str) -> dict[str, Path]:
        return {c: root / template.format(subject=subject, sequence=sequence, camera=c) for c in cams}

    return SequenceFiles(
        root / h36m.D3_POSITIONS.format(subject=subject, sequence=sequence),
        per_camera(h36m.D3_POSITIONS_MONO),
        per_camera(h36m.D2_POSITIONS),
        per_camera(h36m.VIDEO),
    )


def _subjects_on_disk(root: Path) -> list[str]:
    """The ``S<n>`` folders that hold a subject's capture (``MyPoseFeatures`` or ``Videos``); another
    folder of that name (a build's output written inside the capture) is left out, logged."""
    named = [p for p in root.iterdir() if p.is_dir() and p.name[:1] == "S" and p.name[1:].isdigit()]
    found = [p.name for p in named if (p / "MyPoseFeatures").is_dir() or (p / "Videos").is_dir()]
    for other in sorted(set(p.name for p in named) - set(found)):
        log.warning("%s: no MyPoseFeatures or Videos inside: not a subject, left out", root / other)
    return sorted(found, key=h36m.subject_number)


def _entry_for(
    metadata: H36MMetadata, subject: str, sequence: str, siblings: list[str], path: Path
) -> SequenceEntry:
    """Mapping entry of a sequence; when metadata.xml lacks it, infer from the name (logged)."""
    entry = metadata.entry(subject, sequence)
    if entry is not None:
        return entry
    action = h36m.canonical_action(sequence, path=path)  # raises UnknownActionError
    same = sorted(s for s in siblings if h36m.canonical_action(s, path=path) == action)
    subaction = min(same.index(sequence) + 1, 2)
    log.warning(
        "%s: %s/%s not in metadata.xml's mapping; taken as %s subaction %d from its name",
        path,
        subject,
        sequence,
        action,
        subaction,
    )
    return SequenceEntry(subject, sequence, action, subaction)


def _check_sequence(
    root: Path, metadata: H36MMetadata, entry: SequenceEntry, check_videos: bool, read_mocap: bool
) -> tuple[SequenceRecord, list[CaptureError]]:
    """Build the record of one sequence and the known problems built around; raises the first
    other ``CaptureError`` it meets. ``read_mocap``: the mocap is read whole (a truncated or
    garbled file, NaN frames), not only its header."""
    cameras = tuple(metadata.camera(entry.subject, c) for c in metadata.camera_ids)
    files = sequence_files(root, entry.subject, entry.sequence, metadata.camera_ids)
    n_mocap = cdf.count_pose_frames(files.d3_positions, 3)
    if read_mocap and len(cdf.read_pose(files.d3_positions, 3)) != n_mocap:
        raise BadArrayError(files.d3_positions, "its header and its data disagree on the frame count")
    for cam in metadata.camera_ids:
        for path, dims in ((files.d3_positions_mono[cam], 3), (files.d2_positions[cam], 2)):
            if (n := cdf.count_pose_frames(path, dims)) != n_mocap:
                raise BadArrayError(path, f"holds {n} frames, D3_Positions holds {n_mocap}")
    if check_videos:
        n_video, cameras, known = _probe_videos(root, files, cameras)
        files = sequence_files(root, entry.subject, entry.sequence, [c.id for c in cameras])
    else:
        n_video, known = (), []
    for camera, n in zip(cameras, n_video, strict=False):
        if n < 1:
            raise CorruptVideoError(files.videos[camera.id], "holds no frames")
    if n_video and (extra := max(n_video) - n_mocap) > 0:
        log.info(
            "%s/%s: video has up to %d frame(s) more than mocap (%s vs %d); using %d frames",
            entry.subject,
            entry.sequence,
            extra,
            "/".join(map(str, n_video)),
            n_mocap,
            n_mocap,
        )
    record = SequenceRecord(
        entry.subject,
        entry.sequence,
        entry.action,
        entry.subaction,
        cameras,
        n_mocap,
        n_mocap,
        n_video,
        files,
    )
    return record, known


def _probe_videos(
    root: Path, files: SequenceFiles, cameras: tuple[Camera, ...]
) -> tuple[tuple[int, ...], tuple[Camera, ...], list[CaptureError]]:
    """Each camera's video frame count; a camera whose video is a known problem of the official
    download (``h36m.KNOWN_BROKEN_VIDEOS``) is left out, its problem returned; any other problem
    raises."""
    counts, kept, known = [], [], []
    for camera in cameras:
        path = files.videos[camera.id]
        try:
            counts.append(probe_video(path).n_frames)
            kept.append(camera)
        except (CorruptVideoError, MissingFileError) as e:
            why = h36m.KNOWN_BROKEN_VIDEOS.get(path.relative_to(root).as_posix())
            if why is None:
                raise
            built = f"{e.problem} ({why}; the sequence is built without camera {camera.id})"
            known.append(type(e)(path, built))
    if not kept:
        raise CorruptVideoError(files.videos[cameras[0].id], "no camera of the sequence has a usable video")
    return tuple(counts), tuple(kept), known


def discover(
    root: str | Path,
    subjects: Iterable[str] | None = None,
    *,
    check_videos: bool = True,
    read_mocap: bool = False,
) -> Capture:
    """Find every sequence under ``root`` and check its files; never stops at the first problem.

    ``subjects`` limits the walk (default: every ``S<n>`` folder). A sequence with any problem is
    left out of ``sequences`` and its error is in ``problems``. ``_ALL`` sequences are skipped.
    ``check_videos=False`` skips the mp4 files (a mocap-only build); frame counts are then mocap's.
    ``read_mocap=True`` reads every mocap file whole (``simspine inspect``), not only its header.
    """
    root = Path(root)
    metadata = read_metadata(root / h36m.METADATA_FILE)
    wanted = _subjects_on_disk(root) if subjects is None else list(subjects)
    records, problems, known = [], [], []
    for subject in wanted:
        folder = (root / h36m.D3_POSITIONS.format(subject=subject, sequence="x")).parent
        if not folder.is_dir():
            problems.append(MissingFileError(folder, f"no D3_Positions folder for subject {subject}"))
            continue
        names = sorted(p.stem for p in folder.glob("*.cdf"))
        skipped = [n for n in names if h36m.is_skipped_sequence(n)]
        if skipped:
            log.info("%s: skipping %d pseudo-sequence(s): %s", subject, len(skipped), ", ".join(skipped))
        names = [n for n in names if n not in skipped]
        for name in names:
            try:
                entry = _entry_for(metadata, subject, name, names, folder / f"{name}.cdf")
                record, built_around = _check_sequence(root, metadata, entry, check_videos, read_mocap)
                records.append(record)
                known += built_around
            except CaptureError as e:
                log.error("%s", e)
                problems.append(e)
    for problem in known:
        log.warning("known problem: %s", problem)
    return Capture(root, metadata, tuple(records), tuple(problems), tuple(known))


def load_mocap(record: SequenceRecord, *, camera_arrays: bool = False) -> SequenceMocap:
    """Read a sequence's D3_Positions (and, if asked, D3_Positions_mono and D2_Positions).

    Arrays are truncated to ``record.n_frames``. Raises ``CaptureError`` subclasses naming the file.
    """
    n = record.n_frames
    world = cdf.read_pose(record.files.d3_positions, 3)[:n]
    if not camera_arrays:
        return SequenceMocap(record, world, None, None)
    mono = np.stack([cdf.read_pose(record.files.d3_positions_mono[c], 3)[:n] for c in record.camera_ids])
    pixels = np.stack([cdf.read_pose(record.files.d2_positions[c], 2)[:n] for c in record.camera_ids])
    return SequenceMocap(record, world, mono, pixels)
