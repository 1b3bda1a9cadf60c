"""The official SIMSPINE release's array files: ``simspine.h5`` and the MMPose-style
``simspine_{train,test}.npz`` (``reference/simspine_release.md``), in their native frames and units.

``read_h5`` and ``read_npz`` return one ``Trial`` per (subject, Human3.6M sequence) of the file,
markers by name; converting them into the dataset's frame and units, and matching them to a
capture's sequences, is ``simspine_dataset.stages.annotations``'s job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from simspine_dataset.errors import BadArrayError, MissingFileError, ShapeError
from simspine_dataset.h36m import FPS_HZ
from simspine_dataset.io.atomic import atomic_path

Axes = Literal["opensim", "h36m"]  # OpenSim (Y up) or Human3.6M world (Z up)


@dataclass(frozen=True)
class Trial:
    """One trial's labels as a release file holds them: ``markers`` (T, K, 3) in ``axes`` and the
    file's length unit (decided from the data later); ``kinematics`` (T, Q) degrees / metres."""

    subject: str
    name: str  # the sequence part of the trial name, e.g. "Directions 1"
    marker_names: tuple[str, ...]
    markers: np.ndarray
    axes: Axes
    kinematic_names: tuple[str, ...] = ()
    kinematics: np.ndarray | None = None
    source: Path = Path()
    header_units: str = ""  # what the file says its length unit is ("" when it says nothing)

    def __post_init__(self) -> None:
        if self.markers.ndim != 3 or self.markers.shape[1:] != (len(self.marker_names), 3):
            raise ShapeError(
                f"{self.source}: {self.subject} {self.name}: markers {self.markers.shape} "
                f"do not match {len(self.marker_names)} names"
            )
        if self.kinematics is not None and self.kinematics.shape != (
            len(self.markers),
            len(self.kinematic_names),
        ):
            raise ShapeError(
                f"{self.source}: {self.subject} {self.name}: kinematics {self.kinematics.shape} "
                f"do not match {len(self.markers)} frames x {len(self.kinematic_names)} names"
            )


def _strings(values: np.ndarray | Sequence[str | bytes]) -> tuple[str, ...]:
    return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel())


def write_h5(
    path: str | Path,
    trials: list[Trial],
    calibrations: Mapping[str, Mapping[str, np.ndarray]],
    models: Mapping[str, str],
) -> Path:
    """Write trials (OpenSim frame, metres) in the release's ``simspine.h5`` layout; one marker list
    and one kinematic-axis list for the file, as their serializer writes."""
    import h5py

    if not trials:
        raise ValueError("write_h5: no trials")
    names, axes = trials[0].marker_names, trials[0].kinematic_names
    path = Path(path)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f["metadata/markers_names"] = np.array([n.encode() for n in names])
        f["metadata/kinematic_axes"] = np.array([n.encode() for n in axes])
        for subject in sorted({t.subject for t in trials}):
            f.create_group(subject).attrs["model_file"] = models.get(subject, "")
            for key, value in calibrations.get(subject, {}).items():
                f[f"{subject}/calibration/{key}"] = value
        for trial in trials:
            if trial.marker_names != names or trial.kinematic_names != axes or trial.axes != "opensim":
                raise ValueError(f"write_h5: {trial.subject} {trial.name} differs in markers, axes or frame")
            group = f.create_group(f"{trial.subject}/{trial.name}")
            group["markers"] = trial.markers.astype(np.float64)
            group["kinematics"] = (
                trial.kinematics if trial.kinematics is not None else np.zeros((len(trial.markers), 0))
            ).astype(np.float64)
            group["timestamps"] = np.arange(len(trial.markers)) / FPS_HZ
    return path


def read_h5(path: str | Path) -> list[Trial]:
    """Every trial of a ``simspine.h5`` file (OpenSim frame)."""
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise BadArrayError(path, f"not a readable HDF5 file ({e})") from e
    with f:
        if "metadata/markers_names" not in f:
            raise BadArrayError(path, "no /metadata/markers_names: not a SIMSPINE h5 file")
        names = _strings(f["metadata/markers_names"][()])
        axes = _strings(f["metadata/kinematic_axes"][()]) if "metadata/kinematic_axes" in f else ()
        trials = []
        for subject in (k for k in f if k != "metadata"):
            for name in (k for k in f[subject] if k != "calibration"):
                group = f[f"{subject}/{name}"]
                if "markers" not in group:
                    raise BadArrayError(path, f"/{subject}/{name} has no markers")
                kinematics = group["kinematics"][()] if "kinematics" in group else None
                if kinematics is not None and kinematics.shape[1] == 0:
                    kinematics = None
                trials.append(
                    Trial(
                        subject,
                        name,
                        names,
                        np.asarray(group["markers"][()], np.float64),
                        "opensim",
                        axes if kinematics is not None else (),
                        kinematics,
                        path,
                    )
                )
    return trials


# their preprocessing copies the calibration's camera name: a bare id (ours), or cam_<id>
_IMAGE = re.compile(
    r"^(?P<subject>S\d+)/(?P=subject)_(?P<trial>.+)\.(?:cam_)?(?P<camera>\d+)/.+_(?P<frame>\d+)\.jpg$"
)
IMAGE_NAME_EXAMPLE = "S1/S1_Directions 1.54138969/S1_Directions 1.54138969_000000.jpg"


def _npz_names(metadata: Mapping, key_words: tuple[str, str], count: int, path: Path) -> tuple[str, ...]:
    for key, value in metadata.items():
        if all(w in str(key).lower() for w in key_words) and len(value) == count:
            return _strings(value)
    raise BadArrayError(
        path,
        f"its metadata names no {' '.join(key_words)} list of length {count} "
        f"(keys: {', '.join(map(str, metadata))})",
    )


def read_npz(path: str | Path) -> list[Trial]:
    """The trials of an MMPose-style ``simspine_{train,test}.npz``: one row per (frame, camera);
    each frame's world points are taken once (Human3.6M world axes, their unit)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "annotations file not found")
    with np.load(path, allow_pickle=True) as data:  # their metadata is a pickled dict
        missing = [k for k in ("imgname", "S_world") if k not in data]
        if missing:
            raise BadArrayError(path, f"lacks {', '.join(missing)}: not a SIMSPINE MMPose npz")
        images, world = _strings(data["imgname"]), np.asarray(data["S_world"], np.float64)[..., :3]
        angles = np.asarray(data["angles"], np.float64) if "angles" in data else None
        metadata = data["metadata"].item() if "metadata" in data else {}
    names = _npz_names(metadata, ("joint", "name"), world.shape[1], path)
    axes = _npz_names(metadata, ("param", "name"), angles.shape[1], path) if angles is not None else ()
    rows: dict[tuple[str, str], dict[int, int]] = {}
    for i, image in enumerate(images):
        match = _IMAGE.match(image)
        if match is None:
            raise BadArrayError(
                path,
                f"imgname {image!r} is not <S>/<S>_<trial>.<camera id>/..._<frame>.jpg "
                f"(the official preprocessing's pattern, e.g. {IMAGE_NAME_EXAMPLE!r})",
            )
        rows.setdefault((match["subject"], match["trial"]), {}).setdefault(int(match["frame"]), i)
    trials = []
    for (subject, name), frames in rows.items():
        index = np.full(max(frames) + 1, -1)
        index[list(frames)] = list(frames.values())
        markers = np.where((index >= 0)[:, None, None], world[index], np.nan)
        kinematics = np.where((index >= 0)[:, None], angles[index], np.nan) if angles is not None else None
        trials.append(Trial(subject, name, names, markers, "h36m", axes, kinematics, path))
    return trials
