"""``simspine detect`` on the synthetic capture: detect -> build --detections -> validate, resuming
after SIGKILL, bad videos named while the others finish, a changed model redone."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from simspine_dataset import skeleton as sk
from simspine_dataset.cli import main
from simspine_dataset.io import detections as det_io
from simspine_dataset.io.detections import MARKER
from simspine_dataset.pose_models import crop_transform
from simspine_dataset.stages.crops import mocap_boxes
from simspine_dataset.stages.detect import DetectConfig, detect

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from simspine_dataset.synthetic.pose_onnx import fixed_peaks_model

SIZE = (192, 256)


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    root = tmp_path_factory.mktemp("detect") / "capture"
    settings = CaptureSettings(seconds=0.4, actions=("Walking", "Sitting"), detections=False, workers=2)
    return generate_capture(root, settings)


def mean_pose_crop_px(capture: Path) -> np.ndarray:
    """Where each keypoint lies on average in the crops of the mocap boxes (SpineTrack order): the
    peaks of a mean-pose 'detector' that is right on average and wrong on every frame."""
    from simspine_dataset.stages.capture import discover

    points = []
    for record in discover(capture, check_videos=False).sequences:
        truth = np.load(capture / "ground_truth" / record.subject / f"{record.sequence}.npz")
        for camera in record.cameras:
            boxes = mocap_boxes(record, camera)
            centres, scales = crop_transform(boxes, SIZE)
            px = camera.project(truth["keypoints_world_mm"].astype(float)[: record.n_frames])
            points.append((px - centres[:, None]) / scales[:, None] * np.array(SIZE) + np.array(SIZE) / 2)
    return np.nanmean(np.concatenate(points), axis=0)[list(sk.FROM_SPINETRACK)]


@pytest.fixture(scope="module")
def model(capture: Path) -> Path:
    return fixed_peaks_model(capture.parent / "mean_pose.onnx", mean_pose_crop_px(capture), 0.6, SIZE)


def markers(root: Path) -> dict[str, dict]:
    return {
        f"{p.parent.parent.name}/{p.parent.name}": json.loads(p.read_text())
        for p in root.glob(f"*/*/{MARKER}")
    }


def test_detect_build_validate(capture: Path, model: Path, tmp_path: Path) -> None:
    """The whole front end on the demo capture. The small model is a mean pose (right on average,
    wrong on every frame): the build takes its detections (labels differ from a mocap-only build),
    every structural check of ``validate`` passes, and the gates and the anatomical checks catch
    the bad spine: the detections pull the fit tens of mm off the mocap, every sequence is flagged
    and the build exits 1."""
    from simspine_dataset.commands.validate import validate

    out = tmp_path / "detections"
    assert main(["detect", str(capture), str(out), "--onnx", str(model), "--batch-size", "7"]) == 0
    report = json.loads((out / "detect_report.json").read_text())
    assert report["videos"] == {"done": 32, "skipped": 0, "failed": 0}
    xy, scores = det_io.read_sequence(out, "S1", "Walking 1", "54138969", 20)
    assert np.isfinite(xy).all() and np.allclose(scores, 0.6, atol=1e-3)
    truth = np.load(capture / "ground_truth" / "S1" / "Walking 1.npz")["keypoints_world_mm"][:20]
    from simspine_dataset.stages.capture import discover

    record = next(r for r in discover(capture, ["S1"]).sequences if r.sequence == "Walking 1")
    error = np.linalg.norm(xy - record.cameras[0].project(truth.astype(float)), axis=-1)
    assert np.median(error) < 40  # a mean pose on the right person, not at a wrong place
    assert main(["build", str(capture), str(tmp_path / "built"), "--detections", str(out)]) == 1
    report = json.loads((tmp_path / "built" / "build_report.json").read_text())
    assert {e["status"] for e in report["sequences"]} == {"flagged"}
    gates = [g for e in report["sequences"] for g in e["gates"] if g["name"] == "sequence IK"]
    assert min(g["found_mm"] / g["expected_mm"] for g in gates) > 10  # far beyond the noise
    checks = {c.name: c.ok for c in validate(tmp_path / "built")}
    structural = ("schema", "counts", "finite", "2D = projection of 3D", "camera 3D = R X + t")
    assert all(checks[name] for name in structural), checks
    assert not checks["labels within the gates"], checks
    assert not checks["lordosis in range"], checks  # a mean pose bends the lumbar spine: caught
    assert main(["build", str(capture), str(tmp_path / "mocap_only")]) == 0
    assert all(c.ok for c in validate(tmp_path / "mocap_only"))
    before = markers(out)
    assert detect(capture, out, DetectConfig(onnx=str(model)))["videos"]["skipped"] == 32
    assert markers(out) == before


def test_a_killed_detect_resumes_without_redoing_finished_videos(
    capture: Path, model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "detections"
    command = [
        sys.executable,
        "-m",
        "simspine_dataset",
        "detect",
        str(capture),
        str(out),
        "--onnx",
        str(model),
        "--batch-size",
        "2",
        "--threads",
        "1",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(markers(out)) < 3:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = markers(out)
    assert 3 <= len(finished) < 32
    report = detect(capture, out, DetectConfig(onnx=str(model)))
    status = {f"{r['subject']}/{r['sequence']}.{r['camera']}": r["status"] for r in report["results"]}
    assert all(status[name] == "skipped" for name in finished)
    assert not list(out.glob("*/.*"))  # no temporary folder is left
    clean = tmp_path / "clean"
    detect(capture, clean, DetectConfig(onnx=str(model)))
    assert {k: v["digest"] for k, v in markers(out).items()} == {
        k: v["digest"] for k, v in markers(clean).items()
    }


def test_bad_videos_are_named_and_the_others_finish(
    capture: Path, model: Path, tmp_path: Path, capsys
) -> None:
    import shutil

    raw = tmp_path / "raw"
    shutil.copytree(capture, raw, ignore=shutil.ignore_patterns("ground_truth"))
    truncated = raw / "S1" / "Videos" / "Sitting 1.55011271.mp4"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    (raw / "S9" / "Videos" / "Walking.60457274.mp4").unlink()
    out = tmp_path / "detections"
    (out / "S9" / "Sitting 1.54138969").mkdir(parents=True)  # someone else's detections: kept, named
    assert main(["detect", str(raw), str(out), "--onnx", str(model)]) == 1
    text = capsys.readouterr().out
    assert "Sitting 1.55011271.mp4" in text and "Walking.60457274.mp4" in text
    assert "not written by simspine detect" in text
    report = json.loads((out / "detect_report.json").read_text())
    assert report["videos"] == {"done": 23, "skipped": 0, "failed": 3}  # 2 sequences, 1 foreign folder
    assert main(["detect", str(raw), str(out), "--onnx", str(tmp_path / "missing.onnx")]) == 2
    assert "simspine: error:" in capsys.readouterr().err


def test_another_model_redoes_and_the_build_sees_it(capture: Path, model: Path, tmp_path: Path) -> None:
    from simspine_dataset.commands.build import BuildConfig, unit_key
    from simspine_dataset.stages.capture import discover

    out = tmp_path / "detections"
    config = BuildConfig(detections=str(out))
    record = discover(capture, ["S1"]).sequences[0]
    detect(capture, out, DetectConfig(onnx=str(model), subjects=("S1",)))
    key = unit_key(record, config)
    other = fixed_peaks_model(tmp_path / "other.onnx", np.full((sk.NUM_KEYPOINTS, 2), 90.0), 0.5, SIZE)
    report = detect(capture, out, DetectConfig(onnx=str(other), subjects=("S1",)))
    assert report["videos"] == {"done": 16, "skipped": 0, "failed": 0}
    assert unit_key(record, config) != key  # a build re-simulates with the new detections


def test_datatrove_executor_gives_the_same_detections(capture: Path, model: Path, tmp_path: Path) -> None:
    pytest.importorskip("datatrove")
    from simspine_dataset.commands.distributed import run_detect

    config = DetectConfig(onnx=str(model), subjects=("S9",), workers=2)
    report = run_detect(capture, tmp_path / "dt", config, "datatrove", tasks=2)
    local = detect(capture, tmp_path / "local", DetectConfig(onnx=str(model), subjects=("S9",)))
    digests = {k: v["digest"] for k, v in markers(tmp_path / "dt").items()}
    assert len(digests) == 16 and digests == {k: v["digest"] for k, v in markers(tmp_path / "local").items()}
    assert report["videos"] == local["videos"] == {"done": 16, "skipped": 0, "failed": 0}
    assert json.loads((tmp_path / "dt" / "detect_report.json").read_text())["videos"]["done"] == 16


def test_a_failed_video_on_an_executor_is_reported_with_exit_1(capture, model, tmp_path, capsys) -> None:
    """49caca7's ``detect --executor datatrove`` wrote no report, swallowed unit errors, exited 0."""
    pytest.importorskip("datatrove")
    raw = tmp_path / "raw"
    shutil.copytree(capture, raw)
    broken = next(raw.glob("S9/Videos/Walking.*.mp4"))
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 3])  # decodes some frames only
    args = ["detect", str(raw), str(tmp_path / "dt"), "--onnx", str(model), "--subjects", "S9"]
    assert main([*args, "--executor", "datatrove", "--tasks", "2"]) == 1
    report = json.loads((tmp_path / "dt" / "detect_report.json").read_text())
    assert report["videos"]["failed"] >= 1
    assert f"FAILED  {broken}" in capsys.readouterr().out  # the broken video, named


def test_two_detects_at_once_share_the_work_without_failures(capture, model, tmp_path) -> None:
    """Two ``simspine detect`` on one folder at once: 49caca7 reported 10 spurious failures (each
    removed the other's temporary folders); now each video is done once, under its lock."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "simspine_dataset", "detect", str(capture), str(tmp_path / "d"),
               "--onnx", str(model), "--subjects", "S9"]  # fmt: skip
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    report = json.loads((tmp_path / "d" / "detect_report.json").read_text())
    assert report["videos"]["failed"] == 0
    assert len(markers(tmp_path / "d")) == 16


def test_boxes_from_spinepose_person_detector(capture: Path, tmp_path: Path, monkeypatch) -> None:
    """``--boxes detector``: SpinePose's RF-DETR (here a stand-in with its I/O, in the package's
    cache) finds the person; the most confident box is the crop's box."""
    pytest.importorskip("spinepose")
    from simspine_dataset.stages.crops import DETECTOR_FILE
    from simspine_dataset.synthetic.pose_onnx import person_detector_model

    monkeypatch.setattr("simspine_dataset.pose_models.SPINEPOSE_CACHE", tmp_path / "cache")
    boxes = [[0.5, 0.5, 0.2, 0.6], [0.3, 0.4, 0.1, 0.1], [0.7, 0.7, 0.3, 0.3]]
    person_detector_model(tmp_path / "cache" / DETECTOR_FILE, np.array(boxes), np.array([4.0, 1.0, -4.0]))
    peaks = np.full((sk.NUM_KEYPOINTS, 2), [96.0, 128.0])  # the crop's centre
    peaks[0] = [0.0, 0.0]  # its top-left corner
    model = fixed_peaks_model(tmp_path / "peaks.onnx", peaks, 0.9, SIZE)
    out = tmp_path / "detections"
    report = detect(capture, out, DetectConfig(onnx=str(model), boxes="detector", subjects=("S9",)))
    assert report["videos"] == {"done": 16, "skipped": 0, "failed": 0}
    xy, _ = det_io.read_sequence(out, "S9", "Walking", "55011271", 3)
    # box (400, 200)-(600, 800) px of a 1000 x 1000 image: centre (500, 500); padded 1.25 and grown
    # to 3:4, 562.5 x 750 px; the crop's corner maps to (500 - 281.25, 500 - 375)
    spinetrack_0 = sk.FROM_SPINETRACK[0]  # the SIMSPINE index of SpineTrack keypoint 0
    others = [k for k in range(sk.NUM_KEYPOINTS) if k != spinetrack_0]
    np.testing.assert_allclose(xy[:, others], 500.0, atol=1e-6)
    np.testing.assert_allclose(xy[:, spinetrack_0], [[218.75, 125.0]] * 3, atol=1e-6)


def test_a_moved_camera_redoes_its_videos(capture: Path, model: Path, tmp_path: Path) -> None:
    """The mocap boxes are the joints projected through the calibration: 49caca7 reported every video
    "already done" after a camera moved 200 mm in metadata.xml."""
    from test_stale import move_camera

    raw = tmp_path / "raw"
    shutil.copytree(capture, raw)
    config = DetectConfig(onnx=str(model), subjects=("S9",))
    assert detect(raw, tmp_path / "d", config)["videos"]["done"] == 16
    move_camera(raw, "S9", "55011271", 200.0)
    report = detect(raw, tmp_path / "d", config)
    redone = {r["sequence"] for r in report["results"] if r["status"] == "done" and r["camera"] == "55011271"}
    assert report["videos"]["done"] == 4 and len(redone) == 4  # that camera's four videos, and only those
