"""Stage 2, simulate: one sequence's labels, as a ``SimulatedSequence``.

From the mocap (and the triangulated detections, with ``--detections``) through the scaled model:
our model (``biomech.pipeline.simulate_sequence``) or a user's OpenSim model
(``simulate_sequence_user``); or, with ``--annotations``, from the official release's files
(``annotations``) with no simulation at all. The result is the work folder's
``2_simulate/<subject>/<sequence>.npz`` (``SimulatedSequence.save`` / ``load``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.errors import SimspineError
from simspine_dataset.io.atomic import atomic_path
from simspine_dataset.schema import QUALITY_COLUMNS
from simspine_dataset.stages.capture import SequenceRecord, load_mocap

if TYPE_CHECKING:
    from simspine_dataset.biomech.pipeline import SequenceSimulation
    from simspine_dataset.config import BuildConfig
    from simspine_dataset.stages.annotations import Annotations, SequenceLabels


@dataclass(frozen=True)
class SimulatedSequence:
    """A sequence's labels, per frame: ``coordinates`` (T, Q) in OpenSim table units (deg, m),
    ``keypoints_world_mm`` (T, 37, 3), the IK residual (T,), the label-quality columns
    (``schema.QUALITY_COLUMNS``) and the coordinates' names and published units (``axes``)."""

    coordinates: np.ndarray
    keypoints_world_mm: np.ndarray
    ik_marker_rmse_mm: np.ndarray
    quality: dict[str, np.ndarray]
    axes: list[dict]
    label_flags: np.ndarray | None = None  # (T,) int16, ``biomech.gates`` bits; None: all 0
    gates: tuple[dict, ...] = ()  # the gates' verdicts (``Gate.to_dict``)

    def __post_init__(self) -> None:
        # stored as float32: a unit built from this record and one rebuilt from its saved file are
        # the same bytes
        for name in ("coordinates", "keypoints_world_mm", "ik_marker_rmse_mm"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), np.float32))
        object.__setattr__(self, "quality", {k: np.asarray(v, np.float32) for k, v in self.quality.items()})
        T = len(self.keypoints_world_mm)
        flags = np.zeros(T, np.int16) if self.label_flags is None else np.asarray(self.label_flags, np.int16)
        object.__setattr__(self, "label_flags", flags)
        object.__setattr__(self, "gates", tuple(self.gates))
        lengths = {
            len(self.coordinates),
            len(self.ik_marker_rmse_mm),
            len(flags),
            *(len(v) for v in self.quality.values()),
        }
        if lengths != {T} or set(self.quality) != set(QUALITY_COLUMNS):
            raise ValueError(f"simulated arrays disagree: {T} frames, lengths {sorted(lengths)}")

    def save(self, path: Path) -> None:
        arrays = {name: np.asarray(v, np.float32) for name, v in self.quality.items()}
        with atomic_path(path) as tmp, tmp.open("wb") as f:
            np.savez(
                f,
                coordinates=self.coordinates.astype(np.float32),
                keypoints_world_mm=self.keypoints_world_mm.astype(np.float32),
                ik_marker_rmse_mm=self.ik_marker_rmse_mm.astype(np.float32),
                axes_json=np.array(json.dumps(self.axes)),
                label_flags=self.label_flags,
                gates_json=np.array(json.dumps(list(self.gates))),
                **arrays,
            )

    @classmethod
    def load(cls, path: Path) -> SimulatedSequence:
        with np.load(path) as data:
            return cls(
                data["coordinates"],
                data["keypoints_world_mm"],
                data["ik_marker_rmse_mm"],
                {name: data[name] for name in QUALITY_COLUMNS},
                json.loads(str(data["axes_json"])),
                data["label_flags"],
                tuple(json.loads(str(data["gates_json"]))),
            )

    @property
    def failed_gates(self) -> list[dict]:
        return [g for g in self.gates if not g["passed"]]


def kinematic_axes(spine: str) -> list[dict]:
    """Names and units of the ``kinematics`` column (our model's independent coordinates)."""
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.geometry.transforms import kinematic_axis

    return [kinematic_axis(c.name, c.kind != "rotation") for c in model_spec(spine).coordinates]


def simulate(
    record: SequenceRecord,
    scale: dict | None,
    config: BuildConfig,
    out: Path,
    annotations: Annotations | None,
) -> SimulatedSequence:
    """The sequence's labels; ``scale`` is its subject's scale unit (None: it could not be scaled)."""
    joints = load_mocap(record).joints_world_mm  # first: bad mocap fails here, named
    if scale is None:
        raise SimspineError(f"{record.subject}: the subject could not be scaled (see the log)")
    if annotations is not None:
        return from_release(annotations.labels(record.subject, record.sequence, joints))
    pseudo = None
    if config.detections:
        from simspine_dataset.stages.pseudo_markers import pseudo_markers

        pseudo = pseudo_markers(config.detections, record)
    if config.model:
        from simspine_dataset.biomech.osim import load_osim
        from simspine_dataset.biomech.pipeline import simulate_sequence_user
        from simspine_dataset.biomech.user_model import UserModel, coordinate_axes

        model = load_osim(out / scale["osim"])
        model.initSystem()
        result = simulate_sequence_user(
            record.key, UserModel.resolve(config.model), model, joints, config.simulation, pseudo
        )
        axes = coordinate_axes(model, result.coordinate_names)
    else:
        from simspine_dataset.biomech.kinematics import KinematicModel, body_scale_factors, scale_spec
        from simspine_dataset.biomech.model_table import model_spec
        from simspine_dataset.biomech.pipeline import simulate_sequence

        spec = model_spec(config.simulation.ik.spine)
        model = KinematicModel(scale_spec(spec, body_scale_factors(spec, scale["segment_factors"])))
        result = simulate_sequence(record.key, model, joints, config.simulation, pseudo)
        axes = kinematic_axes(config.simulation.ik.spine)
    quality = dict(
        zip(
            QUALITY_COLUMNS,
            (result.residual_mocap_mm, result.residual_detections_mm, result.keypoint_uncertainty_mm),
            strict=True,
        )
    )
    flags, gates = _gates(result, scale, config.simulation.gates.residual_factor)
    return SimulatedSequence(
        result.coordinates, result.keypoints_world_mm, result.ik_marker_rmse_mm, quality, axes, flags, gates
    )


def _gates(result: SequenceSimulation, scale: dict, factor: float) -> tuple[np.ndarray, list[dict]]:
    """The rows' ``label_flags`` and the verdicts of the subject's scaling gate (when its scale
    unit has one: our model) and of the sequence's IK residual gate (``biomech.gates``), on the
    fit's residual before any filter."""
    from simspine_dataset.biomech.gates import FLAG_SCALING, frame_flags, sequence_gate

    residual = result.fit_residual_mocap_mm
    flags = frame_flags(residual, result.expected_residual_mocap_mm, factor)
    gates = [sequence_gate(residual, result.expected_residual_mocap_mm, factor).to_dict()]
    if scale.get("gate"):
        gates.insert(0, scale["gate"])
        if not scale["gate"]["passed"]:
            flags |= FLAG_SCALING
    return flags, gates


def from_release(labels: SequenceLabels) -> SimulatedSequence:
    """The release's labels as the simulate unit's result: no IK here, so the residuals are the
    release's own (or NaN) and there is no uncertainty estimate (NaN)."""
    T, K = labels.keypoints_world_mm.shape[:2]
    quality = {
        "ik_residual_mocap_mm": np.full(T, np.nan),
        "ik_residual_detections_mm": np.full(T, np.nan),
        "keypoints_uncertainty_mm": np.full((T, K), np.nan),
    }
    return SimulatedSequence(
        labels.coordinates, labels.keypoints_world_mm, labels.ik_marker_rmse_mm, quality, labels.axes
    )
