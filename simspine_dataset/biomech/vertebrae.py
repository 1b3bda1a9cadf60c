"""Stage: the 37 keypoints from the fitted model (virtual vertebra markers) and the merge rules.

After inverse kinematics, the model's markers give every keypoint. The documented merge rules
then set the values the dataset publishes (``skeleton.KEYPOINTS[i].source``):

- ``mocap``: Hip, the limbs and the nose are Human3.6M joints (the measurement, not the model);
- ``triangulated``: eyes and ears come from triangulated detections when given, else the model;
- ``simulated``: everything else, the model's markers (vertebrae, neck, head, clavicles,
  shoulder blades, feet).

Options (``MergeConfig``), SIMSPINE's post-processing: re-anchor the simulated chain Hip..Neck_03
on the measured Hip->Neck segment (a similarity per frame); blend it with smoothed triangulated
spine points; the geometric shoulder-blade rule. Output in Human3.6M world mm.
"""

from __future__ import annotations

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.kinematics import KinematicModel
from simspine_dataset.biomech.model_table import ModelSpec
from simspine_dataset.biomech.observations import PseudoMarkers
from simspine_dataset.config import FilterConfig, MergeConfig
from simspine_dataset.geometry.filters import lowpass
from simspine_dataset.geometry.transforms import opensim_m_to_world_mm

SPINE_CHAIN = sk.VERTEBRAL_CHAIN  # re-anchored and blended by the options


def simulated_keypoints(model: KinematicModel, coordinates: np.ndarray) -> np.ndarray:
    """The model's 37 keypoint markers for coordinates (T, Q) in table units -> (T, 37, 3) mm."""
    return opensim_m_to_world_mm(model.markers(model.to_si(coordinates), sk.NAMES))


def merge_keypoints(
    simulated_mm: np.ndarray,
    joints_world_mm: np.ndarray,
    pseudo: PseudoMarkers | None = None,
    config: MergeConfig = MergeConfig(),
    filter_config: FilterConfig = FilterConfig(),
) -> np.ndarray:
    """Apply the merge rules. simulated (T, 37, 3), mocap joints (T, 32, 3) -> (T, 37, 3) mm."""
    out = np.array(simulated_mm, dtype=float)
    for i, keypoint in enumerate(sk.KEYPOINTS):
        if keypoint.source == "mocap":
            out[:, i] = joints_world_mm[:, keypoint.h36m_joint]
    if pseudo is not None:
        for k, name in enumerate(pseudo.names):
            i = sk.INDEX.get(name)
            if i is not None and sk.KEYPOINTS[i].source == "triangulated":
                seen = (pseudo.confidence[:, k] > 0) & np.isfinite(pseudo.positions_world_mm[:, k]).all(-1)
                out[seen, i] = pseudo.positions_world_mm[seen, k]
    if config.reanchor_spine:
        _reanchor(out, joints_world_mm)
    if config.blend_detections > 0 and pseudo is not None:
        _blend(out, pseudo, config.blend_detections, filter_config)
    if config.geometric_latissimus:
        for side in ("R", "L"):
            spine4, spine5 = out[:, sk.INDEX["Spine_04"]], out[:, sk.INDEX["Spine_05"]]
            shoulder = out[:, sk.INDEX[f"{side}Shoulder"]]
            out[:, sk.INDEX[f"{side}Latissimus"]] = (spine4 + spine5) / 2 + 0.6 * (shoulder - spine5)
    return out


def _reanchor(keypoints: np.ndarray, joints_world_mm: np.ndarray) -> None:
    """Per frame, the similarity taking the simulated Hip->Neck onto the mocap pelvis->thorax
    (Human3.6M joints HIPS and NECK), applied to the chain Hip..Neck_03 (in place)."""
    chain = [sk.INDEX[n] for n in SPINE_CHAIN]
    hip, neck = keypoints[:, sk.INDEX["Hip"]], keypoints[:, sk.INDEX["Neck"]]
    a, b = neck - hip, joints_world_mm[:, sk.J.NECK] - joints_world_mm[:, sk.J.HIPS]
    scale = np.linalg.norm(b, axis=-1) / np.linalg.norm(a, axis=-1)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    angle = np.arctan2(sin, np.einsum("td,td->t", a, b))
    axis = axis / np.where(sin > 0, sin, 1.0)[:, None]
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_rotvec(axis * angle[:, None]).as_matrix()
    moved = np.einsum("tij,tkj->tki", rot, keypoints[:, chain] - hip[:, None]) * scale[:, None, None]
    keypoints[:, chain] = joints_world_mm[:, None, sk.J.HIPS] + moved


def _blend(keypoints: np.ndarray, pseudo: PseudoMarkers, weight: float, filter_config: FilterConfig) -> None:
    """(1 - weight) x simulated + weight x low-passed triangulated points, chain Hip..Neck_03."""
    for k, name in enumerate(pseudo.names):
        if name in SPINE_CHAIN and name != "Hip":
            seen = pseudo.confidence[:, k] > 0
            smooth = lowpass(
                np.where(seen[:, None], pseudo.positions_world_mm[:, k], np.nan),
                filter_config.cutoff_hz,
                filter_config.fps_hz,
                filter_config.order,
            )
            ok = np.isfinite(smooth).all(-1)
            i = sk.INDEX[name]
            keypoints[ok, i] = (1 - weight) * keypoints[ok, i] + weight * smooth[ok]


def rigid_keypoint_pairs(spec: ModelSpec) -> list[tuple[int, int]]:
    """Pairs of model-derived keypoints (``source == "simulated"``) whose distance the model keeps
    fixed: markers on one body, or on bodies joined only by locked coordinates or welds."""
    cluster = {}
    for body in spec.bodies:
        locked = all(spec.coordinate(a.coordinate).locked for a in body.axes)
        cluster[body.name] = cluster.get(body.parent, body.parent) if locked and body.parent else body.name
    on = {m.name: cluster[m.body] for m in spec.markers}
    derived = [i for i, k in enumerate(sk.KEYPOINTS) if k.source == "simulated"]
    return [
        (a, b) for n, a in enumerate(derived) for b in derived[n + 1 :] if on[sk.NAMES[a]] == on[sk.NAMES[b]]
    ]
