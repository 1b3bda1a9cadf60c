"""Discovery of a capture: records, naming quirks, alignment, every problem at once."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest

from simspine_dataset.errors import (
    CaptureProblems,
    CorruptVideoError,
    MissingCameraError,
    MissingFileError,
    NonFiniteError,
    UnknownActionError,
)
from simspine_dataset.io import cdf
from simspine_dataset.stages.capture import discover, load_mocap


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


def test_a_camera_shorter_than_the_mocap_keeps_the_other_cameras_and_is_named(make_capture, capsys) -> None:
    """49caca7 cut the whole sequence (mocap and the other three cameras) to the short video's
    length with an INFO line; now that camera alone has fewer rows, and inspect names it."""
    from fixtures import stripe_renderer

    from simspine_dataset.cli import main
    from simspine_dataset.io.video import write_video

    root = make_capture({"S1": {"Walking 1": 20}})
    record = discover(root).sequences[0]
    short = record.files.videos["55011271"]
    camera = record.cameras[1]
    write_video(short, (stripe_renderer(camera, i) for i in range(12)))  # 12 of the mocap's 20 frames
    capture = discover(root)
    record = capture.sequences[0]
    assert record.n_frames == 20 and record.frames_of("55011271") == 12 and record.frames_of("54138969") == 20
    assert record.short_cameras == {"55011271": 12}
    assert capture.n_camera_frames == 3 * 20 + 12
    [problem] = capture.short_videos
    assert problem.path == short and "has rows for frames 0-11 only" in str(problem)
    assert main(["inspect", str(root)]) == 0  # named, and built around: not a reason to stop
    assert "PROBLEM ShortVideoError" in capsys.readouterr().out and "Walking 1.55011271.mp4" in str(problem)


def test_a_known_broken_video_of_the_download_leaves_only_its_camera_out(make_capture, capsys) -> None:
    """S11 ``Directions`` of camera 54138969 is corrupt in the official download: the sequence is
    built with the other three cameras, inspect lists it as known and exits 0 (49caca7: the whole
    sequence was a problem and inspect exited 1, stopping build_local.sh under ``set -e``)."""
    from simspine_dataset.cli import main

    root = make_capture({"S11": {"Directions": 15, "Directions 1": 15}})
    video = root / "S11/Videos/Directions.54138969.mp4"
    video.write_bytes(video.read_bytes()[:300])
    capture = discover(root)
    assert capture.problems == ()
    by_name = {s.sequence: s for s in capture.sequences}
    assert by_name["Directions"].camera_ids == ("55011271", "58860488", "60457274")
    assert len(by_name["Directions 1"].camera_ids) == 4
    [known] = capture.known
    assert known.path == video and "known" not in type(known).__name__.lower()
    assert main(["inspect", str(root)]) == 0
    assert "KNOWN CorruptVideoError" in capsys.readouterr().out


def test_inspect_reads_the_mocap_whole(make_capture, capsys) -> None:
    """A CDF whose header is intact but whose data are cut: 49caca7's inspect read the header only
    and passed it, and build then failed the sequence."""
    from simspine_dataset.cli import main

    root = make_capture({"S1": {"Walking 1": 30, "Eating 1": 30}}, videos=False)
    path = root / "S1/MyPoseFeatures/D3_Positions/Walking 1.cdf"
    path.write_bytes(path.read_bytes()[:-2000])
    assert main(["inspect", str(root), "--no-videos"]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM" in out and "Walking 1.cdf" in out and "1 sequences" in out
