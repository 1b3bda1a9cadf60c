"""``simspine build RAW OUT``: the stages over a whole capture, as resumable units.

Work folder (the stage order is the layout)::

    OUT/work/<hash>/1_scale/<subject>.json               per subject: segment factors, height, residual
    OUT/work/<hash>/2_simulate/<subject>/<sequence>.npz  per sequence: coordinates, keypoints, residual
    OUT/work/<hash>/3_views/<subject>/<sequence>.parquet per sequence: the rows of its four cameras

(``<hash>``: the build settings' digest; pseudo-markers from ``--detections`` are computed inside
the simulate unit, by ``pseudo_markers``.)
    OUT/data/default/{train,test}/shard-NNNNN.parquet, OUT/meta/, OUT/models/, OUT/build_report.json

Every unit writes to a temporary name and renames when complete; its output is its completion
marker, so a re-run skips finished units. A failing sequence is reported by name and the others go
on. Sequences run in ``workers`` processes. Shards are assembled in a fixed order (split, subject,
action, subaction, frame, camera) with fixed row-group sizes, so two builds give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from simspine_dataset import h36m
from simspine_dataset.capture import SequenceRecord, discover, load_mocap
from simspine_dataset.config import SimulationConfig
from simspine_dataset.errors import SimspineError
from simspine_dataset.io.atomic import atomic_path, write_text_atomic

log = logging.getLogger(__name__)

WORK_SCALE = "work/{config}/1_scale/{subject}.json"  # keyed by the settings' hash: changed settings
WORK_SIMULATE = "work/{config}/2_simulate/{subject}/{sequence}.npz"  # never reuse stale units
WORK_VIEWS = "work/{config}/3_views/{subject}/{sequence}.parquet"
SHARD = "data/default/{split}/shard-{index:05d}.parquet"
ROWS_PER_SHARD = 200_000  # ~1.2 kB a row: ~240 MB, under the ~500 MB target
ROWS_PER_GROUP = 20_000  # ~24 MB row groups, under the ~100 MB target
VIEW_CHUNK_FRAMES = 2_000  # frames turned into rows at a time
DEPENDENCIES = ("simspine-dataset", "numpy", "scipy", "opensim", "cdflib", "av", "datasets", "pyarrow")


@dataclass(frozen=True)
class BuildConfig:
    subjects: tuple[str, ...] | None = None
    workers: int = 1
    detections: str | None = None  # SpinePose detections root: triangulated spine pseudo-markers for IK
    check_videos: bool = True  # False: a mocap-only build (no frames wanted), videos never opened
    train_subjects: tuple[str, ...] = h36m.TRAIN_SUBJECTS
    test_subjects: tuple[str, ...] = h36m.TEST_SUBJECTS
    simulation: SimulationConfig = field(default_factory=SimulationConfig)

    def split_of(self, subject: str) -> str:
        return (
            "train"
            if subject in self.train_subjects
            else "test"
            if subject in self.test_subjects
            else "other"
        )

    def digest(self) -> str:
        """Hash of every setting that changes the output (not ``workers``)."""
        settings = {k: v for k, v in asdict(self).items() if k not in ("workers", "check_videos")}
        return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _scale_unit(out: Path, subject: str, records: list[SequenceRecord], config: BuildConfig) -> dict:
    """Scale one subject (skipped when its result exists); writes models/<subject>.osim too."""
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.biomech.osim import write_osim
    from simspine_dataset.biomech.pipeline import scale_from_mocap
    from simspine_dataset.biomech.scaling import scale_opensim_model

    path = out / WORK_SCALE.format(config=config.digest(), subject=subject)
    if path.is_file():
        return json.loads(path.read_text())
    spec = model_spec(config.simulation.ik.spine)
    scale = scale_from_mocap(
        subject, [load_mocap(r).joints_world_mm for r in records], config.simulation, spec
    )
    write_osim(
        scale_opensim_model(spec, scale.segment_factors, scale.mass_kg), out / "models" / f"{subject}.osim"
    )
    result = asdict(scale)
    write_text_atomic(path, json.dumps(result, indent=1))
    return result


def _sequence_unit(out: Path, record: SequenceRecord, scale: dict, config: BuildConfig) -> dict:
    """Simulate one sequence and write its rows; returns its report entry (never raises on bad input)."""
    start = time.perf_counter()
    entry = {
        "subject": record.subject,
        "sequence": record.sequence,
        "action": record.action,
        "subaction": record.subaction,
        "frames": record.n_frames,
    }
    try:
        simulated = _simulate(out, record, scale, config)
        _views(out, record, simulated, config)
        rmse = simulated["ik_marker_rmse_mm"]
        entry |= {
            "status": "ok",
            "ik_rmse_mm": {
                "mean": float(np.mean(rmse)),
                "p95": float(np.percentile(rmse, 95)),
                "max": float(np.max(rmse)),
            },
        }
    except SimspineError as e:
        log.error("%s: %s", record.key, e)
        entry |= {"status": "failed", "error": f"{type(e).__name__}: {e}"}
    entry["seconds"] = round(time.perf_counter() - start, 3)
    return entry


def _simulate(out: Path, record: SequenceRecord, scale: dict, config: BuildConfig) -> dict:
    from simspine_dataset.biomech.kinematics import KinematicModel, body_scale_factors, scale_spec
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.biomech.pipeline import simulate_sequence

    path = out / WORK_SIMULATE.format(
        config=config.digest(), subject=record.subject, sequence=record.sequence
    )
    if path.is_file():
        with np.load(path) as data:
            return dict(data)
    spec = model_spec(config.simulation.ik.spine)
    model = KinematicModel(scale_spec(spec, body_scale_factors(spec, scale["segment_factors"])))
    pseudo = None
    if config.detections:
        from simspine_dataset.pseudo_markers import pseudo_markers

        pseudo = pseudo_markers(config.detections, record)
    result = simulate_sequence(
        record.key, model, load_mocap(record).joints_world_mm, config.simulation, pseudo
    )
    arrays = {
        "coordinates": result.coordinates.astype(np.float32),
        "keypoints_world_mm": result.keypoints_world_mm.astype(np.float32),
        "ik_marker_rmse_mm": result.ik_marker_rmse_mm.astype(np.float32),
    }
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.savez(f, **arrays)
    return arrays


def kinematic_axes(spine: str) -> list[dict]:
    """Names and units of the ``kinematics`` column (the model's independent coordinates)."""
    from simspine_dataset.biomech.model_table import model_spec

    return [
        {"name": c.name, "unit": "deg" if c.kind == "rotation" else "mm"}
        for c in model_spec(spine).coordinates
    ]


def _views(out: Path, record: SequenceRecord, simulated: dict, config: BuildConfig) -> None:
    import pyarrow.parquet as pq
    from datasets import Dataset

    from simspine_dataset.geometry.transforms import coordinates_to_published
    from simspine_dataset.schema import default_features
    from simspine_dataset.views import view_rows

    path = out / WORK_VIEWS.format(config=config.digest(), subject=record.subject, sequence=record.sequence)
    if path.is_file():
        return
    coords = simulated["coordinates"].astype(float)
    is_translation = np.array([a["unit"] == "mm" for a in kinematic_axes(config.simulation.ik.spine)])
    kinematics = coordinates_to_published(coords, is_translation)
    features = default_features(coords.shape[1])
    with atomic_path(path) as tmp:
        writer = None
        for start in range(0, len(coords), VIEW_CHUNK_FRAMES):  # bounded memory on long sequences
            frames = np.arange(start, min(start + VIEW_CHUNK_FRAMES, len(coords)))
            keypoints = simulated["keypoints_world_mm"][frames].astype(float)
            rows = view_rows(
                record.subject,
                record.action,
                record.subaction,
                frames,
                keypoints,
                kinematics[frames],
                simulated["ik_marker_rmse_mm"][frames],
                record.cameras,
            )
            table = Dataset.from_dict(rows, features=features).data.table
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()


def _problem_entry(problem: SimspineError) -> dict:
    """A discovery problem as a failed entry of the report (the file is named in the message)."""
    return {"subject": "", "sequence": str(getattr(problem, "path", "")), "status": "failed",
            "error": f"{type(problem).__name__}: {problem}"}  # fmt: skip


def _job(args: tuple) -> dict:
    return _sequence_unit(*args)


def _shards(out: Path, entries: list[dict], config: BuildConfig) -> dict[str, int]:
    """Assemble the per-sequence rows into the split shards, in a fixed order. Returns rows per split."""
    import datasets  # noqa: F401 - registers its Arrow extension types (Array2D) before reading
    import pyarrow as pa
    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    ok = sorted(
        (e for e in entries if e["status"] == "ok"),
        key=lambda e: (h36m.subject_number(e["subject"]), e["action"], e["subaction"]),
    )
    for split in sorted({config.split_of(e["subject"]) for e in ok}):
        members = [e for e in ok if config.split_of(e["subject"]) == split]
        tables = [
            pq.read_table(
                out / WORK_VIEWS.format(config=config.digest(), subject=e["subject"], sequence=e["sequence"])
            )
            for e in members
        ]
        table = pa.concat_tables(tables)
        for old in (out / SHARD.format(split=split, index=0)).parent.glob("shard-*.parquet"):
            old.unlink()
        for index, start in enumerate(range(0, table.num_rows, ROWS_PER_SHARD)):
            with atomic_path(out / SHARD.format(split=split, index=index)) as tmp:
                pq.write_table(
                    table.slice(start, ROWS_PER_SHARD),
                    tmp,
                    row_group_size=ROWS_PER_GROUP,
                    compression="zstd",
                    write_page_index=True,
                )
        counts[split] = table.num_rows
    return counts


def _versions() -> dict[str, str]:
    out = {}
    for name in DEPENDENCIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def build(raw: str | Path, out: str | Path, config: BuildConfig = BuildConfig()) -> dict:
    """Run every stage over ``raw``; returns the build report (also written to build_report.json)."""
    from simspine_dataset.card import write_card
    from simspine_dataset.skeleton import write_skeleton_json

    out = Path(out)
    capture = discover(raw, config.subjects, check_videos=config.check_videos)
    by_subject: dict[str, list[SequenceRecord]] = {}
    for record in capture.sequences:
        by_subject.setdefault(record.subject, []).append(record)
    jobs = []
    for subject, records in sorted(by_subject.items(), key=lambda kv: h36m.subject_number(kv[0])):
        scale = _scale_unit(out, subject, records, config)
        jobs += [(out, r, scale, config) for r in records]
    if config.workers > 1:
        with ProcessPoolExecutor(config.workers) as pool:
            entries = list(pool.map(_job, jobs))
    else:
        entries = [_job(job) for job in jobs]
    entries += [_problem_entry(p) for p in capture.problems]
    counts = _shards(out, entries, config)
    write_skeleton_json(out / "meta" / "skeleton.json")
    write_text_atomic(
        out / "meta" / "kinematic_axes.json", json.dumps(kinematic_axes(config.simulation.ik.spine), indent=1)
    )
    report = {
        "config_hash": config.digest(),
        "config": json.loads(json.dumps(asdict(config), default=str)),
        "versions": _versions(),
        "rows": counts,
        "sequences": entries,
    }
    write_text_atomic(out / "build_report.json", json.dumps(report, indent=1))
    write_card(out)
    return report
