"""Our full-body spine model as data: bodies, joints, coordinates, rhythms, markers.

Pure data (no OpenSim import). ``osim.build_model`` turns it into an OpenSim ``Model`` (couplers as
``CoordinateCouplerConstraint``); ``kinematics.KinematicModel`` turns it into batched numpy forward
kinematics. Both read only this table, so they describe one model.

Frames: OpenSim's (Y up, X anterior, Z right), metres, degrees in the table. Numbers marked
"reference" are from ``reference/spine_model.md`` (Beaucage-Gauvreau lumbar spine with Rajagopal
limbs, as distributed by Pose2Sim). The articulated thoracic and cervical spine is this project's
(the reference has a rigid torso): joint centres on the vertebral-body line, rhythms from the
segmental ranges of motion of White and Panjabi (1990), lumped per joint (see ``_WP_*``).

Sign conventions of the independent coordinates: hip, knee, shoulder, elbow, spine and neck
flexion positive; lateral bending positive to the subject's right; axial rotation of the spine
and neck positive to the subject's left; hip and shoulder adduction and internal rotation positive
on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from simspine_dataset.skeleton import J

Vec3 = tuple[float, float, float]
Kind = Literal["rotation", "translation"]
SpineMode = Literal["articulated", "rigid"]


@dataclass(frozen=True)
class Coordinate:
    """An independent generalised coordinate (degrees or metres)."""

    name: str
    kind: Kind
    range: tuple[float, float]
    default: float = 0.0
    locked: bool = False  # held at the default; not solved by inverse kinematics
    clamped: bool = True  # IK keeps it inside range

    def __post_init__(self) -> None:
        low, high = self.range
        if not low <= self.default <= high:
            raise ValueError(f"{self.name}: default {self.default} outside range {self.range}")


@dataclass(frozen=True)
class Axis:
    """One transform axis of a joint: rotation or translation along ``axis`` (joint frame),
    driven by ``ratio`` x an independent coordinate."""

    kind: Kind
    axis: Vec3
    coordinate: str
    ratio: float = 1.0


@dataclass(frozen=True)
class Body:
    """A body and the joint that attaches it to its parent (no axes: a weld)."""

    name: str
    mass_kg: float
    parent: str  # "ground" for the root
    joint: str
    location_in_parent: Vec3  # joint centre in the parent body's frame
    axes: tuple[Axis, ...] = ()
    location_in_child: Vec3 = (0.0, 0.0, 0.0)  # joint centre in this body's frame
    segment: str = ""  # scale group (see SEGMENTS)
    length_m: float = 0.1  # nominal length, for the inertia estimate only


@dataclass(frozen=True)
class Marker:
    """A point fixed on a body; its location is in that body's frame."""

    name: str
    body: str
    location: Vec3


@dataclass(frozen=True)
class ModelSpec:
    """The whole model: coordinates, bodies in topological order, markers."""

    name: str
    coordinates: tuple[Coordinate, ...]
    bodies: tuple[Body, ...]
    markers: tuple[Marker, ...]

    def __post_init__(self) -> None:
        names = {c.name for c in self.coordinates}
        seen = {"ground"}
        for body in self.bodies:
            if body.parent not in seen:
                raise ValueError(f"body {body.name}: parent {body.parent} is not defined before it")
            seen.add(body.name)
            for axis in body.axes:
                if axis.coordinate not in names:
                    raise ValueError(f"joint {body.joint}: unknown coordinate {axis.coordinate}")
        for marker in self.markers:
            if marker.body not in seen:
                raise ValueError(f"marker {marker.name}: unknown body {marker.body}")

    def coordinate(self, name: str) -> Coordinate:
        return next(c for c in self.coordinates if c.name == name)

    def body(self, name: str) -> Body:
        return next(b for b in self.bodies if b.name == name)

    @property
    def free_coordinates(self) -> tuple[Coordinate, ...]:
        """Coordinates inverse kinematics solves (not locked)."""
        return tuple(c for c in self.coordinates if not c.locked)


def _rot(axis: Vec3, coordinate: str, ratio: float = 1.0) -> Axis:
    return Axis("rotation", axis, coordinate, ratio)


def _tr(axis: Vec3, coordinate: str) -> Axis:
    return Axis("translation", axis, coordinate)


def _sub(a: Vec3, b: Vec3) -> Vec3:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


X, Y, Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
NX, NY, NZ = (-1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0)

# ---------------------------------------------------------------------------------------------
# Lumbar rhythm (reference): dependent level = ratio x L5_S1 coordinate of the same kind.
LUMBAR_LEVELS = ("L5_S1", "L4_L5", "L3_L4", "L2_L3", "L1_L2", "L1_T12")
LUMBAR_RHYTHM: dict[str, tuple[float, float, float]] = {  # flexion, lateral bending, rotation
    "L5_S1": (1.0, 1.0, 1.0),
    "L4_L5": (1.8571, 1.33, 1.0625),
    "L3_L4": (1.6429, 2.4314, 1.0625),
    "L2_L3": (1.1429, 2.4314, 0.875),
    "L1_L2": (0.9286, 2.0392, 0.8125),
    "L1_T12": (0.5714, 1.549, 0.75),
}
LUMBAR_COORDINATES = ("L5_S1_Flex_Ext", "L5_S1_Lat_Bending", "L5_S1_axial_rotation")

# White and Panjabi segmental ranges (deg; flexion-extension combined, lateral bending and axial
# rotation to one side), lumped onto our joints: each joint stands for the levels listed.
_WP_THORACIC = {  # T8_T9: T8/9..T11/12; T3_T4: T1/2..T7/8
    "T8_T9": (6 + 6 + 9 + 12, 6 + 6 + 7 + 9, 6 + 4 + 2 + 2),
    "T3_T4": (4 + 4 + 4 + 4 + 4 + 5 + 6, 5 + 6 + 5 + 6 + 6 + 6 + 6, 9 + 8 + 8 + 8 + 8 + 7 + 6),
}
_WP_CERVICAL = {  # C6_C7: C4/5..C7/T1; C3_C4: C2/3, C3/4; C0_C1: C0/1, C1/2
    "C6_C7": (20 + 20 + 17 + 9, 11 + 8 + 7 + 4, 7 + 7 + 6 + 2),
    "C3_C4": (10 + 15, 10 + 11, 3 + 7),
    "C0_C1": (25 + 20, 5 + 5, 5 + 40),
}


def _shares(table: dict[str, tuple[int, int, int]]) -> dict[str, tuple[float, float, float]]:
    """Per joint, its share of the region's total range for each kind of motion."""
    totals = [sum(v[k] for v in table.values()) for k in range(3)]
    return {j: tuple(v[k] / totals[k] for k in range(3)) for j, v in table.items()}


THORACIC_RHYTHM = _shares(_WP_THORACIC)
CERVICAL_RHYTHM = _shares(_WP_CERVICAL)
THORACIC_COORDINATES = ("thoracic_flexion", "thoracic_bending", "thoracic_rotation")
NECK_COORDINATES = ("neck_flexion", "neck_bending", "neck_rotation")

# Spine joint centres in the reference torso frame (the frame of the reference's "torso" body).
TORSO_L1_T12 = (-0.0129, 0.1154, 0.0)  # reference: torso frame origin offset of L1_T12
TORSO_T8_T9 = (-0.045, 0.215, 0.0)  # ours
TORSO_T3_T4 = (-0.035, 0.330, 0.0)  # ours
TORSO_C6_C7 = (-0.005, 0.425, 0.0)  # ours
TORSO_C3_C4 = (0.005, 0.465, 0.0)  # ours
TORSO_C0_C1 = (0.0, 0.5415, 0.0)  # reference head_torso joint
TORSO_SHOULDER = (0.00316, 0.3715, 0.17)  # reference shoulder joint (z mirrored for the left)

# Which body of the articulated torso carries a point given in the torso frame, by height.
_TORSO_CHAIN = (  # (body, its origin in the torso frame, lowest torso-frame height it covers)
    ("thorax", (0.0, 0.0, 0.0), -1.0),
    ("thorax_middle", TORSO_T8_T9, TORSO_T8_T9[1]),
    ("thorax_upper", TORSO_T3_T4, TORSO_T3_T4[1]),
    ("cervical_lower", TORSO_C6_C7, TORSO_C6_C7[1]),
    ("cervical_upper", TORSO_C3_C4, TORSO_C3_C4[1]),
)


def _on_torso(name: str, point: Vec3, body: str | None = None) -> Marker:
    """A marker given in the reference torso frame, placed on the articulated body holding it."""
    if body is None:
        body = next(b for b, _, low in reversed(_TORSO_CHAIN) if point[1] >= low)
    origin = next(o for b, o, _ in _TORSO_CHAIN if b == body)
    return Marker(name, body, _sub(point, origin))


def _coordinates() -> tuple[Coordinate, ...]:
    c = Coordinate
    coords = [
        c("pelvis_tilt", "rotation", (-90, 90)),
        c("pelvis_list", "rotation", (-90, 90)),
        c("pelvis_rotation", "rotation", (-1e4, 1e4), clamped=False),  # subjects turn freely
        c("pelvis_tx", "translation", (-10, 10), clamped=False),
        c("pelvis_ty", "translation", (-1, 3), 0.95, clamped=False),
        c("pelvis_tz", "translation", (-10, 10), clamped=False),
    ]
    for side in ("r", "l"):
        coords += [
            c(f"hip_flexion_{side}", "rotation", (-30, 130)),
            c(f"hip_adduction_{side}", "rotation", (-50, 30)),
            c(f"hip_rotation_{side}", "rotation", (-45, 45)),
            c(f"knee_angle_{side}", "rotation", (0, 145)),
            c(f"ankle_angle_{side}", "rotation", (-45, 35)),
            c(f"subtalar_angle_{side}", "rotation", (-20, 20), locked=True),
            c(f"mtp_angle_{side}", "rotation", (-30, 30), locked=True),
        ]
    coords += [
        c("L5_S1_Flex_Ext", "rotation", (-5, 9)),  # total lumbar flexion -36..+64 deg
        c("L5_S1_Lat_Bending", "rotation", (-3, 3)),  # total +-32 deg
        c("L5_S1_axial_rotation", "rotation", (-2.5, 2.5)),  # total +-14 deg
        c("thoracic_flexion", "rotation", (-25, 45)),
        c("thoracic_bending", "rotation", (-35, 35)),
        c("thoracic_rotation", "rotation", (-40, 40)),
        c("neck_flexion", "rotation", (-70, 60)),
        c("neck_bending", "rotation", (-45, 45)),
        c("neck_rotation", "rotation", (-80, 80)),
    ]
    for side in ("r", "l"):
        coords += [
            c(f"arm_flex_{side}", "rotation", (-90, 180)),
            c(f"arm_add_{side}", "rotation", (-120, 90)),
            c(f"arm_rot_{side}", "rotation", (-90, 90)),
            c(f"elbow_flex_{side}", "rotation", (0, 150)),
            c(f"pro_sup_{side}", "rotation", (-90, 90), locked=True),
            c(f"wrist_flex_{side}", "rotation", (-70, 70), locked=True),
            c(f"wrist_dev_{side}", "rotation", (-25, 35), locked=True),
        ]
    return tuple(coords)


def _spine_axes(coordinates: tuple[str, str, str], ratios: tuple[float, float, float]):
    """Flexion about -Z, lateral bending about +X, axial rotation about +Y (see module docstring)."""
    return (
        _rot(NZ, coordinates[0], ratios[0]),
        _rot(X, coordinates[1], ratios[1]),
        _rot(Y, coordinates[2], ratios[2]),
    )


def _leg(side: str) -> list[Body]:
    s = 1.0 if side == "r" else -1.0  # mirror z; adduction and rotation axes flip with the side
    return [
        Body(f"femur_{side}", 9.3014, "pelvis", f"hip_{side}", (-0.0707, -0.0661, s * 0.0835),
             (_rot(Z, f"hip_flexion_{side}"), _rot((s, 0, 0), f"hip_adduction_{side}"),
              _rot((0, s, 0), f"hip_rotation_{side}")), segment="thigh", length_m=0.40),
        Body(f"tibia_{side}", 3.7075, f"femur_{side}", f"knee_{side}", (0.0, -0.40, 0.0),
             (_rot(NZ, f"knee_angle_{side}"),), segment="shank", length_m=0.43),
        Body(f"talus_{side}", 0.1, f"tibia_{side}", f"ankle_{side}", (0.0, -0.43, 0.0),
             (_rot(Z, f"ankle_angle_{side}"),), segment="foot", length_m=0.05),
        Body(f"calcn_{side}", 1.25, f"talus_{side}", f"subtalar_{side}", (-0.04877, -0.04195, s * 0.00792),
             (_rot((0.78718, 0.60475, s * -0.12095), f"subtalar_angle_{side}"),), segment="foot", length_m=0.2),
        Body(f"toes_{side}", 0.2166, f"calcn_{side}", f"mtp_{side}", (0.1788, -0.002, s * 0.00108),
             (_rot(Z, f"mtp_angle_{side}"),), segment="foot", length_m=0.05),
    ]  # fmt: skip


def _arm(side: str, torso_body: str) -> list[Body]:
    s = 1.0 if side == "r" else -1.0
    origin = next(o for b, o, _ in _TORSO_CHAIN if b == torso_body)
    shoulder = _sub((TORSO_SHOULDER[0], TORSO_SHOULDER[1], s * TORSO_SHOULDER[2]), origin)
    return [
        Body(f"humerus_{side}", 2.0325, torso_body, f"shoulder_{side}", shoulder,
             (_rot(Z, f"arm_flex_{side}"), _rot((s, 0, 0), f"arm_add_{side}"),
              _rot((0, s, 0), f"arm_rot_{side}")), segment="arm", length_m=0.29),
        Body(f"ulna_{side}", 0.6075, f"humerus_{side}", f"elbow_{side}", (0.0, -0.29, 0.0),
             (_rot(Z, f"elbow_flex_{side}"),), segment="forearm", length_m=0.24),
        Body(f"radius_{side}", 0.6075, f"ulna_{side}", f"radioulnar_{side}", (0.0, 0.0, 0.0),
             (_rot(Y, f"pro_sup_{side}"),), segment="forearm", length_m=0.24),
        Body(f"hand_{side}", 0.4575, f"radius_{side}", f"radius_hand_{side}", (0.0, -0.235, 0.0),
             (_rot(Z, f"wrist_flex_{side}"), _rot((s, 0, 0), f"wrist_dev_{side}")), segment="forearm", length_m=0.08),
    ]  # fmt: skip


def _spine_bodies() -> list[Body]:
    lumbar_parents = ("sacrum", "lumbar5", "lumbar4", "lumbar3", "lumbar2", "lumbar1")
    lumbar_children = ("lumbar5", "lumbar4", "lumbar3", "lumbar2", "lumbar1", "thorax")
    locations = ((-0.098, 0.071, 0.0), (0.01, 0.0296, 0.0), (0.0, 0.032, 0.0), (-0.008, 0.0312, 0.0),
                 (-0.01, 0.025, 0.0), (-0.0104, 0.0275, 0.0))  # fmt: skip
    masses = (
        1.824,
        1.799,
        1.67,
        1.689,
        1.677,
        6.0,
    )  # reference; its torso's 22.53 kg split 6 / 8 / 8.53
    bodies = [Body("sacrum", 0.1, "pelvis", "sacrum_pelvis", (0.01, -0.017, 0.0), segment="torso")]
    for level, parent, child, loc, mass in zip(
        LUMBAR_LEVELS, lumbar_parents, lumbar_children, locations, masses, strict=True
    ):
        bodies.append(Body(child, mass, parent, level, loc, _spine_axes(LUMBAR_COORDINATES, LUMBAR_RHYTHM[level]),
                           TORSO_L1_T12 if child == "thorax" else (0.0, 0.0, 0.0), "torso", 0.03))  # fmt: skip
    chain = [
        ("thorax_middle", "thorax", "T8_T9", TORSO_T8_T9, (0.0, 0.0, 0.0), THORACIC_COORDINATES, THORACIC_RHYTHM),
        ("thorax_upper", "thorax_middle", "T3_T4", TORSO_T3_T4, TORSO_T8_T9, THORACIC_COORDINATES, THORACIC_RHYTHM),
        ("cervical_lower", "thorax_upper", "C6_C7", TORSO_C6_C7, TORSO_T3_T4, NECK_COORDINATES, CERVICAL_RHYTHM),
        ("cervical_upper", "cervical_lower", "C3_C4", TORSO_C3_C4, TORSO_C6_C7, NECK_COORDINATES, CERVICAL_RHYTHM),
        ("head", "cervical_upper", "C0_C1", TORSO_C0_C1, TORSO_C3_C4, NECK_COORDINATES, CERVICAL_RHYTHM),
    ]  # fmt: skip
    for child, parent, joint, at, parent_origin, coords, rhythm in chain:
        segment = "head" if child.startswith(("cervical", "head")) else "torso"
        mass = {"thorax_middle": 8.0, "thorax_upper": 8.53, "head": 4.2778}.get(child, 0.3)
        bodies.append(Body(child, mass, parent, joint, _sub(at, parent_origin),
                           _spine_axes(coords, rhythm[joint]), segment=segment, length_m=0.1))  # fmt: skip
    return bodies


def _markers() -> list[Marker]:
    m = Marker
    markers = [
        m("Hip", "pelvis", (-0.156262, 0.004088, 0.0)),
        m("RHip", "pelvis", (-0.063927, -0.081343, 0.105406)),
        m("LHip", "pelvis", (-0.063927, -0.081343, -0.105406)),
        m("Spine_01", "lumbar5", (-0.036870, 0.014393, 0.0)),
        m("Spine_02", "lumbar3", (-0.047699, -0.004161, 0.0)),
        m("Spine_03", "lumbar1", (-0.044242, -0.009101, 0.0)),
        _on_torso("Spine_04", (-0.080639, 0.215644, 0.000348)),
        _on_torso("Spine_05", (-0.075034, 0.338510, -0.000626)),
        _on_torso("Neck", (-0.042956, 0.413061, -0.00145)),
        _on_torso("Neck_02", (-0.015141, 0.459957, -0.00145)),
        _on_torso("Neck_03", (-0.004862, 0.499958, -0.00145)),
        _on_torso("LClavicle", (0.029778, 0.371409, -0.025133)),
        _on_torso("RClavicle", (0.028295, 0.369893, 0.025133)),
        _on_torso("LLatissimus", (-0.075097, 0.276519, -0.094742)),
        _on_torso("RLatissimus", (-0.075097, 0.276519, 0.094742)),
        _on_torso("LShoulder", (-0.012752, 0.366307, -0.201574)),
        _on_torso("RShoulder", (-0.012752, 0.366307, 0.201574)),
        m("Head", "head", (0.015922, 0.164131, 0.0)),
        m("Nose", "head", (0.116266, 0.012610, 0.000153)),
        # face points (ours; SIMSPINE triangulates them from detections)
        m("REye", "head", (0.095, 0.045, 0.032)),
        m("LEye", "head", (0.095, 0.045, -0.032)),
        m("REar", "head", (-0.005, 0.035, 0.075)),
        m("LEar", "head", (-0.005, 0.035, -0.075)),
    ]
    for side, s in (("R", 1.0), ("L", -1.0)):
        low = side.lower()
        markers += [
            m(f"{side}Elbow", f"humerus_{low}", (0.025, -0.297955, s * 0.008738)),
            m(f"{side}Wrist", f"radius_{low}", (-0.000174, -0.235096, -s * 0.009744)),
            m(f"{side}Knee", f"femur_{low}", (-0.005410, -0.386132, -s * 0.005111)),
            m(f"{side}Ankle", f"tibia_{low}", (-0.000286, -0.376840, -s * 0.014960)),
            m(f"{side}BigToe", f"toes_{low}", (0.064664, 0.009869, s * 0.014580)),
            m(f"{side}SmallToe", f"toes_{low}", (0.027117, 0.009572, -s * 0.028780)),
            m(f"{side}Heel", f"calcn_{low}", (0.013586, 0.023304, s * 0.001887)),
        ]
    return markers + _h36m_markers()


# Human3.6M joints as model markers (ours: joint centres, the semantics of the mocap skeleton).
H36M_MARKER_PREFIX = "H36M_"


def h36m_marker_name(joint_index: int) -> str:
    """Model marker standing for Human3.6M joint ``joint_index`` (0..31)."""
    return f"{H36M_MARKER_PREFIX}{joint_index:02d}"


def _h36m_markers() -> list[Marker]:
    m, name = Marker, h36m_marker_name
    pelvis_centre = (-0.0707, -0.0661, 0.0)
    thorax = _on_torso(name(J.NECK), (-0.02, 0.415, 0.0), "thorax_upper").location
    markers = [
        m(name(J.HIPS), "pelvis", pelvis_centre),
        m(name(J.SPINE), "pelvis", pelvis_centre),  # Human3.6M's "Spine" coincides with the root
        _on_torso(name(J.SPINE1), (-0.035, 0.240, 0.0), "thorax_middle"),
        m(name(J.NECK), "thorax_upper", thorax),
        m(name(J.HEAD), "head", (0.116266, 0.012610, 0.000153)),  # "Neck/Nose": the nose
        m(name(J.HEAD_END), "head", (0.015922, 0.164131, 0.0)),  # head top
        m(name(J.LEFT_SHOULDER), "thorax_upper", thorax),  # the shoulders coincide with the thorax point
        m(name(J.RIGHT_SHOULDER), "thorax_upper", thorax),
    ]
    legs = {
        "r": (J.RIGHT_UP_LEG, J.RIGHT_LEG, J.RIGHT_FOOT, J.RIGHT_TOE_BASE, J.RIGHT_TOE_END),
        "l": (J.LEFT_UP_LEG, J.LEFT_LEG, J.LEFT_FOOT, J.LEFT_TOE_BASE, J.LEFT_TOE_END),
    }
    arms = {side: tuple(J[f"{prefix}_{part}"] for part in ("ARM", "FORE_ARM", "HAND", "HAND_THUMB", "THUMB_END",
                                                            "WRIST_END", "WRIST_END_SITE"))
            for side, prefix in (("r", "RIGHT"), ("l", "LEFT"))}  # fmt: skip
    for side, s in (("r", 1.0), ("l", -1.0)):
        up, leg, foot, toe, site = legs[side]
        markers += [
            m(name(up), "pelvis", (-0.0707, -0.0661, s * 0.0835)),
            m(name(leg), f"tibia_{side}", (0.0, 0.0, 0.0)),
            m(name(foot), f"talus_{side}", (0.0, 0.0, 0.0)),
            m(name(toe), f"toes_{side}", (0.0, 0.0, 0.0)),
            m(name(site), f"toes_{side}", (0.06, 0.0, 0.0)),
        ]
        arm, fore, hand, thumb, thumb_site, end, end_site = arms[side]
        markers += [
            m(name(arm), f"humerus_{side}", (0.0, 0.0, 0.0)),
            m(name(fore), f"ulna_{side}", (0.0, 0.0, 0.0)),
            m(name(hand), f"hand_{side}", (0.0, 0.0, 0.0)),
            m(name(thumb), f"hand_{side}", (0.02, -0.03, s * 0.02)),
            m(name(thumb_site), f"hand_{side}", (0.03, -0.06, s * 0.02)),
            m(name(end), f"hand_{side}", (0.0, -0.07, 0.0)),
            m(name(end_site), f"hand_{side}", (0.0, -0.09, 0.0)),
        ]
    return sorted(markers, key=lambda marker: marker.name)


SEGMENTS = ("pelvis", "torso", "head", "thigh", "shank", "foot", "arm", "forearm")


def model_spec(spine: SpineMode = "articulated") -> ModelSpec:
    """Our model. ``spine="rigid"`` is the reference's rigid torso: the thoracic and cervical joints
    become welds and the head joint alone carries the neck coordinates (ratio 1)."""
    pelvis = Body("pelvis", 11.777, "ground", "ground_pelvis", (0.0, 0.0, 0.0),
                  (_rot(Z, "pelvis_tilt"), _rot(X, "pelvis_list"), _rot(Y, "pelvis_rotation"),
                   _tr(X, "pelvis_tx"), _tr(Y, "pelvis_ty"), _tr(Z, "pelvis_tz")),
                  segment="pelvis", length_m=0.2)  # fmt: skip
    bodies = [
        pelvis,
        *_spine_bodies(),
        *_leg("r"),
        *_leg("l"),
        *_arm("r", "thorax_upper"),
        *_arm("l", "thorax_upper"),
    ]
    coordinates = _coordinates()
    if spine == "rigid":
        rigid = {"thorax_middle", "thorax_upper", "cervical_lower", "cervical_upper"}
        bodies = [replace(b, axes=()) if b.name in rigid else b for b in bodies]
        bodies = [replace(b, axes=_spine_axes(NECK_COORDINATES, (1.0, 1.0, 1.0))) if b.name == "head" else b
                  for b in bodies]  # fmt: skip
        coordinates = tuple(
            replace(c, locked=True) if c.name in THORACIC_COORDINATES else c for c in coordinates
        )
    elif spine != "articulated":
        raise ValueError(f"spine must be 'articulated' or 'rigid', got {spine!r}")
    return ModelSpec(f"simspine_{spine}", coordinates, tuple(bodies), tuple(_markers()))
