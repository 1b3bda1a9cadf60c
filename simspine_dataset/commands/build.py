"""``simspine build RAW OUT``: the stages over a whole capture, as resumable units.

Work folder (the stage order is the layout)::

    OUT/work/<hash>/1_scale/<subject>.json               per subject: segment factors, height, residual
    OUT/work/<hash>/2_simulate/<subject>/<sequence>.npz  per sequence: coordinates, keypoints, residual
    OUT/work/<hash>/3_views/<subject>/<sequence>.parquet per sequence: the rows of its four cameras
    OUT/work/<hash>/4_frames/<frames>/<subject>/<sequence>.parquet  with --frames: images (``frames``)

(``<hash>``: the digest of the settings that change the simulation; ``<frames>``: the frames
settings' key.) Each unit's work lives in its stage module: ``simulate`` (with ``pseudo_markers``
for ``--detections`` and ``annotations`` for ``--annotations``), ``views``, ``frames``; this
module only keys, orders and records the units. Then ``shards`` (``simspine_dataset.stages.shards``) assembles
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
from dataclasses import asdict
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset import h36m
from simspine_dataset.biomech.gates import Gate
from simspine_dataset.config import BuildConfig, ignored_settings
from simspine_dataset.errors import SimspineError
from simspine_dataset.io.atomic import atomic_path, write_text_atomic
from simspine_dataset.io.identity import stat_fingerprint
from simspine_dataset.record import REPORT, STATS, STATS_VERSION, BuildRecord, read_record
from simspine_dataset.schema import BUILT_STATUSES
from simspine_dataset.stages.capture import Capture, SequenceRecord, discover, load_mocap
from simspine_dataset.stages.frames import write_frames
from simspine_dataset.stages.simulate import SimulatedSequence, kinematic_axes, simulate
from simspine_dataset.stages.views import write_views

if TYPE_CHECKING:
    from simspine_dataset.stages.annotations import Annotations

log = logging.getLogger(__name__)

WORK_SCALE = "work/{config}/1_scale/{subject}.{inputs}.json"  # keyed by the settings' hash: changed settings
WORK_SIMULATE = "work/{config}/2_simulate/{subject}/{sequence}.npz"  # never reuse stale units
WORK_VIEWS = "work/{config}/3_views/{subject}/{sequence}.{cameras}.parquet"  # rows: the calibration too
WORK_FRAMES = "work/{config}/4_frames/{frames}/{subject}/{sequence}.{cameras}.parquet"
WORK_ENTRY = "work/{config}/reports/{subject}/{sequence}.json"  # a sequence unit's report entry
DEPENDENCIES = ("simspine-dataset", "numpy", "scipy", "opensim", "cdflib", "av", "datasets", "pyarrow")


def settings_digest(config: BuildConfig) -> str:
    """Hash of every setting that changes the simulated rows: the simulation settings and which
    labels are made (with detections or not; the user model by its files' content; the
    release's labels or not, and their unit). Not the subjects or the splits (which units run,
    and where their rows go), nor the paths of inputs (their content is in each unit's key), nor
    how units are run, framed or released (keyed elsewhere or acting at the shards)."""
    settings = {
        "simulation": asdict(config.simulation),
        "detections": bool(config.detections),
        "model": _model_digest(config.model) if config.model else None,
        "annotations": bool(config.annotations),
        "annotations_unit": config.annotations_unit,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _model_digest(mapping: str) -> str:
    """A user model's identity: the content of its mapping file and the files it names, hashed once
    per process while their sizes and times stay the same (every unit key holds it)."""
    from simspine_dataset.biomech.user_model import UserModel

    files = UserModel.resolve(mapping).files
    return _files_digest(tuple(files), stat_fingerprint(files))


@cache
def _files_digest(paths: tuple[Path, ...], stat: str) -> str:
    from simspine_dataset.io.identity import content_digest

    return hashlib.sha256("".join(content_digest(p) for p in paths).encode()).hexdigest()[:16]


def scale_inputs(subject: str, records: list[SequenceRecord], config: BuildConfig) -> str:
    """Fingerprint of what a subject's scaling reads: every one of its sequences' mocap (and, with
    ``--annotations``, the release's model of the subject)."""
    files = [r.files.d3_positions for r in records]
    if config.annotations:  # the release's model is this unit's input: a changed one is copied again
        files += [p for p in [Path(config.annotations) / "models" / f"{subject}.osim"] if p.is_file()]
    return stat_fingerprint(files)


def sequence_keys(
    record: SequenceRecord, by_subject: dict, config: BuildConfig, scaled: str | None = None
) -> dict[str, dict[str, str]]:
    """A sequence's unit keys, per config (``default``, and ``frames`` with ``--frames``): computed
    once per unit (they stat its input files); ``scaled``: its subject's ``scale_inputs`` when known."""
    if scaled is None:
        scaled = scale_inputs(record.subject, by_subject[record.subject], config)
    keys = {"default": unit_key(record, config, scaled)}
    if config.frames.mode != "none":
        keys["frames"] = unit_key(record, config, scaled, with_videos=True)
    return keys


def unit_key(
    record: SequenceRecord, config: BuildConfig, scaled: str = "", with_videos: bool = False
) -> dict[str, str]:
    """The fields of a sequence unit's work paths: settings digest, subject, the sequence name with
    its inputs' fingerprint (the mocap CDF and ``scaled``, what its subject's scaling read; its
    detections' files with ``--detections``, and then the cameras too, which triangulate them; the
    release's files with ``--annotations``; the videos too for the frames unit), and ``cameras``:
    the calibration the rows are projected with."""
    from simspine_dataset.io.identity import text_digest

    inputs = [record.files.d3_positions]
    if with_videos:
        inputs += [record.files.videos[c] for c in record.camera_ids]
    fingerprint = stat_fingerprint(inputs) + scaled
    cameras = text_digest(json.dumps([c.parameters() for c in record.cameras]))
    if config.detections:  # re-detected videos (another model, another stride), or another calibration
        from simspine_dataset.io.detections import fingerprint as detections_fingerprint

        fingerprint += detections_fingerprint(config.detections, record.subject, record.sequence,
                                              list(record.camera_ids)) + cameras  # fmt: skip
    if config.annotations:  # changed release files are a new unit
        fingerprint += stat_fingerprint(release_labels(config).files(record.subject, record.sequence))
    return {
        "config": settings_digest(config),
        "frames": config.frames.key,
        "subject": record.subject,
        "sequence": f"{record.sequence}.{text_digest(fingerprint)}",
        "cameras": cameras,
    }


def _scale_unit(
    out: Path, subject: str, records: list[SequenceRecord], config: BuildConfig, inputs: str
) -> dict | None:
    """Scale one subject (skipped when its result exists); writes models/<subject>.osim too.
    Sequences whose mocap cannot be read are left out here and fail in their own unit; None when
    none can be read."""
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.biomech.osim import write_osim
    from simspine_dataset.biomech.pipeline import scale_from_mocap
    from simspine_dataset.biomech.scaling import scale_opensim_model

    path = out / WORK_SCALE.format(config=settings_digest(config), subject=subject, inputs=inputs)
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
    gate = scale.gate(config.simulation.gates.residual_factor)
    if not gate.passed:
        log.error("%s: scaling flagged: %s", subject, gate.describe())
    result = {**asdict(scale), "gate": gate.to_dict()}
    write_text_atomic(path, json.dumps(result, indent=1))
    return result


def _scale_user_model(out: Path, subject: str, mocap: list[np.ndarray], config: BuildConfig) -> dict:
    """Scale a user-supplied model with OpenSim (``user_model.scale_user_model``); writes
    models/<subject>.osim, which the subject's sequence units load."""
    from simspine_dataset.biomech.osim import write_osim
    from simspine_dataset.biomech.user_model import UserModel, scale_user_model
    from simspine_dataset.geometry.transforms import world_mm_to_opensim_m

    user = UserModel.resolve(config.model)
    joints_m = world_mm_to_opensim_m(np.concatenate(mocap, axis=0))
    model = scale_user_model(user, joints_m, config.simulation.scaling.mass_kg)
    write_osim(model, out / "models" / f"{subject}.osim")
    return {"subject": subject, "user_model": str(user.osim_path), "osim": f"models/{subject}.osim"}


def _summary(rmse_mm: np.ndarray) -> dict[str, float] | None:
    """Mean, 95th percentile and maximum of a sequence's IK residual (None: no IK, release labels)."""
    finite = rmse_mm[np.isfinite(rmse_mm)]
    if not finite.size:
        return None
    return {"mean": float(finite.mean()), "p95": float(np.percentile(finite, 95)), "max": float(finite.max())}


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
def open_annotations(root: str, unit: str | None = None) -> Annotations:
    """The release's labels, indexed once per process."""
    from simspine_dataset.stages.annotations import Annotations

    return Annotations.open(root, unit)


def release_labels(config: BuildConfig) -> Annotations:
    """The ``--annotations`` labels of a build, in their configured unit."""
    return open_annotations(config.annotations, config.annotations_unit)


def _sequence_unit(
    out: Path, record: SequenceRecord, scale: dict | None, config: BuildConfig, keys: dict
) -> dict:
    """Simulate one sequence and write its rows (``keys``: its ``sequence_keys``); returns its
    report entry. Never raises: any exception is recorded with its stage (simulate, views,
    frames), type and message."""
    start = time.perf_counter()
    entry = {
        "subject": record.subject,
        "sequence": record.sequence,
        "action": record.action,
        "subaction": record.subaction,
        "frames": record.n_frames,
        "units": keys,
    }
    stage = "simulate"
    try:
        simulated = _simulate(out, out / WORK_SIMULATE.format(**keys["default"]), record, scale, config)
        stage = "views"
        views = out / WORK_VIEWS.format(**keys["default"])
        if not views.is_file():
            write_views(views, record, simulated)
        if config.frames.mode != "none":
            stage = "frames"
            frames = out / WORK_FRAMES.format(**keys["frames"])
            if not frames.is_file():
                write_frames(frames, views, record, config.frames)
        flagged = [Gate.from_dict(g).describe() for g in simulated.failed_gates]
        if flagged:
            log.error("%s: labels flagged: %s", record.key, "; ".join(flagged))
        entry |= {
            "status": "flagged" if flagged else "ok",
            "ik_rmse_mm": _summary(simulated.ik_marker_rmse_mm),
            "gates": list(simulated.gates),
            **({"flagged": flagged} if flagged else {}),
        }
    except Exception as e:  # noqa: BLE001 - any failure stays this sequence's: reported, the others go on
        log.error("%s (%s): %s: %s", record.key, stage, type(e).__name__, e)
        entry |= {"status": "failed", "stage": stage, "error": f"{type(e).__name__}: {e}"}
    entry["seconds"] = round(time.perf_counter() - start, 3)
    return entry


def _simulate(
    out: Path, path: Path, record: SequenceRecord, scale: dict | None, config: BuildConfig
) -> SimulatedSequence:
    """The simulate unit (``simulate.simulate``) into ``path``, or its stored result."""
    if path.is_file():
        return SimulatedSequence.load(path)
    annotations = release_labels(config) if config.annotations else None
    simulated = simulate(record, scale, config, out, annotations)
    simulated.save(path)
    return simulated


def _problem_entry(problem: SimspineError) -> dict:
    """A discovery problem as a failed entry of the report (the file is named in the message)."""
    return {"subject": "", "sequence": str(getattr(problem, "path", "")), "status": "failed",
            "error": f"{type(problem).__name__}: {problem}"}  # fmt: skip


def _job(args: tuple) -> dict:
    return run_sequence(*args)


def _scale_job(args: tuple) -> dict | None:
    return scale_subject(*args)


def _shards(
    out: Path, entries: list[dict], config: BuildConfig
) -> tuple[dict[str, dict[str, list[str]]], dict]:
    """Every config's shards from the finished units, in a fixed order, written beside any earlier
    build's (``shards.write_config``); returns their paths per config and split, and the default
    config's statistics per split (``meta/stats.json``)."""
    from simspine_dataset.stages.shards import write_config

    ok = sorted(
        (e for e in entries if e["status"] in BUILT_STATUSES),
        key=lambda e: (h36m.subject_number(e["subject"]), e["action"], e["subaction"]),
    )
    sources = {"default": WORK_VIEWS}
    if config.frames.mode != "none":
        sources["frames"] = WORK_FRAMES
    files: dict[str, dict[str, list[str]]] = {}
    stats: dict = {}
    for name, template in sources.items():
        splits = {
            split: [
                out / template.format(**e["units"][name])
                for e in ok
                if config.split_of(e["subject"]) == split
            ]
            for split in sorted({config.split_of(e["subject"]) for e in ok})
        }
        written = write_config(out, name, splits, config.release, stats if name == "default" else None)
        files[name] = {split: paths for split, paths in written.items() if paths}
    measured = files["default"]  # the shards each split's statistics were measured over
    summary = {split: {**s.summary(), "files": measured[split]} for split, s in stats.items() if s.rows}
    return files, {"format_version": STATS_VERSION, "splits": summary}


def _rows(out: Path, files: dict[str, list[str]]) -> dict[str, int]:
    """Rows per split of one config's shards (their Parquet footers)."""
    import pyarrow.parquet as pq

    count = {p: pq.ParquetFile(out / p).metadata.num_rows for paths in files.values() for p in paths}
    return {split: sum(count[p] for p in paths) for split, paths in files.items()}


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

    user = UserModel.resolve(config.model)
    user.check(user.mapping_path or config.model)
    inputs = [h36m_marker_name(j) for j, w in config.simulation.ik.h36m_weights.items() if w > 0]
    if unmapped := user.unmapped(inputs):
        log.warning(
            "%s maps no marker for %s: left out of inverse kinematics", config.model, ", ".join(unmapped)
        )
    return unmapped


def plan(raw: str | Path, config: BuildConfig) -> tuple[Capture, dict[str, list[SequenceRecord]]]:
    """Discover the capture; its usable sequences grouped by subject (subject order)."""
    capture = discover(raw, config.subjects, check_videos=config.check_videos)
    if not capture.sequences and not capture.problems:
        raise SimspineError(f"{raw}: the capture holds no sequences to build (simspine inspect lists them)")
    records = capture.sequences
    if config.annotations:  # only the sequences the release has labels for (the others: logged)
        from simspine_dataset.stages.annotations import match

        open_annotations.cache_clear()  # index the folder as it is now (files added since are seen)
        found, _ = match(release_labels(config), [(r.subject, r.sequence) for r in records])
        records = tuple(records[i] for i in found)
    if config.detections:
        check_detections(config.detections, records)
    by_subject: dict[str, list[SequenceRecord]] = {}
    for record in records:
        by_subject.setdefault(record.subject, []).append(record)
    return capture, dict(sorted(by_subject.items(), key=lambda kv: h36m.subject_number(kv[0])))


def check_detections(root: str, records: tuple[SequenceRecord, ...]) -> dict[str, list[str]]:
    """``--detections``: sequence key -> its cameras without detections (those built without them).
    ``MissingFileError`` naming the folder when it is none, or matches no sequence of the capture."""
    from simspine_dataset.errors import MissingFileError
    from simspine_dataset.io.detections import cameras_without

    path = Path(root)
    if not path.is_dir():
        raise MissingFileError(path, "--detections is not a folder")
    missing = {r.key: cameras_without(path, r.subject, r.sequence, list(r.camera_ids)) for r in records}
    if records and all(len(m) == len(r.camera_ids) for m, r in zip(missing.values(), records, strict=True)):
        raise MissingFileError(
            path,
            f"--detections holds no detections of any of the capture's {len(records)} sequences "
            "(expected <subject>/<sequence>.<camera>/frame_NNNNN.json, e.g. from simspine detect)",
        )
    return {key: cameras for key, cameras in missing.items() if cameras}


def scale_subject(
    out: Path, subject: str, by_subject: dict, config: BuildConfig, inputs: str | None = None
) -> dict | None:
    """A subject's scale unit; None when it cannot be scaled (logged; its sequences then fail with
    stage ``simulate``, the other subjects go on). ``inputs``: its ``scale_inputs`` when known."""
    records = by_subject[subject]
    try:
        inputs = inputs or scale_inputs(subject, records, config)
        with _one_blas_thread():
            return _scale_unit(Path(out), subject, records, config, inputs)
    except Exception as e:  # noqa: BLE001 - one subject's failure must not stop the build
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
    scaled = scale_inputs(record.subject, by_subject[record.subject], config)  # stats every take of it
    scale = scale_subject(out, record.subject, by_subject, config, scaled)
    keys = sequence_keys(record, by_subject, config, scaled)
    with _one_blas_thread():
        entry = _sequence_unit(Path(out), record, scale, config, keys)
    write_text_atomic(Path(out) / WORK_ENTRY.format(**keys["default"]), json.dumps(entry))
    return entry


def stored_entry(out: Path, record: SequenceRecord, by_subject: dict, config: BuildConfig) -> dict:
    """A sequence's entry as its unit stored it, or a failed entry when the unit never finished."""
    path = Path(out) / WORK_ENTRY.format(**sequence_keys(record, by_subject, config)["default"])
    if path.is_file():
        return json.loads(path.read_text())
    return {"subject": record.subject, "sequence": record.sequence, "status": "failed",
            "error": f"its unit did not finish (no {path.name})"}  # fmt: skip


def _axes(out: Path, entries: list[dict], config: BuildConfig) -> list[dict]:
    """The ``kinematics`` axes: our model's, or those a user model's sequence units recorded."""
    if not (config.model or config.annotations):
        return kinematic_axes(config.simulation.ik.spine)
    for entry in entries:
        if entry.get("status") in BUILT_STATUSES:
            return SimulatedSequence.load(out / WORK_SIMULATE.format(**entry["units"]["default"])).axes
    return []


def _annotations_report(capture: Capture, config: BuildConfig, axes: list[dict]) -> dict | None:
    """With ``--annotations``: where the labels came from, what only one side has, and the
    keypoints that are NaN because the release lacks them."""
    if not config.annotations:
        return None
    from simspine_dataset.stages.annotations import match, missing_keypoints

    annotations = release_labels(config)
    keys = [(r.subject, r.sequence) for r in capture.sequences]
    found, extra = match(annotations, keys, quiet=True)  # plan() logged them
    return {
        "source": str(annotations.root),
        "sequences_without_annotations": [
            " ".join(keys[i]) for i in sorted(set(range(len(keys))) - set(found))
        ],
        "annotations_without_sequence": extra,
        "missing_keypoints": missing_keypoints(annotations),
        "kinematics": len(axes),  # coordinates the release gave (0: none; the column holds empty lists)
    }


def _detections_report(capture: Capture, config: BuildConfig) -> dict | None:
    """With ``--detections``: the folder, the sequences (cameras) it has no detections for, and who
    made them (model and precision, from ``simspine detect``'s markers)."""
    from simspine_dataset.io.detections import makers

    if not config.detections:
        return None
    missing = check_detections(config.detections, capture.sequences)
    videos = [(r.subject, r.sequence, c) for r in capture.sequences for c in r.camera_ids]
    return {
        "source": config.detections,
        "sequences_without_detections": missing,
        "made_by": makers(config.detections, videos),
    }


def finalize(out: Path, capture: Capture, entries: list[dict], config: BuildConfig) -> BuildRecord:
    """Shards, metadata, the build report and the card from the finished units."""
    from simspine_dataset.commands.card import write_card
    from simspine_dataset.skeleton import skeleton_dict
    from simspine_dataset.stages.shards import remove_leftovers

    out = Path(out)
    remove_leftovers(out)  # what a killed build left: never kept, never published
    entries = [*entries, *(_problem_entry(p) for p in capture.problems)]
    files, stats = _shards(out, entries, config)
    write_text_atomic(out / STATS, json.dumps(stats, indent=1) + "\n")
    write_text_atomic(out / "meta" / "skeleton.json", json.dumps(skeleton_dict(), indent=2) + "\n")
    axes = _axes(out, entries, config)
    write_text_atomic(out / "meta" / "kinematic_axes.json", json.dumps(axes, indent=1))
    record = BuildRecord(
        config=config,
        config_hash=settings_digest(config),
        versions=_versions(),
        rows=_rows(out, files["default"]),
        frames_rows=_rows(out, files.get("frames", {})),
        files=files,  # every shard, per config and split: what the card names and load_dataset reads
        ik_inputs_left_out=check_model(config),
        annotations=_annotations_report(capture, config, axes),
        short_videos=[str(p) for p in capture.short_videos],  # cameras with rows for fewer frames
        known_problems=[str(p) for p in capture.known],  # of the official download, built around
        detections=_detections_report(capture, config),
        sequences=entries,
    )
    write_text_atomic(out / REPORT, record.to_json())
    write_card(out)  # the commit point: load_dataset now reads this build's shards
    _remove_stale(out, files, entries)
    return record


def unused_work(out: Path, record: BuildRecord) -> list[Path]:
    """Files under ``work/`` that the build ``record`` describes does not use: units of other
    settings (another work tree), of inputs since changed, of subjects no longer built."""
    work = Path(out) / "work"
    if not work.is_dir():
        return []
    current = work / record.config_hash
    used = set()
    for entry in record.sequences:
        for name, key in entry.get("units", {}).items():
            templates = (WORK_SIMULATE, WORK_VIEWS, WORK_ENTRY) if name == "default" else (WORK_FRAMES,)
            used |= {Path(out) / t.format(**key) for t in templates}
    subjects = {e["subject"] for e in record.built}
    used |= {p for s in subjects for p in current.glob(f"1_scale/{s}.*.json")}
    return [p for p in sorted(work.rglob("*")) if p.is_file() and p not in used and "logs" not in p.parts]


def clean(out: str | Path, everything: bool = False) -> tuple[int, int]:
    """``simspine clean OUT``: remove what ``unused_work`` finds (``everything``: all of ``work/``;
    the next build redoes every unit). The dataset itself is untouched. Returns (files, bytes)."""
    import shutil

    out = Path(out)
    if everything:
        files = [p for p in (out / "work").rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        shutil.rmtree(out / "work", ignore_errors=True)
        return len(files), size
    files = unused_work(out, read_record(out))
    size = sum(p.stat().st_size for p in files)
    for path in files:
        path.unlink()
    for folder in sorted((out / "work").rglob("*"), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return len(files), size


def _remove_stale(out: Path, files: dict[str, dict[str, list[str]]], entries: list[dict]) -> None:
    """After the card: the earlier build's shards and whatever a killed build left under ``data/``,
    and the scaled models of subjects this build does not hold."""
    from simspine_dataset.stages.shards import named_files, prune

    prune(out, named_files(files))
    subjects = {e["subject"] for e in entries if e["status"] in BUILT_STATUSES}
    for model in (out / "models").glob("*.osim"):
        if model.stem not in subjects:
            model.unlink()


def build(
    raw: str | Path,
    out: str | Path,
    config: BuildConfig = BuildConfig(),
    progress: Callable[[dict], None] | None = None,
) -> BuildRecord:
    """Run every stage over ``raw`` on this machine (``workers`` processes); returns the build's
    record (also written to build_report.json). ``progress`` is called with each sequence's report entry as
    it finishes. ``distributed.run`` runs the same units on datatrove."""
    out = Path(out)
    for message in ignored_settings(config):
        log.warning(message)
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
