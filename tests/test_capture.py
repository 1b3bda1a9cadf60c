"""Discovery of a capture: records, naming quirks, alignment, every problem at once."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from simspine_dataset.capture import discover, load_mocap
from simspine_dataset.errors import (
    CaptureProblems,
    CorruptVideoError,
    MissingCameraError,
    MissingFileError,
    NonFiniteError,
    UnknownActionError,
)
from simspine_dataset.io import cdf


def test_records_and_alignment(make_capture, caplog) -> None:
    root = make_capture({"S1": {"TakingPhoto 1": 20, "Eating 2": 15, "_ALL 1": 5}, "S9": {"Walking": 12}})
    with caplog.at_level(logging.INFO):
        capture = discover(root)
    assert capture.problems == ()
    by_key = {s.key: s for s in capture.sequences}
    assert set(by_key) == {"S1/TakingPhoto 1", "S1/Eating 2", "S9/Walking"}
    photo = by_key["S1/TakingPhoto 1"]
    assert (photo.action, photo.subaction, photo.n_frames) == ("Photo", 1, 20)
    assert photo.n_frames_video == (23, 23, 23, 23) and photo.n_frames_mocap == 20
    assert photo.camera_ids == ("54138969", "55011271", "58860488", "60457274")
    assert capture.n_camera_frames == 4 * (20 + 15 + 12)
    assert "video has up to 3 frame(s) more than mocap" in caplog.text
    assert "skipping 1 pseudo-sequence(s): _ALL 1" in caplog.text


def test_projection_of_d3_reproduces_d2(make_capture) -> None:
    capture = discover(make_capture({"S1": {"Walking 1": 25}}, videos=False), check_videos=False)
    record = capture.sequences[0]
    mocap = load_mocap(record, camera_arrays=True)
    assert mocap.joints_world_mm.shape == (25, 32, 3) and mocap.joints_2d_px.shape == (4, 25, 32, 2)
    for c, camera in enumerate(record.cameras):
        # float32 on disk, as Human3.6M stores it: agreement to float32 rounding
        np.testing.assert_allclose(camera.project(mocap.joints_world_mm), mocap.joints_2d_px[c], atol=2e-3)
        np.testing.assert_allclose(
            camera.world_to_camera(mocap.joints_world_mm), mocap.joints_camera_mm[c], atol=5e-3
        )


def test_every_problem_is_reported_at_once(make_capture) -> None:
    root = make_capture(
        {
            "S1": {"Walking 1": 10, "Greeting 1": 10, "Dancing 1": 10, "Posing 1": 10},
            "S5": {"Smoking 1": 10},
        },
        metadata_subjects=["S1"],
    )
    video = root / "S1/Videos/Greeting 1.58860488.mp4"
    video.write_bytes(video.read_bytes()[:200])  # truncated
    (root / "S1/Videos/Posing 1.60457274.mp4").unlink()  # a camera's video is missing
    capture = discover(root)
    assert [s.key for s in capture.sequences] == ["S1/Walking 1"]
    kinds = sorted((type(p).__name__, p.path.name) for p in capture.problems)
    assert kinds == [
        ("CorruptVideoError", "Greeting 1.58860488.mp4"),
        ("MissingCameraError", "metadata.xml"),  # S5 has no calibration
        ("MissingFileError", "Posing 1.60457274.mp4"),
        ("UnknownActionError", "Dancing 1.cdf"),
    ]
    with pytest.raises(CaptureProblems) as raised:
        capture.raise_for_problems()
    assert len(raised.value.exceptions) == 4
    assert raised.value.subgroup(UnknownActionError) is not None
    assert {CorruptVideoError, MissingCameraError, MissingFileError} <= {
        type(e) for e in raised.value.exceptions
    }


def test_nan_block_names_the_file(make_capture) -> None:
    root = make_capture({"S1": {"Walking 1": 30}}, videos=False)
    path = root / "S1/MyPoseFeatures/D3_Positions/Walking 1.cdf"
    pose = cdf.read_pose(path, 3)
    pose[10:14] = np.nan
    cdf.write_pose(path, pose)
    record = discover(root, check_videos=False).sequences[0]
    with pytest.raises(NonFiniteError, match=r"Walking 1.cdf: 4 of 30 frames hold NaN"):
        load_mocap(record)


def test_missing_subject_folder_and_metadata(make_capture, tmp_path) -> None:
    root = make_capture({"S1": {"Walking 1": 5}}, videos=False)
    capture = discover(root, ["S1", "S7"], check_videos=False)
    assert [type(p) for p in capture.problems] == [MissingFileError]
    assert "subject S7" in str(capture.problems[0])
    shutil.copytree(root, tmp_path / "copy")
    (tmp_path / "copy/metadata.xml").unlink()
    with pytest.raises(MissingFileError, match=r"metadata.xml not found"):
        discover(tmp_path / "copy")
