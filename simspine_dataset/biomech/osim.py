"""Our model as an OpenSim ``Model``: build it from the table, write and read ``.osim`` files.

The only module (with ``ik`` and ``scaling``) that imports opensim, lazily. Rhythms become
OpenSim's structure: the first joint using an independent coordinate owns it (its transform axis
function is ``ratio x q``); every other joint using it gets a dependent coordinate
``<joint>_<coordinate>`` tied to it by a ``CoordinateCouplerConstraint`` (``ratio x q``), as in the
reference's coupled lumbar spine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.biomech.model_table import Axis, Body, ModelSpec
from simspine_dataset.io.atomic import atomic_path

if TYPE_CHECKING:
    from types import ModuleType

    import opensim


def _osim() -> ModuleType:
    try:
        import opensim
    except ImportError as e:  # pragma: no cover - opensim is a core dependency
        raise ImportError("OpenSim is needed here: pip install opensim==4.6") from e
    return opensim


def _vec3(osim: ModuleType, v: Sequence[float]) -> opensim.Vec3:
    return osim.Vec3(float(v[0]), float(v[1]), float(v[2]))


def _inertia(osim: ModuleType, body: Body) -> opensim.Inertia:
    """A solid cylinder along y of the body's nominal length and 5 cm radius (IK ignores it)."""
    m, length, radius = max(body.mass_kg, 1e-3), body.length_m, 0.05
    ixx = m * (3 * radius**2 + length**2) / 12.0
    return osim.Inertia(ixx, m * radius**2 / 2.0, ixx)


def dependent_coordinate_name(joint: str, coordinate: str) -> str:
    return f"{joint}_{coordinate}"


AxisPlan = dict[tuple[str, int], tuple[str, float, str | None]]


def _axis_plan(spec: ModelSpec) -> AxisPlan:
    """(joint, axis index) -> (OpenSim coordinate, transform-function slope, coupled-to or None)."""
    owner: dict[str, str] = {}
    for body in spec.bodies:  # prefer a joint that moves with ratio 1 as the owner
        for axis in body.axes:
            if axis.ratio == 1.0:
                owner.setdefault(axis.coordinate, body.joint)
    for body in spec.bodies:
        for axis in body.axes:
            owner.setdefault(axis.coordinate, body.joint)
    plan = {}
    for body in spec.bodies:
        for i, axis in enumerate(body.axes):
            if owner[axis.coordinate] == body.joint:
                plan[(body.joint, i)] = (axis.coordinate, axis.ratio, None)
            else:
                plan[(body.joint, i)] = (
                    dependent_coordinate_name(body.joint, axis.coordinate),
                    1.0,
                    axis.coordinate,
                )
    return plan


def _spatial_transform(osim: ModuleType, body: Body, plan: AxisPlan) -> opensim.SpatialTransform:
    transform = osim.SpatialTransform()
    rotations = [(i, a) for i, a in enumerate(body.axes) if a.kind == "rotation"]
    translations = [(i, a) for i, a in enumerate(body.axes) if a.kind == "translation"]
    unused = _unused_axes([a for _, a in rotations])
    slots = [*rotations, *[(None, u) for u in unused]][:3] + translations
    for slot in range(len(slots), 6):  # unused translation slots: x, y, z with no coordinate
        slots.append((None, Axis("translation", ((1, 0, 0), (0, 1, 0), (0, 0, 1))[slot - 3], "")))
    for slot, (i, axis) in enumerate(slots):
        ta = transform.updTransformAxis(slot)
        ta.setAxis(_vec3(osim, axis.axis))
        if i is None:
            ta.set_function(osim.Constant(0.0))
            continue
        name, slope, _ = plan[(body.joint, i)]
        ta.setCoordinateNames(osim.ArrayStr(name, 1))
        ta.set_function(osim.LinearFunction(slope, 0.0))
    return transform


def _unused_axes(rotations: list[Axis]) -> list[Axis]:
    """Rotation axes completing a joint's three rotation slots (OpenSim wants independent axes)."""
    dirs = [np.asarray(a.axis, float) for a in rotations]
    out = []
    for candidate in np.eye(3):
        if len(dirs) + len(out) >= 3:
            break
        basis = np.array(dirs + [np.asarray(o.axis) for o in out] + [candidate])
        if np.linalg.matrix_rank(basis) == len(basis):
            out.append(Axis("rotation", tuple(candidate), ""))
    return out


def build_model(spec: ModelSpec) -> opensim.Model:
    """An OpenSim Model of ``spec``: bodies, custom joints (welds where no axis), coordinates with
    ranges, defaults and locks, rhythm couplers, markers."""
    osim = _osim()
    model = osim.Model()
    model.setName(spec.name)
    plan = _axis_plan(spec)
    frames = {"ground": model.getGround()}
    for body in spec.bodies:
        new = osim.Body(body.name, max(body.mass_kg, 1e-3), osim.Vec3(0), _inertia(osim, body))
        model.addBody(new)
        frames[body.name] = new
        parent, zero = frames[body.parent], osim.Vec3(0)
        loc_p, loc_c = _vec3(osim, body.location_in_parent), _vec3(osim, body.location_in_child)
        if body.axes:
            joint = osim.CustomJoint(
                body.joint,
                parent,
                loc_p,
                zero,
                new,
                loc_c,
                zero,
                _spatial_transform(osim, body, plan),
            )
        else:
            joint = osim.WeldJoint(body.joint, parent, loc_p, zero, new, loc_c, zero)
        model.addJoint(joint)
    for marker in spec.markers:
        model.addMarker(osim.Marker(marker.name, frames[marker.body], _vec3(osim, marker.location)))
    for (joint, _), (name, _, independent) in plan.items():
        if independent is not None:
            coupler = osim.CoordinateCouplerConstraint()
            coupler.setName(f"{name}_rhythm")
            coupler.setIndependentCoordinateNames(osim.ArrayStr(independent, 1))
            coupler.setDependentCoordinateName(name)
            ratio = next(
                a.ratio
                for b in spec.bodies
                if b.joint == joint
                for a in b.axes
                if dependent_coordinate_name(joint, a.coordinate) == name
            )
            coupler.setFunction(osim.LinearFunction(ratio, 0.0))
            model.addConstraint(coupler)
    model.finalizeConnections()
    _set_coordinate_properties(model, spec, plan)
    return model


def _set_coordinate_properties(model: opensim.Model, spec: ModelSpec, plan: AxisPlan) -> None:
    coords = model.updCoordinateSet()
    for c in spec.coordinates:
        if not coords.contains(c.name):
            continue  # not used by any joint in this variant (e.g. thoracic in the rigid spine)
        coord = coords.get(c.name)
        to_model = math.radians if c.kind == "rotation" else float
        coord.setRangeMin(to_model(c.range[0]))
        coord.setRangeMax(to_model(c.range[1]))
        coord.setDefaultValue(to_model(c.default))
        coord.setDefaultClamped(c.clamped and not c.locked)
        coord.setDefaultLocked(c.locked)
    for name, _, independent in plan.values():
        if independent is not None:  # dependents: wide range, never clamped (the coupler rules)
            coord = coords.get(name)
            coord.setRangeMin(-math.pi)
            coord.setRangeMax(math.pi)
            coord.setDefaultClamped(False)


def write_osim(model: opensim.Model, path: str | Path) -> Path:
    """Write an OpenSim model to ``path`` atomically."""
    with atomic_path(path) as tmp:
        model.printToXML(str(tmp))
    return Path(path)


def load_osim(path: str | Path) -> opensim.Model:
    """Read an ``.osim`` file into an OpenSim Model."""
    osim = _osim()
    path = Path(path)
    if not path.is_file():
        from simspine_dataset.errors import MissingFileError

        raise MissingFileError(path, "OpenSim model not found")
    return osim.Model(str(path))


_TRANSLATIONAL = 2  # OpenSim's Coordinate::MotionType::Translational


def read_coordinate(coordinate: opensim.Coordinate, state: opensim.State) -> float:
    """An OpenSim coordinate's value in table units: metres if translational, else degrees
    (rotational and coupled ones are radians inside OpenSim)."""
    value = coordinate.getValue(state)
    return value if coordinate.getMotionType() == _TRANSLATIONAL else math.degrees(value)


def is_translational(coordinate: opensim.Coordinate) -> bool:
    """The unit rule's test: translational coordinates are metres (mm when published)."""
    return coordinate.getMotionType() == _TRANSLATIONAL


def is_rotational(coordinate: opensim.Coordinate) -> bool:
    """Rotational (degrees in a motion file); a *coupled* coordinate is neither (radians there)."""
    return coordinate.getMotionType() == _ROTATIONAL


def write_coordinate(coordinate: opensim.Coordinate, state: opensim.State, value: float) -> None:
    """Set an OpenSim coordinate from table units (the inverse of ``read_coordinate``)."""
    internal = value if coordinate.getMotionType() == _TRANSLATIONAL else math.radians(value)
    coordinate.setValue(state, internal, False)


def set_pose(model: opensim.Model, state: opensim.State, spec: ModelSpec, q_deg_m: np.ndarray) -> None:
    """Set the independent coordinates (table units) and every rhythm-dependent one."""
    coords = model.getCoordinateSet()
    values = dict(zip((c.name for c in spec.coordinates), q_deg_m, strict=True))
    for c in spec.coordinates:
        if coords.contains(c.name):
            v = values[c.name]
            coords.get(c.name).setValue(state, math.radians(v) if c.kind == "rotation" else v, False)
    for (_, _), (name, _, independent) in _axis_plan(spec).items():
        if independent is not None:
            ratio = next(
                a.ratio
                for b in spec.bodies
                for a in b.axes
                if dependent_coordinate_name(b.joint, a.coordinate) == name
            )
            coords.get(name).setValue(state, ratio * math.radians(values[independent]), False)
    model.realizePosition(state)


def marker_positions(model: opensim.Model, state: opensim.State, names: Sequence[str]) -> np.ndarray:
    """Ground positions (m) of named markers in the realized state, (K, 3)."""
    markers = model.getMarkerSet()
    out = np.empty((len(names), 3))
    for k, name in enumerate(names):
        v = markers.get(name).getLocationInGround(state)
        out[k] = (v.get(0), v.get(1), v.get(2))
    return out


_ROTATIONAL = 1  # OpenSim's Coordinate::MotionType::Rotational


def motion_as_opensim_writes(
    model: opensim.Model, names: Sequence[str], values: np.ndarray, translational: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """Coordinates (T, Q) in table units (degrees, metres) -> every coordinate of ``model``, in its
    order and in the numbers OpenSim's IK tool writes and its readers expect (T, N).

    OpenSim converts degrees to radians only for *rotational* coordinates (``Storage::
    convertDegreesToRadians``, the GUI, the analysis tools); a *coupled* one (a transform axis whose
    function is not +-1 x q, e.g. our rhythm owners) is stored in its internal unit, radians, even in
    an ``inDegrees=yes`` file. Coupler-dependent coordinates are computed from their constraint's
    function; coordinates neither given nor dependent keep their default. ``model`` must have been
    initialised (``initSystem``: the coordinates' motion types are known from there on).
    """
    osim = _osim()
    coordinates = model.getCoordinateSet()
    order = [coordinates.get(i).getName() for i in range(coordinates.getSize())]
    values = np.asarray(values, dtype=np.float64)
    given = dict(zip(names, range(len(names)), strict=True))
    internal = np.empty((len(values), len(order)))
    for n, name in enumerate(order):  # internal units: radians, metres
        if name in given:
            column = values[:, given[name]]
            internal[:, n] = column if translational[given[name]] else np.radians(column)
        else:
            internal[:, n] = coordinates.get(name).getDefaultValue()
    constraints = model.getConstraintSet()
    for i in range(constraints.getSize()):
        coupler = osim.CoordinateCouplerConstraint.safeDownCast(constraints.get(i))
        if coupler is None or not coupler.get_isEnforced():
            continue
        independent = coupler.getIndependentCoordinateNames()
        inputs = internal[:, [order.index(independent.get(j)) for j in range(independent.getSize())]]
        dependent = order.index(coupler.getDependentCoordinateName())
        internal[:, dependent] = _evaluate(coupler.getFunction(), inputs)
    types = np.array([coordinates.get(i).getMotionType() for i in range(len(order))])
    return order, np.where(types == _ROTATIONAL, np.degrees(internal), internal)


def _evaluate(function: opensim.Function, inputs: np.ndarray) -> np.ndarray:
    """A coupler's function on (T, I) inputs: vectorised for a linear one, else value by value."""
    osim = _osim()
    linear = osim.LinearFunction.safeDownCast(function)
    if linear is not None and inputs.shape[1] == 1:
        return linear.getSlope() * inputs[:, 0] + linear.getIntercept()
    vector = osim.Vector(inputs.shape[1], 0.0)
    out = np.empty(len(inputs))
    for t, row in enumerate(inputs):
        for j, value in enumerate(row):
            vector.set(j, float(value))
        out[t] = function.calcValue(vector)
    return out


def degrees_where_opensim_stores_radians(
    model: opensim.Model, names: Sequence[str], values: np.ndarray
) -> np.ndarray:
    """The inverse of ``motion_as_opensim_writes``' unit rule for an ``inDegrees=yes`` file read
    as stored: its coupled rotational columns (radians) in degrees; other columns unchanged."""
    coordinates = model.getCoordinateSet()
    out = np.array(values, dtype=np.float64)
    for k, name in enumerate(names):
        if coordinates.contains(name):
            coordinate = coordinates.get(name)
            if coordinate.getMotionType() not in (_ROTATIONAL, _TRANSLATIONAL):
                out[:, k] = np.degrees(out[:, k])
    return out


def place_markers_at(model: opensim.Model, sources: dict[str, str]) -> list[str]:
    """Move each marker ``name`` of ``sources`` onto marker ``sources[name]`` (same frame, same
    location); returns the names moved. Markers either side that the model lacks are skipped."""
    markers = model.updMarkerSet()
    moved = []
    for name, source in sources.items():
        if name == source or not (markers.contains(name) and markers.contains(source)):
            continue
        target, origin = markers.get(name), markers.get(source)
        target.setParentFrameName(origin.getParentFrameName())
        target.set_location(origin.get_location())
        moved.append(name)
    model.finalizeConnections()
    return moved
