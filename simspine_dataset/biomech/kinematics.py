"""Batched forward kinematics and marker Jacobians of a ``ModelSpec``, in numpy.

The same conventions as OpenSim's ``CustomJoint`` (checked against OpenSim in the tests): a
joint's child frame moves as ``x_parent = loc_parent + t(q) + R1 R2 R3 (x_child - loc_child)``,
rotations applied in the order listed (body-fixed), translations along parent-frame axes. Each
transform axis turns by ``ratio x q`` of its independent coordinate, which is how the segmental
rhythms are exact here without constraints.

Units: coordinate vectors ``q`` are SI (radians, metres) inside this module; ``to_si`` and
``from_si`` convert from and to the table's degrees and metres. Shapes: B frames, Q coordinates,
K markers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from simspine_dataset.biomech.model_table import Body, Marker, ModelSpec
from simspine_dataset.errors import ShapeError

Vec3 = tuple[float, float, float]


def scale_spec(spec: ModelSpec, body_factors: Mapping[str, Vec3]) -> ModelSpec:
    """Scale a model as OpenSim's ``Model.scale`` does: a body's factors scale its markers, its
    own joint's child-side location and the parent-side location of its children's joints."""

    def mul(v: Vec3, f: Vec3) -> Vec3:
        return (v[0] * f[0], v[1] * f[1], v[2] * f[2])

    one = (1.0, 1.0, 1.0)
    bodies = tuple(
        replace(
            b,
            location_in_parent=mul(b.location_in_parent, body_factors.get(b.parent, one)),
            location_in_child=mul(b.location_in_child, body_factors.get(b.name, one)),
        )
        for b in spec.bodies
    )
    markers = tuple(replace(m, location=mul(m.location, body_factors.get(m.body, one))) for m in spec.markers)
    return replace(spec, bodies=bodies, markers=markers)


class KinematicModel:
    """Forward kinematics of a ``ModelSpec``: body poses, marker positions and their Jacobian."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.coordinate_names: tuple[str, ...] = tuple(c.name for c in spec.coordinates)
        index = {name: i for i, name in enumerate(self.coordinate_names)}
        self.is_rotation = np.array([c.kind == "rotation" for c in spec.coordinates])
        self.body_names: tuple[str, ...] = tuple(b.name for b in spec.bodies)
        body_index = {name: i for i, name in enumerate(self.body_names)}
        self._parent = np.array([body_index.get(b.parent, -1) for b in spec.bodies])
        self._loc_parent = np.array([b.location_in_parent for b in spec.bodies], dtype=float)
        self._loc_child = np.array([b.location_in_child for b in spec.bodies], dtype=float)
        axes = [(i, a) for i, b in enumerate(spec.bodies) for a in b.axes]
        self._axis_body = np.array([i for i, _ in axes], dtype=int)
        self._axis_dir = np.array([a.axis for _, a in axes], dtype=float).reshape(-1, 3)
        self._axis_dir /= np.linalg.norm(self._axis_dir, axis=1, keepdims=True)
        self._axis_rot = np.array([a.kind == "rotation" for _, a in axes], dtype=bool)
        self._axis_coupling = np.zeros((len(axes), len(self.coordinate_names)))  # angle = C @ q
        for row, (_, a) in enumerate(axes):
            self._axis_coupling[row, index[a.coordinate]] = a.ratio
        self._body_axes = [np.flatnonzero(self._axis_body == i) for i in range(len(spec.bodies))]
        ancestors = np.eye(len(spec.bodies), dtype=bool)  # ancestors[a, b]: a is b or above b
        for i, parent in enumerate(self._parent):
            if parent >= 0:
                ancestors[:, i] |= ancestors[:, parent]
        self._ancestors = ancestors
        self.marker_names: tuple[str, ...] = tuple(m.name for m in spec.markers)
        self._marker_index = {name: i for i, name in enumerate(self.marker_names)}
        self._marker_body = np.array([body_index[m.body] for m in spec.markers])
        self._marker_loc = np.array([m.location for m in spec.markers], dtype=float)
        self._jac_cache: dict[tuple[bytes, bytes], tuple[np.ndarray, np.ndarray]] = {}

    # -- units ---------------------------------------------------------------------------------
    def to_si(self, q_deg_m: np.ndarray) -> np.ndarray:
        """Table units (degrees, metres) -> SI (radians, metres). (..., Q) -> (..., Q)."""
        return np.where(self.is_rotation, np.deg2rad(q_deg_m), q_deg_m)

    def from_si(self, q: np.ndarray) -> np.ndarray:
        """SI (radians, metres) -> table units (degrees, metres)."""
        return np.where(self.is_rotation, np.rad2deg(q), q)

    def default_q(self) -> np.ndarray:
        """Default coordinates in SI, (Q,)."""
        return self.to_si(np.array([c.default for c in self.spec.coordinates], dtype=float))

    def marker_names_at(self, idx: np.ndarray) -> tuple[str, ...]:
        return tuple(self.marker_names[i] for i in idx)

    def marker_indices(self, names: Sequence[str]) -> np.ndarray:
        try:
            return np.array([self._marker_index[n] for n in names], dtype=int)
        except KeyError as e:
            raise KeyError(f"model {self.spec.name} has no marker {e.args[0]!r}") from None

    # -- kinematics ----------------------------------------------------------------------------
    def _check_q(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=np.float64)
        if q.ndim != 2 or q.shape[1] != len(self.coordinate_names):
            raise ShapeError(f"q must have shape (B, {len(self.coordinate_names)}), got {q.shape}")
        return q

    def _axis_rotations(self, angles: np.ndarray) -> np.ndarray:
        """Rodrigues for every axis at once: (B, A) -> (B, A, 3, 3)."""
        k = self._axis_dir
        K = np.zeros((len(k), 3, 3))
        K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
        K[:, 1, 0], K[:, 2, 0], K[:, 2, 1] = k[:, 2], -k[:, 1], k[:, 0]
        s, c = np.sin(angles)[..., None, None], np.cos(angles)[..., None, None]
        return np.eye(3) + s * K + (1.0 - c) * (K @ K)

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Body poses and axis geometry. q (B, Q) SI ->
        rotations (B, NB, 3, 3), origins (B, NB, 3), axis directions (B, A, 3) and pivots (B, A, 3)
        in ground."""
        q = self._check_q(q)
        B = len(q)
        angles = q @ self._axis_coupling.T  # (B, A)
        rot = self._axis_rotations(np.where(self._axis_rot, angles, 0.0))
        R = np.empty((B, len(self.body_names), 3, 3))
        p = np.empty((B, len(self.body_names), 3))
        omega = np.empty((B, len(self._axis_body), 3))
        pivot = np.empty((B, len(self._axis_body), 3))
        for b, parent in enumerate(self._parent):
            R_p = np.broadcast_to(np.eye(3), (B, 3, 3)) if parent < 0 else R[:, parent]
            p_p = np.zeros((B, 3)) if parent < 0 else p[:, parent]
            joint_origin = p_p + R_p @ self._loc_parent[b]
            R_j = R_p
            for a in self._body_axes[b]:
                if self._axis_rot[a]:
                    omega[:, a] = R_j @ self._axis_dir[a]
                    R_j = R_j @ rot[:, a]
                else:  # translations move along parent-frame axes
                    omega[:, a] = R_p @ self._axis_dir[a]
                    joint_origin = joint_origin + omega[:, a] * angles[:, a, None]
            for a in self._body_axes[b]:
                pivot[:, a] = joint_origin
            R[:, b] = R_j
            p[:, b] = joint_origin - R_j @ self._loc_child[b]
        return R, p, omega, pivot

    def joint_centres(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each body's joint centre in ground (B, NB, 3) and body rotations (B, NB, 3, 3)."""
        R, p, _, _ = self.forward(q)
        return p + np.einsum("bnij,nj->bni", R, self._loc_child), R

    def markers(self, q: np.ndarray, names: Sequence[str] | None = None) -> np.ndarray:
        """Marker positions in ground (m). q (B, Q) SI -> (B, K, 3)."""
        idx = np.arange(len(self.marker_names)) if names is None else self.marker_indices(names)
        R, p, _, _ = self.forward(q)
        body = self._marker_body[idx]
        return p[:, body] + np.einsum("bkij,kj->bki", R[:, body], self._marker_loc[idx])

    def _jacobian_tensors(self, idx: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Static (A, K*Q') tensors G[a, k, i] = ratio(a, i) x [axis a moves marker k], split into
        rotation and translation axes (cached per marker and coordinate selection)."""
        key = (idx.tobytes(), columns.tobytes())
        if key not in self._jac_cache:
            moves = self._ancestors[self._axis_body][:, self._marker_body[idx]]  # (A, K)
            G = moves[:, :, None] * self._axis_coupling[:, None, columns]  # (A, K, Q')
            G = G.reshape(len(G), -1)
            self._jac_cache[key] = (G * self._axis_rot[:, None], G * ~self._axis_rot[:, None])
        return self._jac_cache[key]

    def markers_and_jacobian(
        self, q: np.ndarray, idx: np.ndarray, columns: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Marker positions (B, K, 3) and d positions / d q (B, K, 3, Q'), q in SI.

        ``columns`` selects the coordinates to differentiate (default: all Q). For a rotation axis
        a through pivot c_a with direction w_a, d x_k = w_a x (x_k - c_a); summed with the rhythm
        ratios: J_ki = u_ki x x_k - v_ki with u = sum G w_a, v = sum G (w_a x c_a) (translations:
        + sum G w_a), two matrix products over all axes at once.
        """
        columns = np.arange(len(self.coordinate_names)) if columns is None else np.asarray(columns)
        R, p, omega, pivot = self.forward(q)
        body = self._marker_body[idx]
        x = p[:, body] + np.einsum("bkij,kj->bki", R[:, body], self._marker_loc[idx])
        G_rot, G_tr = self._jacobian_tensors(np.asarray(idx), columns)
        B, K, Q = len(q), len(idx), len(columns)
        w = omega.transpose(0, 2, 1).reshape(B * 3, -1)  # (B*3, A)
        wc = np.cross(omega, pivot).transpose(0, 2, 1).reshape(B * 3, -1)
        u = (w @ G_rot).reshape(B, 3, K, Q).transpose(0, 2, 3, 1)  # (B, K, Q, 3)
        v = ((wc @ G_rot) - (w @ G_tr)).reshape(B, 3, K, Q).transpose(0, 2, 3, 1)
        jac = np.cross(u, x[:, :, None, :]) - v  # (B, K, Q, 3)
        return x, jac.transpose(0, 1, 3, 2)


def body_scale_factors(spec: ModelSpec, segment_factors: Mapping[str, float]) -> dict[str, Vec3]:
    """Uniform per-segment factors -> per-body (x, y, z) factors (bodies without a segment: 1)."""
    out: dict[str, Vec3] = {}
    for body in spec.bodies:
        f = float(segment_factors.get(body.segment, 1.0))
        out[body.name] = (f, f, f)
    return out


__all__ = ["Body", "KinematicModel", "Marker", "body_scale_factors", "scale_spec"]
