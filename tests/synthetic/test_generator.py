"""The synthetic capture: the exact Human3.6M layout, read back by our reader, consistent inside."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simspine_dataset import skeleton as sk
from simspine_dataset.cli import main
from simspine_dataset.io import detections as det_io
from simspine_dataset.io.video import read_frames
from simspine_dataset.stages.capture import discover, load_mocap
from simspine_dataset.synthetic.generator import GROUND_TRUTH, CaptureSettings, generate_capture

SETTINGS = CaptureSettings(subjects=("S1",), seconds=0.6, seed=3, actions=("Photo", "Walking"))


@pytest.fixture(scope="module")
def capture_root(tmp_path_factory):
    return generate_capture(tmp_path_factory.mktemp("capture"), SETTINGS)


def test_reader_reads_it_with_the_release_quirks(capture_root) -> None:
    capture = discover(capture_root)
    assert capture.problems == ()
    names = {(s.action, s.subaction): s.sequence for s in capture.sequences}
    assert names[("Photo", 1)] == "TakingPhoto 1" and names[("Photo", 2)] == "TakingPhoto"  # S1's names
    for record in capture.sequences:
        extra = np.array(record.n_frames_video) - record.n_frames_mocap
        assert extra.min() >= 1 and extra.max() <= 4 and record.n_frames == record.n_frames_mocap


def test_2d_is_the_projection_of_3d(capture_root) -> None:
    for record in discover(capture_root, check_videos=False).sequences:
        mocap = load_mocap(record, camera_arrays=True)
        for c, camera in enumerate(record.cameras):
            gap = np.abs(camera.project(mocap.joints_world_mm) - mocap.joints_2d_px[c])
            assert gap.max() < 0.01  # px, float32 files


def test_ground_truth_agrees_with_the_mocap(capture_root) -> None:
    record = discover(capture_root, check_videos=False).sequences[0]
    truth = np.load(capture_root / GROUND_TRUTH.format(subject="S1", sequence=record.sequence))
    keypoints, joints = truth["keypoints_world_mm"], load_mocap(record).joints_world_mm
    assert keypoints.shape == (record.n_frames, 37, 3) and truth["coordinates"].shape[0] == record.n_frames
    np.testing.assert_allclose(keypoints[:, sk.INDEX["RWrist"]], joints[:, 27], atol=1e-2)  # mocap semantics
    assert set(json.loads(str(truth["segment_factors"]))) >= {"torso", "thigh"}
    bones = np.linalg.norm(keypoints[:, 2] - keypoints[:, 3], axis=-1)  # Spine_02-Spine_03: one rhythm chain
    assert bones.std() < 2.0  # mm: the spine moves as a chain, not as noise


def test_the_figure_is_drawn_where_the_joints_project(capture_root) -> None:
    record = discover(capture_root).sequences[0]
    camera = record.cameras[1]
    joints = load_mocap(record).joints_world_mm
    ((_, rgb),) = list(read_frames(record.files.videos[camera.id], [10]))
    u, v = np.round(camera.project(joints[10, [0, 13]])).astype(int).T  # pelvis, thorax: on the trunk
    background = rgb[5, 5].astype(int)
    for x, y in zip(u, v, strict=True):
        assert np.abs(rgb[y, x].astype(int) - background).sum() > 40


def test_detections_follow_the_truth(capture_root) -> None:
    record = discover(capture_root, check_videos=False).sequences[0]
    camera = record.cameras[0]
    truth = np.load(capture_root / GROUND_TRUTH.format(subject="S1", sequence=record.sequence))
    xy, scores = det_io.read_sequence(
        capture_root / "detections", "S1", record.sequence, camera.id, record.n_frames
    )
    true_px = camera.project(truth["keypoints_world_mm"].astype(float))
    error = np.linalg.norm(xy - true_px, axis=-1)
    seen = scores > 0.6  # confident, not occluded, not an outlier
    assert np.nanmedian(error[seen]) < 6.0 and (scores > 0).mean() > 0.9


def test_deterministic_and_resumable(capture_root, tmp_path) -> None:
    again = generate_capture(tmp_path / "again", SETTINGS)
    for path in sorted(capture_root.rglob("*.npz")):
        a, b = np.load(path), np.load(again / path.relative_to(capture_root))
        np.testing.assert_array_equal(a["keypoints_world_mm"], b["keypoints_world_mm"])
    cdf = sorted(capture_root.rglob("D3_Positions/*.cdf"))[0]
    assert cdf.read_bytes() == (again / cdf.relative_to(capture_root)).read_bytes()
    stamp = cdf.stat().st_mtime_ns
    generate_capture(capture_root, SETTINGS)  # a re-run skips finished takes
    assert cdf.stat().st_mtime_ns == stamp


def test_cli(tmp_path, capsys) -> None:
    out = tmp_path / "cli"
    args = [
        "--subjects",
        "S9",
        "--seconds",
        "0.3",
        "--actions",
        "Sitting",
        "--no-videos",
        "--no-detections",
    ]
    assert main(["capture-demo", str(out), *args]) == 0
    assert "wrote 2 takes" in capsys.readouterr().out
    assert len(discover(out, check_videos=False).sequences) == 2
