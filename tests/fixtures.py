"""Test helpers: small captures written in the real Human3.6M formats (CDF, metadata.xml, mp4)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from simspine_dataset import h36m
from simspine_dataset.errors import UnknownActionError
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.io.h36m_metadata import SequenceEntry, write_metadata
from simspine_dataset.skeleton import H36M_PARENTS
from simspine_dataset.synthetic.layout import write_sequence

REPO = Path(__file__).resolve().parents[1]
OFFICIAL_METADATA = Path(
    os.environ.get("SIMSPINE_H36M_METADATA", REPO.parent / "shared" / "reference" / "h36m_metadata.xml")
)
VIDEO_SCALE = 8  # fixture videos are 1/8 of the real 1000x1000 size, to keep tests fast


def reference_cameras(subject: str) -> list[Camera]:
    """The subject's four real calibrated cameras (packaged reference numbers)."""
    cal = h36m.reference_calibration()
    ref = "S1" if subject not in cal.extrinsics else subject
    return [
        Camera.from_center(cam, cal.intrinsics[cam], *cal.extrinsics[ref][cam], *cal.image_size[cam])
        for cam in h36m.CAMERA_IDS
    ]


def random_joints(n_frames: int, seed: int = 0) -> np.ndarray:
    """(T, 32, 3) world mm: a random tree with bone lengths 50-450 mm, standing near the origin,
    swaying smoothly over time (enough for geometry and I/O tests; no anatomy implied)."""
    rng = np.random.default_rng(seed)
    offsets = rng.normal(0, 1, (32, 3)) * [60, 60, 200]
    offsets[:, 2] = np.where(rng.random(32) < 0.5, -np.abs(offsets[:, 2]), np.abs(offsets[:, 2]))
    t = np.arange(n_frames)[:, None, None] / 50.0
    wobble = 30 * np.sin(2 * np.pi * (0.3 * t + rng.random((1, 32, 3))))
    joints = np.zeros((n_frames, 32, 3))
    for j, parent in enumerate(H36M_PARENTS):
        base = np.array([0.0, 0.0, 950.0]) if parent < 0 else joints[:, parent]
        joints[:, j] = base + offsets[j] + wobble[:, j]
    return joints


def stripe_renderer(camera: Camera, index: int) -> np.ndarray:
    """A small frame whose grey level encodes the frame index (checked after decoding)."""
    h, w = camera.height_px // VIDEO_SCALE, camera.width_px // VIDEO_SCALE
    return np.full((h + h % 2, w + w % 2, 3), (index * 5) % 250, dtype=np.uint8)


CaptureFactory = Callable[..., Path]


@pytest.fixture
def make_capture(tmp_path: Path) -> CaptureFactory:
    """Write a capture: ``make_capture({"S1": {"Walking 1": 40, ...}}, videos=True)`` -> root."""

    def make(
        sequences: dict[str, dict[str, int]],
        *,
        videos: bool = True,
        extra_video_frames: int = 3,
        metadata_subjects: list[str] | None = None,
    ) -> Path:
        root = tmp_path / "raw"
        entries, cameras = [], {}
        for s_index, (subject, seqs) in enumerate(sequences.items()):
            cams = reference_cameras(subject)
            if metadata_subjects is None or subject in metadata_subjects:
                cameras[subject] = {c.id: c for c in cams}
            for q_index, (sequence, n_frames) in enumerate(seqs.items()):
                joints = random_joints(n_frames, seed=100 * s_index + q_index)
                write_sequence(
                    root,
                    subject,
                    sequence,
                    joints,
                    cams,
                    stripe_renderer if videos else None,
                    extra_video_frames,
                )
                try:
                    action = h36m.canonical_action(sequence)
                except UnknownActionError:
                    continue  # deliberately bad names are left out of the metadata
                sub = 1 if sequence.endswith(" 1") else 2
                counts = (n_frames + extra_video_frames,) * 4
                entries.append(SequenceEntry(subject, sequence, action, sub, counts, 4 * n_frames))
        write_metadata(root / h36m.METADATA_FILE, entries, cameras)
        return root

    return make


def write_tiny_dataset(root: Path, takes: dict[str, list[tuple[str, int]]], seconds: float = 0.3) -> Path:
    """A dataset folder in the published layout (``schema``) from synthetic takes:
    ``{"S9": [("Walking", 1), ...]}`` -> data/default/{train,test}/*.parquet + a card with configs,
    and meta/stats.json as the build writes it."""
    import json

    from datasets import Dataset

    from simspine_dataset import h36m
    from simspine_dataset.record import STATS, STATS_VERSION
    from simspine_dataset.schema import default_features
    from simspine_dataset.stages.shards import SplitStats
    from simspine_dataset.stages.views import view_rows
    from simspine_dataset.synthetic.generator import CaptureSettings, simulate_take, subject_cameras

    by_split: dict[str, list[dict]] = {}
    for subject, items in takes.items():
        for action, subaction in items:
            q, _, keypoints, _, _, _ = simulate_take(
                subject, action, subaction, CaptureSettings(seconds=seconds, seed=2)
            )
            frames = np.arange(len(q))
            T = len(q)
            quality = {
                "ik_residual_mocap_mm": np.zeros(T),
                "ik_residual_detections_mm": np.full(T, np.nan),
                "keypoints_uncertainty_mm": np.ones((T, keypoints.shape[1])),
            }
            rows = view_rows(
                subject,
                action,
                subaction,
                frames,
                keypoints,
                q,
                np.zeros(T),
                subject_cameras(subject),
                quality,
            )
            by_split.setdefault(h36m.split_of(subject), []).append(rows)
    stats: dict[str, SplitStats] = {}
    for split, parts in by_split.items():
        columns = {k: [v for part in parts for v in (part[k] if isinstance(part[k], list) else list(part[k]))]
                   for k in parts[0]}  # fmt: skip
        n_kinematics = len(columns["kinematics"][0])
        path = root / "data" / "default" / split / "shard-00000.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        table = Dataset.from_dict(columns, features=default_features(n_kinematics))
        table.to_parquet(str(path))
        stats[split] = SplitStats()
        stats[split].add(table.data.table)
    card = ["---", "configs:", "- config_name: default", "  data_files:"]
    card += [f"  - split: {s}\n    path: data/default/{s}/shard-00000.parquet" for s in sorted(by_split)]
    (root / "README.md").write_text("\n".join([*card, "---", "", "# tiny test build", ""]))
    measured = {
        s: {**v.summary(), "files": [f"data/default/{s}/shard-00000.parquet"]} for s, v in stats.items()
    }
    summary = {"format_version": STATS_VERSION, "splits": measured}
    (root / STATS).parent.mkdir(exist_ok=True)
    (root / STATS).write_text(json.dumps(summary))
    return root


def export_user_model(folder: Path, spec, segments: dict) -> Path:
    """Our model written out as a user-supplied one (.osim + marker file + mapping JSON, names
    mapped to themselves), so runs on it have a known truth. Returns the mapping file."""
    import json

    from simspine_dataset.biomech import osim as bo

    model = bo.build_model(spec)
    bo.write_osim(model, folder / "user.osim")
    model.getMarkerSet().printToXML(str(folder / "markers.xml"))
    mapping = {
        "model": "user.osim",
        "marker_file": "markers.xml",
        "markers": {m.name: m.name for m in spec.markers},
        "segments": segments,
    }
    (folder / "mapping.json").write_text(json.dumps(mapping))
    return folder / "mapping.json"


def frames_build(root: Path, seconds: float, seed: int, stride: int, size_px: int) -> Path:
    """A build with image crops (``frames``) of a generated capture, S1 and S9 walking, under
    ``root``: the dataset folder."""
    from simspine_dataset.commands.build import BuildConfig, build
    from simspine_dataset.config import FramesConfig
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    settings = CaptureSettings(
        subjects=("S1", "S9"), seconds=seconds, seed=seed, actions=("Walking",), detections=False
    )
    raw = generate_capture(root / "raw", settings)
    build(raw, root / "simspine", BuildConfig(frames=FramesConfig("crop", stride=stride, size_px=size_px)))
    return root / "simspine"


def reseal(out: Path) -> None:
    """After a test changed shards of a build in place: each renamed to its new content digest, and
    the report, meta/stats.json and the card naming them, as a build would have written them (so
    ``validate`` checks the changed values, not the digests)."""
    import json

    from simspine_dataset.commands.card import write_card
    from simspine_dataset.io.identity import content_digest

    report = json.loads((out / "build_report.json").read_text())
    for splits in report["files"].values():
        for paths in splits.values():
            for i, path in enumerate(paths):
                stem, digest = Path(path).stem.rsplit("-", 1)
                name = f"{stem}-{content_digest(out / path, len(digest))}.parquet"
                (out / path).rename(out / Path(path).parent / name)
                paths[i] = str(Path(path).parent / name)
    (out / "build_report.json").write_text(json.dumps(report))
    stats = json.loads((out / "meta" / "stats.json").read_text())
    for split, measured in stats["splits"].items():
        measured["files"] = report["files"]["default"][split]
    (out / "meta" / "stats.json").write_text(json.dumps(stats))
    write_card(out)
