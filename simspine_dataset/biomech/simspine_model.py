"""SIMSPINE's own model beside ours: where our points sit on it, and driving it with our motions.

SIMSPINE's model (the ``--model simspine`` preset: Pose2Sim's ``Model_Pose2Sim_muscles_flex.osim``
with SIMSPINE's 33 markers, ``user_model``) has no Human3.6M joint markers. It gets ours
(``place_like_ours``): the mocap is then fitted by the points it measures, joint centres, not by
SIMSPINE's surface markers a few centimetres away (Spine_04 on the back for Human3.6M's Spine joint:
~8 cm). A point on a body both models have (pelvis, legs, arms, hands, head: the joint centres are
those bodies' origins in both) keeps its body and location; a point on our thoracic bodies
(Human3.6M's Spine, Thorax and shoulder-girdle joints 12, 13, 16, 24) goes on SIMSPINE's rigid torso
where it lies when both models stand in their neutral pose (every coordinate 0, pelvis at the same
height). The face points (eyes, ears: raw detections in SIMSPINE, no model markers) are placed the
same way for a capture's truth.

``capture-demo --truth-model simspine`` drives that model (``truth_model``, ``drive``) by the
coordinates both models have, by name (pelvis, legs, L5_S1, neck, arms); its lumbar levels above
L5_S1 and ``knee_angle_*_beta`` follow their couplers (``osim.motion_as_opensim_writes``); our
thoracic coordinates have no counterpart (SIMSPINE's torso is rigid) and its abdominal ``Abs_*``
keep their defaults. The subject's segment factors scale it with ``Model.scale`` over the preset's
segment bodies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.biomech.model_table import ModelSpec, h36m_marker_name, model_spec
from simspine_dataset.skeleton import J

if TYPE_CHECKING:
    import opensim

H36M_JOINTS = tuple(h36m_marker_name(j) for j in J)
FACE = ("REye", "LEye", "REar", "LEar")  # keypoints SIMSPINE's model lacks (raw detections there)
RIGID_TORSO = "torso"  # SIMSPINE's body for the points on our thoracic and cervical bodies
MASS_KG = 70.0  # SIMSPINE's mass for every subject


def place_like_ours(model: opensim.Model, names: Sequence[str], spec: ModelSpec | None = None) -> None:
    """Add our markers ``names`` (of ``spec``, our unscaled model by default) to ``model`` where they
    sit on ours (module docstring); the model is initialised again."""
    import opensim as osim

    spec = spec or model_spec()
    state = _neutral(model, spec)
    ours = KinematicModel(spec)
    q0 = np.array([c.default if c.name == "pelvis_ty" else 0.0 for c in spec.coordinates])[None]
    bodies, ground = model.getBodySet(), model.getGround()
    placed = {m.name: m for m in spec.markers}
    added = []
    for name in names:
        marker = placed[name]
        if bodies.contains(marker.body):
            added.append((name, marker.body, osim.Vec3(*marker.location)))
        else:
            point = osim.Vec3(*ours.markers(ours.to_si(q0), [name])[0, 0])
            torso = bodies.get(RIGID_TORSO)
            added.append((name, RIGID_TORSO, ground.findStationLocationInAnotherFrame(state, point, torso)))
    for name, body, location in added:  # (the system is rebuilt once all are in)
        model.addMarker(osim.Marker(name, bodies.get(body), osim.Vec3(location)))
    model.finalizeConnections()
    model.initSystem()


def _neutral(model: opensim.Model, spec: ModelSpec) -> opensim.State:
    """Every coordinate 0 but the pelvis height, ours; realised."""
    state = model.initSystem()
    coordinates = model.getCoordinateSet()
    height = next(c.default for c in spec.coordinates if c.name == "pelvis_ty")
    for i in range(coordinates.getSize()):
        coordinate = coordinates.get(i)
        coordinate.setValue(state, height if coordinate.getName() == "pelvis_ty" else 0.0, False)
    model.realizePosition(state)
    return state


def truth_model(
    model: opensim.Model, segments: dict[str, list[str]], spec: ModelSpec, factors: dict[str, float]
) -> opensim.Model:
    """The ``--model simspine`` preset (``model`` loaded with the Human3.6M joints, its
    ``segments``: ``UserModel.resolve(PRESET)``) with the face points of our unscaled ``spec``,
    scaled by the subject's segment ``factors``; initialised."""
    import opensim as osim

    place_like_ours(model, FACE, spec)
    scale_set = osim.ScaleSet()
    for segment, names in segments.items():
        for body in names:
            scale = osim.Scale()
            scale.setSegmentName(body)
            scale.setScaleFactors(osim.Vec3(*[factors[segment]] * 3))
            scale.setApply(True)
            scale_set.cloneAndAppend(scale)
    model.scale(model.initSystem(), scale_set, True, MASS_KG)
    model.initSystem()
    return model


def drive(
    model: opensim.Model, names: tuple[str, ...], q: np.ndarray, translational: np.ndarray
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    """Our coordinates (T, Q) table units -> SIMSPINE's (names, (T, 62) table units as OpenSim's IK
    tool writes them), the 32 Human3.6M joints (T, 32, 3) and the 37 keypoints (T, 37, 3), both
    in OpenSim ground metres."""
    from simspine_dataset.biomech.osim import is_rotational, marker_positions, motion_as_opensim_writes

    order, values = motion_as_opensim_writes(model, names, q, translational)
    state = model.initSystem()
    coordinates = [model.getCoordinateSet().get(name) for name in order]
    rotational = np.array([is_rotational(c) for c in coordinates])
    internal = np.where(rotational, np.radians(values), values)  # coupled ones are radians already
    markers = np.empty((len(q), len(H36M_JOINTS) + sk.NUM_KEYPOINTS, 3))
    for t, row in enumerate(internal):
        for coordinate, value in zip(coordinates, row, strict=True):
            coordinate.setValue(state, float(value), False)
        model.realizePosition(state)
        markers[t] = marker_positions(model, state, [*H36M_JOINTS, *sk.NAMES])
    return tuple(order), values, markers[:, : len(H36M_JOINTS)], markers[:, len(H36M_JOINTS) :]
