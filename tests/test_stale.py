"""Nothing stale is served: every input that changes a unit's bytes is in its key (the calibration,
the detections' files, the subject's other sequences), and nothing else is (the subject list,
the splits, the paths of inputs), so a rebuild redoes exactly what changed (``build.unit_key``)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pyarrow.parquet as pq
import pytest

from simspine_dataset.commands.build import BuildConfig, build, settings_digest
from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

SETTINGS = CaptureSettings(subjects=("S1", "S9"), seconds=0.3, seed=21, actions=("Walking",), videos=False)


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    return generate_capture(tmp_path_factory.mktemp("stale") / "raw", SETTINGS)


def rows(out) -> dict[str, np.ndarray]:
    from datasets import Features

    from simspine_dataset.loader import column_to_numpy

    table = pq.read_table(sorted(out.glob("data/default/*/*.parquet")))
    features = Features.from_arrow_schema(table.schema)
    names = ("subject", "camera", "keypoints_2d_px", "ik_residual_detections_mm")
    return {name: column_to_numpy(table.column(name), features[name]) for name in names}


def move_camera(raw, subject: str, camera_id: str, shift_mm: float) -> None:
    """metadata.xml with one camera of one subject moved along X: its centre's X in ``<w0>`` changed
    in place (every other number kept as written)."""
    import re

    from simspine_dataset import h36m

    path = raw / "metadata.xml"
    text = path.read_text()
    match = re.search(r"<w0>\[?([^<\]]*)\]?</w0>", text)
    numbers = match.group(1).split()
    c, s = h36m.CAMERA_IDS.index(camera_id) + 1, h36m.subject_number(subject)
    index = 6 * ((c - 1) * 11 + (s - 1)) + 3  # [rx, ry, rz, Cx, Cy, Cz] of camera c, subject s
    numbers[index] = repr(float(numbers[index]) + shift_mm)
    path.write_text(text[: match.start(1)] + " ".join(numbers) + text[match.end(1) :])


def test_a_moved_camera_rebuilds_its_rows(capture, tmp_path) -> None:
    """49caca7 kept byte-identical shards after one camera moved 200 mm (2D off by 41 px against a
    fresh build) and validate passed."""
    raw = tmp_path / "raw"
    shutil.copytree(capture, raw)
    config = BuildConfig(check_videos=False, detections=str(raw / "detections"))
    build(raw, tmp_path / "out", config)
    before = rows(tmp_path / "out")
    move_camera(raw, "S9", "55011271", 200.0)
    build(raw, tmp_path / "out", config)
    build(raw, tmp_path / "fresh", config)
    after, fresh = rows(tmp_path / "out"), rows(tmp_path / "fresh")
    np.testing.assert_array_equal(after["keypoints_2d_px"], fresh["keypoints_2d_px"])
    moved = (before["subject"] == "S9") & (before["camera"] == "55011271")
    assert np.nanmax(np.abs(after["keypoints_2d_px"] - before["keypoints_2d_px"])[moved]) > 10  # px
    s1 = before["subject"] == "S1"  # (S9's other cameras move too: the detections triangulate anew)
    assert np.nanmax(np.abs(after["keypoints_2d_px"] - before["keypoints_2d_px"])[s1]) == 0


def test_detection_files_changed_behind_the_marker_are_seen(capture, tmp_path) -> None:
    """A detections folder written by ``simspine detect`` (marker intact) whose frame files were
    emptied afterwards: 49caca7 served the old shards."""
    from simspine_dataset.io.detections import MARKER, frame_json

    raw = tmp_path / "raw"
    shutil.copytree(capture, raw)
    detections = raw / "detections"
    for folder in detections.glob("*/*"):
        (folder / MARKER).write_text(json.dumps({"key": "written by simspine detect"}))
    config = BuildConfig(check_videos=False, detections=str(detections))
    build(raw, tmp_path / "out", config)
    before = rows(tmp_path / "out")
    for frame in detections.glob("S1/*/frame_*.json"):
        frame.write_text(frame_json(None, None))  # nobody detected
    build(raw, tmp_path / "out", config)
    after = rows(tmp_path / "out")
    s1 = after["subject"] == "S1"
    assert np.isfinite(before["ik_residual_detections_mm"][s1]).any()
    assert np.isnan(after["ik_residual_detections_mm"][s1]).all()  # no detections now


def test_more_subjects_reuse_every_unit_and_paths_of_inputs_are_not_keys(capture, tmp_path) -> None:
    """49caca7 hashed the subject list, the split lists and the inputs' paths into the settings
    digest: building S1, then S1 and S9, redid every unit under a new work tree."""
    config = BuildConfig(check_videos=False, detections=str(capture / "detections"), subjects=("S1",))
    build(capture, tmp_path / "out", config)
    units = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "work").rglob("*.npz")}
    moved = tmp_path / "detections elsewhere"
    shutil.copytree(capture / "detections", moved)  # a copy keeps its files' names, sizes and times
    more = replace(config, subjects=None, detections=str(moved), test_subjects=("S9", "S11", "S5"),
                   train_subjects=("S1", "S6", "S7", "S8"))  # fmt: skip
    report = build(capture, tmp_path / "out", more)
    assert report.config_hash == settings_digest(config)
    assert {p: p.stat().st_mtime_ns for p in units} == units  # S1's units untouched
    assert len(list((tmp_path / "out" / "work").glob("*"))) == 1  # one work tree


def test_a_new_sequence_of_a_subject_rescales_it_and_resimulates_the_others(capture, tmp_path) -> None:
    """A subject's scaling reads every one of its sequences: one more changes the labels of all."""
    raw = tmp_path / "raw"
    shutil.copytree(capture, raw)
    walking1 = raw / "S1/MyPoseFeatures/D3_Positions/Walking 1.cdf"
    kept = walking1.read_bytes()
    walking1.unlink()
    config = BuildConfig(check_videos=False, subjects=("S1",))
    build(raw, tmp_path / "out", config)
    before = rows(tmp_path / "out")
    walking1.write_bytes(kept)
    build(raw, tmp_path / "out", config)
    build(raw, tmp_path / "fresh", config)
    after, fresh = rows(tmp_path / "out"), rows(tmp_path / "fresh")
    np.testing.assert_array_equal(after["keypoints_2d_px"], fresh["keypoints_2d_px"])
    assert len(after["keypoints_2d_px"]) > len(before["keypoints_2d_px"])


def test_clean_frees_the_work_of_other_settings(capture, tmp_path, capsys) -> None:
    from simspine_dataset.cli import main

    out = tmp_path / "out"
    assert main(["build", str(capture), str(out), "--no-videos"]) == 0
    settings = tmp_path / "other.toml"
    settings.write_text("[simulation.filter]\nmethod = 'butterworth'\n")
    assert main(["build", str(capture), str(out), "--no-videos", "--config", str(settings)]) == 0
    assert "simspine clean" in capsys.readouterr().out  # the summary says how to free the space
    assert len(list((out / "work").glob("*"))) == 2
    assert main(["clean", str(out)]) == 0
    assert "freed" in capsys.readouterr().out
    assert len(list((out / "work").glob("*"))) == 1
    assert main(["clean", str(out), "--all"]) == 0 and not (out / "work").exists()
    from simspine_dataset.commands.validate import validate

    assert all(c.ok for c in validate(out))  # the dataset itself is untouched
