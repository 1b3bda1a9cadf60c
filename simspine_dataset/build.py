"""``simspine build RAW OUT``: the stages over a whole capture, as resumable units.

Work folder (the stage order is the layout)::

    OUT/work/<hash>/1_scale/<subject>.json               per subject: segment factors, height, residual
    OUT/work/<hash>/2_simulate/<subject>/<sequence>.npz  per sequence: coordinates, keypoints, residual
    OUT/work/<hash>/3_views/<subject>/<sequence>.parquet per sequence: the rows of its four cameras
    OUT/work/<hash>/4_frames/<frames>/<subject>/<sequence>.parquet  with --frames: images (``frames``)

(``<hash>``: the digest of the settings that change the simulation; ``<frames>``: the frames
settings' key; pseudo-markers from ``--detections`` are computed inside the simulate unit, by
``pseudo_markers``.) Then ``shards`` (``simspine_dataset.shards``) assembles
    OUT/data/{default,frames}/{train,test}/shard-NNNNN.parquet, OUT/meta/, OUT/models/, OUT/build_report.json

Every unit writes to a temporary name and renames when complete; its output is its completion
marker, so a re-run skips finished units. A failing sequence is reported by name and the others go
on. Sequences run in ``workers`` processes (or on a datatrove executor: ``distributed``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np

from simspine_dataset import h36m
from simspine_dataset.capture import Capture, SequenceRecord, discover, load_mocap
from simspine_dataset.config import SimulationConfig
from simspine_dataset.errors import SimspineError
from simspine_dataset.frames import FramesConfig
from simspine_dataset.io.atomic import atomic_path, write_text_atomic
from simspine_dataset.io.identity import stat_fingerprint
from simspine_dataset.schema import QUALITY_COLUMNS

log = logging.getLogger(__name__)

WORK_SCALE = "work/{config}/1_scale/{subject}.{inputs}.json"  # keyed by the settings' hash: changed settings
WORK_SIMULATE = "work/{config}/2_simulate/{subject}/{sequence}.npz"  # never reuse stale units
WORK_VIEWS = "work/{config}/3_views/{subject}/{sequence}.parquet"
WORK_FRAMES = "work/{config}/4_frames/{frames}/{subject}/{sequence}.parquet"
WORK_ENTRY = "work/{config}/reports/{subject}/{sequence}.json"  # a sequence unit's report entry
VIEW_CHUNK_FRAMES = 2_000  # frames turned into rows at a time
FRAME_CHUNK_FRAMES = 250  # mocap frames whose images are decoded at a time (x 4 cameras)
DEPENDENCIES = ("simspine-dataset", "numpy", "scipy", "opensim", "cdflib", "av", "datasets", "pyarrow")


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
    train_subjects: tuple[str, ...] = h36m.TRAIN_SUBJECTS
    test_subjects: tuple[str, ...] = h36m.TEST_SUBJECTS
    simulation: SimulationConfig = field(default_factory=SimulationConfig)

    def __post_init__(self) -> None:
        from simspine_dataset.config import require
        from simspine_dataset.shards import RELEASES

        require(self.workers >= 1, "workers", self.workers, ">= 1")
        require(self.release in RELEASES, "release", self.release, " | ".join(RELEASES))
        both = sorted(set(self.train_subjects) & set(self.test_subjects))
        require(not both, "train_subjects / test_subjects", both, "disjoint lists")

    @classmethod
    def from_toml(cls, path: str | Path) -> BuildConfig:
        """Settings from a TOML file whose tables mirror this class (``builder_scripts/*.toml``)."""
        import tomllib

        from simspine_dataset.config import from_mapping

        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML ({e})") from e
        return from_mapping(cls, data, str(path))

    def split_of(self, subject: str) -> str:
        return (
            "train"
            if subject in self.train_subjects
            else "test"
            if subject in self.test_subjects
            else "other"
        )

    def digest(self) -> str:
        """Hash of every setting that changes the simulated rows (not how they are run, framed or
        released: those have their own keys or act at the shards)."""
        ignored = ("workers", "check_videos", "frames", "release")
        settings = {k: v for k, v in asdict(self).items() if k not in ignored}
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def unit_key(record: SequenceRecord, config: BuildConfig, with_videos: bool = False) -> dict[str, str]:
    """The fields of a sequence unit's work path: settings digest, subject, and the sequence name
    with its inputs' fingerprint (the mocap CDF; its detections with ``--detections``; the videos
    too for the frames unit)."""
    inputs = [record.files.d3_positions]
    if with_videos:
        inputs += [record.files.videos[c] for c in record.camera_ids]
    fingerprint = stat_fingerprint(inputs)
    if config.detections:  # re-detected videos (another model, another stride) are a new unit
        from simspine_dataset.io.detections import fingerprint as detections_fingerprint

        fingerprint += detections_fingerprint(config.detections, record.subject, record.sequence,
                                              list(record.camera_ids))  # fmt: skip
    if config.annotations:  # changed release files are a new unit
        fingerprint += stat_fingerprint(
            open_annotations(config.annotations).files(record.subject, record.sequence)
        )
    return {
        "config": config.digest(),
        "frames": config.frames.key,
        "subject": record.subject,
        "sequence": f"{record.sequence}.{fingerprint}",
    }


def _scale_unit(out: Path, subject: str, records: list[SequenceRecord], config: BuildConfig) -> dict | None:
    """Scale one subject (skipped when its result exists); writes models/<subject>.osim too.
    Sequences whose mocap cannot be read are left out here and fail in their own unit; None when
    none can be read."""
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.biomech.osim import write_osim
    from simspine_dataset.biomech.pipeline import scale_from_mocap
    from simspine_dataset.biomech.scaling import scale_opensim_model

    inputs = stat_fingerprint([r.files.d3_positions for r in records])
    path = out / WORK_SCALE.format(config=config.digest(), subject=subject, inputs=inputs)
    if path.is_file():
        return json.loads(path.read_text())
    mocap = []
    for record in records:
        try:
            mocap.append(load_mocap(record).joints_world_mm)
        except SimspineError as e:
            log.warning("scaling %s without %s: %s", subject, record.sequence, e)
    if not mocap:
        return None
    if config.annotations:
        result = _release_model(out, subject, config)
        write_text_atomic(path, json.dumps(result, indent=1))
        return result
    if config.model:
        result = _scale_user_model(out, subject, mocap, config)
        write_text_atomic(path, json.dumps(result, indent=1))
        return result
    spec = model_spec(config.simulation.ik.spine)
    scale = scale_from_mocap(subject, mocap, config.simulation, spec)
    write_osim(
        scale_opensim_model(spec, scale.segment_factors, scale.mass_kg), out / "models" / f"{subject}.osim"
    )
    result = asdict(scale)
    write_text_atomic(path, json.dumps(result, indent=1))
    return result


def _scale_user_model(out: Path, subject: str, mocap: list[np.ndarray], config: BuildConfig) -> dict:
    """Scale a user-supplied model with OpenSim (``user_model.scale_user_model``); writes
    models/<subject>.osim, which the subject's sequence units load."""
    from simspine_dataset.biomech.osim import write_osim
    from simspine_dataset.biomech.user_model import UserModel, scale_user_model
    from simspine_dataset.geometry.transforms import world_mm_to_opensim_m

    user = UserModel.from_json(config.model)
    joints_m = world_mm_to_opensim_m(np.concatenate(mocap, axis=0))
    model = scale_user_model(user, joints_m, config.simulation.scaling.mass_kg)
    write_osim(model, out / "models" / f"{subject}.osim")
    return {"subject": subject, "user_model": str(user.osim_path), "osim": f"models/{subject}.osim"}


def _release_model(out: Path, subject: str, config: BuildConfig) -> dict:
    """With ``--annotations`` nothing is scaled: the release's ``models/<subject>.osim`` is copied
    when it has one."""
    import shutil

    source = Path(config.annotations) / "models" / f"{subject}.osim"
    if source.is_file():
        target = out / "models" / f"{subject}.osim"
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        return {"subject": subject, "osim": f"models/{subject}.osim", "from": str(source)}
    return {"subject": subject, "osim": None}


@cache
def open_annotations(root: str):  # -> annotations.Annotations
    """The release's labels, indexed once per process."""
    from simspine_dataset.annotations import Annotations

    return Annotations.open(root)


def _sequence_unit(out: Path, record: SequenceRecord, scale: dict | None, config: BuildConfig) -> dict:
    """Simulate one sequence and write its rows; returns its report entry. Never raises: any
    exception is recorded with its stage (simulate, views, frames), type and message."""
    start = time.perf_counter()
    entry = {
        "subject": record.subject,
        "sequence": record.sequence,
        "action": record.action,
        "subaction": record.subaction,
        "frames": record.n_frames,
        "units": {"default": unit_key(record, config)},
    }
    if config.frames.mode != "none":
        entry["units"]["frames"] = unit_key(record, config, with_videos=True)
    stage = "simulate"
    try:
        simulated = _simulate(out, record, scale, config)
        stage = "views"
        _views(out, record, simulated, config)
        if config.frames.mode != "none":
            stage = "frames"
            _frames(out, record, config)
        rmse = simulated["ik_marker_rmse_mm"]
        entry |= {
            "status": "ok",
            "ik_rmse_mm": {
                "mean": float(np.mean(rmse)),
                "p95": float(np.percentile(rmse, 95)),
                "max": float(np.max(rmse)),
            },
        }
    except Exception as e:  # any failure stays this sequence's: named in the report, the others go on
        log.error("%s (%s): %s: %s", record.key, stage, type(e).__name__, e)
        entry |= {"status": "failed", "stage": stage, "error": f"{type(e).__name__}: {e}"}
    entry["seconds"] = round(time.perf_counter() - start, 3)
    return entry


def _simulate(out: Path, record: SequenceRecord, scale: dict | None, config: BuildConfig) -> dict:
    from simspine_dataset.biomech.kinematics import KinematicModel, body_scale_factors, scale_spec
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.biomech.pipeline import simulate_sequence

    path = out / WORK_SIMULATE.format(**unit_key(record, config))
    if path.is_file():
        with np.load(path) as data:
            return dict(data)
    joints = load_mocap(record).joints_world_mm  # first: bad mocap fails here, named
    if scale is None:
        raise SimspineError(f"{record.subject}: the subject could not be scaled (see the log)")
    if config.annotations:
        arrays = _release_arrays(record, joints, config)
        with atomic_path(path) as tmp, tmp.open("wb") as f:
            np.savez(f, **arrays)
        return arrays
    pseudo = None
    if config.detections:
        from simspine_dataset.pseudo_markers import pseudo_markers

        pseudo = pseudo_markers(config.detections, record)
    if config.model:
        from simspine_dataset.biomech.osim import load_osim
        from simspine_dataset.biomech.pipeline import simulate_sequence_user
        from simspine_dataset.biomech.user_model import UserModel, coordinate_axes

        model = load_osim(out / scale["osim"])
        model.initSystem()
        result = simulate_sequence_user(
            record.key, UserModel.from_json(config.model), model, joints, config.simulation, pseudo
        )
        axes = coordinate_axes(model, result.coordinate_names)
    else:
        spec = model_spec(config.simulation.ik.spine)
        model = KinematicModel(scale_spec(spec, body_scale_factors(spec, scale["segment_factors"])))
        result = simulate_sequence(record.key, model, joints, config.simulation, pseudo)
        axes = kinematic_axes(config.simulation.ik.spine)
    arrays = {
        "coordinates": result.coordinates.astype(np.float32),
        "keypoints_world_mm": result.keypoints_world_mm.astype(np.float32),
        "ik_marker_rmse_mm": result.ik_marker_rmse_mm.astype(np.float32),
        "ik_residual_mocap_mm": result.residual_mocap_mm.astype(np.float32),
        "ik_residual_detections_mm": result.residual_detections_mm.astype(np.float32),
        "keypoints_uncertainty_mm": result.keypoint_uncertainty_mm.astype(np.float32),
        "axes_json": np.array(json.dumps(axes)),  # names and published units of the coordinates
    }
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez(f, **arrays)
    return arrays


def _release_arrays(record: SequenceRecord, joints_world_mm: np.ndarray, config: BuildConfig) -> dict:
    """The simulate unit's arrays from the release's labels (``annotations``): no IK, so the
    residuals are the release's own (or NaN) and there is no uncertainty estimate."""
    labels = open_annotations(config.annotations).labels(record.subject, record.sequence, joints_world_mm)
    T = len(labels.keypoints_world_mm)
    missing = np.full(T, np.nan, np.float32)
    return {
        "coordinates": labels.coordinates.astype(np.float32),
        "keypoints_world_mm": labels.keypoints_world_mm.astype(np.float32),
        "ik_marker_rmse_mm": labels.ik_marker_rmse_mm.astype(np.float32),
        "ik_residual_mocap_mm": missing,
        "ik_residual_detections_mm": missing,
        "keypoints_uncertainty_mm": np.full(labels.keypoints_world_mm.shape[:2], np.nan, np.float32),
        "axes_json": np.array(json.dumps(labels.axes)),
    }


def kinematic_axes(spine: str) -> list[dict]:
    """Names and units of the ``kinematics`` column (the model's independent coordinates)."""
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.geometry.transforms import kinematic_axis

    return [kinematic_axis(c.name, c.kind != "rotation") for c in model_spec(spine).coordinates]


def _views(out: Path, record: SequenceRecord, simulated: dict, config: BuildConfig) -> None:
    from datasets import Dataset

    from simspine_dataset.geometry.transforms import axes_is_translation, coordinates_to_published
    from simspine_dataset.schema import default_features
    from simspine_dataset.views import view_rows

    path = out / WORK_VIEWS.format(**unit_key(record, config))
    if path.is_file():
        return
    is_translation = axes_is_translation(json.loads(str(simulated["axes_json"])))
    kinematics = coordinates_to_published(simulated["coordinates"].astype(float), is_translation)
    features = default_features(kinematics.shape[1])

    def tables():  # bounded memory on long sequences: VIEW_CHUNK_FRAMES frames at a time
        for start in range(0, len(kinematics), VIEW_CHUNK_FRAMES):
            frames = np.arange(start, min(start + VIEW_CHUNK_FRAMES, len(kinematics)))
            rows = view_rows(
                record.subject,
                record.action,
                record.subaction,
                frames,
                simulated["keypoints_world_mm"][frames].astype(float),
                kinematics[frames],
                simulated["ik_marker_rmse_mm"][frames],
                record.cameras,
                {name: simulated[name][frames] for name in QUALITY_COLUMNS},
            )
            yield Dataset.from_dict(rows, features=features).data.table

    _write_parquet(path, tables())


def _frames(out: Path, record: SequenceRecord, config: BuildConfig) -> None:
    """Images of every ``stride``-th frame of the sequence's views (``frames.frame_images``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from simspine_dataset.frames import frame_images
    from simspine_dataset.schema import frames_features

    path = out / WORK_FRAMES.format(**unit_key(record, config, with_videos=True))
    if path.is_file():
        return
    views = pq.read_table(out / WORK_VIEWS.format(**unit_key(record, config)))
    wanted = np.flatnonzero(views.column("frame").to_numpy() % config.frames.stride == 0)
    videos = {c: str(p) for c, p in record.files.videos.items()}
    chunk = FRAME_CHUNK_FRAMES * len(record.cameras)

    def tables():  # bounded memory: FRAME_CHUNK_FRAMES frames' images at a time
        for start in range(0, len(wanted), chunk):
            rows = views.take(wanted[start : start + chunk])
            columns = {name: rows.column(name).to_numpy(zero_copy_only=False) for name in
                       ("camera", "frame", "image_size", "bbox_xywh_px")}  # fmt: skip
            for name in ("image_size", "bbox_xywh_px"):
                columns[name] = np.stack(columns[name])
            images, crops = frame_images(columns, videos, config.frames)
            schema = frames_features(len(rows.column("kinematics")[0])).arrow_schema
            table = rows.append_column("image", pa.array(images, schema.field("image").type))
            table = table.append_column(
                "crop_xywh_px", pa.array(list(crops), schema.field("crop_xywh_px").type)
            )
            yield table.select(schema.names).cast(schema)

    _write_parquet(path, tables())


def _write_parquet(path: Path, tables) -> None:
    """Stream tables of one schema into a Parquet file, written under a temporary name."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        writer = None
        for table in tables:
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()


def _problem_entry(problem: SimspineError) -> dict:
    """A discovery problem as a failed entry of the report (the file is named in the message)."""
    return {"subject": "", "sequence": str(getattr(problem, "path", "")), "status": "failed",
            "error": f"{type(problem).__name__}: {problem}"}  # fmt: skip


def _job(args: tuple) -> dict:
    return run_sequence(*args)


def _scale_job(args: tuple) -> dict | None:
    return scale_subject(*args)


def _shards(out: Path, entries: list[dict], config: BuildConfig) -> dict[str, dict[str, int]]:
    """Assemble every config's shards from the finished units, in a fixed order, each config
    swapped in whole (``shards.write_config``); returns rows per config and split."""
    from simspine_dataset.shards import remove_config, write_config

    ok = sorted(
        (e for e in entries if e["status"] == "ok"),
        key=lambda e: (h36m.subject_number(e["subject"]), e["action"], e["subaction"]),
    )
    sources = {"default": WORK_VIEWS}
    if config.frames.mode != "none":
        sources["frames"] = WORK_FRAMES
    else:
        remove_config(out, "frames")  # frames of an earlier build with other settings
    counts: dict[str, dict[str, int]] = {}
    for name, template in sources.items():
        splits = {
            split: [
                out / template.format(**e["units"][name])
                for e in ok
                if config.split_of(e["subject"]) == split
            ]
            for split in sorted({config.split_of(e["subject"]) for e in ok})
        }
        counts[name] = write_config(out, name, splits, config.release)
    return counts


def _versions() -> dict[str, str]:
    out = {}
    for name in DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def check_model(config: BuildConfig) -> list[str]:
    """A user-supplied model's mapping, checked before any work (``UserModel.check``); returns the
    IK inputs it leaves out (logged, and listed in the build report)."""
    if not config.model:
        return []
    from simspine_dataset.biomech.model_table import h36m_marker_name
    from simspine_dataset.biomech.user_model import UserModel

    user = UserModel.from_json(config.model)
    user.check(config.model)
    inputs = [h36m_marker_name(j) for j, w in config.simulation.ik.h36m_weights.items() if w > 0]
    if unmapped := user.unmapped(inputs):
        log.warning(
            "%s maps no marker for %s: left out of inverse kinematics", config.model, ", ".join(unmapped)
        )
    return unmapped


def plan(raw: str | Path, config: BuildConfig) -> tuple[Capture, dict[str, list[SequenceRecord]]]:
    """Discover the capture; its usable sequences grouped by subject (subject order)."""
    capture = discover(raw, config.subjects, check_videos=config.check_videos)
    records = capture.sequences
    if config.annotations:  # only the sequences the release has labels for (the others: logged)
        from simspine_dataset.annotations import match

        found, _ = match(open_annotations(config.annotations), [(r.subject, r.sequence) for r in records])
        records = tuple(records[i] for i in found)
    by_subject: dict[str, list[SequenceRecord]] = {}
    for record in records:
        by_subject.setdefault(record.subject, []).append(record)
    return capture, dict(sorted(by_subject.items(), key=lambda kv: h36m.subject_number(kv[0])))


def scale_subject(out: Path, subject: str, by_subject: dict, config: BuildConfig) -> dict | None:
    """A subject's scale unit; None when it cannot be scaled (logged; its sequences then fail with
    stage ``simulate``, the other subjects go on)."""
    try:
        with _one_blas_thread():
            return _scale_unit(Path(out), subject, by_subject[subject], config)
    except Exception as e:  # one subject's failure must not stop the build
        log.error("scaling %s failed: %s: %s", subject, type(e).__name__, e)
        return None


def _one_blas_thread():
    """Units run with one BLAS/OpenMP thread: the same bytes whatever the machine's core count or
    the executor's thread settings (a threaded BLAS sums in another order), and no oversubscription
    when units run in parallel processes."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def run_sequence(out: Path, record: SequenceRecord, by_subject: dict, config: BuildConfig) -> dict:
    """The sequence's unit (after its subject's scale unit); its report entry is also kept in the
    work folder, for builds whose stages run as separate tasks (``distributed``)."""
    scale = scale_subject(out, record.subject, by_subject, config)
    with _one_blas_thread():
        entry = _sequence_unit(Path(out), record, scale, config)
    write_text_atomic(Path(out) / WORK_ENTRY.format(**unit_key(record, config)), json.dumps(entry))
    return entry


def stored_entry(out: Path, record: SequenceRecord, config: BuildConfig) -> dict:
    """A sequence's entry as its unit stored it, or a failed entry when the unit never finished."""
    path = Path(out) / WORK_ENTRY.format(**unit_key(record, config))
    if path.is_file():
        return json.loads(path.read_text())
    return {"subject": record.subject, "sequence": record.sequence, "status": "failed",
            "error": f"its unit did not finish (no {path.name})"}  # fmt: skip


def _axes(out: Path, entries: list[dict], config: BuildConfig) -> list[dict]:
    """The ``kinematics`` axes: our model's, or those a user model's sequence units recorded."""
    if not (config.model or config.annotations):
        return kinematic_axes(config.simulation.ik.spine)
    for entry in entries:
        if entry.get("status") == "ok":
            path = out / WORK_SIMULATE.format(**entry["units"]["default"])
            with np.load(path) as data:
                return json.loads(str(data["axes_json"]))
    return []


def _annotations_report(capture: Capture, config: BuildConfig) -> dict | None:
    """With ``--annotations``: where the labels came from, what only one side has, and the
    keypoints that are NaN because the release lacks them."""
    if not config.annotations:
        return None
    from simspine_dataset.annotations import match, missing_keypoints

    annotations = open_annotations(config.annotations)
    keys = [(r.subject, r.sequence) for r in capture.sequences]
    found, extra = match(annotations, keys, quiet=True)  # plan() logged them
    return {
        "source": str(annotations.root),
        "sequences_without_annotations": [
            " ".join(keys[i]) for i in sorted(set(range(len(keys))) - set(found))
        ],
        "annotations_without_sequence": extra,
        "missing_keypoints": missing_keypoints(annotations),
    }


def finalize(out: Path, capture: Capture, entries: list[dict], config: BuildConfig) -> dict:
    """Shards, metadata, the build report and the card from the finished units."""
    from simspine_dataset.card import write_card
    from simspine_dataset.skeleton import write_skeleton_json

    out = Path(out)
    entries = [*entries, *(_problem_entry(p) for p in capture.problems)]
    counts = _shards(out, entries, config)
    write_skeleton_json(out / "meta" / "skeleton.json")
    write_text_atomic(out / "meta" / "kinematic_axes.json", json.dumps(_axes(out, entries, config), indent=1))
    report = {
        "config_hash": config.digest(),
        "config": json.loads(json.dumps(asdict(config), default=str)),
        "versions": _versions(),
        "rows": counts["default"] if counts else {},  # default config, per split
        "frames_rows": counts.get("frames", {}),  # frames config, per split (with --frames)
        "ik_inputs_left_out": check_model(config),  # a user model's unmapped Human3.6M joints
        "annotations": _annotations_report(capture, config),
        "sequences": entries,
    }
    write_text_atomic(out / "build_report.json", json.dumps(report, indent=1))
    write_card(out)
    return report


def build(
    raw: str | Path,
    out: str | Path,
    config: BuildConfig = BuildConfig(),
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Run every stage over ``raw`` on this machine (``workers`` processes); returns the build report
    (also written to build_report.json). ``progress`` is called with each sequence's report entry as
    it finishes. ``distributed.run`` runs the same units on datatrove."""
    out = Path(out)
    check_model(config)
    capture, by_subject = plan(raw, config)
    jobs = [(out, record, by_subject, config) for records in by_subject.values() for record in records]
    entries: list[dict] = []
    with ProcessPoolExecutor(config.workers) if config.workers > 1 else nullcontext() as pool:
        scales = [(out, subject, by_subject, config) for subject in by_subject]  # subjects in parallel
        list(pool.map(_scale_job, scales) if pool else map(_scale_job, scales))
        for entry in pool.map(_job, jobs) if pool else map(_job, jobs):
            entries.append(entry)
            if progress:
                progress(entry)
    return finalize(out, capture, entries, config)
