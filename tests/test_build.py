"""The builder: a capture in, a dataset folder out that load_dataset reads; deterministic,
resumable, and a bad file fails its sequence only."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
from fixtures import export_user_model, reseal

from simspine_dataset.cli import main
from simspine_dataset.commands.build import BuildConfig, build, settings_digest
from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

SETTINGS = CaptureSettings(
    subjects=("S1", "S9"), seconds=0.3, seed=6, actions=("Walking", "Sitting"), detections=False
)


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    return generate_capture(tmp_path_factory.mktemp("capture"), SETTINGS)


@pytest.fixture(scope="module")
def built(capture, tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    return out, build(capture, out, BuildConfig(workers=2))


def shard_digests(out) -> dict[str, str]:
    """The published shards (hidden staging files are not part of the dataset) and their digests."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("data/**/*.parquet"))
        if not any(part.startswith(".") for part in p.relative_to(out).parts)
    }


def test_load_dataset_reads_the_folder(built) -> None:
    from datasets import load_dataset

    out, report = built
    ds = load_dataset(str(out))
    assert set(ds) == {"train", "test"} and ds["test"].num_rows == report.rows["test"]
    row = ds["test"].with_format("numpy")[0]
    assert row["keypoints_3d_world_mm"].shape == (37, 3) and row["keypoints_2d_px"].shape == (37, 2)
    assert row["camera_rotation"].shape == (3, 3) and len(row["kinematics"]) == len(
        json.loads((out / "meta/kinematic_axes.json").read_text())
    )
    assert (out / "models" / "S9.osim").is_file() and (out / "meta" / "skeleton.json").is_file()
    assert all(e["status"] == "ok" for e in report.sequences)
    card = (out / "README.md").read_text()
    assert "config_name: default" in card
    # the validity table's neck-bending ranges against the rows themselves (one camera's rows)
    axes = [a["name"] for a in json.loads((out / "meta/kinematic_axes.json").read_text())]
    ranges: dict[str, list[float]] = {}
    for split in ds.values():
        rows = split.with_format("numpy")[:]
        first = rows["camera"] == rows["camera"][0]
        bending = np.stack(rows["kinematics"])[first, axes.index("neck_bending")]
        keys = [
            f"{a}/{s}/{b}"
            for a, s, b in zip(
                rows["action"][first], rows["subject"][first], rows["subaction"][first], strict=True
            )
        ]
        for key in sorted(set(keys)):
            values = bending[np.array(keys) == key]
            ranges.setdefault(key.split("/")[0], []).append(float(values.max() - values.min()))
    lines = card.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| action | lordosis"))
    table = {c[0][2:]: c for c in (line.split(" | ") for line in lines[start + 2 :]) if c[0].startswith("| ")}
    for action, values in ranges.items():
        assert float(table[action][-1].rstrip(" |")) == pytest.approx(np.mean(values), abs=0.051), action
    from PIL import Image

    for name in ("curvature_by_action.png", "lumbar_rom_by_action.png"):
        with Image.open(out / "figures" / name) as image:
            pixels = np.asarray(image.convert("L"), dtype=float)
        assert min(pixels.shape) >= 300 and pixels.std() > 10, name  # a drawn figure, not a blank


def test_2d_is_the_projection_of_3d_in_the_rows(built) -> None:
    from datasets import load_dataset

    from simspine_dataset.geometry.camera import project

    rows = load_dataset(str(built[0]), split="train").with_format("numpy")[:64]
    cam = rows["keypoints_3d_camera_mm"].astype(float)
    px = project(cam, rows["camera_intrinsics"].astype(float))
    assert np.abs(px - rows["keypoints_2d_px"]).max() < 0.01


def test_rebuild_is_byte_identical_and_resumes(capture, built, tmp_path) -> None:
    out, _ = built
    again = tmp_path / "again"
    build(capture, again, BuildConfig(workers=1))
    assert shard_digests(again) == shard_digests(out)
    lost = next(again.glob("work/*/3_views/*/*.parquet"))
    lost.unlink()  # a unit lost (e.g. killed before its rename): the re-run redoes only that one
    build(capture, again, BuildConfig(workers=1))
    assert lost.is_file() and shard_digests(again) == shard_digests(out)


def _corrupt_cdf(raw):
    path = raw / "S9/MyPoseFeatures/D3_Positions/Walking 1.cdf"
    path.write_bytes(b"\x00" * 100)
    return path.name


def _truncated_mp4(raw):
    path = raw / "S9/Videos/Walking 1.58860488.mp4"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path.name


def _missing_camera(raw):
    path = raw / "S9/Videos/Walking 1.60457274.mp4"
    path.unlink()
    return path.name


def _nan_block(raw):
    from simspine_dataset.io import cdf

    path = raw / "S9/MyPoseFeatures/D3_Positions/Walking 1.cdf"
    pose = cdf.read_pose(path, 3)
    pose[3:6] = np.nan
    cdf.write_pose(path, pose)
    return path.name


@pytest.mark.parametrize("damage", [_corrupt_cdf, _truncated_mp4, _missing_camera, _nan_block])
def test_bad_input_fails_its_sequence_only(capture, built, damage, tmp_path, capsys) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(capture, raw)
    name = damage(raw)
    out = tmp_path / "out"
    shutil.copytree(built[0] / "work", out / "work")  # finished units are reused: only the damage is new
    assert main(["build", str(raw), str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAILED" in printed and name in printed
    report = json.loads((out / "build_report.json").read_text())
    failed = [e for e in report["sequences"] if e["status"] != "ok"]
    assert len(failed) == 1 and name in failed[0]["error"]
    assert sum(e["status"] == "ok" for e in report["sequences"]) == 7
    assert report["rows"]["train"] == built[1].rows["train"]  # the other subject is untouched


def test_validate_passes_a_good_build_and_fails_a_broken_one(built, tmp_path, capsys) -> None:
    import pyarrow.parquet as pq

    out, _ = built
    assert main(["validate", str(out)]) == 0
    assert "PASS  2D = projection of 3D" in capsys.readouterr().out
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    shard = next(broken.glob("data/default/test/*.parquet"))
    table = pq.read_table(shard)
    pq.write_table(table.slice(0, table.num_rows - 4), shard)  # rows lost: counts no longer match
    assert main(["validate", str(broken)]) == 1
    assert "FAIL  counts" in capsys.readouterr().out


def test_detections_become_pseudo_markers(tmp_path) -> None:
    from simspine_dataset import skeleton as sk
    from simspine_dataset.stages.capture import discover
    from simspine_dataset.stages.pseudo_markers import pseudo_markers
    from simspine_dataset.synthetic.generator import GROUND_TRUTH

    settings = CaptureSettings(subjects=("S9",), seconds=0.4, seed=9, actions=("Walking",))
    raw = generate_capture(tmp_path / "raw", settings)
    record = discover(raw).sequences[0]
    pseudo = pseudo_markers(raw / "detections", record)
    truth = np.load(raw / GROUND_TRUTH.format(subject="S9", sequence=record.sequence))["keypoints_world_mm"]
    error = np.linalg.norm(pseudo.positions_world_mm - truth, axis=-1)
    confident = pseudo.confidence > 0.5
    assert confident.mean() > 0.5 and np.nanmedian(error[confident]) < 25.0  # mm, from 3 px detections
    report = build(raw, tmp_path / "out", BuildConfig(detections=str(raw / "detections")))
    assert all(e["status"] == "ok" for e in report.sequences) and report.config.detections
    assert pseudo.names == sk.NAMES


def test_a_killed_build_resumes_to_the_same_bytes(capture, built, tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "simspine_dataset", "build", str(capture), str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("work/*/2_simulate/*/*.npz"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-build: some units done, one maybe half-written
    proc.wait()
    assert not list(out.glob("data/**/*.parquet"))  # it died before assembling shards
    assert main(["build", str(capture), str(out)]) == 0
    assert shard_digests(out) == shard_digests(built[0])


def test_torch_format_gives_documented_shapes(built) -> None:
    import torch
    from datasets import load_dataset

    ds = load_dataset(str(built[0]), split="test").with_format("torch")
    batch = ds[:8]
    documented = {
        "keypoints_3d_world_mm": (8, 37, 3),
        "keypoints_3d_camera_mm": (8, 37, 3),
        "keypoints_2d_px": (8, 37, 2),
        "keypoints_visible": (8, 37),
        "bbox_xywh_px": (8, 4),
        "camera_intrinsics": (8, 9),
        "camera_rotation": (8, 3, 3),
        "camera_translation_mm": (8, 3),
        "image_size": (8, 2),
    }
    assert {name: tuple(batch[name].shape) for name in documented} == documented
    assert (
        batch["keypoints_3d_world_mm"].dtype == torch.float32
        and batch["keypoints_visible"].dtype == torch.bool
    )


def test_frames_config_crops_around_the_person(capture, built, tmp_path, monkeypatch) -> None:
    from datasets import load_dataset

    from simspine_dataset.stages import shards

    monkeypatch.setattr(shards, "IMAGE_GROUP_ROWS", 5)  # the fixture's few rows in several groups

    from simspine_dataset.config import FramesConfig
    from simspine_dataset.io.video import read_frames
    from simspine_dataset.stages.frames import crop_image

    out = tmp_path / "frames"
    shutil.copytree(built[0] / "work", out / "work")
    report = build(capture, out, BuildConfig(frames=FramesConfig("crop", stride=5, size_px=64)))
    default = {k: v for k, v in shard_digests(out).items() if k.startswith("data/default/")}
    assert default == shard_digests(built[0])  # frames add a config; the default one is unchanged
    frames = load_dataset(str(out), "frames", split="test")
    assert frames.num_rows == report.frames_rows["test"] and set(frames["frame"][:]) <= set(range(0, 100, 5))
    row = frames[7]
    assert row["image"].size == (64, 64)
    crop = np.array(row["crop_xywh_px"])
    hip = (np.array(row["keypoints_2d_px"])[0] - crop[:2]) * 64 / crop[2]
    assert ((hip > 8) & (hip < 56)).all()  # the person is in the middle of the crop
    video = capture / "S9" / "Videos" / f"{row['action']} {row['subaction']}.{row['camera']}.mp4"
    _, rgb = next(read_frames(video, [row["frame"]]))
    expected = crop_image(rgb, crop, 64).astype(float)
    assert np.abs(np.asarray(row["image"], float) - expected).mean() < 4.0  # JPEG of exactly that crop
    assert "config_name: frames" in (out / "README.md").read_text()
    import pyarrow.parquet as pq

    from simspine_dataset.stages.shards import IMAGE_GROUP_ROWS

    sizes = [m.row_group(i).num_rows for p in (out / "data" / "frames").rglob("*.parquet")
             for m in [pq.ParquetFile(p).metadata] for i in range(m.num_row_groups)]  # fmt: skip
    assert (
        frames.num_rows > IMAGE_GROUP_ROWS and max(sizes) == IMAGE_GROUP_ROWS
    )  # random access: one small group


def test_public_release_holds_simulated_keypoints_only(capture, built, tmp_path) -> None:
    from datasets import load_dataset

    from simspine_dataset import skeleton as sk

    out = tmp_path / "public"
    shutil.copytree(built[0] / "work", out / "work")
    build(capture, out, BuildConfig(release="public"))
    rows = load_dataset(str(out), split="test").with_format("numpy")[:16]
    full = load_dataset(str(built[0]), split="test").with_format("numpy")[:16]
    simulated = [i for i, k in enumerate(sk.KEYPOINTS) if k.source == "simulated"]
    hidden = [i for i in range(sk.NUM_KEYPOINTS) if i not in simulated]
    assert np.isnan(rows["keypoints_3d_world_mm"][:, hidden]).all()
    assert not rows["keypoints_visible"][:, hidden].any()
    np.testing.assert_array_equal(
        rows["keypoints_2d_px"][:, simulated], full["keypoints_2d_px"][:, simulated]
    )
    np.testing.assert_array_equal(rows["kinematics"], full["kinematics"])
    assert main(["validate", str(out)]) == 0


def test_user_supplied_model_builds_through_opensim(tmp_path) -> None:
    from datasets import load_dataset

    from simspine_dataset import skeleton as sk
    from simspine_dataset.biomech.model_table import SEGMENTS, model_spec
    from simspine_dataset.synthetic.generator import GROUND_TRUTH

    settings = CaptureSettings(
        subjects=("S9",), seconds=0.3, seed=3, actions=("Greeting",), videos=False, detections=False
    )
    raw = generate_capture(tmp_path / "raw", settings)
    spec = model_spec()  # our model as if it were the user's
    mapping = export_user_model(
        tmp_path, spec, {s: [b.name for b in spec.bodies if b.segment == s] for s in SEGMENTS}
    )
    out = tmp_path / "out"
    assert main(["build", str(raw), str(out), "--no-videos", "--model", str(mapping)]) == 0
    axes = json.loads((out / "meta" / "kinematic_axes.json").read_text())
    assert [a["name"] for a in axes][:3] == ["pelvis_tilt", "pelvis_list", "pelvis_rotation"]
    rows = load_dataset(str(out), split="test").with_format("numpy")[:]
    assert rows["kinematics"].shape[1] == len(axes)
    entry = json.loads((out / "build_report.json").read_text())["sequences"][0]
    truth = np.load(raw / GROUND_TRUTH.format(subject="S9", sequence=entry["sequence"]))["keypoints_world_mm"]
    first_camera = (rows["camera"] == rows["camera"][0]) & (rows["subaction"] == entry["subaction"])
    spine = list(sk.SPINE_SUBSET)
    error = np.linalg.norm(rows["keypoints_3d_world_mm"][first_camera][:, spine] - truth[:, spine], axis=-1)
    assert error.mean() < 5.0  # mm (2.1 measured): OpenSim distance scaling + OpenSim IK, same filter
    assert (out / "models" / "S9.osim").is_file()
    assert main(["validate", str(out)]) == 0


def test_load_dataset_by_folder_name_from_its_parent(built, tmp_path, monkeypatch) -> None:
    from datasets import load_dataset

    shutil.copytree(built[0] / "data", tmp_path / "simspine" / "data")
    shutil.copy(built[0] / "README.md", tmp_path / "simspine" / "README.md")
    monkeypatch.chdir(tmp_path)
    ds = load_dataset("simspine")
    assert ds["test"].num_rows == built[1].rows["test"]


def test_a_rebuild_with_fewer_subjects_leaves_no_stale_split(capture, built, tmp_path) -> None:
    from datasets import load_dataset

    out = tmp_path / "out"
    shutil.copytree(built[0], out)  # the two-subject build, then a rebuild with S1 only
    report = build(capture, out, BuildConfig(subjects=("S1",)))
    assert set(report.rows) == {"train"}
    assert sorted(p.name for p in (out / "data" / "default").iterdir()) == ["train"]
    assert not list((out / "data").rglob(".*"))  # no temporary file left
    ds = load_dataset(str(out), download_mode="force_redownload")
    assert set(ds) == {"train"} and ds["train"].num_rows == report.rows["train"]
    assert "split: test" not in (out / "README.md").read_text()


def test_a_failure_while_writing_shards_keeps_the_previous_ones(
    capture, built, tmp_path, monkeypatch
) -> None:
    from simspine_dataset.stages import shards

    out = tmp_path / "out"
    shutil.copytree(built[0], out)
    before = shard_digests(out)
    calls = []

    def failing_add(self, table) -> None:  # the disk fills up after the first row group
        calls.append(1)
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        original(self, table)

    original = shards.ShardWriter.add
    monkeypatch.setattr(shards.ShardWriter, "add", failing_add)
    with pytest.raises(OSError, match="No space left"):
        build(capture, out, BuildConfig(workers=1))
    assert shard_digests(out) == before  # the previous build's shards, whole
    assert not list((out / "data").glob(".*")) and not list((out / "data").rglob(".*.tmp*"))


def _corrupt(out, copy, change) -> None:
    """A copy of a build with ``change(columns)`` applied to its first test shard."""
    import pyarrow.parquet as pq
    from datasets import Dataset, Features

    shutil.copytree(out, copy)
    shard = sorted(copy.glob("data/default/test/*.parquet"))[0]
    table = pq.read_table(shard)
    features = Features.from_arrow_schema(table.schema)
    columns = Dataset(table).with_format("numpy")[:]
    columns = {k: np.array(v) if not isinstance(v, list) else v for k, v in columns.items()}
    change(columns)
    pq.write_table(Dataset.from_dict(columns, features=features).data.table.cast(table.schema), shard)
    reseal(copy)


def _move(columns, name: str, offset_mm: float) -> None:
    """Frame 0 (its four camera rows): a keypoint moved along X, consistently in world, camera and 2D."""
    from simspine_dataset import skeleton as sk
    from simspine_dataset.geometry.camera import project

    k = sk.INDEX[name]
    for r in np.flatnonzero(columns["frame"] == columns["frame"][0]):
        world = columns["keypoints_3d_world_mm"][r, k] + [offset_mm, 0, 0]
        cam = columns["camera_rotation"][r].astype(float) @ world + columns["camera_translation_mm"][r]
        columns["keypoints_3d_world_mm"][r, k] = world
        columns["keypoints_3d_camera_mm"][r, k] = cam
        columns["keypoints_2d_px"][r, k] = project(cam[None], columns["camera_intrinsics"][r].astype(float))[
            0
        ]


def _visible_2d(columns, value) -> None:
    r, k = np.argwhere(columns["keypoints_visible"])[0]
    columns["keypoints_2d_px"][r, k] = value(columns["keypoints_2d_px"][r, k])


CORRUPTIONS = {
    "2D = projection of 3D": lambda c: _visible_2d(c, lambda v: v + 5.0),
    "camera 3D = R X + t": lambda c: c["camera_translation_mm"].__setitem__(
        (0, 0), c["camera_translation_mm"][0, 0] + 10
    ),
    "rigid bones stable": lambda c: _move(c, "RWrist", 300.0),
    "model-rigid keypoints rigid": lambda c: _move(c, "RClavicle", 1.0),  # 1 mm: nothing else sees it
    "label quality filled": lambda c: c["ik_residual_mocap_mm"].__setitem__(0, np.nan),
    "finite": lambda c: _visible_2d(c, lambda v: np.nan),
    "lordosis in range": lambda c: c["kinematics"].__setitem__((slice(None), 20), 95.0),  # L5_S1_Flex_Ext
}


def test_shards_without_the_quality_columns_fail_the_schema_check_without_a_traceback(
    built, tmp_path
) -> None:
    import pyarrow.parquet as pq

    from simspine_dataset.commands.validate import validate
    from simspine_dataset.schema import QUALITY_COLUMNS

    out, _ = built
    old = tmp_path / "older_build"
    shutil.copytree(out, old)
    for shard in old.glob("data/default/*/*.parquet"):
        pq.write_table(pq.read_table(shard).drop_columns(list(QUALITY_COLUMNS)), shard)
    reseal(old)
    checks = {c.name: c for c in validate(old)}
    assert checks["schema"].status == "fail"
    assert checks["label quality filled"].status == "skip"  # nothing to compare, not a pass
    assert checks["2D = projection of 3D"].status == "pass"  # the other checks still run


@pytest.mark.parametrize("name", [*CORRUPTIONS, "counts"])
def test_each_check_fails_on_its_own_corruption(built, tmp_path, name) -> None:
    from simspine_dataset.commands.validate import validate

    out, _ = built
    copy = tmp_path / f"corrupt_{len(name)}_{abs(hash(name)) % 10**6}"  # its own datasets cache entry
    if name == "counts":
        shutil.copytree(out, copy)
        report = json.loads((copy / "build_report.json").read_text())
        report["rows"]["test"] += 1
        (copy / "build_report.json").write_text(json.dumps(report))
    else:
        _corrupt(out, copy, CORRUPTIONS[name])
    checks = validate(copy)
    assert [c.name for c in checks if not c.ok] == [name], [(c.name, c.status, c.detail) for c in checks]


def test_a_public_release_skips_what_it_cannot_compare(capture, built, tmp_path) -> None:
    from simspine_dataset.commands.validate import validate

    out = tmp_path / "public_release"
    shutil.copytree(built[0] / "work", out / "work")
    build(capture, out, BuildConfig(release="public"))
    checks = {c.name: c for c in validate(out)}
    assert checks["rigid bones stable"].status == "skip"  # mocap bones are hidden: nothing compared
    assert checks["camera 3D = R X + t"].status == "pass" and checks["camera 3D = R X + t"].compared > 0
    full = {c.name: c for c in validate(built[0])}
    assert checks["camera 3D = R X + t"].compared < full["camera 3D = R X + t"].compared


def test_two_builds_named_alike_and_a_rebuild_each_load_their_own_rows(capture, built, tmp_path) -> None:
    """``datasets`` keys a local folder's cache by its name and its card's YAML: the YAML names
    every shard by its content digest, so other data is another cache entry (no download_mode)."""
    from dataclasses import replace

    from datasets import load_dataset

    from simspine_dataset.config import FilterConfig, SimulationConfig

    first = load_dataset(str(built[0]), split="train")  # in the cache now
    twin = tmp_path / "twin" / built[0].name  # same folder name, other parent, other data
    shutil.copytree(built[0] / "work", twin / "work")
    build(capture, twin, BuildConfig(subjects=("S1",), test_subjects=("S9",)))
    assert set(load_dataset(str(twin))) == {"train"}
    other = BuildConfig(
        simulation=replace(SimulationConfig(), filter=FilterConfig(method="butterworth", cutoff_hz=3.0))
    )
    build(capture, twin, other)  # a rebuild with other settings, same path
    rows = load_dataset(str(twin), split="train")
    assert rows.num_rows == first.num_rows
    assert not np.allclose(
        rows.with_format("numpy")[:8]["keypoints_3d_world_mm"],
        first.with_format("numpy")[:8]["keypoints_3d_world_mm"],
    )
    assert "dataset_info" in (twin / "README.md").read_text()


def test_several_shards_and_row_groups_read_back_in_order(capture, built, tmp_path, monkeypatch) -> None:
    import pyarrow.parquet as pq
    from datasets import load_dataset

    from simspine_dataset.stages import shards

    monkeypatch.setattr(shards, "GROUP_BYTES", 40_000)  # a few rows per group, a few groups per shard
    monkeypatch.setattr(shards, "SHARD_BYTES", 200_000)
    out = tmp_path / "small_shards"
    shutil.copytree(built[0] / "work", out / "work")
    build(capture, out, BuildConfig())
    files = sorted(out.glob("data/default/test/*.parquet"))
    assert len(files) > 2 and all(pq.ParquetFile(f).num_row_groups > 1 for f in files[:-1])
    small = load_dataset(str(out), split="test").with_format("numpy")[:]
    whole = load_dataset(str(built[0]), split="test").with_format("numpy")[:]
    for name in ("subject", "action", "subaction", "frame", "camera", "keypoints_3d_world_mm"):
        np.testing.assert_array_equal(small[name], whole[name])


def _leaves(obj, prefix=()):
    from dataclasses import fields, is_dataclass

    for f in fields(obj):
        value = getattr(obj, f.name)
        if is_dataclass(value):
            yield from _leaves(value, (*prefix, f.name))
        else:
            yield (*prefix, f.name), value


def _changed(obj, path, value):
    from dataclasses import replace

    if len(path) == 1:
        return replace(obj, **{path[0]: value})
    return replace(obj, **{path[0]: _changed(getattr(obj, path[0]), path[1:], value)})


def test_digest_changes_with_every_simulation_setting_and_nothing_else(tmp_path) -> None:
    """Every simulation setting and which labels are made; not the subjects, the splits or where
    the inputs lie (their content keys each unit), nor how units run or are framed or released."""
    from simspine_dataset.config import FramesConfig

    base = BuildConfig()
    other = {
        bool: lambda v: not v,
        int: lambda v: v + 1,
        float: lambda v: v * 0.9 if v else 0.01,
        str: {
            "batched": "opensim",
            "articulated": "rigid",
            "measured": "configured",
            "coordinates": "keypoints",
            "adaptive": "butterworth",
        }.get,
        dict: lambda v: {**v, next(iter(v)): 0.25},
    }
    for path, value in _leaves(base.simulation):
        changed = _changed(base, ("simulation", *path), other[type(value)](value))
        assert settings_digest(changed) != settings_digest(base), path
    for name, value in (("detections", "/data/spinepose"), ("annotations", "/data/SIMSPINE"),
                        ("annotations_unit", "cm")):  # fmt: skip
        assert settings_digest(_changed(base, (name,), value)) != settings_digest(base), name
    for name, value in (
        ("workers", 8),
        ("check_videos", False),
        ("frames", FramesConfig("crop")),
        ("release", "public"),
        ("subjects", ("S1",)),
        ("test_subjects", ("S9",)),
        ("train_subjects", ("S1", "S5")),
    ):
        assert settings_digest(_changed(base, (name,), value)) == settings_digest(base), (
            name
        )  # keyed elsewhere or not output
    assert settings_digest(_changed(base, ("detections",), "/a")) == settings_digest(
        _changed(base, ("detections",), "/b")
    )
    from simspine_dataset.biomech.model_table import SEGMENTS, model_spec

    mapping = export_user_model(tmp_path / "a", model_spec(), {s: [] for s in SEGMENTS})
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    same = [
        settings_digest(_changed(base, ("model",), str(m))) for m in (mapping, tmp_path / "b" / mapping.name)
    ]
    assert same[0] == same[1] != settings_digest(base)  # the model's content, wherever it lies
    osim = next((tmp_path / "b").glob("*.osim"))
    osim.write_text(osim.read_text().replace("</Model>", "<!-- changed --></Model>"))
    assert settings_digest(_changed(base, ("model",), str(tmp_path / "b" / mapping.name))) != same[0]


@pytest.mark.parametrize(
    "error", [ValueError("IK diverged"), KeyError("H36M_12"), RuntimeError("SimTK exception")]
)
def test_any_exception_of_a_unit_stays_its_own(capture, tmp_path, monkeypatch, capsys, error) -> None:
    """A unit raising anything (not only our errors) fails its sequence, named with its stage, type
    and message in the report; the others are built and the exit status is 1."""
    import simspine_dataset.commands.build as build_module

    original = build_module.write_views

    def views(path, record, simulated) -> None:
        if record.sequence.startswith("Sitting"):
            raise error
        original(path, record, simulated)

    monkeypatch.setattr(build_module, "write_views", views)
    out = tmp_path / "out"
    assert main(["build", str(capture), str(out), "--subjects", "S9"]) == 1
    report = json.loads((out / "build_report.json").read_text())
    failed = [e for e in report["sequences"] if e["status"] == "failed"]
    assert {e["sequence"].split()[0] for e in failed} == {"Sitting"} and len(failed) == 2
    assert all(e["stage"] == "views" and e["error"].startswith(type(error).__name__) for e in failed)
    assert report["rows"]["test"] > 0  # the Walking sequences were built
    assert "FAILED S9 Sitting" in capsys.readouterr().out


def test_opensim_solver_setting_runs_opensims_ik(capture, built, tmp_path, monkeypatch) -> None:
    """``ik.solver = "opensim"`` is a real choice: OpenSim's InverseKinematicsSolver fits the
    sequences, to the batched solver's optimum within a fraction of a degree."""
    from dataclasses import replace

    from datasets import load_dataset

    from simspine_dataset.biomech import ik
    from simspine_dataset.config import IKConfig, SimulationConfig

    calls = []
    original = ik.solve_ik_opensim
    monkeypatch.setattr(ik, "solve_ik_opensim", lambda *a, **k: calls.append(1) or original(*a, **k))
    config = BuildConfig(
        subjects=("S9",), simulation=replace(SimulationConfig(), ik=IKConfig(solver="opensim", accuracy=1e-7))
    )
    out = tmp_path / "opensim_ik"
    report = build(capture, out, config)
    assert len(calls) == 4 and all(e["status"] == "ok" for e in report.sequences)
    theirs = load_dataset(str(out), split="test").with_format("numpy")[:]
    ours = load_dataset(str(built[0]), split="test").with_format("numpy")[:]
    gap = np.abs(theirs["kinematics"] - ours["kinematics"])
    assert np.percentile(gap, 99) < 0.5 and gap.max() > 0  # deg / mm: the same fit, another solver
    np.testing.assert_allclose(theirs["ik_marker_rmse_mm"], ours["ik_marker_rmse_mm"], atol=0.1)  # mm


def test_opensim_solver_builds_with_detections(tmp_path) -> None:
    """With detections every frame changes marker weights (the detections' confidences), which
    OpenSim's tracking refused ("assemble() must be called first", every sequence failed). Now
    both solvers build every sequence, with labels as close to the truth (spine-15 mean error
    within 0.3 mm of each other) and the same keypoints on most frames (median gap < 0.2 mm)."""
    from dataclasses import replace

    from datasets import load_dataset

    from simspine_dataset import skeleton as sk
    from simspine_dataset.config import IKConfig, SimulationConfig
    from simspine_dataset.synthetic.generator import GROUND_TRUTH

    settings = CaptureSettings(
        subjects=("S9",), seconds=1.0, seed=11, actions=("Walking",), videos=False, mocap_noise_mm=3.0
    )
    raw = generate_capture(tmp_path / "raw", settings)
    spine = list(sk.SPINE_SUBSET)
    keypoints, error = {}, {}
    for solver in ("batched", "opensim"):
        config = BuildConfig(
            detections=str(raw / "detections"),
            check_videos=False,
            simulation=replace(SimulationConfig(), ik=IKConfig(solver=solver)),
        )
        report = build(raw, tmp_path / solver, config)
        assert [e["status"] for e in report.sequences] == ["ok", "ok"], report.sequences
        rows = load_dataset(str(tmp_path / solver), split="test").with_format("numpy")[:]
        keypoints[solver] = rows["keypoints_3d_world_mm"]
        truth = {
            e["subaction"]: np.load(raw / GROUND_TRUTH.format(subject="S9", sequence=e["sequence"]))
            for e in report.sequences
        }
        true = np.stack(
            [truth[s]["keypoints_world_mm"][f] for s, f in zip(rows["subaction"], rows["frame"], strict=True)]
        )
        error[solver] = np.linalg.norm(keypoints[solver] - true, axis=-1)[:, spine].mean()
    assert abs(error["opensim"] - error["batched"]) < 0.3 and error["batched"] < 3.0, error  # mm
    gap = np.linalg.norm(keypoints["opensim"] - keypoints["batched"], axis=-1)
    assert np.median(gap) < 0.2 and gap.max() > 0  # mm


def test_settings_are_checked_on_construction(tmp_path) -> None:
    from simspine_dataset.config import FilterConfig, IKConfig

    bad = tmp_path / "bad.toml"
    bad.write_text("[simulation.ik]\nsolver = 'fast'\n")
    with pytest.raises(ValueError, match=r"ik\.solver = 'fast' is invalid; allowed: batched \| opensim"):
        BuildConfig.from_toml(bad)
    with pytest.raises(ValueError, match=r"filter\.cutoff_hz = 30\.0 is invalid"):
        FilterConfig(cutoff_hz=30.0)
    with pytest.raises(ValueError, match=r"ik\.block_frames"):
        IKConfig(block_frames=0)
    with pytest.raises(ValueError, match=r"release = 'open' is invalid"):
        BuildConfig(release="open")


def test_a_user_model_without_a_spine_marker_builds_and_a_poor_mapping_fails_first(tmp_path, capsys) -> None:
    """Pose2Sim-style marker sets have no marker for Human3.6M's "Spine" joint (H36M_12): it is left
    out of IK and named; a mapping that cannot scale a segment fails before any work, in one line."""
    from simspine_dataset.biomech.model_table import SEGMENTS, model_spec

    settings = CaptureSettings(
        subjects=("S9",), seconds=0.3, seed=3, actions=("Greeting",), videos=False, detections=False
    )
    raw = generate_capture(tmp_path / "raw", settings)
    spec = model_spec()
    mapping = export_user_model(
        tmp_path, spec, {s: [b.name for b in spec.bodies if b.segment == s] for s in SEGMENTS}
    )
    data = json.loads(mapping.read_text())
    del data["markers"]["H36M_12"]
    mapping.write_text(json.dumps(data))
    out = tmp_path / "out"
    assert main(["build", str(raw), str(out), "--no-videos", "--model", str(mapping)]) == 0
    assert json.loads((out / "build_report.json").read_text())["ik_inputs_left_out"] == ["H36M_12"]
    for joint in ("H36M_17", "H36M_25"):  # both shoulders: no torso pair is left
        del data["markers"][joint]
    mapping.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["build", str(raw), str(tmp_path / "poor"), "--no-videos", "--model", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert "segment 'torso' cannot be scaled or posed: map H36M_25+H36M_01" in err and err.count("\n") == 1
    assert err.endswith("(the mapping format: simspine_dataset/biomech/user_model.py)\n")
    assert not (tmp_path / "poor").exists()  # nothing was started


def test_the_card_states_what_this_build_did(capture, built, tmp_path) -> None:
    from simspine_dataset import skeleton as sk

    out, _ = built
    card = (out / "README.md").read_text()
    cells = [line.split(" | ") for line in card.splitlines() if line.startswith("| ")]
    rows = {c[1]: c[3] for c in cells if len(c) == 5 and c[0][2:].isdigit()}  # the keypoint table
    assert len(rows) == sk.NUM_KEYPOINTS
    assert rows["REye"] == "the model" and rows["RWrist"] == "Human3.6M mocap"  # no detections here
    assert (
        "with our batched solver" in card
        and "no 2D detections" in card
        and "weighted by their measured noise" in card
        and "all frames jointly" in card
        and "an adaptive smoother" in card
        and "Keypoints on one rigid model segment keep their distances" in card
    )
    # the label-quality table against the shards
    import pyarrow.parquet as pq

    residual = np.concatenate(
        [
            pq.read_table(p, columns=["ik_residual_mocap_mm"])[0].to_numpy()
            for p in out.glob("data/default/*/*")
        ]
    )
    line = next(x for x in card.splitlines() if x.startswith("| ik_residual_mocap_mm |"))
    median, p95 = (float(v) for v in line.split(" | ")[1:3])
    assert median == pytest.approx(np.median(residual), abs=0.006)
    assert p95 == pytest.approx(np.percentile(residual, 95), abs=0.006)
    assert f'load_dataset("{out.resolve().as_posix()}")' in card and '"frames")' not in card
    assert "config_name: frames" not in card and "dataset_info:" in card
    public = tmp_path / "public_card"
    shutil.copytree(out / "work", public / "work")
    build(capture, public, BuildConfig(release="public", detections=None))
    public_card = (public / "README.md").read_text()
    assert "| hidden (NaN) in this public release; Human3.6M mocap |" in public_card


def test_a_corrupt_detection_file_fails_its_sequence_only(tmp_path, capsys) -> None:
    settings = CaptureSettings(subjects=("S9",), seconds=0.3, seed=9, actions=("Walking", "Sitting"))
    raw = generate_capture(tmp_path / "raw", settings)
    bad = sorted((raw / "detections" / "S9").glob("Sitting*/frame_00003.json"))[0]
    bad.write_text('{"version": 1.0, "people": [{"pose_keypoints_2d": [1, 2')  # truncated
    out = tmp_path / "out"
    assert main(["build", str(raw), str(out), "--detections", str(raw / "detections")]) == 1
    report = json.loads((out / "build_report.json").read_text())
    failed = [e for e in report["sequences"] if e["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["sequence"].startswith("Sitting")
    assert "CorruptFileError" in failed[0]["error"] and str(bad) in failed[0]["error"]
    assert sum(e["status"] == "ok" for e in report["sequences"]) == 3


def test_a_build_killed_while_writing_shards_keeps_the_old_ones_and_resumes(capture, built, tmp_path) -> None:
    """SIGKILL in the middle of the shards (slowed down here so the kill lands there): the card
    still names the previous build's shards, which stay whole and are what load_dataset reads; the
    re-run removes the killed build's files and completes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed_in_shards"
    shutil.copytree(built[0], out)
    before = shard_digests(out)
    slow = (
        "import time, sys; from simspine_dataset.stages import shards; add = shards.ShardWriter.add\n"
        "shards.ShardWriter.add = lambda self, t: (time.sleep(0.5), add(self, t))[1]\n"
        "from simspine_dataset.cli import main; sys.exit(main(sys.argv[1:]))\n"
    )
    command = [
        sys.executable,
        "-c",
        slow,
        "build",
        str(capture),
        str(out),
        "--frames",
        "crop",
        "--frame-stride",
        "7",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and not list(out.glob("data/*/*/.shard-*")):
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(out.glob("data/*/*/.shard-*")), "the kill did not land while shards were written"
    from datasets import load_dataset

    from simspine_dataset.commands.validate import card_files

    named = {p for splits in card_files(out).values() for paths in splits.values() for p in paths}
    assert {str(p.relative_to(out)) for p in named} == set(before)  # the previous build, named
    assert {k: v for k, v in shard_digests(out).items() if k in before} == before  # and whole
    rows = load_dataset(str(out), split="test").num_rows
    assert rows == built[1].rows["test"]
    assert main(["build", str(capture), str(out), "--frames", "crop", "--frame-stride", "7"]) == 0
    assert not list(out.glob("data/**/.*"))
    assert {k: v for k, v in shard_digests(out).items() if k.startswith("data/default/")} == before


def test_detections_that_are_not_what_they_claim_are_errors_before_any_work(tmp_path, capsys) -> None:
    """49caca7 built with exit 0 from a --detections path that did not exist, was empty or was a
    file, while the card said the labels used triangulated detections."""
    settings = CaptureSettings(subjects=("S1", "S9"), seconds=0.3, seed=3, actions=("Walking",), videos=False)
    raw = generate_capture(tmp_path / "raw", settings)
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.json").write_text("{}")
    elsewhere = tmp_path / "elsewhere" / "S5" / "Walking.54138969"
    elsewhere.mkdir(parents=True)
    (elsewhere / "frame_00000.json").write_text('{"version": 1.0, "people": []}')
    for bad in ("nowhere", "empty", "file.json", "elsewhere"):
        args = ["build", str(raw), str(tmp_path / "out"), "--no-videos", "--detections", str(tmp_path / bad)]
        code = main(args)
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith(f"simspine: error: {tmp_path / bad}: --detections"), err
        assert not (tmp_path / "out").exists()  # nothing was started
    partial = tmp_path / "partial"
    shutil.copytree(raw / "detections" / "S1", partial / "S1")
    assert main(["build", str(raw), str(tmp_path / "out"), "--no-videos", "--detections", str(partial)]) == 0
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    missing = report["detections"]["sequences_without_detections"]
    assert set(missing) == {"S9/Walking", "S9/Walking 1"} and all(len(c) == 4 for c in missing.values())
    card = (tmp_path / "out" / "README.md").read_text()
    assert "yes, except these sequences' cameras, which had none: S9/Walking" in card


def test_the_build_measures_what_trainers_normalise_by(built) -> None:
    """meta/stats.json against numpy over the loaded rows: every column, count, mean and std."""
    from datasets import load_dataset

    from simspine_dataset import skeleton as sk
    from simspine_dataset.geometry.camera import pixels_to_normalized
    from simspine_dataset.loader import dataset_stats

    out, report = built
    for split in report.rows:
        rows = load_dataset(str(out), split=split).with_format("numpy")[:]
        visible = rows["keypoints_visible"].astype(bool)[..., None]
        px = rows["keypoints_2d_px"].astype(float)
        camera = rows["keypoints_3d_camera_mm"].astype(float)
        hip = sk.INDEX["Hip"]
        expected = {
            "keypoints_3d_world_mm": rows["keypoints_3d_world_mm"].astype(float),
            "keypoints_3d_camera_mm": camera,
            "keypoints_3d_camera_mm - Hip": camera - camera[:, hip : hip + 1],
            "keypoints_2d_px": np.where(visible, px, np.nan),
            "keypoints_2d_normalized": np.where(
                visible, pixels_to_normalized(px, rows["camera_intrinsics"].astype(float)), np.nan
            ),
        }
        stats = dataset_stats(str(out), split)
        assert set(stats) == set(expected)
        for name, values in expected.items():
            np.testing.assert_array_equal(stats[name]["count"], np.isfinite(values).sum(0), err_msg=name)
            np.testing.assert_allclose(stats[name]["mean"], np.nanmean(values, 0), atol=1e-6, err_msg=name)
            np.testing.assert_allclose(stats[name]["std"], np.nanstd(values, 0), atol=1e-5, err_msg=name)


def test_statistics_of_other_shards_than_the_card_names_are_refused(built, tmp_path, capsys) -> None:
    """A build killed after meta/stats.json and before the card: the folder loads the previous
    shards, so the new statistics are not served as theirs; validate names it."""
    from simspine_dataset.cli import main
    from simspine_dataset.errors import SimspineError
    from simspine_dataset.loader import dataset_stats

    out = tmp_path / "killed"
    shutil.copytree(built[0], out)
    stats = json.loads((out / "meta" / "stats.json").read_text())
    stats["splits"]["test"]["files"] = ["data/default/test/shard-00000-0123456789ab.parquet"]
    (out / "meta" / "stats.json").write_text(json.dumps(stats))
    assert dataset_stats(str(out), "train")["keypoints_2d_px"]["mean"].shape == (37, 2)
    with pytest.raises(SimspineError, match="other shards than the card names"):
        dataset_stats(str(out), "test")
    assert main(["validate", str(out)]) == 1
    assert "FAIL  stats" in capsys.readouterr().out
    (out / "meta" / "stats.json").unlink()
    with pytest.raises(SimspineError, match=r"a build folder without meta/stats\.json"):
        dataset_stats(str(out))
