"""``simspine export OUT DIR --format opensim|h5``: a build in the official release's files.

``opensim`` writes the release's layout (``reference/simspine_release.md``), readable by OpenSim's
GUI, its tools and ``simspine build --annotations``::

    DIR/models/<S>.osim                                   the build's scaled model
    DIR/cameras/Calib_<S>.toml                            Pose2Sim calibration (OpenCV's lens)
    DIR/positions/<S>/<S>_<sequence>.trc                  the 37 keypoints, OpenSim frame, m, 50 Hz
    DIR/kinematics/<S>/<S>_<sequence>/<S>_<sequence>.mot  the model's coordinates, deg / m

``h5`` writes ``DIR/simspine.h5`` in their serializer's layout. Trial names are Human3.6M's raw
sequence names with the space (``S1_Directions 1``), from the build report. Markers that hold no
value in the build (a public release's hidden keypoints) are left out of the files. The
Human3.6M lens becomes OpenCV's 4-term model by a least-squares fit
(``geometry.camera.opencv_distortion``: at most 0.45 px from the Human3.6M model on its cameras).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simspine_dataset import h36m
from simspine_dataset import skeleton as sk
from simspine_dataset.errors import SimspineError
from simspine_dataset.geometry.camera import Camera, to_opencv
from simspine_dataset.geometry.transforms import (
    axes_is_translation,
    coordinates_from_published,
    world_mm_to_opensim_m,
)
from simspine_dataset.io.atomic import atomic_path
from simspine_dataset.io.report import read_report
from simspine_dataset.schema import BUILT_STATUSES

log = logging.getLogger(__name__)

FORMATS = ("opensim", "h5")
MODEL = "models/{subject}.osim"
CALIBRATION = "cameras/Calib_{subject}.toml"
TRC = "positions/{subject}/{subject}_{sequence}.trc"
MOT = "kinematics/{subject}/{subject}_{sequence}/{subject}_{sequence}.mot"
H5 = "simspine.h5"
_COLUMNS = [
    "subject",
    "action",
    "subaction",
    "camera",
    "frame",
    "keypoints_3d_world_mm",
    "kinematics",
    "camera_intrinsics",
    "camera_rotation",
    "camera_translation_mm",
    "image_size",
]


@dataclass(frozen=True)
class ExportedSequence:
    """One sequence of a build: its raw name, keypoints (T, 37, 3) world mm, kinematics (T, Q) as
    published (deg, mm)."""

    subject: str
    sequence: str
    keypoints_world_mm: np.ndarray
    kinematics: np.ndarray


def _sequence_names(report: dict) -> dict[tuple[str, str, int], str]:
    """(subject, action, subaction) -> the raw sequence name, from the build report."""
    return {
        (e["subject"], e["action"], int(e["subaction"])): e["sequence"]
        for e in report["sequences"]
        if e.get("status") in BUILT_STATUSES
    }


def _tables(out: Path) -> Iterator:
    import pyarrow.parquet as pq

    for path in sorted(out.glob("data/default/*/*.parquet")):
        yield pq.read_table(path, columns=_COLUMNS)


def read_build(out: Path, n_kinematics: int) -> tuple[list[ExportedSequence], dict[str, list[Camera]]]:
    """A build's sequences (each mocap frame once: one camera's rows) and each subject's cameras."""
    names = _sequence_names(read_report(out))
    parts: dict[tuple, list] = {}
    chosen: dict[tuple, str] = {}  # the camera whose rows stand for a sequence's frames
    cameras: dict[str, dict[str, Camera]] = {}
    from datasets import Features

    from simspine_dataset.loader import column_to_numpy

    for table in _tables(out):
        features = Features.from_arrow_schema(table.schema)
        column = {c: column_to_numpy(table.column(c), features[c]) for c in _COLUMNS[:7]}
        world = column["keypoints_3d_world_mm"]
        kinematics = column["kinematics"].astype(np.float64).reshape(len(table), n_kinematics)
        keys = np.char.add(
            np.char.add(column["subject"].astype(str), "|" + column["action"].astype(str)),
            "|" + column["subaction"].astype(str),
        )
        for joined in dict.fromkeys(keys):
            rows = np.flatnonzero(keys == joined)
            subject, action, subaction = joined.split("|")
            key = (subject, action, int(subaction))
            camera_of = column["camera"][rows]
            for camera in dict.fromkeys(camera_of):
                if camera not in cameras.setdefault(subject, {}):
                    row = table.slice(int(rows[camera_of == camera][0]), 1).to_pylist()[0]
                    cameras[subject][camera] = _camera(row)
            mine = rows[camera_of == chosen.setdefault(key, camera_of[0])]
            parts.setdefault(key, []).append((column["frame"][mine], world[mine], kinematics[mine]))
    sequences = []
    for key, chunks in parts.items():
        if key not in names:
            raise SimspineError(
                f"{out}: rows of {' '.join(map(str, key))} have no entry in build_report.json"
            )
        frames = np.concatenate([c[0] for c in chunks])
        keypoints = np.full((frames.max() + 1, sk.NUM_KEYPOINTS, 3), np.nan)
        values = np.full((frames.max() + 1, n_kinematics), np.nan)
        keypoints[frames] = np.concatenate([c[1] for c in chunks])
        values[frames] = np.concatenate([c[2] for c in chunks])
        sequences.append(ExportedSequence(key[0], names[key], keypoints, values))
    return sequences, {s: list(c.values()) for s, c in cameras.items()}


def _camera(row: dict) -> Camera:
    return Camera(
        row["camera"],
        np.array(row["camera_intrinsics"], np.float64),
        np.array(row["camera_rotation"], np.float64),
        np.array(row["camera_translation_mm"], np.float64),
        int(row["image_size"][0]),
        int(row["image_size"][1]),
    )


def export(
    out: str | Path, dest: str | Path, fmt: str = "opensim", progress: Callable[[str], None] | None = None
) -> dict:
    """Write the build ``out`` as release files under ``dest``; returns counts of what was written."""
    out, dest = Path(out), Path(dest)
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not (out / "build_report.json").is_file():
        raise SimspineError(f"{out}: not a finished build (no build_report.json)")
    axes = json.loads((out / "meta" / "kinematic_axes.json").read_text())
    sequences, cameras = read_build(out, len(axes))
    kept = [
        i
        for i in range(sk.NUM_KEYPOINTS)
        if any(np.isfinite(s.keypoints_world_mm[:, i]).any() for s in sequences)
    ]
    if len(kept) < sk.NUM_KEYPOINTS:
        log.info(
            "%s: %d keypoints hold no value (left out): %s",
            out,
            sk.NUM_KEYPOINTS - len(kept),
            ", ".join(sk.NAMES[i] for i in range(sk.NUM_KEYPOINTS) if i not in kept),
        )
    models = _copy_models(out, dest, sorted(cameras))
    if fmt == "h5":
        _write_h5(dest / H5, sequences, cameras, axes, kept, models)
    else:
        _write_opensim(dest, sequences, cameras, axes, kept, progress)
    return {"sequences": len(sequences), "subjects": len(cameras), "markers": len(kept), "format": fmt}


def _coordinates(sequence: ExportedSequence, axes: list[dict]) -> np.ndarray:
    """The published kinematics (deg, mm) -> OpenSim table units (deg, m)."""
    return coordinates_from_published(sequence.kinematics, axes_is_translation(axes))


def _write_opensim(
    dest: Path,
    sequences: list[ExportedSequence],
    cameras: dict[str, list[Camera]],
    axes: list[dict],
    kept: list[int],
    progress: Callable[[str], None] | None,
) -> None:
    from simspine_dataset.biomech.opensim_files import write_mot, write_trc
    from simspine_dataset.io.pose2sim_calib import write_calibration

    for subject, views in cameras.items():
        write_calibration(dest / CALIBRATION.format(subject=subject), [to_opencv(c) for c in views])
    names = [sk.NAMES[i] for i in kept]
    for s in sequences:
        fields = {"subject": s.subject, "sequence": s.sequence}
        points = world_mm_to_opensim_m(s.keypoints_world_mm[:, kept])
        write_trc(dest / TRC.format(**fields), names, points, h36m.FPS_HZ)
        if axes:
            write_mot(
                dest / MOT.format(**fields), [a["name"] for a in axes], _coordinates(s, axes), h36m.FPS_HZ
            )
        if progress:
            progress(f"{s.subject} {s.sequence}")


def _write_h5(
    path: Path,
    sequences: list[ExportedSequence],
    cameras: dict[str, list[Camera]],
    axes: list[dict],
    kept: list[int],
    models: dict[str, str],
) -> None:
    from simspine_dataset.io.release import Trial, write_h5

    trials = [
        Trial(
            s.subject,
            s.sequence,
            tuple(sk.NAMES[i] for i in kept),
            world_mm_to_opensim_m(s.keypoints_world_mm[:, kept]),
            "opensim",
            tuple(a["name"] for a in axes),
            _coordinates(s, axes),
        )
        for s in sequences
    ]
    calibrations = {}
    for subject, views in cameras.items():
        opencv = [to_opencv(c) for c in views]
        calibrations[subject] = {
            "names": np.array([c.name.encode() for c in opencv]),
            "K": np.stack([c.matrix for c in opencv]),
            "dist": np.stack([c.distortions for c in opencv]),
            "R": np.stack([c.rotation for c in views]),
            "t": np.stack([c.translation_m for c in opencv]),
            "size": np.array([c.size_px for c in opencv]),
        }
    write_h5(path, trials, calibrations, models)


def _copy_models(out: Path, dest: Path, subjects: list[str]) -> dict[str, str]:
    """The build's scaled models beside the labels; returns subject -> relative path."""
    models = {}
    for subject in subjects:
        source = out / MODEL.format(subject=subject)
        if source.is_file():
            with atomic_path(dest / MODEL.format(subject=subject)) as tmp:
                shutil.copyfile(source, tmp)
            models[subject] = MODEL.format(subject=subject)
    return models
