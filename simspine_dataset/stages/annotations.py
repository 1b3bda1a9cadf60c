"""Labels from the official SIMSPINE release (``simspine build RAW OUT --annotations DIR``).

The 3D keypoints, and the kinematics where the release has them, come from the release's files
instead of our simulation; every other stage of the build (rows per camera, 2D through the
capture's own Human3.6M calibration, frames, card, validate, publish) is unchanged.

Accepted (``reference/simspine_release.md``; a folder, or one of the files):

- ``positions/<S>/<S>_<trial>.trc`` (or ``markers/``, as their scripts write), with
  ``kinematics/<S>/<S>_<trial>/<S>_<trial>.mot`` when present;
- ``simspine.h5``;
- ``simspine_{train,test}.npz`` (MMPose-style; world points of each frame taken once).

Rules, each logged where it applies:

- markers are matched by name; the 37 SIMSPINE names or the public 15. Keypoints the release
  lacks that are Human3.6M joints in our merge rules (``skeleton.KEYPOINTS[i].source == "mocap"``)
  come from the capture's mocap; the others stay NaN (``keypoints_visible`` false) and validate
  leaves them out;
- the length unit is decided from the data, never from the header (the release's TRC header says
  mm over metres): a body spans 0.35..2.6 m, so its markers' largest extent in 0.35..2.6 units is
  metres, 35..260 centimetres, 350..2600 millimetres; any other extent is refused, naming the file
  and ``--annotations-unit`` (which also overrides the decision);
- trials are matched to the capture's sequences by subject, canonical action and sequence number
  (``h36m.canonical_action``: ``TakingPhoto 1`` is ``Photo 1``; ``_`` is read as the space);
  sequences only one side has are left out and listed in the build report;
- frame counts that differ are cut to the shorter (frames at 50 Hz from 0 on both sides);
- a .mot's translations (OpenSim's ``_tx``, ``_ty``, ``_tz`` coordinates) are metres, published in
  mm like ours; its rotations degrees. OpenSim's IK tool writes *coupled* coordinates (a transform
  function other than +-1 x q, e.g. the official model's ``knee_angle_r_beta``) in radians even
  in an ``inDegrees=yes`` file: with the release's ``models/<S>.osim`` beside it they are read as
  such (without it, as the header says). Every coordinate of the .mot is kept, in its order.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from simspine_dataset import h36m
from simspine_dataset import skeleton as sk
from simspine_dataset.errors import BadArrayError, MissingFileError, SimspineError, UnknownActionError
from simspine_dataset.geometry.transforms import (
    LENGTH_UNITS_MM,
    MM_PER_M,
    kinematic_axis,
    opensim_m_to_world_mm,
)
from simspine_dataset.io.release import Trial, read_h5, read_npz

log = logging.getLogger(__name__)

TRC_FOLDERS = ("positions", "markers")  # the documentation's name, then their scripts'
MOT = "kinematics/{subject}/{subject}_{trial}/{subject}_{trial}.mot"
ERRORS = "kinematics/{subject}/{subject}_{trial}/{subject}_{trial}_ik_marker_errors.sto"
_TRANSLATION = re.compile(r"_t[xyz]$")
BODY_EXTENT_M = (0.35, 2.6)  # a marker set's largest extent along an axis, standing to arms raised


@dataclass(frozen=True)
class SequenceLabels:
    """One sequence's labels from the release, in the dataset's frame and units."""

    keypoints_world_mm: np.ndarray  # (T, 37, 3); NaN where neither the release nor the mocap has it
    coordinates: np.ndarray  # (T, Q) OpenSim table units (degrees, metres); Q = 0 without kinematics
    axes: list[dict]  # the kinematics' names and published units (meta/kinematic_axes.json)
    ik_marker_rmse_mm: np.ndarray  # (T,) from the release's IK errors file, NaN without one
    source: str


@dataclass(frozen=True)
class TrialRef:
    """Where one trial's labels are: a TRC (+ MOT) or an entry of an h5 / npz file."""

    subject: str
    name: str
    path: Path
    kind: str  # "trc" | "h5" | "npz"


def sequence_key(
    subject: str, name: str, *, path: str | Path = "<trial name>"
) -> tuple[str, str, int | None]:
    """(subject, canonical action, number): how a release trial and a capture sequence match.
    Raises ``UnknownActionError`` (naming ``path``) for a name that is no Human3.6M sequence."""
    spaced = re.sub(r"_(\d+)$", r" \1", name.strip())
    action = h36m.canonical_action(spaced, path=path)
    return subject, action, h36m.split_sequence_name(spaced)[1]


@dataclass
class Annotations:
    """An official-release folder or file, indexed by trial (nothing is read until ``labels``)."""

    root: Path
    trials: dict[tuple[str, str, int | None], TrialRef] = field(default_factory=dict)
    unit: str | None = None  # the files' length unit (``LENGTH_UNITS_MM``); None: decided from the data

    @classmethod
    def open(cls, root: str | Path, unit: str | None = None) -> Annotations:
        if unit is not None and unit not in LENGTH_UNITS_MM:
            raise ValueError(f"annotations unit must be one of {sorted(LENGTH_UNITS_MM)}, got {unit!r}")
        root = Path(root)
        if not root.exists():
            raise MissingFileError(root, "annotations not found")
        refs = _index(root)
        if not refs:
            raise MissingFileError(
                root,
                "holds no release labels (positions/ or markers/ TRCs, "
                "simspine.h5, or simspine_{train,test}.npz)",
            )
        trials = {}
        for ref in refs:
            try:
                key = sequence_key(ref.subject, ref.name, path=ref.path)
            except UnknownActionError as e:
                log.warning(
                    "%s: trial %s %r is no Human3.6M sequence: skipped", e.path, ref.subject, ref.name
                )
                continue
            trials.setdefault(key, ref)
        return cls(root, trials, unit)

    def ref(self, subject: str, sequence: str) -> TrialRef:
        """The trial matching a capture's sequence; ``MissingFileError`` when there is none."""
        ref = self.trials.get(sequence_key(subject, sequence))
        if ref is None:
            raise MissingFileError(self.root, f"no annotations for {subject} {sequence}")
        return ref

    def files(self, subject: str, sequence: str) -> list[Path]:
        """The files one sequence's labels are read from (a unit's inputs)."""
        ref = self.ref(subject, sequence)
        if ref.kind != "trc":
            return [ref.path]
        root = ref.path.parents[2]
        extra = [root / t.format(subject=subject, trial=ref.name) for t in (MOT, ERRORS)]
        return [ref.path, *(p for p in extra if p.is_file())]

    def labels(self, subject: str, sequence: str, joints_world_mm: np.ndarray) -> SequenceLabels:
        """The labels of a capture's sequence; ``joints_world_mm`` (T, 32, 3) fills the keypoints
        the release lacks that our merge rules take from the mocap."""
        ref = self.ref(subject, sequence)
        trial = _load(ref)
        points_mm = _to_world_mm(trial, self.unit)
        keypoints = _keypoints(trial.marker_names, points_mm, joints_world_mm, ref)
        n = min(len(keypoints), len(joints_world_mm))
        if len(keypoints) != len(joints_world_mm):
            log.warning(
                "%s %s: the annotations hold %d frames, the capture %d: using the first %d",
                subject,
                sequence,
                len(keypoints),
                len(joints_world_mm),
                n,
            )
        coordinates = (trial.kinematics if trial.kinematics is not None else np.zeros((len(keypoints), 0)))[
            :n
        ]
        axes = [kinematic_axis(name, bool(_TRANSLATION.search(name))) for name in trial.kinematic_names]
        return SequenceLabels(keypoints[:n], coordinates, axes, _rmse(ref, trial, n), str(ref.path))


def _index(root: Path) -> list[TrialRef]:
    """Every trial of a release folder (or file), in a fixed order."""
    if root.is_file():
        return _file_trials(root)
    refs = []
    for folder in TRC_FOLDERS:
        for path in sorted((root / folder).glob("S*/S*_*.trc")):
            subject = path.parent.name
            if path.stem.startswith(f"{subject}_"):
                refs.append(TrialRef(subject, path.stem[len(subject) + 1 :], path, "trc"))
    if refs:
        return refs
    for path in sorted([*root.glob("*.h5"), *root.glob("simspine_*.npz")]):
        refs += _file_trials(path)
    return refs


def _file_trials(path: Path) -> list[TrialRef]:
    kind = path.suffix.lstrip(".")
    if kind not in ("h5", "npz"):
        raise BadArrayError(path, "annotations must be a folder, a .h5 or an .npz file")
    trials = _read_file(path, path.stat().st_mtime_ns)
    return [TrialRef(t.subject, t.name, path, kind) for t in trials]


@cache
def _read_file(path: Path, mtime_ns: int) -> list[Trial]:
    """An h5 / npz file's trials, read once per process (and again when the file changes)."""
    return read_h5(path) if path.suffix == ".h5" else read_npz(path)


def _load(ref: TrialRef) -> Trial:
    if ref.kind != "trc":
        trials = _read_file(ref.path, ref.path.stat().st_mtime_ns)
        return next(t for t in trials if t.subject == ref.subject and t.name == ref.name)
    from simspine_dataset.biomech.opensim_files import read_mot, read_trc

    table = read_trc(ref.path)
    if np.isfinite(table.rate_hz) and abs(table.rate_hz - h36m.FPS_HZ) > 1e-6:
        raise BadArrayError(
            ref.path, f"DataRate {table.rate_hz:g} Hz; the capture's mocap is {h36m.FPS_HZ:g} Hz"
        )
    root = ref.path.parents[2]
    mot = root / MOT.format(subject=ref.subject, trial=ref.name)
    names, kinematics = (), None
    if mot.is_file():
        motion = read_mot(mot)
        values = motion.values if motion.in_degrees else _degrees(motion.values, motion.names)
        model = root / "models" / f"{ref.subject}.osim"
        if motion.in_degrees and model.is_file():  # coupled coordinates: radians, as OpenSim writes
            values = _coupled_in_degrees(model, model.stat().st_mtime_ns, motion.names, values)
        names, kinematics = motion.names, values[: len(table.points)]
        if len(kinematics) < len(table.points):
            raise BadArrayError(mot, f"holds {len(kinematics)} frames, its TRC {len(table.points)}")
    else:
        log.info("%s: no %s: no kinematics", ref.path, mot.relative_to(root))
    return Trial(
        ref.subject,
        ref.name,
        table.names,
        table.points,
        "opensim",
        names,
        kinematics,
        ref.path,
        table.header_units,
    )


def _coupled_in_degrees(model: Path, mtime_ns: int, names: tuple[str, ...], values: np.ndarray) -> np.ndarray:
    from simspine_dataset.biomech.osim import degrees_where_opensim_stores_radians

    return degrees_where_opensim_stores_radians(_release_model(model, mtime_ns), names, values)


@cache
def _release_model(path: Path, mtime_ns: int) -> object:  # an opensim.Model
    """A release's model, loaded once per process (and again when the file changes)."""
    from simspine_dataset.biomech.osim import load_osim

    model = load_osim(path)
    model.initSystem()  # the coordinates' motion types are known from here on
    return model


def _degrees(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    rotation = np.array([not _TRANSLATION.search(n) for n in names])
    return np.where(rotation, np.degrees(values), values)


def length_unit_mm(points: np.ndarray, source: str | Path) -> float:
    """Millimetres per unit of (T, K, 3) points, decided from the body's extent (the median over
    frames of the largest span of the markers along any axis) against ``BODY_EXTENT_M`` in each of
    ``LENGTH_UNITS_MM``; ``BadArrayError`` naming the file when no unit, or more than one, fits."""
    with warnings.catch_warnings():  # all-NaN frames (a marker set with gaps) are expected
        warnings.simplefilter("ignore", RuntimeWarning)
        extent = float(np.nanmedian(np.nanmax(np.nanmax(points, 1) - np.nanmin(points, 1), -1)))
    if not np.isfinite(extent):
        raise BadArrayError(Path(source), "holds no finite marker positions")
    low, high = BODY_EXTENT_M
    fits = [mm for mm in LENGTH_UNITS_MM.values() if low * MM_PER_M <= extent * mm <= high * MM_PER_M]
    if len(fits) != 1:
        raise BadArrayError(
            Path(source),
            f"a body spans {extent:g} units: its length unit cannot be told from the data "
            f"(a body spans {low:g}-{high:g} m); give it with --annotations-unit m|cm|mm",
        )
    return fits[0]


def _to_world_mm(trial: Trial, unit: str | None = None) -> np.ndarray:
    """(T, K, 3) in the file's axes and unit (``unit``, else decided from the data) -> Human3.6M
    world mm."""
    scale = LENGTH_UNITS_MM[unit] if unit else length_unit_mm(trial.markers, trial.source)
    found = next(name for name, mm in LENGTH_UNITS_MM.items() if mm == scale)
    if trial.header_units and trial.header_units != found:
        log.warning(
            "%s: its header says %r, its data are read in %s%s",
            trial.source,
            trial.header_units,
            found,
            " (--annotations-unit)" if unit else " (decided from the body's size)",
        )
    log.info("%s %s %s: marker unit %s", trial.source, trial.subject, trial.name, found)
    if trial.axes == "h36m":
        return trial.markers * scale
    return opensim_m_to_world_mm(trial.markers * (scale / MM_PER_M))


def _keypoints(
    names: tuple[str, ...], points_mm: np.ndarray, joints_world_mm: np.ndarray, ref: TrialRef
) -> np.ndarray:
    """(T, 37, 3) by name; missing Human3.6M-joint keypoints from the mocap, the rest NaN."""
    by_name = {name: k for k, name in enumerate(names)}
    if not set(by_name) & set(sk.NAMES):
        raise BadArrayError(
            ref.path,
            f"{ref.subject} {ref.name}: none of its markers is a SIMSPINE keypoint "
            f"({', '.join(names[:5])}, ...)",
        )
    T = len(points_mm)
    out = np.full((T, sk.NUM_KEYPOINTS, 3), np.nan)
    n = min(T, len(joints_world_mm))
    missing = []
    for i, keypoint in enumerate(sk.KEYPOINTS):
        if keypoint.name in by_name:
            out[:, i] = points_mm[:, by_name[keypoint.name]]
        elif keypoint.source == "mocap":
            out[:n, i] = joints_world_mm[:n, keypoint.h36m_joint]
        else:
            missing.append(keypoint.name)
    if missing:
        log.info(
            "%s %s: %d keypoints neither in the annotations nor from the mocap (NaN): %s",
            ref.subject,
            ref.name,
            len(missing),
            ", ".join(missing),
        )
    return out


def missing_keypoints(annotations: Annotations) -> list[str]:
    """The keypoints one trial of the release lacks and the mocap cannot give (NaN in the build)."""
    names: set[str] = set()
    for ref in annotations.trials.values():  # the first readable trial (a broken one fails its sequence)
        try:
            names = set(_load(ref).marker_names)
            break
        except SimspineError:
            continue
    return [k.name for k in sk.KEYPOINTS if k.name not in names and k.source != "mocap"]


def _rmse(ref: TrialRef, trial: Trial, n: int) -> np.ndarray:
    """Per-frame IK marker RMS from the release's ``_ik_marker_errors.sto`` (mm), else NaN."""
    out = np.full(n, np.nan)
    if ref.kind != "trc":
        return out
    path = ref.path.parents[2] / ERRORS.format(subject=ref.subject, trial=ref.name)
    if path.is_file():
        from simspine_dataset.biomech.opensim_files import read_mot

        errors = read_mot(path)
        if "marker_error_RMS" in errors.names:
            values = errors.values[:n, errors.names.index("marker_error_RMS")] * MM_PER_M
            out[: len(values)] = values
    return out


def match(
    annotations: Annotations, keys: list[tuple[str, str]], quiet: bool = False
) -> tuple[list[int], list[str]]:
    """Which capture sequences ((subject, sequence) pairs) the annotations have: their indices,
    and the annotation trials no sequence of the capture matches (both logged unless ``quiet``)."""
    wanted = {}
    for i, (subject, sequence) in enumerate(keys):
        try:
            wanted[sequence_key(subject, sequence)] = i
        except SimspineError:
            continue
    found = [i for key, i in wanted.items() if key in annotations.trials]
    for key, i in wanted.items():
        if key not in annotations.trials and not quiet:
            log.warning(
                "%s %s: not in the annotations (%s): left out of the build", *keys[i], annotations.root
            )
    extra = [f"{ref.subject} {ref.name}" for key, ref in annotations.trials.items() if key not in wanted]
    if extra and not quiet:
        log.warning("%s: %d trial(s) not in the capture: %s", annotations.root, len(extra), ", ".join(extra))
    return sorted(found), extra
