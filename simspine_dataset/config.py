"""Every setting of the build, its simulation and `detect`, in trees of frozen dataclasses with defaults.

Defaults follow SIMSPINE's published settings (``reference/spine_model.md``) unless a comment
says otherwise. ``BuildConfig`` holds them with the build's own settings; the build command hashes
the ones that change the labels (``commands.build.settings_digest``).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import TypeVar

from simspine_dataset import h36m, pose_models
from simspine_dataset.geometry.transforms import LENGTH_UNITS_MM
from simspine_dataset.h36m import FPS_HZ
from simspine_dataset.skeleton import J

IK_SOLVERS = ("batched", "opensim")
IK_WEIGHTS = ("measured", "configured")
SPINES = ("articulated", "rigid")
FILTER_SPACES = ("coordinates", "keypoints", "none")
FILTER_METHODS = ("adaptive", "butterworth")
FRAMES_MODES = ("none", "crop", "full")
BOX_SOURCES = ("mocap", "detector")  # where detect's person boxes come from
# detect's int8 gate, in the model's input pixels (SimCC bins are half of one). 2 px of a
# 256-pixel-high crop is ~5 image pixels for a Human3.6M subject (~500 px tall, the box padded by
# 1.25): the 2D noise the build already assumes of a detection (``pseudo_markers.DEFAULT_NOISE_PX``).
# int8 may add that much on its worst keypoint's 95th percentile; more, and it is another detector.
INT8_MAX_P95_PX = 2.0
RELEASES = ("full", "public")  # public: without what the licence hides (``stages.shards.PUBLIC_HIDDEN``)


def require(ok: bool, setting: str, value: object, allowed: str) -> None:
    """Raise ``ValueError`` naming a setting, its value and what is allowed, unless ``ok``."""
    if not ok:
        raise ValueError(f"setting {setting} = {value!r} is invalid; allowed: {allowed}")


# Human3.6M joints fed to inverse kinematics, with their weights (SIMSPINE's marker weights
# carried over to the joints that stand for them: shoulders and hips 2; pelvis centre, elbows,
# wrists, knees, ankles and toes 1; thorax (Neck) and mid-back (Spine_04's seed) 0.5; head top
# 0.3; nose, a face point, 0.1). Duplicates of other joints (11, 16, 24) and hand ends are unused.
H36M_IK_WEIGHTS: dict[int, float] = {
    J.HIPS: 1.0, J.RIGHT_UP_LEG: 2.0, J.LEFT_UP_LEG: 2.0, J.RIGHT_LEG: 1.0, J.LEFT_LEG: 1.0,
    J.RIGHT_FOOT: 1.0, J.LEFT_FOOT: 1.0, J.RIGHT_TOE_BASE: 1.0, J.LEFT_TOE_BASE: 1.0,
    J.SPINE1: 0.5, J.NECK: 0.5, J.HEAD: 0.1, J.HEAD_END: 0.3, J.LEFT_ARM: 2.0, J.RIGHT_ARM: 2.0,
    J.LEFT_FORE_ARM: 1.0, J.RIGHT_FORE_ARM: 1.0, J.LEFT_HAND: 1.0, J.RIGHT_HAND: 1.0,
}  # fmt: skip

# Triangulated keypoints used as IK pseudo-markers (multiplied by the triangulation confidence).
PSEUDO_MARKER_WEIGHTS: dict[str, float] = {
    **dict.fromkeys(("Spine_01", "Spine_02", "Spine_03", "Spine_04", "Spine_05"), 0.5),
    **dict.fromkeys(("Neck", "Neck_02", "Neck_03"), 0.5),
    **dict.fromkeys(("Head", "RClavicle", "LClavicle", "RLatissimus", "LLatissimus"), 0.3),
    **dict.fromkeys(("Nose", "REye", "LEye", "REar", "LEar"), 0.1),
    **dict.fromkeys(("RBigToe", "RSmallToe", "RHeel", "LBigToe", "LSmallToe", "LHeel"), 1.0),
}


@dataclass(frozen=True)
class ScalingConfig:
    """Per-subject scaling from the mocap."""

    mass_kg: float = 70.0  # Human3.6M has no masses; SIMSPINE uses 70 kg
    trim_fraction: float = 0.2  # trimmed mean: 20 % cut (10 % each side)
    quiet_fraction: float = 0.5  # frames with the lowest marker speed kept as "quiet"
    extended_fraction: float = 0.5  # of those, the most extended kept per marker pair
    max_frames: int = 400  # frames (evenly spaced) used by the refinement
    # ours: Gauss-Newton rounds on the factors over IK of the sample, a round kept only when it
    # lowers the marker cost over the same frames (0: distances only)
    refine_rounds: int = 3
    refine_bound: float = 0.1  # ours: the refinement keeps each factor within 10 % of its distance estimate

    def __post_init__(self) -> None:
        require(self.mass_kg > 0, "scaling.mass_kg", self.mass_kg, "> 0")
        for name in ("trim_fraction", "quiet_fraction", "extended_fraction"):
            value = getattr(self, name)
            require(0 <= value < 1 if name == "trim_fraction" else 0 < value <= 1, f"scaling.{name}", value,
                    "[0, 1)" if name == "trim_fraction" else "(0, 1]")  # fmt: skip
        require(self.max_frames >= 1, "scaling.max_frames", self.max_frames, ">= 1")
        require(self.refine_rounds >= 0, "scaling.refine_rounds", self.refine_rounds, ">= 0")
        require(0 < self.refine_bound < 1, "scaling.refine_bound", self.refine_bound, "(0, 1)")


@dataclass(frozen=True)
class IKConfig:
    """Inverse kinematics."""

    solver: str = "batched"  # "batched" (ours) or "opensim" (InverseKinematicsSolver)
    h36m_weights: dict[int, float] = field(default_factory=lambda: dict(H36M_IK_WEIGHTS))
    pseudo_marker_weights: dict[str, float] = field(default_factory=lambda: dict(PSEUDO_MARKER_WEIGHTS))
    block_frames: int = 25  # batched solver: frames solved together, warm-started per block
    accuracy: float = 1e-5  # OpenSim solver accuracy (SIMSPINE's setting)
    spine: str = "articulated"  # our model's spine: "articulated" or "rigid" (the reference's)
    # ours, "measured": every marker used (configured weight > 0) is weighted by 1 / its measured
    # noise variance (white noise above fps / 4, plus noise_floor_mm^2); the configured values
    # then only say which markers are used. "configured": the configured weights alone
    weights: str = "measured"
    noise_floor_mm: float = 1.0  # the least noise a marker is trusted to have (model mismatch)
    # ours: a pseudo-marker farther than this many times its noise from the median of its 9
    # neighbouring frames is left out (0: off); the triangulation's gross errors
    outlier_gate: float = 5.0
    # ours: a pseudo-marker seen by one camera only (no triangulation) is fitted as that camera's
    # ray: the marker's distance from the ray counts (our solver; OpenSim's IK ignores rays)
    single_view_rays: bool = True
    # ours: after the frame-by-frame solve, all frames jointly with an acceleration penalty whose
    # weight per coordinate comes from the data (biomech.temporal); our model only
    temporal: bool = True
    window_frames: int = 1000  # temporal IK: frames per window (overlapping by 50)
    # ours: re-estimations of the acceleration weights from the temporal solution's posterior
    # (expectation-maximisation), each followed by a solve; 0: the frame-by-frame estimate alone
    acceleration_rounds: int = 2
    uncertainty_samples: int = 12  # draws from the IK posterior for the label uncertainty

    def __post_init__(self) -> None:
        require(self.solver in IK_SOLVERS, "ik.solver", self.solver, " | ".join(IK_SOLVERS))
        require(self.weights in IK_WEIGHTS, "ik.weights", self.weights, " | ".join(IK_WEIGHTS))
        require(self.noise_floor_mm > 0, "ik.noise_floor_mm", self.noise_floor_mm, "> 0")
        require(self.outlier_gate >= 0, "ik.outlier_gate", self.outlier_gate, ">= 0 (0: off)")
        require(self.window_frames >= 200, "ik.window_frames", self.window_frames, ">= 200")
        require(self.acceleration_rounds >= 0, "ik.acceleration_rounds", self.acceleration_rounds, ">= 0")
        require(self.uncertainty_samples >= 2, "ik.uncertainty_samples", self.uncertainty_samples, ">= 2")
        require(self.spine in SPINES, "ik.spine", self.spine, " | ".join(SPINES))
        require(self.block_frames >= 1, "ik.block_frames", self.block_frames, ">= 1")
        require(0 < self.accuracy < 1, "ik.accuracy", self.accuracy, "(0, 1)")
        for name, weights in (
            ("h36m_weights", self.h36m_weights),
            ("pseudo_marker_weights", self.pseudo_marker_weights),
        ):
            bad = {k: w for k, w in weights.items() if not w >= 0}
            require(not bad, f"ik.{name}", bad, "weights >= 0")


@dataclass(frozen=True)
class MergeConfig:
    """How the 37 keypoints are assembled after IK (``biomech.vertebrae``)."""

    reanchor_spine: bool = False  # SIMSPINE step 5: re-anchor Hip..Neck_03 on mocap Hip->Neck
    blend_detections: float = 0.0  # SIMSPINE uses 0.2: weight of smoothed triangulated spine points
    geometric_latissimus: bool = False  # SIMSPINE's rule instead of the model's shoulder-blade marker

    def __post_init__(self) -> None:
        require(0 <= self.blend_detections <= 1, "merge.blend_detections", self.blend_detections, "[0, 1]")


@dataclass(frozen=True)
class FilterConfig:
    """Zero-phase low-pass (``geometry.filters``). ``space``: "coordinates" filters the model's
    coordinates and takes every model-derived keypoint from them (rigid segments stay rigid; the
    mocap and triangulated keypoints are filtered as points); "keypoints" filters the 37 points
    (SIMSPINE's released scripts); "none" leaves them as solved."""

    space: str = "coordinates"
    # "butterworth": zero-phase low-pass at cutoff_hz (SIMSPINE's 5 Hz); "adaptive" (ours): per
    # signal, the smoother whose strength its own measured noise and motion set (no cutoff to
    # choose; never harder than a 4 Hz half-power, ``filters.ADAPTIVE_MIN_CUTOFF_HZ``)
    method: str = "adaptive"
    cutoff_hz: float = 5.0
    order: int = 2  # effective order after forward-backward filtering (Pose2Sim's convention)
    fps_hz: float = FPS_HZ

    def __post_init__(self) -> None:
        require(self.space in FILTER_SPACES, "filter.space", self.space, " | ".join(FILTER_SPACES))
        require(self.method in FILTER_METHODS, "filter.method", self.method, " | ".join(FILTER_METHODS))
        require(self.fps_hz > 0, "filter.fps_hz", self.fps_hz, "> 0")
        require(0 < self.cutoff_hz < self.fps_hz / 2, "filter.cutoff_hz", self.cutoff_hz,
                f"(0, {self.fps_hz / 2:g}) Hz, below Nyquist")  # fmt: skip
        require(self.order >= 1, "filter.order", self.order, ">= 1")


@dataclass(frozen=True)
class GateConfig:
    """When a fit is wrong (``biomech.gates``): its residual beyond ``residual_factor`` times what
    the measured marker noise explains. A subject's scaling or a sequence beyond it is flagged (its
    rows carry ``label_flags``, the build exits 1, ``validate`` fails)."""

    residual_factor: float = 2.0  # 0: off

    def __post_init__(self) -> None:
        ok = self.residual_factor == 0 or self.residual_factor >= 1
        require(ok, "gates.residual_factor", self.residual_factor, ">= 1 (0: off)")


@dataclass(frozen=True)
class SimulationConfig:
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    ik: IKConfig = field(default_factory=IKConfig)
    merge: MergeConfig = field(default_factory=MergeConfig)
    filter: FilterConfig = field(default_factory=FilterConfig)
    gates: GateConfig = field(default_factory=GateConfig)


@dataclass(frozen=True)
class FramesConfig:
    mode: str = "none"  # none | crop | full
    stride: int = 10  # every 10th mocap frame: 5 images/s at 50 Hz
    size_px: int = 256  # side of a square crop
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        require(self.mode in FRAMES_MODES, "frames.mode", self.mode, " | ".join(FRAMES_MODES))
        if self.stride < 1 or self.size_px < 8 or not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"invalid frames settings {self}")

    @property
    def key(self) -> str:
        """Name of this setting's work folder: changing it rebuilds the frames only (full frames
        have no crop size: changing it rebuilds nothing)."""
        size = "" if self.mode == "full" else f"-{self.size_px}px"
        return f"{self.mode}-stride{self.stride}{size}-q{self.jpeg_quality}"


@dataclass(frozen=True)
class BuildConfig:
    subjects: tuple[str, ...] | None = None
    workers: int = 1
    detections: str | None = None  # SpinePose detections root: triangulated spine pseudo-markers for IK
    check_videos: bool = True  # False: a mocap-only build (no frames wanted), videos never opened
    frames: FramesConfig = field(default_factory=FramesConfig)
    release: str = "full"  # full | public (annotations only: see shards.PUBLIC_HIDDEN)
    model: str | None = None  # a user-supplied OpenSim model: its mapping JSON (biomech.user_model)
    annotations: str | None = None  # the official release's labels instead of our simulation (annotations)
    annotations_unit: str | None = None  # their length unit (m | cm | mm); None: decided from the data
    train_subjects: tuple[str, ...] = h36m.TRAIN_SUBJECTS
    test_subjects: tuple[str, ...] = h36m.TEST_SUBJECTS
    simulation: SimulationConfig = field(default_factory=SimulationConfig)

    def __post_init__(self) -> None:
        require(self.workers >= 1, "workers", self.workers, ">= 1")
        units = (None, *LENGTH_UNITS_MM)
        require(self.annotations_unit in units, "annotations_unit", self.annotations_unit, "m | cm | mm")
        require(self.release in RELEASES, "release", self.release, " | ".join(RELEASES))
        both = sorted(set(self.train_subjects) & set(self.test_subjects))
        require(not both, "train_subjects / test_subjects", both, "disjoint lists")

    @classmethod
    def from_toml(cls, path: str | Path) -> BuildConfig:
        """Settings from a TOML file whose tables mirror this class (``builder_scripts/*.toml``)."""
        import tomllib

        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML ({e})") from e
        return from_mapping(cls, data, str(path))

    def split_of(self, subject: str) -> str:
        return h36m.split_of(subject, self.train_subjects, self.test_subjects)


def ignored_settings(config: BuildConfig) -> list[str]:
    """The settings given that this build's mode does not use, each as a sentence naming it (the
    build logs them as warnings): every ``simulation.*`` with ``--annotations`` (the labels are the
    release's); the IK weights' values with ``ik.weights = "measured"`` (a marker is used or not;
    its measured noise sets its weight); our solver's and temporal IK's settings with ``--model``;
    the frames settings without frames, the crop size with full frames."""
    found = []
    if config.annotations:
        why = "is ignored with --annotations (the labels are the release's)"
        found += [f"simulation.{name} = {value!r} {why}" for name, value in _changed(config.simulation)]
    ik, default = config.simulation.ik, IKConfig()
    if ik.weights == "measured" and not config.annotations:
        for name in ("h36m_weights", "pseudo_marker_weights"):
            mine, theirs = getattr(ik, name), getattr(default, name)
            # a weight switched on or off counts; a new value of one that stays on does not
            moved = sorted(
                str(k) for k, w in mine.items() if w > 0 and theirs.get(k, 0) > 0 and w != theirs[k]
            )
            if moved:
                found.append(
                    f'ik.{name} values of {", ".join(moved)} are ignored with ik.weights = "measured" '
                    '(only whether a weight is 0 counts; set ik.weights = "configured")'
                )
    if config.model and not config.annotations:  # OpenSim's solver, frame by frame, no uncertainty
        unused = ("block_frames", "temporal", "window_frames", "acceleration_rounds", "uncertainty_samples")
        found += [
            f"ik.{name} = {getattr(ik, name)!r} is ignored with --model (OpenSim's solver, frame by frame)"
            for name in unused
            if getattr(ik, name) != getattr(default, name)
        ]
    if config.frames.mode == "none":
        found += [
            f"frames.{name} = {value!r} is ignored without --frames"
            for name, value in _changed(config.frames)
        ]
    elif config.frames.mode == "full" and config.frames.size_px != FramesConfig().size_px:
        found.append(f"frames.size_px = {config.frames.size_px} is ignored with --frames full (whole images)")
    return found


def _changed(settings: object, table: str = "") -> list[tuple[str, object]]:
    """(dotted name, value) of every leaf setting that differs from its class's default."""
    out = []
    defaults = type(settings)()
    for f in fields(settings):
        mine, theirs = getattr(settings, f.name), getattr(defaults, f.name)
        if is_dataclass(mine):
            out += _changed(mine, f"{table}{f.name}.")
        elif mine != theirs:
            out.append((f"{table}{f.name}", mine))
    return out


@dataclass(frozen=True)
class DetectConfig:
    """How ``detect`` runs: the model (a SpinePose name and version, or ``onnx`` with
    ``input_size``, or an mmpose ``mmpose_config`` + ``checkpoint``), where the boxes come from,
    which frames (every ``stride``-th), and the compute (batch, workers, threads per worker, device)."""

    model: str = "spinepose-m"
    version: str | None = None  # v2 (SIMSPINE fine-tuned, default where published) | v1
    onnx: str | None = None
    input_size: tuple[int, int] | None = None  # (W, H) of --onnx models; default 192 x 256
    mmpose_config: str | None = None
    checkpoint: str | None = None
    boxes: str = "mocap"
    stride: int = 1
    subjects: tuple[str, ...] | None = None
    batch_size: int = 32
    workers: int = 1
    threads: int | None = None  # inference threads per worker (default: cores / workers)
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "fp32"  # fp32 | int8 (ONNX sources: quantized on the capture's crops, gated)
    int8_max_px: float = INT8_MAX_P95_PX  # the gate: worst keypoint's 95th percentile, input pixels
    accept_int8: bool = False  # go on beyond the gate (the agreement is still recorded)
    int8_model: str | None = None  # set by ``precision.prepare``: the quantized file to run

    def __post_init__(self) -> None:
        if self.precision not in pose_models.PRECISIONS:
            raise ValueError(f"precision must be one of {pose_models.PRECISIONS}, got {self.precision!r}")
        if self.precision == "int8" and (self.mmpose_config or self.checkpoint):
            raise ValueError(
                "--precision int8 is for ONNX models (SpinePose's, --onnx), not mmpose checkpoints"
            )
        if self.precision == "int8" and self.device == "cuda":
            raise ValueError(
                "--precision int8 runs on the CPU (ONNX Runtime's CUDA provider has no int8 QDQ kernels); "
                "use --device cpu, or fp32 on the GPU"
            )
        if self.boxes not in BOX_SOURCES:
            raise ValueError(f"boxes must be one of {BOX_SOURCES}, got {self.boxes!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        for name in ("stride", "batch_size", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def ignored(self) -> list[str]:
        """The settings given that this model source does not use, as sentences (logged as
        warnings): with ``--onnx`` the SpinePose name and version; with an mmpose checkpoint the
        name, version, input size and threads; at fp32 the int8 gate's settings."""
        plain = DetectConfig()
        used = {"model", "version"} if self.onnx else set()
        if self.mmpose_config or self.checkpoint:
            used = {"model", "version", "input_size", "threads"}
        source = "--onnx" if self.onnx else "an mmpose checkpoint"
        ignored = [f"{name} = {getattr(self, name)!r} is ignored with {source}"
                   for name in sorted(used) if getattr(self, name) != getattr(plain, name)]  # fmt: skip
        int8_only = ("accept_int8", "int8_max_px") if self.precision == "fp32" else ()
        ignored += [f"{name} = {getattr(self, name)!r} is ignored at --precision fp32"
                    for name in int8_only if getattr(self, name) != getattr(plain, name)]  # fmt: skip
        return ignored

    def load_model(self) -> pose_models.TopDownModel:
        """The model to run: at int8, the quantized file ``precision.prepare`` made."""
        if self.precision == "int8" and not self.int8_model:
            raise ValueError("an int8 DetectConfig runs after precision.prepare (detect() calls it)")
        return pose_models.load_model(
            self.model,
            version=self.version,
            onnx=self.onnx,
            input_size_wh=self.input_size,
            mmpose_config=self.mmpose_config,
            checkpoint=self.checkpoint,
            threads=self.threads or pose_models.default_threads(self.workers),
            device="cpu" if self.precision == "int8" else self.device,
            int8=self.int8_model if self.precision == "int8" else None,
        )


T = TypeVar("T")


def from_mapping(cls: type[T], data: dict, where: str, table: str = "") -> T:
    """A (nested) frozen dataclass from a mapping, e.g. a TOML table. Keys missing keep their
    defaults; an unknown key, or a value that is not of its declared type, raises ``ValueError``
    naming ``where`` (the file), the key (``table.key``), the value and the type expected. Types are
    checked by pydantic in strict mode (no coercion: "false" is not a bool, 2.5 not an int, "S1" not
    a list), as JSON types: a list stands for a tuple, an integer for a float, a table's string
    keys for integer keys."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: setting {table.rstrip('.')} = {data!r} is not a table of settings")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        named = [table + u for u in unknown]
        raise ValueError(f"{where}: unknown setting(s) {named}; known: {sorted(known)}")
    values = {}
    for name, value in data.items():
        kind = hints[name]
        if is_dataclass(kind):
            values[name] = from_mapping(kind, value, where, f"{table}{name}.")
        else:
            values[name] = _checked(kind, value, f"{where}: setting {table}{name}")
    try:
        return cls(**values)
    except ValueError as e:  # a value of the right type but out of range (``require``)
        raise ValueError(f"{where}: {e}") from e


def _checked(kind: object, value: object, where: str) -> object:
    """``value`` validated as ``kind`` (pydantic, strict, JSON types)."""
    import json

    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(kind).validate_json(json.dumps(value), strict=True)
    except (ValidationError, TypeError, ValueError) as e:
        expected = getattr(kind, "__name__", None) if isinstance(kind, type) else None
        expected = expected or str(kind).replace("typing.", "")
        reason = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
        raise ValueError(f"{where} = {value!r} is not of type {expected} ({reason})") from e
