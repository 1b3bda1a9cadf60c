"""OpenSim's marker (TRC) and motion (MOT/STO) files, read and written by OpenSim's own adapters.

``TRCFileAdapter`` and ``STOFileAdapter`` write the files OpenSim's GUI, its tools and Moco read;
this module only moves numpy arrays in and out of their tables, in the files' native units (TRC:
OpenSim frame, the header's length unit; MOT: degrees or radians as ``inDegrees`` says, metres).
Deciding what a file's numbers really are (the release's TRC header says mm over metres) is the
reader's job: ``simspine_dataset.stages.annotations``. Every file is written under a temporary name and
renamed when complete.

Shapes: T frames, K markers, Q coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from simspine_dataset.biomech.osim import _osim
from simspine_dataset.errors import BadArrayError, ShapeError
from simspine_dataset.io.atomic import atomic_path

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    import opensim

T = TypeVar("T")


@dataclass(frozen=True)
class MarkerTable:
    """A TRC's content: ``points`` (T, K, 3) in the file's frame and numbers, ``header_units`` as
    its header says (not necessarily true)."""

    names: tuple[str, ...]
    times_s: np.ndarray  # (T,)
    points: np.ndarray  # (T, K, 3)
    rate_hz: float
    header_units: str


@dataclass(frozen=True)
class MotionTable:
    """A MOT's content: ``values`` (T, Q) as stored, ``in_degrees`` from its header."""

    names: tuple[str, ...]
    times_s: np.ndarray  # (T,)
    values: np.ndarray  # (T, Q)
    in_degrees: bool


def _release_layout(path: Path, name: str) -> None:
    """OpenSim's TRC writer output in the layout of SIMSPINE's and Pose2Sim's writers
    (``reference/simspine_release.md``): line 1 names the final file (not the temporary one), frames
    start at 1, no blank line after the header, no tab ending a data row (Pose2Sim's
    ``convert_to_c3d`` reads it as an extra column)."""
    lines = path.read_text().split("\n")
    lines[0] = "\t".join([*lines[0].split("\t")[:3], name])
    values = lines[2].split("\t")
    values[6] = "1"  # OrigDataStartFrame, as their files say
    lines[2] = "\t".join(values)
    data = [line.rstrip("\t") for line in lines[5:] if line.strip()]
    path.write_text("\n".join([*lines[:5], *data, ""]))


def _table(
    osim: ModuleType, values: np.ndarray, labels: list[str], rate_hz: float
) -> opensim.TimeSeriesTable:
    """An OpenSim TimeSeriesTable from (T, N) values in one call (no per-value Python: ~20,000
    frames/s for 37 markers against ~700 building Vec3 rows one by one)."""
    times = osim.StdVectorDouble([float(t) for t in np.arange(len(values)) / rate_hz])
    matrix = osim.Matrix.createFromMat(np.ascontiguousarray(values, dtype=np.float64))
    return osim.TimeSeriesTable(times, matrix, osim.StdVectorString(labels))


def write_trc(path: str | Path, names: list[str], points_opensim_m: np.ndarray, rate_hz: float) -> Path:
    """Markers (T, K, 3) in the OpenSim frame, metres -> a TRC (``Units m``) in the release's layout,
    written by OpenSim's ``TRCFileAdapter``; NaN stays missing."""
    osim = _osim()
    points = np.asarray(points_opensim_m, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (len(names), 3):
        raise ShapeError(f"points_opensim_m must have shape (T, {len(names)}, 3), got {points.shape}")
    labels = [f"{name}_{axis}" for name in names for axis in (1, 2, 3)]
    table = _table(osim, points.reshape(len(points), -1), labels, rate_hz).packVec3()
    for key, value in (("DataRate", rate_hz), ("CameraRate", rate_hz), ("OrigDataRate", rate_hz)):
        table.addTableMetaDataString(key, f"{value:g}")
    table.addTableMetaDataString("Units", "m")
    path = Path(path)
    with atomic_path(path) as tmp:
        osim.TRCFileAdapter().write(table, str(tmp))
        _release_layout(tmp, path.name)
    return path


def _open(path: Path, reader: Callable[[str], T], what: str) -> T:
    """``reader(path)``, OpenSim's exception turned into one naming the file."""
    try:
        return reader(str(path))
    except RuntimeError as e:
        raise BadArrayError(path, f"OpenSim cannot read it as {what} ({e})") from e


def read_trc(path: str | Path) -> MarkerTable:
    """A TRC file's markers, by name, as its numbers stand (no unit conversion)."""
    path = Path(path)
    table = _open(path, _osim().TimeSeriesTableVec3, "a TRC file")
    names = tuple(table.getColumnLabels())
    flattened = table.flatten()  # kept alive: its matrix is a view into it
    flat = flattened.getMatrix().to_numpy() if table.getNumRows() else np.zeros((0, 3 * len(names)))
    keys = set(table.getTableMetaDataKeys())

    def meta(key: str, default: str) -> str:
        return table.getTableMetaDataAsString(key) if key in keys else default

    return MarkerTable(
        names,
        np.asarray(table.getIndependentColumn(), dtype=np.float64),
        flat.reshape(len(flat), len(names), 3),
        float(meta("DataRate", "nan")),
        meta("Units", ""),
    )


def write_mot(path: str | Path, names: list[str], values: np.ndarray, rate_hz: float) -> Path:
    """Coordinates (T, Q), rotations in degrees and translations in metres -> an OpenSim motion file
    (``inDegrees=yes``), as OpenSim's inverse kinematics writes them."""
    osim = _osim()
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(names):
        raise ShapeError(f"values must have shape (T, {len(names)}), got {values.shape}")
    table = _table(osim, values, list(names), rate_hz)
    table.addTableMetaDataString("inDegrees", "yes")
    path = Path(path)
    with atomic_path(path) as tmp:
        osim.STOFileAdapter().write(table, str(tmp))
    return path


def read_mot(path: str | Path) -> MotionTable:
    """An OpenSim motion or storage file (MOT/STO, any version OpenSim reads)."""
    osim = _osim()
    path = Path(path)
    storage = _open(path, osim.Storage, "a motion file")
    labels = storage.getColumnLabels()
    names = tuple(labels.get(i) for i in range(1, labels.getSize()))  # the first is "time"
    times, rows = osim.ArrayDouble(), []
    storage.getTimeColumn(times)
    for i in range(storage.getSize()):
        data = storage.getStateVector(i).getData()
        rows.append([data.get(j) for j in range(data.getSize())])
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
    return MotionTable(
        names, np.array([times.get(i) for i in range(times.getSize())]), values, bool(storage.isInDegrees())
    )
