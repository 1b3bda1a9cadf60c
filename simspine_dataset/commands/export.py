"""``simspine export OUT DIR --format opensim|h5``: a build in the official release's files.

``opensim`` writes the release's layout (``reference/simspine_release.md``), readable by OpenSim's
GUI, its tools and ``simspine build --annotations``::

    DIR/models/<S>.osim                                   the build's scaled model
    DIR/cameras/Calib_<S>.toml                            Pose2Sim calibration (OpenCV's lens)
    DIR/positions/<S>/<S>_<sequence>.trc                  the 37 keypoints, OpenSim frame, m, 50 Hz
    DIR/kinematics/<S>/<S>_<sequence>/<S>_<sequence>.mot  the model's coordinates, deg / m

``h5`` writes ``DIR/simspine.h5`` in their serializer's layout. Trial names are Human3.6M's raw
sequence names with the space (``S1_Directions 1``), from the build report. Markers that hold no
value in the build (a public release's hidden keypoints) are left out of the files; a public
build exports at most the official public release's 15 spine-centric markers. The Human3.6M lens
becomes OpenCV's 4-term model by a least-squares fit (``geometry.camera.opencv_distortion``: at
most 0.45 px from the Human3.6M model on its cameras); cameras are named by their bare id, which
the official preprocessing copies into image names.

What OpenSim reads is what we meant:

- a MOT holds every coordinate of its ``.osim``, in its order and units, as OpenSim's IK tool
  writes them (``biomech.osim.motion_as_opensim_writes``: coupled coordinates in radians);
- the ``.osim``'s markers named like the keypoints that are Human3.6M joints sit where the model
  observes those joints (``H36M_NN``), so a name-matched OpenSim IK on the TRC fits the mocap
  as the build did;
- TRCs are in SIMSPINE's / Pose2Sim's layout (``opensim_files.write_trc``).

``DIR`` is replaced as one unit: the export is written into a staging folder beside it and swapped
in when complete, with ``export.json`` saying what it holds. A ``DIR`` that holds files no export
wrote is refused, never overwritten.
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
from simspine_dataset.biomech.model_table import h36m_marker_name
from simspine_dataset.biomech.osim import load_osim, motion_as_opensim_writes, place_markers_at, write_osim
from simspine_dataset.config import BuildConfig
from simspine_dataset.errors import MetadataError, MissingFileError, SimspineError
from simspine_dataset.geometry.camera import Camera, to_opencv
from simspine_dataset.geometry.transforms import (
    axes_is_translation,
    coordinates_from_published,
    world_mm_to_opensim_m,
)
from simspine_dataset.io.atomic import staging_folder, swap_in, write_text_atomic
from simspine_dataset.record import BuildRecord, read_record

log = logging.getLogger(__name__)

FORMATS = ("opensim", "h5")
MODEL = "models/{subject}.osim"
CALIBRATION = "cameras/Calib_{subject}.toml"
TRC = "positions/{subject}/{subject}_{sequence}.trc"
MOT = "kinematics/{subject}/{subject}_{sequence}/{subject}_{sequence}.mot"
H5 = "simspine.h5"
MANIFEST = "export.json"  # what an export holds: also how a later export knows the folder is one
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


def _sequence_names(report: BuildRecord) -> dict[tuple[str, str, int], str]:
    """(subject, action, subaction) -> the raw sequence name, from the build's record."""
    return {(e["subject"], e["action"], int(e["subaction"])): e["sequence"] for e in report.built}


def _tables(out: Path) -> Iterator:
    import pyarrow.parquet as pq

    for path in sorted(out.glob("data/default/*/*.parquet")):
        yield pq.read_table(path, columns=_COLUMNS)


def read_build(out: Path, n_kinematics: int) -> tuple[list[ExportedSequence], dict[str, list[Camera]]]:
    """A build's sequences (each mocap frame once: one camera's rows) and each subject's cameras."""
    names = _sequence_names(read_record(out))
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
    """Write the build ``out`` as release files under ``dest`` (replacing an earlier export there
    as one unit); returns counts of what was written."""
    out, dest = Path(out), Path(dest)
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not (out / "build_report.json").is_file():
        raise SimspineError(f"{out}: not a finished build (no build_report.json)")
    _check_destination(dest)
    report = read_record(out)
    axes = json.loads((out / "meta" / "kinematic_axes.json").read_text())
    sequences, cameras = read_build(out, len(axes))
    kept = _exported_markers(out, sequences, report.config.release == "public")
    tmp = staging_folder(dest)
    try:
        models = _export_models(out, tmp, sorted(cameras), report.config)
        if fmt == "h5":
            _write_h5(tmp / H5, sequences, cameras, axes, kept, models)
        else:
            _write_opensim(tmp, sequences, cameras, axes, kept, models, progress)
        counts = {"sequences": len(sequences), "subjects": len(cameras), "markers": len(kept), "format": fmt}
        manifest = {**counts, "build": str(out.resolve()), "config_hash": report.config_hash}
        write_text_atomic(tmp / MANIFEST, json.dumps(manifest, indent=1))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    swap_in(tmp, dest)
    return counts


def _check_destination(dest: Path) -> None:
    """An export replaces an earlier export, never a folder of other files."""
    if dest.exists() and not dest.is_dir():
        raise SimspineError(f"{dest}: not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MANIFEST).is_file():
        raise SimspineError(
            f"{dest}: holds files that no simspine export wrote (no {MANIFEST}); export into a new "
            "or empty folder (nothing was changed)"
        )


def _exported_markers(out: Path, sequences: list[ExportedSequence], public: bool) -> list[int]:
    """The keypoints that hold a value; of a public build, those of the official public release's
    15 spine-centric markers."""
    allowed = sk.SPINE_SUBSET if public else range(sk.NUM_KEYPOINTS)  # in the official order
    kept = [i for i in allowed if any(np.isfinite(s.keypoints_world_mm[:, i]).any() for s in sequences)]
    if len(kept) < sk.NUM_KEYPOINTS:
        log.info(
            "%s: %d keypoints left out (%s): %s",
            out,
            sk.NUM_KEYPOINTS - len(kept),
            "not in the public release's 15 or no value" if public else "no value",
            ", ".join(sk.NAMES[i] for i in range(sk.NUM_KEYPOINTS) if i not in kept),
        )
    return kept


def _coordinates(sequence: ExportedSequence, axes: list[dict]) -> np.ndarray:
    """The published kinematics (deg, mm) -> OpenSim table units (deg, m)."""
    return coordinates_from_published(sequence.kinematics, axes_is_translation(axes))


def _motion(
    sequence: ExportedSequence,
    axes: list[dict],
    model: object | None,  # an opensim.Model
) -> tuple[list, np.ndarray]:
    """A sequence's MOT columns: every coordinate of its model as OpenSim writes them, or without a
    model the build's own coordinates (degrees, metres)."""
    names, values = [a["name"] for a in axes], _coordinates(sequence, axes)
    if model is None:
        log.info("%s: no model: its MOTs hold the build's coordinates only", sequence.subject)
        return names, values
    return motion_as_opensim_writes(model, names, values, axes_is_translation(axes))


def _write_opensim(
    dest: Path,
    sequences: list[ExportedSequence],
    cameras: dict[str, list[Camera]],
    axes: list[dict],
    kept: list[int],
    models: dict[str, str],
    progress: Callable[[str], None] | None,
) -> None:
    from simspine_dataset.biomech.opensim_files import write_mot, write_trc
    from simspine_dataset.io.pose2sim_calib import write_calibration

    loaded = {s: load_osim(dest / path) for s, path in models.items()}
    for model in loaded.values():
        model.initSystem()
    for subject, views in cameras.items():
        write_calibration(dest / CALIBRATION.format(subject=subject), [to_opencv(c) for c in views])
    names = [sk.NAMES[i] for i in kept]
    for s in sequences:
        fields = {"subject": s.subject, "sequence": s.sequence}
        points = world_mm_to_opensim_m(s.keypoints_world_mm[:, kept])
        write_trc(dest / TRC.format(**fields), names, points, h36m.FPS_HZ)
        if axes:
            write_mot(dest / MOT.format(**fields), *_motion(s, axes, loaded.get(s.subject)), h36m.FPS_HZ)
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


def _export_models(out: Path, dest: Path, subjects: list[str], config: BuildConfig) -> dict[str, str]:
    """The build's scaled models beside the labels, their keypoint-named markers moved where the
    TRC's values come from (``_keypoint_sources``); returns subject -> relative path."""
    sources = _keypoint_sources(config)
    models = {}
    for subject in subjects:
        source, target = out / MODEL.format(subject=subject), dest / MODEL.format(subject=subject)
        if not source.is_file():
            continue
        models[subject] = MODEL.format(subject=subject)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not sources:
            shutil.copyfile(source, target)
            continue
        model = load_osim(source)
        moved = place_markers_at(model, sources)
        log.info("%s: markers placed on the Human3.6M joints they hold in the TRC: %s", subject, moved)
        write_osim(model, target)
    return models


def _keypoint_sources(config: BuildConfig) -> dict[str, str]:
    """Keypoint name -> the model marker whose fit gives its TRC value, for the keypoints that are
    Human3.6M joints (``source == "mocap"``): ours ``H36M_NN``, a user model's what its mapping
    maps that joint to. Nothing with ``--annotations`` (the release's own model and markers)."""
    if config.annotations:
        return {}
    mapping = {}
    if config.model:
        from simspine_dataset.biomech.user_model import UserModel

        try:
            mapping = UserModel.resolve(config.model).markers
        except (MetadataError, MissingFileError) as e:  # moved or edited since the build:
            log.warning("%s: the models' markers are exported as the model has them", e)  # as they are
            return {}
    sources = {}
    for keypoint in sk.KEYPOINTS:
        if keypoint.source == "mocap" and keypoint.h36m_joint is not None:
            ours = h36m_marker_name(keypoint.h36m_joint)
            marker = mapping.get(ours) if config.model else ours
            if marker:
                sources[keypoint.name] = marker
    return sources
