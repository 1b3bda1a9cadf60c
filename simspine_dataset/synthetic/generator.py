"""The synthetic capture: our model driven through the 15 actions, written in the Human3.6M layout.

``generate_capture(out, CaptureSettings(...))`` writes, for each subject (its own segment scales
and height) and each of the 30 takes (15 actions x 2 subactions):

- ``S*/MyPoseFeatures/D3_Positions/<seq>.cdf``: the 32 Human3.6M joints (the model's
  joint-centre markers, ``model_table._h36m_markers``), plus optional Gaussian mocap noise;
  ``D3_Positions_mono`` and ``D2_Positions`` per camera, projected from them (Human3.6M lens);
- ``S*/Videos/<seq>.<camera>.mp4``: a shaded figure, 1-4 frames longer than the mocap (as in the
  real data; extra frames hold the last pose);
- ``metadata.xml``: the official structure, the real calibration (``<w0>``) and sequence names with
  the release's quirks (``data/h36m_sequence_names.json``);
- ``detections/<subject>/<seq>.<camera>/frame_NNNNN.json``: SpinePose-format 2D detections from the
  true keypoints through ``detector.DetectorNoise``;
- ``ground_truth/<subject>/<seq>.npz``: ``keypoints_world_mm`` (T, 37, 3) with the dataset's merge
  semantics, ``coordinates`` (T, Q), ``coordinate_names``, ``joints_world_mm`` (noise-free) and
  ``segment_factors`` (JSON).

Each take is a unit: written to temporary names and renamed, its sidecar last, so a re-run skips
finished takes. Deterministic for a given seed.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from simspine_dataset import h36m
from simspine_dataset import skeleton as sk
from simspine_dataset.biomech.kinematics import KinematicModel, body_scale_factors, scale_spec
from simspine_dataset.biomech.model_table import SEGMENTS, ModelSpec, h36m_marker_name, model_spec
from simspine_dataset.biomech.vertebrae import merge_keypoints
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.geometry.filters import lowpass
from simspine_dataset.geometry.transforms import opensim_m_to_world_mm
from simspine_dataset.io import detections as det_io
from simspine_dataset.io.atomic import atomic_path
from simspine_dataset.io.h36m_metadata import SequenceEntry, write_metadata
from simspine_dataset.skeleton import J
from simspine_dataset.synthetic import DEMO_SUBJECTS, TRUTH_MODELS
from simspine_dataset.synthetic.detector import DetectorNoise, facing_camera, simulate_detections
from simspine_dataset.synthetic.layout import write_sequence
from simspine_dataset.synthetic.motions import action_motion
from simspine_dataset.synthetic.render import floor_background, render_frame

log = logging.getLogger(__name__)

GROUND_TRUTH = "ground_truth/{subject}/{sequence}.npz"
DETECTIONS_DIR = "detections"
_FOOT_MARKERS = ("RHeel", "RBigToe", "RSmallToe", "LHeel", "LBigToe", "LSmallToe")


@dataclass(frozen=True)
class CaptureSettings:
    subjects: tuple[str, ...] = DEMO_SUBJECTS
    seconds: float = 4.0
    seed: int = 0
    mocap_noise_mm: float = 0.0
    videos: bool = True
    detections: bool = True
    detector: DetectorNoise = field(default_factory=DetectorNoise)
    spine: str = "articulated"
    actions: tuple[str, ...] = h36m.ACTIONS
    workers: int = 1
    fps_hz: float = h36m.FPS_HZ
    truth_model: str = "ours"  # the model whose markers are the truth: "ours" or "simspine"

    def __post_init__(self) -> None:
        from simspine_dataset.config import require

        require(np.isfinite(self.seconds) and 0 < self.seconds <= 3600, "seconds", self.seconds, "(0, 3600]")
        noise = self.mocap_noise_mm
        require(np.isfinite(noise) and noise >= 0, "mocap_noise_mm", noise, "a finite number >= 0")
        require(self.workers >= 1, "workers", self.workers, ">= 1")
        unknown = sorted(set(self.actions) - set(h36m.ACTIONS))
        require(not unknown and bool(self.actions), "actions", unknown or self.actions, "Human3.6M's actions")
        require(self.truth_model in TRUTH_MODELS, "truth_model", self.truth_model, " | ".join(TRUTH_MODELS))


@cache
def _sequence_names() -> dict:
    text = resources.files("simspine_dataset").joinpath("data/h36m_sequence_names.json").read_text()
    return json.loads(text)["names"]


def sequence_name(subject: str, action: str, subaction: int) -> str:
    """The release's file name of a take (with its quirks); ``"<Action> 1"`` / ``"<Action>"`` for
    subjects the table lacks."""
    known = _sequence_names().get(subject, {}).get(action, {}).get(str(subaction))
    return known or (f"{action} 1" if subaction == 1 else action)


def subject_factors(subject: str, seed: int) -> dict[str, float]:
    """A subject's segment scale factors: a common size (0.92-1.08) times per-segment variation."""
    rng = np.random.default_rng([seed, h36m.subject_number(subject), 7])
    size = rng.uniform(0.92, 1.08)
    return {segment: float(size * (1.0 + rng.normal(0.0, 0.035))) for segment in SEGMENTS}


def subject_cameras(subject: str) -> list[Camera]:
    """The subject's real calibration (S1's where the reference has none)."""
    cal = h36m.reference_calibration()
    ref = subject if subject in cal.extrinsics else "S1"
    return [
        Camera.from_center(c, cal.intrinsics[c], *cal.extrinsics[ref][c], *cal.image_size[c])
        for c in h36m.CAMERA_IDS
    ]


def _on_the_floor(model: KinematicModel, q: np.ndarray, fps_hz: float) -> np.ndarray:
    """Set pelvis_ty so the lowest foot point touches the floor (low-passed, 6 Hz)."""
    q = q.copy()
    ty = model.coordinate_names.index("pelvis_ty")
    q[:, ty] = 0.0
    lowest = model.markers(model.to_si(q), _FOOT_MARKERS)[..., 1].min(axis=1)
    q[:, ty] = lowpass(-lowest, cutoff_hz=6.0, fps_hz=fps_hz) + 0.005  # 5 mm of sole
    return q


def simulate_take(
    subject: str, action: str, subaction: int, settings: CaptureSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict, tuple[str, ...], np.random.Generator]:
    """Coordinates (T, Q), noise-free joints (T, 32, 3) and keypoints (T, 37, 3) in world mm."""
    spec = model_spec(settings.spine)
    factors = subject_factors(subject, settings.seed)
    model = KinematicModel(scale_spec(spec, body_scale_factors(spec, factors)))
    rng = np.random.default_rng(
        [settings.seed, h36m.subject_number(subject), h36m.ACTIONS.index(action), subaction]
    )
    n_frames = round(settings.seconds * settings.fps_hz) + int(rng.integers(0, 6))
    q = _on_the_floor(
        model,
        action_motion(spec, action, subaction, n_frames, rng, settings.fps_hz),
        settings.fps_hz,
    )
    names = model.coordinate_names
    if settings.truth_model == "simspine":
        q, names, joints_m, simulated_m = _simspine_truth(spec, factors, names, q, settings.fps_hz)
    else:
        q_si = model.to_si(q)
        joints_m = model.markers(q_si, [h36m_marker_name(j) for j in J])
        simulated_m = model.markers(q_si, sk.NAMES)
    joints, simulated = opensim_m_to_world_mm(joints_m), opensim_m_to_world_mm(simulated_m)
    return q, joints, merge_keypoints(simulated, joints), factors, names, rng


def _simspine_truth(
    spec: ModelSpec, factors: dict[str, float], names: tuple[str, ...], q: np.ndarray, fps_hz: float
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray, np.ndarray]:
    """Our motion on SIMSPINE's model, set on the floor as ours is: (its coordinates (T, 62), their
    names, joints (T, 32, 3), keypoints (T, 37, 3) OpenSim metres)."""
    from simspine_dataset.biomech.simspine_model import drive, truth_model
    from simspine_dataset.biomech.user_model import PRESET, UserModel

    translational = np.array([c.kind == "translation" for c in spec.coordinates])
    user = UserModel.resolve(PRESET)
    model = truth_model(user.load(), user.segments, spec, factors)
    order, values, joints, keypoints = drive(model, names, q, translational)
    feet = [sk.NAMES.index(n) for n in _FOOT_MARKERS]
    lift = lowpass(-keypoints[:, feet, 1].min(axis=1), cutoff_hz=6.0, fps_hz=fps_hz) + 0.005  # m
    values[:, order.index("pelvis_ty")] += lift
    joints[..., 1] += lift[:, None]
    keypoints[..., 1] += lift[:, None]
    return values, order, joints, keypoints


def generate_take(
    root: Path, subject: str, action: str, subaction: int, settings: CaptureSettings
) -> SequenceEntry:
    """Write one take (unit of work); skipped when its ground-truth sidecar already exists."""
    name = sequence_name(subject, action, subaction)
    sidecar = root / GROUND_TRUTH.format(subject=subject, sequence=name)
    q, joints, keypoints, factors, names, rng = simulate_take(subject, action, subaction, settings)
    base = int(rng.integers(1, 3))
    extras = (base, base + 2, base + 2, base)  # video frames beyond the mocap, per camera
    entry = SequenceEntry(subject, name, action, subaction, tuple(len(q) + e for e in extras), 4 * len(q))
    if sidecar.is_file():
        return entry
    measured = (
        joints + rng.normal(0.0, settings.mocap_noise_mm, joints.shape) if settings.mocap_noise_mm else joints
    )
    cameras = subject_cameras(subject)
    render = _Renderer(joints, keypoints) if settings.videos else None
    write_sequence(root, subject, name, measured, cameras, render, extras)
    if settings.detections:
        for cam, extra in zip(cameras, extras, strict=True):
            _write_detections(
                root / DETECTIONS_DIR, subject, name, cam, keypoints, len(q) + extra, rng, settings
            )
    with atomic_path(sidecar) as tmp, tmp.open("wb") as f:
        np.savez_compressed(
            f,
            keypoints_world_mm=keypoints.astype(np.float32),
            coordinates=q.astype(np.float32),
            coordinate_names=np.array(names),
            joints_world_mm=joints.astype(np.float32),
            segment_factors=json.dumps(factors),
        )
    log.info("%s/%s: %d frames written", subject, name, len(q))
    return entry


class _Renderer:
    """Frame i of a camera: the figure at min(i, T - 1) over that camera's floor (cached)."""

    def __init__(self, joints: np.ndarray, keypoints: np.ndarray) -> None:
        self.joints, self.keypoints = joints, keypoints
        self.backgrounds: dict[str, np.ndarray] = {}

    def __call__(self, camera: Camera, index: int) -> np.ndarray:
        if camera.id not in self.backgrounds:
            self.backgrounds[camera.id] = floor_background(camera)
        t = min(index, len(self.joints) - 1)
        return render_frame(self.backgrounds[camera.id], camera, self.joints[t], self.keypoints[t])


def _write_detections(
    root: Path,
    subject: str,
    name: str,
    camera: Camera,
    keypoints: np.ndarray,
    n_video: int,
    rng: np.random.Generator,
    settings: CaptureSettings,
) -> None:
    held = keypoints[np.minimum(np.arange(n_video), len(keypoints) - 1)]
    pixels = camera.project(held)
    facing = facing_camera(held, camera.center_mm)
    xy, scores = simulate_detections(pixels, facing, camera.image_size, rng, settings.detector)
    for t in range(n_video):
        det_io.write_frame(det_io.frame_path(root, subject, name, camera.id, t), xy[t], scores[t])


def _take_job(args: tuple) -> SequenceEntry:
    return generate_take(*args)


def generate_capture(out: str | Path, settings: CaptureSettings = CaptureSettings()) -> Path:
    """Write the whole synthetic capture under ``out`` (resumable; runs ``settings.workers``)."""
    root = Path(out)
    jobs = [
        (root, s, a, sub, settings) for s in settings.subjects for a in settings.actions for sub in (1, 2)
    ]
    if settings.workers > 1:
        with ProcessPoolExecutor(settings.workers) as pool:
            entries = list(pool.map(_take_job, jobs))
    else:
        entries = [_take_job(job) for job in jobs]
    cameras = {s: {c.id: c for c in subject_cameras(s)} for s in settings.subjects}
    write_metadata(root / h36m.METADATA_FILE, entries, cameras)
    return root
