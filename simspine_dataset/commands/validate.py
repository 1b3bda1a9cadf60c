"""``simspine validate OUT``: check a built folder; a table of checks, non-zero exit on failure.

Every check compares only what it can (a public release's hidden keypoints are NaN on purpose) and
reports how many values it compared; a check that had nothing to compare says ``SKIP``, never
``PASS``. Everything is read from the files on disk (never from a cache), and only the files the
card names, which are what ``load_dataset`` serves. Checks:

- files: the card's YAML and ``build_report.json`` name the same shards (they differ only when a
  build was interrupted between the two: re-run it), every one exists, and the digest in its name
  is the sha256 of its bytes (a shard changed, truncated or copied over from another build fails);
- schema: the features equal ``schema.default_features(Q)``, Q from ``meta/kinematic_axes.json``;
- counts: the splits on disk and their rows equal ``build_report.json``;
- finite: every 3D keypoint (but a public release's hidden ones), every visible 2D keypoint, camera
  parameter and kinematic value is finite;
- projection: 2D equals the projection of the camera-frame 3D with the row's intrinsics (< 0.01 px,
  visible keypoints), and camera-frame 3D equals R X_world + t (< 0.1 mm; float32 storage);
- bones: per sequence, the length of every rigid mocap bone (shoulder-elbow, elbow-wrist, hip-knee,
  knee-ankle) varies by less than 20 mm (std), every other bone by less than 25 mm. Not 0: the mocap
  joints are measured points, smoothed one by one, and ``filter.space = "keypoints"`` (the released
  recipe) bends segment lengths during fast movements (up to ~14 mm measured); wrong units, swapped
  or mislabelled keypoints give hundreds of mm;
- model-rigid keypoints: with our model and the filter on the coordinates (the default), every
  distance the model keeps fixed (``biomech.vertebrae.rigid_keypoint_pairs``) changes by < 0.1 mm
  within a sequence; SKIP where the settings let them bend;
- label quality: the residual and uncertainty columns are filled (the uncertainty with our model),
  with their median and 95th percentile;
- gates: no sequence is flagged and no row's ``label_flags`` is set (``biomech.gates``);
- curvature: lordosis and kyphosis from the kinematics (our model's definition, ``biomech.curvature``)
  have dataset means inside 20-50 deg and every frame inside -20..80 deg (literature adult means:
  31.7-41.3 and 28.1-38.6 deg standing; sitting and bending move them by tens of degrees);
- frames (with a ``frames`` config): its row counts, and every image decodes, at the configured size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.geometry.transforms import axes_is_translation
from simspine_dataset.record import card_files
from simspine_dataset.stages.shards import PUBLIC_HIDDEN

if TYPE_CHECKING:
    from simspine_dataset.biomech.kinematics import KinematicModel
    from simspine_dataset.config import BuildConfig
    from simspine_dataset.record import BuildRecord

BATCH_ROWS = 20_000
SCANNED = (
    "subject",
    "action",
    "subaction",
    "camera",
    "keypoints_3d_world_mm",
    "keypoints_3d_camera_mm",
    "keypoints_2d_px",
    "keypoints_visible",
    "camera_intrinsics",
    "camera_rotation",
    "camera_translation_mm",
    "kinematics",
    "ik_residual_mocap_mm",
    "keypoints_uncertainty_mm",
    "label_flags",
)
FINITE_COLUMNS = (
    "keypoints_3d_world_mm",
    "keypoints_3d_camera_mm",
    "keypoints_2d_px",
    "camera_intrinsics",
    "camera_rotation",
    "camera_translation_mm",
    "kinematics",
)


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``status`` pass, fail or skip (nothing to compare), with ``compared``
    the number of values it compared."""

    name: str
    status: str
    detail: str
    compared: int = 0

    def __post_init__(self) -> None:
        if self.status not in ("pass", "fail", "skip"):
            raise ValueError(f"check status must be pass, fail or skip, got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status != "fail"


def check(name: str, passed: bool, detail: str, compared: int) -> Check:
    """A check that compared ``compared`` values: skip when none, else pass or fail."""
    if compared == 0:
        return Check(name, "skip", "nothing to compare", 0)
    return Check(name, "pass" if passed else "fail", f"{detail} ({compared:,} values)", compared)


def _batches(paths: list[Path], columns: list[str]) -> Iterator[dict[str, np.ndarray]]:
    """The columns of the shards, as numpy, ``BATCH_ROWS`` rows at a time, read from the files."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Features

    from simspine_dataset.loader import column_to_numpy

    for path in paths:
        shard = pq.ParquetFile(path)
        features = Features.from_arrow_schema(shard.schema_arrow)
        for batch in shard.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            table = pa.Table.from_batches([batch])
            yield {name: _numeric(column_to_numpy(table.column(name), features[name])) for name in columns}


def _numeric(values: np.ndarray) -> np.ndarray:
    """An object array of empty lists (``kinematics`` of release labels without any) as (n, 0)."""
    if values.dtype == object and values.size == 0:
        return np.zeros((len(values), 0), np.float32)
    return values


@dataclass
class Largest:
    """The largest of the finite values seen, and how many finite values were seen."""

    value: float = 0.0
    count: int = 0

    def update(self, values: np.ndarray) -> None:
        finite = np.asarray(values, float)[np.isfinite(values)]
        if finite.size:
            self.value = max(self.value, float(finite.max()))
            self.count += int(finite.size)


@dataclass
class Scan:
    """What the row checks accumulate over every split."""

    keypoints: list[int]  # those that must be finite (a public release hides the others)
    rows: dict[str, int] = field(default_factory=dict)
    finite: int = 0  # values that must be finite, compared
    non_finite: int = 0
    px: Largest = field(default_factory=Largest)
    mm: Largest = field(default_factory=Largest)
    rigid: Largest = field(default_factory=Largest)
    other: Largest = field(default_factory=Largest)
    model_rigid: Largest = field(default_factory=Largest)  # change of model-rigid distances, mm
    residuals: list = field(default_factory=list)  # per frame: mocap residual (mm)
    uncertainty: list = field(default_factory=list)  # per frame: mean spine-15 uncertainty (mm)
    angles: list = field(default_factory=list)
    flagged_rows: int = 0  # rows whose label failed a gate (``label_flags`` != 0)
    flag_rows: int = 0  # rows with a ``label_flags`` value


def _projection_errors(batch: dict) -> tuple[np.ndarray, np.ndarray]:
    """2D errors (px) of visible keypoints and camera-frame 3D errors (mm), NaN where a value is
    missing (those are not compared)."""
    from simspine_dataset.geometry.camera import project
    from simspine_dataset.geometry.transforms import world_to_camera

    cam = batch["keypoints_3d_camera_mm"].astype(float)
    px = project(cam, batch["camera_intrinsics"].astype(float))
    visible = batch["keypoints_visible"].astype(bool)
    px_error = np.where(visible, np.linalg.norm(px - batch["keypoints_2d_px"], axis=-1), np.nan)
    moved = world_to_camera(
        batch["keypoints_3d_world_mm"].astype(float),
        batch["camera_rotation"].astype(float),
        batch["camera_translation_mm"].astype(float),
    )
    return px_error, np.abs(moved - cam)


def _bone_spread(world: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence std of each rigid and each other bone length (mm; NaN for a bone with a missing
    end); one camera's rows."""
    is_rigid = np.array([bone in sk.MOCAP_BONES for bone in sk.BONES])
    rigid, other = [], []
    for key in np.unique(keys):
        mine = world[keys == key]
        lengths = np.linalg.norm(
            mine[:, [b for _, b in sk.BONES]] - mine[:, [p for p, _ in sk.BONES]], axis=-1
        )
        spread = np.where(np.isfinite(lengths).all(axis=0), lengths.std(axis=0), np.nan)
        rigid.append(spread[is_rigid])
        other.append(spread[~is_rigid])
    return np.concatenate(rigid), np.concatenate(other)


def _model_rigid_change(world: np.ndarray, keys: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Per sequence, the largest change (max - min, mm) of each distance the model keeps fixed."""
    if not pairs:
        return np.zeros(0)
    a, b = [p for p, _ in pairs], [q for _, q in pairs]
    changes = []
    for key in np.unique(keys):
        lengths = np.linalg.norm(world[keys == key][:, a] - world[keys == key][:, b], axis=-1)
        changes.append(np.ptp(lengths, axis=0))
    return np.concatenate(changes)


def _scan_split(
    paths: list[Path],
    columns: list[str],
    scan: Scan,
    model: KinematicModel | None,
    is_translation: np.ndarray,
    rigid_pairs: list[tuple[int, int]],
) -> int:
    """Accumulate one split's comparisons into ``scan``; returns its row count."""
    from simspine_dataset.biomech.curvature import curvature_angles
    from simspine_dataset.geometry.transforms import coordinates_from_published

    n = 0
    for batch in _batches(paths, columns):
        n += len(batch["subject"])
        for name in FINITE_COLUMNS:
            if name == "keypoints_2d_px":  # where the camera sees the keypoint
                values = batch[name][batch["keypoints_visible"].astype(bool)]
            else:
                values = batch[name][:, scan.keypoints] if name.startswith("keypoints") else batch[name]
            scan.finite += values.size
            scan.non_finite += int(values.size - np.isfinite(values).sum())
        px, mm = _projection_errors(batch)
        scan.px.update(px)
        scan.mm.update(mm)
        first = batch["camera"] == batch["camera"][0]  # one camera: each frame once
        keys = np.char.add(
            np.char.add(batch["subject"][first].astype(str), batch["action"][first].astype(str)),
            batch["subaction"][first].astype(str),
        )
        rigid, other = _bone_spread(batch["keypoints_3d_world_mm"][first].astype(float), keys)
        scan.rigid.update(rigid)
        scan.other.update(other)
        world = batch["keypoints_3d_world_mm"][first].astype(float)
        scan.model_rigid.update(_model_rigid_change(world, keys, rigid_pairs))
        if "ik_residual_mocap_mm" in batch:  # absent from builds made before the quality columns
            scan.residuals.append(batch["ik_residual_mocap_mm"][first])
            scan.uncertainty.append(
                batch["keypoints_uncertainty_mm"][first][:, list(sk.SPINE_SUBSET)].mean(axis=1)
            )
        if "label_flags" in batch:
            scan.flag_rows += len(batch["label_flags"])
            scan.flagged_rows += int(np.count_nonzero(batch["label_flags"]))
        if model is not None:  # curvature is defined on our model's coordinates
            coordinates = coordinates_from_published(batch["kinematics"][first], is_translation)
            scan.angles.append(curvature_angles(model, coordinates))
    return n


def _counts_check(report: BuildRecord, rows: dict[str, int]) -> Check:
    """Splits read and their rows against the report (a split the report lacks is stale)."""
    on_disk = sorted(split for split, n in rows.items() if n)
    passed = rows == report.rows and on_disk == sorted(report.rows) and sum(rows.values()) > 0
    detail = f"rows {rows} (report {report.rows}), splits read {on_disk}"
    if not sum(rows.values()):  # nothing was built: not a pass (build_report.json names the failures)
        return Check("counts", "fail", f"no rows: nothing was built ({detail})", 0)
    return check("counts", passed, detail, len(on_disk) + len(report.rows))


def validate(out: str | Path) -> list[Check]:
    """Run every check on a build folder. Raises ``SimspineError`` when ``out`` is not a build."""

    import pyarrow.parquet as pq

    from simspine_dataset.biomech.kinematics import KinematicModel
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.stages.shards import build_shards

    out = Path(out)
    report, axes = _read_build(out)
    files = {config: build_shards(out, report, config) for config in ("default", "frames")}
    files_verdict, intact = files_check(out, card_files(out), files)
    default = {split: [p for p in paths if p in intact] for split, paths in files["default"].items()}
    shards = [p for paths in default.values() for p in paths]
    checks = [files_verdict, _stats_check(out, report), _schema_check(shards, len(axes))]
    config = report.config
    spec = model_spec(config.simulation.ik.spine)
    ours = [c.name for c in spec.coordinates] == [a["name"] for a in axes]  # not a user's or the release's
    model = KinematicModel(spec) if ours and not config.model else None
    is_translation = axes_is_translation(axes)
    scan = Scan([i for i in range(sk.NUM_KEYPOINTS) if i not in _absent(report)])
    released = bool(config.annotations)  # labels from the release, not simulated here
    pairs = [] if released else _model_rigid_pairs(config, model)
    # a shard without a scanned column fails the schema check; the other checks still run on the
    # columns it holds (those of a missing column say SKIP: nothing compared)
    held = set(pq.read_schema(shards[0]).names) if shards else set(SCANNED)
    columns = [name for name in SCANNED if name in held]
    for split, paths in default.items():
        scan.rows[split] = _scan_split(paths, columns, scan, model, is_translation, pairs)
    frames = {split: [p for p in paths if p in intact] for split, paths in files["frames"].items()}
    checks += [
        _counts_check(report, scan.rows),
        *_frames_checks(report, frames),
        check("finite", scan.non_finite == 0, f"{scan.non_finite} non-finite", scan.finite),
        check("2D = projection of 3D", scan.px.value < 0.01, f"max {scan.px.value:.5f} px", scan.px.count),
        check("camera 3D = R X + t", scan.mm.value < 0.1, f"max {scan.mm.value:.4f} mm", scan.mm.count),
        check(
            "rigid bones stable",
            scan.rigid.value < 20.0,
            f"max std {scan.rigid.value:.2f} mm",
            scan.rigid.count,
        ),
        check(
            "other bones stable",
            scan.other.value < 25.0,
            f"max std {scan.other.value:.2f} mm",
            scan.other.count,
        ),
    ]
    checks += [
        check(
            "model-rigid keypoints rigid",
            scan.model_rigid.value < 0.1,
            f"max change {scan.model_rigid.value:.3f} mm",
            scan.model_rigid.count,
        ),
        Check("label quality filled", "skip", "the release's labels: no IK in this build", 0)
        if released
        else _quality_check(scan, model is not None),
        _gates_check(report, scan),
    ]
    if model is None:
        return checks  # a user-supplied model: the curvature definitions are our model's
    return checks + _curvature_checks(scan.angles)


def files_check(
    out: Path, named: dict[str, dict[str, list[Path]]], files: dict[str, dict[str, list[Path]]]
) -> tuple[Check, set[Path]]:
    """The card and the report name the same shards, and each one is intact: it exists and its
    bytes hash to the digest in its name. Returns the check and the intact shards."""
    from simspine_dataset.io.identity import content_digest

    ours = {config: splits for config, splits in files.items() if splits}
    problems, intact = [], set()
    if named != ours:
        problems.append("the card and build_report.json name different shards (an interrupted build: re-run)")
    every = [*named.values(), *ours.values()]
    shards = sorted({p for splits in every for paths in splits.values() for p in paths})
    for shard in shards:
        digest = shard.stem.rsplit("-", 1)[-1]
        if not shard.is_file():
            problems.append(f"{shard.relative_to(out)}: missing")
        elif content_digest(shard, len(digest)) != digest:
            problems.append(f"{shard.relative_to(out)}: its bytes do not hash to the digest in its name")
        else:
            intact.add(shard)
    detail = "; ".join(problems[:3]) + (f"; ... ({len(problems)} problems)" if len(problems) > 3 else "")
    detail = detail or f"{len(shards)} shards named by the card and the report, all intact"
    return check("files", not problems, detail, len(shards)), intact


def _stats_check(out: Path, report: BuildRecord) -> Check:
    """``meta/stats.json`` holds every split and was measured over the shards the card names
    (``loader.dataset_stats``, which refuses it otherwise)."""
    from simspine_dataset.errors import SimspineError
    from simspine_dataset.loader import dataset_stats

    problems = []
    for split in sorted(report.rows):
        try:
            dataset_stats(out, split)
        except SimspineError as e:
            problems.append(str(e))
    detail = (
        "; ".join(problems) or f"meta/stats.json measured over the card's shards, {len(report.rows)} splits"
    )
    return check("stats", not problems, detail, len(report.rows))


def _read_build(out: Path) -> tuple[BuildRecord, list[dict]]:
    """The build's record and the kinematic axes; ``SimspineError`` when ``out`` is not a build."""
    from simspine_dataset.errors import SimspineError
    from simspine_dataset.record import read_record

    report = read_record(out)
    path = out / "meta" / "kinematic_axes.json"
    try:
        axes = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SimspineError(f"{path}: not readable ({e})") from e
    if not isinstance(axes, list):
        raise SimspineError(f"{path}: not a list of axes")
    return report, axes


def _schema_check(shards: list[Path], n_kinematics: int) -> Check:
    """Every shard's features equal the contract's for Q = ``n_kinematics``."""
    import pyarrow.parquet as pq
    from datasets import Features

    from simspine_dataset.schema import default_features

    expected = default_features(n_kinematics)
    same = [Features.from_arrow_schema(pq.read_schema(p)) == expected for p in shards]
    return check(
        "schema", all(same), f"{sum(same)}/{len(shards)} shards match, Q = {n_kinematics}", len(shards)
    )


def _absent(report: BuildRecord) -> set[int]:
    """Keypoints NaN on purpose: a public release's hidden ones, those the release's labels lack."""
    absent = set(PUBLIC_HIDDEN) if report.config.release == "public" else set()
    missing = (report.annotations or {}).get("missing_keypoints", [])
    return absent | {sk.INDEX[name] for name in missing}


def _model_rigid_pairs(config: BuildConfig, model: KinematicModel | None) -> list[tuple[int, int]]:
    """The keypoint pairs the published labels keep rigid: our model's, when the filter runs on
    the coordinates (or not at all) and no merge option moves model-derived points."""
    from simspine_dataset.biomech.vertebrae import rigid_keypoint_pairs

    merge = config.simulation.merge
    moved = merge.reanchor_spine or merge.blend_detections > 0 or merge.geometric_latissimus
    if model is None or moved or config.simulation.filter.space == "keypoints":
        return []
    return rigid_keypoint_pairs(model.spec)


def _quality_check(scan: Scan, ours: bool) -> Check:
    """The label-quality columns are filled (the uncertainty with our model only) and their
    distribution, which the card also reports."""
    residual = np.concatenate(scan.residuals) if scan.residuals else np.zeros(0)
    uncertainty = np.concatenate(scan.uncertainty) if scan.uncertainty else np.zeros(0)
    filled = np.isfinite(residual).all() and (not ours or np.isfinite(uncertainty).all())
    detail = "mocap residual median {:.2f}, p95 {:.2f} mm".format(*median_p95(residual))
    if ours:
        detail += "; spine-15 uncertainty median {:.2f}, p95 {:.2f} mm".format(*median_p95(uncertainty))
    return check("label quality filled", bool(filled), detail, residual.size + ours * uncertainty.size)


def _gates_check(report: BuildRecord, scan: Scan) -> Check:
    """No sequence of the report is flagged and no row's label failed a gate (``biomech.gates``)."""
    flagged = [f"{e['subject']} {e['sequence']}" for e in report.sequences if e["status"] == "flagged"]
    detail = f"{scan.flagged_rows:,} rows flagged, {len(flagged)} sequences flagged"
    if flagged:
        detail += f" ({', '.join(flagged[:5])}{', ...' if len(flagged) > 5 else ''}: build_report.json)"
    return check("labels within the gates", not flagged and not scan.flagged_rows, detail, scan.flag_rows)


def median_p95(values: np.ndarray) -> tuple[float, float]:
    """Median and 95th percentile of the finite values (NaN, NaN when there are none)."""
    finite = values[np.isfinite(values)]
    return (float(np.median(finite)), float(np.percentile(finite, 95))) if finite.size else (np.nan, np.nan)


def _curvature_checks(angles: list[dict]) -> list[Check]:
    checks = []
    for name, key in (("lordosis in range", "lordosis_deg"), ("kyphosis in range", "kyphosis_deg")):
        values = np.concatenate([a[key] for a in angles]) if angles else np.zeros(0)
        values = values[np.isfinite(values)]
        if not values.size:
            checks.append(check(name, True, "", 0))
            continue
        passed = 20 <= values.mean() <= 50 and values.min() >= -20 and values.max() <= 80
        detail = f"mean {values.mean():.1f}, range {values.min():.1f}..{values.max():.1f} deg"
        checks.append(check(name, bool(passed), detail, values.size))
    return checks


def _frames_checks(report: BuildRecord, files: dict[str, list[Path]]) -> list[Check]:
    """With a ``frames`` config: its row counts, and every image of every shard decodes, at the
    configured size (crops) or at its row's image size (full frames)."""
    import io

    import pyarrow.parquet as pq
    from PIL import Image, UnidentifiedImageError

    expected = report.frames_rows
    if not expected:
        return []
    rows = {s: sum(pq.ParquetFile(p).metadata.num_rows for p in files.get(s, [])) for s in expected}
    frames = report.config.frames
    decoded, wrong = 0, []
    for shard in (p for paths in files.values() for p in paths):
        for batch in pq.ParquetFile(shard).iter_batches(columns=["image", "image_size", "frame", "camera"]):
            for row in batch.to_pylist():
                try:
                    image = Image.open(io.BytesIO(row["image"]["bytes"]))
                    image.load()  # decodes every pixel: a truncated JPEG fails here
                except (OSError, UnidentifiedImageError) as e:
                    wrong.append(f"{shard.name} frame {row['frame']} camera {row['camera']}: {e}")
                    continue
                want = (frames.size_px,) * 2 if frames.mode == "crop" else tuple(row["image_size"])
                if image.size != want:
                    wrong.append(f"{shard.name} frame {row['frame']}: {image.size} px, expected {want}")
                decoded += 1
    detail = f"{decoded:,} images decoded, {len(wrong)} wrong" + (f" ({wrong[0]}, ...)" if wrong else "")
    return [
        check("frames counts", rows == expected, f"rows {rows} (report {expected})", len(expected)),
        check("frames images", not wrong, detail, decoded + len(wrong)),
    ]


def format_checks(checks: list[Check]) -> str:
    """One line per check: status, name, detail (what ``simspine validate`` prints)."""
    width = max(len(c.name) for c in checks)
    return "\n".join(f"{c.status.upper()}  {c.name:{width}s}  {c.detail}" for c in checks)
