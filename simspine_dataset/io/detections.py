"""SpinePose 2D detections: per-frame OpenPose-style JSON, 37 keypoints in SpineTrack order.

``{"version": 1.0, "people": [{"pose_keypoints_2d": [x, y, score, ...]}]}`` in
``DETECTIONS/<subject>/<sequence>.<camera>/frame_NNNNN.json`` (``h36m.DETECTIONS_LAYOUT``). Reading
returns SIMSPINE order (``skeleton.FROM_SPINETRACK``); a frame without a file or a person, and a
keypoint with score 0, is missing (NaN, confidence 0). With several people, the most confident.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from simspine_dataset import h36m
from simspine_dataset import skeleton as sk
from simspine_dataset.errors import BadArrayError, CorruptFileError
from simspine_dataset.io.atomic import write_text_atomic

MARKER = "simspine_detect.json"  # in a video's folder: what ``simspine detect`` made it with


def frame_path(root: str | Path, subject: str, sequence: str, camera: str, frame: int) -> Path:
    return Path(root) / h36m.DETECTION_FRAME.format(
        subject=subject, sequence=sequence, camera=camera, frame=frame
    )


def frame_file(frame: int) -> str:
    """``frame_00042.json``: a frame's file name inside its video's folder."""
    return Path(h36m.DETECTION_FRAME.format(subject="", sequence="", camera="", frame=frame)).name


def video_folder(root: str | Path, subject: str, sequence: str, camera: str) -> Path:
    return Path(root) / h36m.DETECTION_VIDEO.format(subject=subject, sequence=sequence, camera=camera)


def cameras_without(root: str | Path, subject: str, sequence: str, cameras: list[str]) -> list[str]:
    """The cameras of a sequence whose folder holds no frame file."""
    folders = {c: video_folder(root, subject, sequence, c) for c in cameras}
    return [c for c, folder in folders.items() if next(folder.glob("frame_*.json"), None) is None]


def fingerprint(root: str | Path, subject: str, sequence: str, cameras: list[str]) -> str:
    """Identity of a sequence's detections: per camera, the marker ``simspine detect`` leaves in the
    video's folder (it names the model and the inputs), if any, and every frame file's name, size
    and modification time (a file changed after detect, or by another program, is seen)."""
    import hashlib
    import os

    digest = hashlib.sha256()
    for camera in cameras:
        folder = video_folder(root, subject, sequence, camera)
        if (folder / MARKER).is_file():
            digest.update((folder / MARKER).read_bytes())
        if folder.is_dir():
            with os.scandir(folder) as entries:
                frames = [e for e in entries if e.name.startswith("frame_")]
                stats = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in frames)
            digest.update(repr(stats).encode())
    return digest.hexdigest()[:10]


def makers(root: str | Path, videos: list[tuple[str, str, str]]) -> list[dict]:
    """Who made the detections of ``videos`` (subject, sequence, camera) that have any: one entry
    per model and precision found in the videos' markers, with the number of videos and, at int8,
    the agreement with float32 its markers record; videos without a marker (another program's
    detections) under model None. Most videos first."""
    found: dict[str, dict] = {}
    for subject, sequence, camera in videos:
        folder = video_folder(root, subject, sequence, camera)
        try:
            marker = json.loads((folder / MARKER).read_text())
            key = marker["key"]
            entry = {"model": key["model"], "precision": key.get("precision", "fp32")}
            if entry["precision"] == "int8":
                entry["agreement"] = marker.get("precision", {}).get("agreement")
        except (OSError, json.JSONDecodeError, KeyError, TypeError):
            if next(folder.glob("frame_*.json"), None) is None:
                continue  # no detections of this video at all
            entry = {"model": None, "precision": None}
        slot = found.setdefault(json.dumps(entry, sort_keys=True), {**entry, "videos": 0})
        slot["videos"] += 1
    return sorted(found.values(), key=lambda e: -e["videos"])


def frame_json(keypoints_px: np.ndarray | None, scores: np.ndarray | None) -> str:
    """One frame's file text. keypoints (37, 2) and scores (37,) in SIMSPINE order; pixels to 1e-3,
    scores to 1e-6 (a positive score stays positive); NaN or score <= 0 -> (0, 0, 0) (missing);
    ``None``: nobody in the frame (``"people": []``)."""
    if keypoints_px is None or scores is None:
        return json.dumps({"version": 1.0, "people": []})
    kp = np.asarray(keypoints_px, dtype=float)[list(sk.FROM_SPINETRACK)]
    sc = np.asarray(scores, dtype=float)[list(sk.FROM_SPINETRACK)]
    missing = ~np.isfinite(kp).all(axis=1) | ~(sc > 0)
    kp, sc = (
        np.where(missing[:, None], 0.0, kp.round(3)),
        np.where(missing, 0.0, np.maximum(sc.round(6), 1e-6)),
    )
    values = [v for (x, y), s in zip(kp.tolist(), sc.tolist(), strict=True) for v in (x, y, s)]
    return json.dumps({"version": 1.0, "people": [{"pose_keypoints_2d": values}]})


def write_frame(path: str | Path, keypoints_px: np.ndarray, scores: np.ndarray) -> Path:
    """Write one frame atomically (``frame_json``)."""
    return write_text_atomic(path, frame_json(keypoints_px, scores))


def _read_frame(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        people = json.loads(path.read_text())["people"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CorruptFileError(path, f"not SpinePose/OpenPose JSON ({e})") from e
    if not people:
        return np.full((sk.NUM_KEYPOINTS, 2), np.nan), np.zeros(sk.NUM_KEYPOINTS)
    arrays = [np.asarray(p.get("pose_keypoints_2d", []), dtype=float) for p in people]
    for a in arrays:
        if a.size != 3 * sk.NUM_KEYPOINTS:
            raise BadArrayError(
                path, f"pose_keypoints_2d holds {a.size} values, expected {3 * sk.NUM_KEYPOINTS}"
            )
    best = max(arrays, key=lambda a: a[2::3].sum()).reshape(-1, 3)[list(sk.TO_SPINETRACK)]
    xy, score = best[:, :2].copy(), best[:, 2].copy()
    xy[score <= 0] = np.nan
    return xy, np.where(score > 0, score, 0.0)


def read_sequence(
    root: str | Path, subject: str, sequence: str, camera: str, n_frames: int
) -> tuple[np.ndarray, np.ndarray]:
    """Detections of frames 0..n_frames-1 -> keypoints (T, 37, 2) px and scores (T, 37)."""
    xy = np.full((n_frames, sk.NUM_KEYPOINTS, 2), np.nan)
    scores = np.zeros((n_frames, sk.NUM_KEYPOINTS))
    for t in range(n_frames):
        path = frame_path(root, subject, sequence, camera, t)
        if path.is_file():
            xy[t], scores[t] = _read_frame(path)
    return xy, scores
