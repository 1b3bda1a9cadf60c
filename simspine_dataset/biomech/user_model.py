"""A user-supplied OpenSim model (the official SIMSPINE model, a Pose2Sim model, ...) in place of ours.

Described by a JSON mapping file, no code changes::

    {
      "model": "Model_Pose2Sim_Body_Spine.osim",       # paths relative to this file
      "marker_file": "markers.xml",                     # optional: a MarkerSet replacing the model's
      "markers": {"H36M_17": "LShoulder", "Spine_02": "Spine_02", ...},   # ours -> theirs
      "segments": {"torso": ["lumbar5", "torso"], "thigh": ["femur_r", "femur_l"], ...}
    }

``--model simspine`` is SIMSPINE's own model as a preset (``data/simspine_model/mapping.json``):
Pose2Sim's ``Model_Pose2Sim_muscles_flex.osim`` (``"model": "pose2sim:..."``, read from an installed
``pose2sim==0.10.49``; its 62 coordinates are the official ``KINEMATIC_AXES``) with SIMSPINE's 33
model markers (``markers.xml``, written by ``scripts/simspine_markers.py`` from the published table),
its scaling segments, and the Human3.6M joints as markers where they sit on our model
(``"h36m_joints_like_ours"``, ``simspine_model.place_like_ours``): the mocap is fitted by the joint
centres it measures, not by SIMSPINE's surface markers centimetres away. ``--model PATH.osim``
takes the same markers and mapping on another ``.osim`` (the official ``Model.osim``).

``markers`` maps our names (Human3.6M joints as ``H36M_NN``, keypoints by SIMSPINE name) to the
model's markers: the IK inputs are the ``H36M_`` entries (and pseudo-markers if used) that are
mapped (an unmapped one, e.g. Human3.6M's "Spine" joint that Pose2Sim marker sets lack, is left out
of IK, logged and listed in the build report). Several of ours may map to one model marker (a
Human3.6M joint and the detections' keypoint of the same point): each further source fits a copy
of that marker (``<marker>@<ours>``), as OpenSim holds one observation per marker. A mapping that
cannot scale every segment it names (no marker pair of ``SEGMENT_PAIRS`` mapped) is an error
before any work starts (``check``). The output keypoints need the 37 SIMSPINE names (unmapped
keypoints stay NaN unless the merge rules fill them from the mocap). ``segments`` lists the bodies
each of our scale segments scales. Everything runs through OpenSim: factors from marker-pair
distances (our recipe, step 1), ``Model.scale``, the
``InverseKinematicsSolver``, the model's markers after IK.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.ik import IKResult, MarkerObservations, solve_ik_opensim
from simspine_dataset.biomech.model_table import h36m_marker_name
from simspine_dataset.biomech.osim import marker_positions, write_coordinate
from simspine_dataset.biomech.scaling import SEGMENT_PAIRS
from simspine_dataset.config import SimulationConfig
from simspine_dataset.errors import MetadataError, MissingFileError
from simspine_dataset.geometry.transforms import opensim_m_to_world_mm

if TYPE_CHECKING:
    import opensim


PRESET = "simspine"  # --model simspine: SIMSPINE's own model
PRESET_MAPPING = Path(__file__).parents[1] / "data" / "simspine_model" / "mapping.json"
POSE2SIM_PREFIX = "pose2sim:"  # a mapping's "model" inside the installed Pose2Sim package
POSE2SIM_INSTALL = "pip install --no-deps pose2sim==0.10.49"


@dataclass(frozen=True)
class UserModel:
    osim_path: Path
    marker_file: Path | None
    markers: dict[str, str]  # ours -> theirs
    segments: dict[str, tuple[str, ...]]  # our scale segment -> their bodies
    mapping_path: Path | None = None  # the mapping file this came from (part of the model's identity)
    # add the Human3.6M joints as markers where they sit on our model (``simspine_model``)
    h36m_joints_like_ours: bool = False

    @classmethod
    def resolve(cls, spec: str | Path) -> UserModel:
        """``--model``'s value: ``simspine`` (SIMSPINE's model from Pose2Sim's files), an ``.osim``
        (the preset's markers and mapping on that model, e.g. the official ``Model.osim``), or a
        mapping JSON."""
        if str(spec) == PRESET:
            return cls.from_json(PRESET_MAPPING)
        if str(spec).endswith(".osim"):
            if not Path(spec).is_file():
                raise MissingFileError(spec, "model file not found")
            return replace(cls.from_json(PRESET_MAPPING, need_model=False), osim_path=Path(spec))
        return cls.from_json(spec)

    @classmethod
    def from_json(cls, path: str | Path, need_model: bool = True) -> UserModel:
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
            model = _model_path(path, raw["model"], need_model)
            marker_file = path.parent / raw["marker_file"] if raw.get("marker_file") else None
            markers, segments = dict(raw["markers"]), {k: tuple(v) for k, v in raw["segments"].items()}
            like_ours = bool(raw.get("h36m_joints_like_ours", False))
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
            raise MetadataError(path, f"not a model mapping file ({type(e).__name__}: {e})") from e
        return cls(model, marker_file, markers, segments, path, like_ours)

    @property
    def files(self) -> list[Path]:
        """The files whose content is this model's identity."""
        named = [self.mapping_path, self.osim_path, self.marker_file]
        return [p for p in named if p is not None]

    def unmapped(self, names: Iterable[str]) -> list[str]:
        """Those of our ``names`` that the mapping lacks."""
        return [n for n in names if n not in self.markers]

    def check(self, path: str | Path) -> None:
        """Raise ``MetadataError`` (naming ``path`` and what is missing) unless every segment the
        mapping scales has a mapped marker pair, and every segment named is one we scale."""
        problems = [
            f"unknown segment {s!r} (ours: {sorted(SEGMENT_PAIRS)})"
            for s in self.segments
            if s not in SEGMENT_PAIRS
        ]
        for segment in self.segments:
            pairs = SEGMENT_PAIRS.get(segment, ())
            if pairs and not any(
                not self.unmapped([h36m_marker_name(a), h36m_marker_name(b)]) for a, b in pairs
            ):
                wanted = " or ".join(f"{h36m_marker_name(a)}+{h36m_marker_name(b)}" for a, b in pairs)
                problems.append(f"segment {segment!r} cannot be scaled or posed: map {wanted}")
        if problems:
            raise MetadataError(path, "; ".join(problems))

    def load(self) -> opensim.Model:
        """The model, with the marker file's markers in place of its own when given."""
        import opensim as osim

        from simspine_dataset.biomech.osim import load_osim

        model = load_osim(self.osim_path)
        if self.marker_file is not None:
            model.updateMarkerSet(osim.MarkerSet(str(self.marker_file)))
        model.initSystem()
        if self.h36m_joints_like_ours:
            from simspine_dataset.biomech.simspine_model import H36M_JOINTS, place_like_ours

            place_like_ours(model, H36M_JOINTS)
        return model


def _model_path(mapping: Path, name: str, need: bool) -> Path:
    """A mapping's "model": beside the mapping, or ``pose2sim:<path>`` inside Pose2Sim's package."""
    if not name.startswith(POSE2SIM_PREFIX):
        return mapping.parent / name
    found = importlib.util.find_spec("Pose2Sim")  # its files only: nothing of it is imported
    if found is None or found.origin is None:
        if not need:
            return Path(name)
        raise MetadataError(
            mapping,
            f"SIMSPINE's model is read from Pose2Sim's files: {POSE2SIM_INSTALL}, "
            "or give the official model: --model PATH/Model.osim",
        )
    return Path(found.origin).parent / name.removeprefix(POSE2SIM_PREFIX)


def ik_marker_names(user: UserModel, model: opensim.Model, ours: Iterable[str]) -> list[str]:
    """The model marker each of ``ours`` (mapped names, in order) is fitted to: the mapped marker
    for its first source, a copy of it (``<marker>@<ours>``, added to ``model`` on the same frame
    and location) for every further one, as OpenSim holds one observation per marker."""
    import opensim as osim

    markers, names, added = model.getMarkerSet(), [], False
    for name in ours:
        theirs = user.markers[name]
        if theirs in names:
            alias = f"{theirs}@{name}"
            if not markers.contains(alias):
                original = markers.get(theirs)
                model.addMarker(osim.Marker(alias, original.getParentFrame(), original.get_location()))
                added = True
            theirs = alias
        names.append(theirs)
    if added:
        model.finalizeConnections()
    return names


def scale_user_model(user: UserModel, joints_m: np.ndarray, mass_kg: float) -> opensim.Model:
    """Scale the user's model: per segment, the median marker-pair distance over the same distance
    on the unscaled model (at its default pose), applied with ``Model.scale``. joints (T, 32, 3) m."""
    import opensim as osim

    model = user.load()
    state = model.initSystem()
    scale_set = osim.ScaleSet()
    for segment, bodies in user.segments.items():
        ratios = []
        for a, b in SEGMENT_PAIRS[segment]:
            names = [user.markers.get(h36m_marker_name(a)), user.markers.get(h36m_marker_name(b))]
            if None in names:
                continue
            generic = marker_positions(model, state, names)
            measured = np.nanmedian(np.linalg.norm(joints_m[:, a] - joints_m[:, b], axis=-1))
            ratios.append(measured / np.linalg.norm(generic[0] - generic[1]))
        factor = float(np.mean(ratios)) if ratios else 1.0
        for body in bodies:
            scale = osim.Scale()
            scale.setSegmentName(body)
            scale.setScaleFactors(osim.Vec3(factor, factor, factor))
            scale.setApply(True)
            scale_set.cloneAndAppend(scale)
    model.scale(state, scale_set, True, mass_kg)
    model.initSystem()
    return model


def user_keypoints(
    user: UserModel, model: opensim.Model, obs: MarkerObservations, config: SimulationConfig
) -> tuple[IKResult, np.ndarray]:
    """IK with OpenSim on the user's model, then its markers -> (coordinates result, keypoints
    (T, 37, 3) world mm; NaN for keypoints the mapping lacks)."""
    keep = [k for k, name in enumerate(obs.names) if name in user.markers]  # unmapped: out of IK
    theirs = MarkerObservations(
        tuple(ik_marker_names(user, model, [obs.names[k] for k in keep])),
        obs.positions_m[:, keep],
        obs.weights[:, keep],
        obs.fps_hz,
        obs.ray_directions[:, keep],  # (a ray's point is its camera's centre: never a marker position)
    )
    result = solve_ik_opensim(model, theirs, accuracy=config.ik.accuracy)
    state = model.initSystem()
    coords = model.getCoordinateSet()
    mapped = [(i, user.markers[name]) for i, name in enumerate(sk.NAMES) if name in user.markers]
    keypoints = np.full((obs.n_frames, sk.NUM_KEYPOINTS, 3), np.nan)
    for t in range(obs.n_frames):
        for j, name in enumerate(result.coordinate_names):
            c = coords.get(name)
            if c.getLocked(state):
                continue
            write_coordinate(c, state, result.coordinates[t, j])
        model.realizePosition(state)
        keypoints[t, [i for i, _ in mapped]] = marker_positions(model, state, [m for _, m in mapped])
    return result, opensim_m_to_world_mm(keypoints)


def coordinate_axes(model: opensim.Model, names: tuple[str, ...]) -> list[dict]:
    """Names and published units of ``names`` (coordinates of an OpenSim model): translations in
    mm, everything else (rotations, coupled coordinates) in degrees, as ``osim.read_coordinate``."""
    from simspine_dataset.biomech.osim import is_translational
    from simspine_dataset.geometry.transforms import kinematic_axis

    coords = model.getCoordinateSet()
    return [kinematic_axis(n, is_translational(coords.get(n))) for n in names]
