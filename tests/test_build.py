"""The builder: a capture in, a dataset folder out that load_dataset reads; deterministic,
resumable, and a bad file fails its sequence only."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from simspine_dataset.build import BuildConfig, build
from simspine_dataset.cli import main
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
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.glob("data/**/*.parquet"))
    }


def test_load_dataset_reads_the_folder(built) -> None:
    from datasets import load_dataset

    out, report = built
    ds = load_dataset(str(out))
    assert set(ds) == {"train", "test"} and ds["test"].num_rows == report["rows"]["test"]
    row = ds["test"].with_format("numpy")[0]
    assert row["keypoints_3d_world_mm"].shape == (37, 3) and row["keypoints_2d_px"].shape == (37, 2)
    assert row["camera_rotation"].shape == (3, 3) and len(row["kinematics"]) == len(
        json.loads((out / "meta/kinematic_axes.json").read_text())
    )
    assert (out / "models" / "S9.osim").is_file() and (out / "meta" / "skeleton.json").is_file()
    assert all(e["status"] == "ok" for e in report["sequences"])
    assert "config_name: default" in (out / "README.md").read_text()


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


def test_a_corrupt_file_fails_its_sequence_only(capture, tmp_path, capsys) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(capture, raw)
    (raw / "S9/MyPoseFeatures/D3_Positions/Walking 1.cdf").write_bytes(b"\x00" * 100)
    assert main(["build", str(raw), str(tmp_path / "out")]) == 1
    printed = capsys.readouterr().out
    assert "FAILED" in printed and "Walking 1.cdf" in printed
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert sum(e["status"] == "ok" for e in report["sequences"]) == 7


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
    from simspine_dataset.capture import discover
    from simspine_dataset.pseudo_markers import pseudo_markers
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
    assert all(e["status"] == "ok" for e in report["sequences"]) and report["config"]["detections"]
    assert pseudo.names == sk.NAMES


def test_a_killed_build_resumes_to_the_same_bytes(capture, built, tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "simspine_dataset", "build", str(capture), str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.glob("work/*/2_simulate/*/*.npz"))) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-build: some units done, one maybe half-written
    proc.wait()
    assert not list(out.glob("data/**/*.parquet"))  # it died before assembling shards
    assert main(["build", str(capture), str(out)]) == 0
    assert shard_digests(out) == shard_digests(built[0])
