"""``simspine validate OUT``: check a built folder; a table of checks, non-zero exit on failure.

Checks (each over every row of every split, read through ``load_dataset`` in batches):

- schema: the features equal ``schema.default_features(Q)``, Q from ``meta/kinematic_axes.json``;
- counts: rows per split equal ``build_report.json``;
- finite: every 3D keypoint, camera parameter and kinematic value is finite;
- projection: 2D equals the projection of the camera-frame 3D with the row's intrinsics (< 0.01 px,
  visible keypoints), and camera-frame 3D equals R X_world + t (< 0.1 mm; float32 storage);
- bones: per sequence, the length of every rigid mocap bone (shoulder-elbow, elbow-wrist, hip-knee,
  knee-ankle) varies by less than 20 mm (std), every other bone by less than 25 mm. Not 0: the
  keypoints are low-passed one by one (the published recipe), which bends segment lengths during
  fast movements (measured up to ~14 mm on the demo's hand-to-mouth cycles); wrong units, swapped or
  mislabelled keypoints give hundreds of mm;
- curvature: lordosis and kyphosis from the kinematics (our model's definition, ``biomech.curvature``)
  have dataset means inside 20-50 deg and every frame inside -20..80 deg (literature adult means:
  31.7-41.3 and 28.1-38.6 deg standing; sitting and bending move them by tens of degrees).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.geometry.transforms import axes_is_translation
from simspine_dataset.shards import PUBLIC_HIDDEN

RIGID_BONES = (
    ("RShoulder", "RElbow"),
    ("RElbow", "RWrist"),
    ("LShoulder", "LElbow"),
    ("LElbow", "LWrist"),
    ("RHip", "RKnee"),
    ("RKnee", "RAnkle"),
    ("LHip", "LKnee"),
    ("LKnee", "LAnkle"),
)
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
)
FINITE_COLUMNS = (
    "keypoints_3d_world_mm",
    "keypoints_3d_camera_mm",
    "camera_intrinsics",
    "camera_rotation",
    "camera_translation_mm",
    "kinematics",
)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _batches(out: Path, split: str, columns: list[str]):
    from datasets import load_dataset

    ds = load_dataset(str(out), split=split).select_columns(columns).with_format("numpy")
    for start in range(0, ds.num_rows, BATCH_ROWS):
        yield ds[start : start + BATCH_ROWS]


def _projection_errors(batch: dict) -> tuple[float, float]:
    from simspine_dataset.geometry.camera import project
    from simspine_dataset.geometry.transforms import world_to_camera

    cam = batch["keypoints_3d_camera_mm"].astype(float)
    px = project(cam, batch["camera_intrinsics"].astype(float))
    visible = batch["keypoints_visible"].astype(bool)
    px_error = float(
        np.nanmax(np.where(visible, np.linalg.norm(px - batch["keypoints_2d_px"], axis=-1), 0.0))
    )
    moved = world_to_camera(
        batch["keypoints_3d_world_mm"].astype(float),
        batch["camera_rotation"].astype(float),
        batch["camera_translation_mm"].astype(float),
    )
    return px_error, float(np.abs(moved - cam).max())


def _bone_spread(world: np.ndarray, keys: np.ndarray) -> tuple[float, float]:
    """Largest per-sequence std of rigid and of other bone lengths (mm); one camera's rows."""
    rigid = {(sk.INDEX[a], sk.INDEX[b]) for a, b in RIGID_BONES}
    worst_rigid = worst_other = 0.0
    for key in np.unique(keys):
        lengths = np.linalg.norm(
            world[keys == key][:, [b for _, b in sk.BONES]] - world[keys == key][:, [p for p, _ in sk.BONES]],
            axis=-1,
        )
        spread = lengths.std(axis=0)
        is_rigid = np.array([bone in rigid for bone in sk.BONES])
        worst_rigid = max(worst_rigid, float(np.nanmax(spread[is_rigid], initial=0.0)))
        worst_other = max(worst_other, float(np.nanmax(spread[~is_rigid], initial=0.0)))
    return worst_rigid, worst_other


def _scan_split(out: Path, split: str, columns: list[str], stats: dict, model, is_translation) -> int:
    """Accumulate one split's maxima and angles into ``stats``; returns its row count."""
    from simspine_dataset.biomech.curvature import curvature_angles
    from simspine_dataset.geometry.transforms import coordinates_from_published

    n = 0
    for batch in _batches(out, split, columns):
        n += len(batch["subject"])
        stats["finite"] &= all(
            np.isfinite(batch[k][:, stats["keypoints"]] if k.startswith("keypoints") else batch[k]).all()
            for k in FINITE_COLUMNS
        )
        px, mm = _projection_errors(batch)
        stats["px"], stats["mm"] = max(stats["px"], px), max(stats["mm"], mm)
        first = batch["camera"] == batch["camera"][0]  # one camera: each frame once
        keys = np.char.add(
            np.char.add(batch["subject"][first].astype(str), batch["action"][first].astype(str)),
            batch["subaction"][first].astype(str),
        )
        rigid, other = _bone_spread(batch["keypoints_3d_world_mm"][first].astype(float), keys)
        stats["rigid"], stats["other"] = max(stats["rigid"], rigid), max(stats["other"], other)
        if model is not None:  # curvature is defined on our model's coordinates
            coordinates = coordinates_from_published(batch["kinematics"][first], is_translation)
            stats["angles"].append(curvature_angles(model, coordinates))
    return n


def validate(out: str | Path) -> list[Check]:
    """Run every check on a build folder."""
    import pyarrow.parquet as pq
    from datasets import Features

    from simspine_dataset.biomech.kinematics import KinematicModel
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.schema import default_features

    out = Path(out)
    report = json.loads((out / "build_report.json").read_text())
    axes = json.loads((out / "meta" / "kinematic_axes.json").read_text())
    checks = []
    shards = sorted(out.glob("data/default/*/*.parquet"))
    expected = default_features(len(axes))
    same = [Features.from_arrow_schema(pq.read_schema(p)) == expected for p in shards]
    checks.append(
        Check("schema", bool(shards) and all(same), f"{sum(same)}/{len(shards)} shards, Q = {len(axes)}")
    )
    user_model = report["config"].get("model")
    model = None if user_model else KinematicModel(model_spec(report["config"]["simulation"]["ik"]["spine"]))
    is_translation = axes_is_translation(axes)
    public = report["config"].get("release") == "public"  # hidden keypoints are NaN on purpose
    keypoints = [i for i in range(sk.NUM_KEYPOINTS) if not public or i not in PUBLIC_HIDDEN]
    stats = {
        "keypoints": keypoints,
        "rows": {},
        "finite": True,
        "px": 0.0,
        "mm": 0.0,
        "rigid": 0.0,
        "other": 0.0,
        "angles": [],
    }
    for split in report["rows"]:
        stats["rows"][split] = _scan_split(out, split, list(SCANNED), stats, model, is_translation)
    checks += [
        Check("counts", stats["rows"] == report["rows"], f"rows {stats['rows']} (report {report['rows']})"),
        *_frames_checks(out, report),
        Check("finite", bool(stats["finite"]), "3D keypoints, cameras, kinematics"),
        Check(
            "2D = projection of 3D", stats["px"] < 0.01, f"max {stats['px']:.5f} px over visible keypoints"
        ),
        Check("camera 3D = R X + t", stats["mm"] < 0.1, f"max {stats['mm']:.4f} mm"),
        Check("rigid bones stable", stats["rigid"] < 20.0, f"max per-sequence std {stats['rigid']:.2f} mm"),
        Check("other bones stable", stats["other"] < 25.0, f"max per-sequence std {stats['other']:.2f} mm"),
    ]
    if model is None:
        return checks  # a user-supplied model: the curvature definitions are our model's
    return checks + _curvature_checks(stats["angles"])


def _curvature_checks(angles: list[dict]) -> list[Check]:
    lordosis = np.concatenate([a["lordosis_deg"] for a in angles])
    kyphosis = np.concatenate([a["kyphosis_deg"] for a in angles])
    return [
        Check(
            "lordosis in range",
            20 <= lordosis.mean() <= 50 and lordosis.min() >= -20 and lordosis.max() <= 80,
            f"mean {lordosis.mean():.1f}, range {lordosis.min():.1f}..{lordosis.max():.1f} deg",
        ),
        Check(
            "kyphosis in range",
            20 <= kyphosis.mean() <= 50 and kyphosis.min() >= -20 and kyphosis.max() <= 80,
            f"mean {kyphosis.mean():.1f}, range {kyphosis.min():.1f}..{kyphosis.max():.1f} deg",
        ),
    ]


def _frames_checks(out: Path, report: dict) -> list[Check]:
    """With a ``frames`` config: its row counts, and every shard's first image decodes at the
    configured size."""
    import io

    import pyarrow.parquet as pq
    from PIL import Image

    expected = report.get("frames_rows") or {}
    if not expected:
        return []
    rows = {
        split: sum(pq.ParquetFile(p).metadata.num_rows for p in out.glob(f"data/frames/{split}/*.parquet"))
        for split in expected
    }
    frames = report["config"]["frames"]
    sizes = set()
    for shard in sorted(out.glob("data/frames/*/*.parquet")):
        first = (
            pq.ParquetFile(shard)
            .read_row_group(0, columns=["image", "image_size"])
            .slice(0, 1)
            .to_pylist()[0]
        )
        sizes.add(Image.open(io.BytesIO(first["image"]["bytes"])).size)
        if frames["mode"] == "full":
            sizes.add(tuple(first["image_size"]))
    want = {(frames["size_px"], frames["size_px"])} if frames["mode"] == "crop" else None
    return [
        Check("frames counts", rows == expected, f"rows {rows} (report {expected})"),
        Check("frames images", (sizes == want) if want else len(sizes) == 1, f"image sizes {sorted(sizes)}"),
    ]


def print_checks(checks: list[Check]) -> None:
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{'PASS' if c.ok else 'FAIL'}  {c.name:{width}s}  {c.detail}")
