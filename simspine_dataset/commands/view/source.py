"""What ``simspine view`` shows, read as the dataset's users read it: one sequence of a build (a
folder or a Hub repo, through ``datasets.load_dataset`` streaming with Parquet filters, so only
that sequence's row groups are read), or one sequence of a raw capture.

``SequenceView``: per mocap frame the 37 keypoints (world mm), their uncertainty, the kinematics
and the quality columns; per camera its calibration, the rows' 2D keypoints and visibility, and the
frames config's images (JPEG bytes, with their crop boxes) where the build has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simspine_dataset.errors import SimspineError
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.record import read_json, read_record

SERIES_COLUMNS = ("ik_marker_rmse_mm", "ik_residual_mocap_mm", "ik_residual_detections_mm", "label_flags")
FRAME_COLUMNS = ("frame", "keypoints_3d_world_mm", "keypoints_uncertainty_mm", "kinematics", *SERIES_COLUMNS)
CAMERA_COLUMNS = (
    "camera",
    "keypoints_2d_px",
    "keypoints_visible",
    "camera_intrinsics",
    "camera_rotation",
    "camera_translation_mm",
    "image_size",
)


@dataclass(frozen=True)
class CameraView:
    """One camera of a sequence: its calibration, its rows' 2D keypoints (N, 37, 2) px (distorted,
    Human3.6M lens) and visibility (N, 37) at ``frames`` (N,), and images (JPEG bytes) at
    ``image_frames`` (M,), with their crop boxes (M, 4) in the full image (None: full frames)."""

    camera: Camera
    frames: np.ndarray
    keypoints_px: np.ndarray
    visible: np.ndarray
    image_frames: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    images: tuple[bytes, ...] = ()
    crops_xywh_px: np.ndarray | None = None


@dataclass(frozen=True)
class SequenceView:
    """One sequence of a build, each mocap frame once: ``frames`` (T,), ``keypoints_world_mm``
    (T, 37, 3), ``uncertainty_mm`` (T, 37), ``kinematics`` (T, Q) named by ``axes``, the per-frame
    quality columns (``SERIES_COLUMNS``), and its cameras."""

    label: str
    frames: np.ndarray
    keypoints_world_mm: np.ndarray
    uncertainty_mm: np.ndarray
    kinematics: np.ndarray
    axes: tuple[dict, ...]
    series: dict[str, np.ndarray]
    cameras: dict[str, CameraView]


def pick_sequence(location: str, subject: str | None, sequence: str | None) -> tuple[str, str, int, str]:
    """(subject, canonical action, subaction, raw sequence name) of the sequence to show: by its
    raw name (``Walking 1``, as in the build report) or ``<action> <subaction>``; the first built
    sequence of the subject (of the build) when not given."""
    built = read_record(location).built
    mine = [e for e in built if subject in (None, e["subject"])]
    if not mine:
        raise SimspineError(f"{location}: no built sequence of subject {subject}")
    if sequence is None:
        entry = mine[0]
    else:
        wanted = [e for e in mine if sequence in (e["sequence"], f"{e['action']} {e['subaction']}")]
        if not wanted:
            names = ", ".join(sorted({e["sequence"] for e in mine}))
            raise SimspineError(
                f"{location}: no built sequence {sequence!r} of {mine[0]['subject']} ({names})"
            )
        entry = wanted[0]
    return entry["subject"], entry["action"], int(entry["subaction"]), entry["sequence"]


def _stream(location: str, config: str, filters: list, columns: list[str], decode_images: bool = True):
    """The rows of every split that match ``filters`` (streamed: only their row groups are read),
    as numpy batches."""
    from datasets import Image, get_dataset_split_names, load_dataset

    for split in get_dataset_split_names(location, config):
        ds = load_dataset(location, config, split=split, streaming=True, filters=filters).select_columns(
            columns
        )
        if not decode_images and "image" in columns:
            ds = ds.cast_column("image", Image(decode=False))
        yield from ds.with_format("numpy").iter(batch_size=10_000)


def _concat(batches: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]} if batches else {}


def read_build(
    location: str, subject: str | None = None, sequence: str | None = None, max_frames: int | None = None
) -> SequenceView:
    """One sequence of a build folder or Hub repo (``pick_sequence``), its first ``max_frames``."""
    from datasets import get_dataset_config_names

    subject, action, subaction, name = pick_sequence(location, subject, sequence)
    filters = [("subject", "==", subject), ("action", "==", action), ("subaction", "==", subaction)]
    if max_frames:
        filters.append(("frame", "<", int(max_frames)))
    rows = _concat(list(_stream(location, "default", filters, [*FRAME_COLUMNS, *CAMERA_COLUMNS])))
    if not rows:
        raise SimspineError(f"{location}: no rows of {subject} {name}")
    order = np.lexsort((rows["camera"].astype(str), rows["frame"]))
    rows = {k: v[order] for k, v in rows.items()}
    frames, first = np.unique(rows["frame"], return_index=True)
    images = {}
    if "frames" in get_dataset_config_names(location):
        columns = ["camera", "frame", "image", "crop_xywh_px"]
        images = _concat(list(_stream(location, "frames", filters, columns, decode_images=False)))
    axes = tuple(read_json(location, "meta/kinematic_axes.json"))
    return SequenceView(
        f"{subject} {name}",
        frames,
        rows["keypoints_3d_world_mm"][first].astype(float),
        rows["keypoints_uncertainty_mm"][first].astype(float),
        np.asarray(rows["kinematics"][first], float).reshape(len(first), -1),
        axes,
        {c: rows[c][first].astype(float) for c in SERIES_COLUMNS},
        {str(c): _camera_view(rows, str(c), images) for c in np.unique(rows["camera"].astype(str))},
    )


def _camera_view(rows: dict[str, np.ndarray], camera: str, images: dict[str, np.ndarray]) -> CameraView:
    mine = np.flatnonzero(rows["camera"].astype(str) == camera)
    r = mine[0]
    calibration = Camera(
        camera,
        rows["camera_intrinsics"][r].astype(float),
        rows["camera_rotation"][r].astype(float),
        rows["camera_translation_mm"][r].astype(float),
        *(int(v) for v in rows["image_size"][r]),
    )
    view = CameraView(
        calibration,
        rows["frame"][mine],
        rows["keypoints_2d_px"][mine].astype(float),
        rows["keypoints_visible"][mine].astype(bool),
    )
    if not images:
        return view
    shots = np.flatnonzero(images["camera"].astype(str) == camera)
    shots = shots[np.argsort(images["frame"][shots], kind="stable")]
    return CameraView(
        view.camera,
        view.frames,
        view.keypoints_px,
        view.visible,
        images["frame"][shots],
        tuple(images["image"][i]["bytes"] for i in shots),
        images["crop_xywh_px"][shots].astype(float),
    )


@dataclass(frozen=True)
class CaptureView:
    """One sequence of a raw capture: its mocap joints (T, 32, 3) world mm, its cameras with their
    decoded frames (strided) and detections (T, 37, 2) px with scores (T, 37) where there are any,
    and, for a synthetic capture, the ground-truth keypoints (T, 37, 3)."""

    label: str
    frames: np.ndarray
    joints_world_mm: np.ndarray
    cameras: dict[str, Camera]
    images: dict[str, tuple[np.ndarray, tuple[bytes, ...]]]  # camera -> (frames, JPEGs)
    detections: dict[str, tuple[np.ndarray, np.ndarray]]  # camera -> (keypoints px, scores)
    truth_world_mm: np.ndarray | None


def read_capture(
    raw: str | Path,
    subject: str | None = None,
    sequence: str | None = None,
    stride: int = 5,
    max_frames: int | None = None,
    detections: str | Path | None = None,
) -> CaptureView:
    """One sequence of a raw capture (the first of the subject, or of the capture, when not given);
    videos decoded every ``stride``-th frame (PyAV); detections from ``detections`` (default: the
    capture's ``detections/`` folder, as ``capture-demo`` writes it)."""
    from simspine_dataset.io import detections as det_io
    from simspine_dataset.stages.capture import discover, load_mocap
    from simspine_dataset.synthetic.generator import DETECTIONS_DIR, GROUND_TRUTH

    raw = Path(raw)
    capture = discover(raw, [subject] if subject else None)
    records = [r for r in capture.sequences if sequence in (None, r.sequence)]
    if not records:
        raise SimspineError(f"{raw}: no usable sequence {sequence or ''} of {subject or 'any subject'}")
    record = records[0]
    T = min(record.n_frames, max_frames or record.n_frames)
    images = {
        c.id: _decoded(record.files.videos[c.id], range(0, min(T, record.frames_of(c.id)), stride))
        for c in record.cameras
    }
    root = Path(detections) if detections else raw / DETECTIONS_DIR
    found = {}
    if root.is_dir():
        for c in record.camera_ids:
            xy, scores = det_io.read_sequence(root, record.subject, record.sequence, c, T)
            if (scores > 0).any():
                found[c] = (xy, scores)
    truth_path = raw / GROUND_TRUTH.format(subject=record.subject, sequence=record.sequence)
    truth = np.load(truth_path)["keypoints_world_mm"][:T].astype(float) if truth_path.is_file() else None
    return CaptureView(
        f"{record.subject} {record.sequence}",
        np.arange(T),
        load_mocap(record).joints_world_mm[:T],
        {c.id: c for c in record.cameras},
        images,
        found,
        truth,
    )


def _decoded(video: Path, frames: range) -> tuple[np.ndarray, tuple[bytes, ...]]:
    """Frames of a video, decoded (PyAV) and encoded as JPEG (quality 85) for the recording."""
    import io

    from PIL import Image

    from simspine_dataset.io.video import read_frames

    got, jpegs = [], []
    for index, rgb in read_frames(video, frames):
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="JPEG", quality=85)
        got.append(index)
        jpegs.append(buffer.getvalue())
    return np.array(got, int), tuple(jpegs)
