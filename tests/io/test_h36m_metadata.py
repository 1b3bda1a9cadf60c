"""metadata.xml: the official file's anchors, naming quirks, calibration and the writer."""

from __future__ import annotations

import numpy as np
import pytest
from fixtures import OFFICIAL_METADATA, reference_cameras

from simspine_dataset import h36m
from simspine_dataset.errors import CorruptFileError, MetadataError, MissingCameraError
from simspine_dataset.io.h36m_metadata import read_metadata, write_metadata

official = pytest.mark.skipif(
    not OFFICIAL_METADATA.is_file(), reason=f"official metadata.xml not at {OFFICIAL_METADATA}"
)


@pytest.fixture(scope="module")
def metadata():
    return read_metadata(OFFICIAL_METADATA)


@official
def test_camera_frames_of_the_benchmark(metadata) -> None:
    assert metadata.camera_frames(h36m.SUBJECTS_WITH_GROUND_TRUTH) == 2_137_064
    assert metadata.camera_frames(h36m.TRAIN_SUBJECTS) == 1_561_382
    assert metadata.camera_frames(h36m.TEST_SUBJECTS) == 575_682
    shortest = sum(
        min(e.camera_frames) for e in metadata.entries if e.subject in h36m.SUBJECTS_WITH_GROUND_TRUTH
    )
    assert shortest == 533_965


@official
def test_calibration_anchor_and_reference_numbers(metadata) -> None:
    camera = metadata.camera("S1", "54138969")
    np.testing.assert_allclose(camera.translation_mm, [-346.051, 546.981, 5474.481], atol=1e-3)
    assert camera.image_size == (1000, 1002)
    assert metadata.camera("S1", "55011271").image_size == (1000, 1000)
    for subject in h36m.SUBJECTS_WITH_GROUND_TRUTH:  # w0 equals the packaged reference numbers
        for ref in reference_cameras(subject):
            ours = metadata.camera(subject, ref.id)
            np.testing.assert_allclose(ours.rotation, ref.rotation, atol=1e-6)
            np.testing.assert_allclose(ours.center_mm, ref.center_mm, atol=1e-3)
            np.testing.assert_allclose(ours.intrinsics, ref.intrinsics, rtol=1e-7)


@official
def test_mapping_quirks(metadata) -> None:
    assert len([e for e in metadata.entries if e.subject in h36m.SUBJECTS_WITH_GROUND_TRUTH]) == 210
    assert all(e.action in h36m.ACTIONS for e in metadata.entries)
    photo = metadata.entry("S1", "TakingPhoto 1")
    assert (photo.action, photo.subaction) == ("Photo", 1)
    assert metadata.entry("S5", "Discussion 3").subaction == 2
    assert metadata.entry("S1", "Eating 2").subaction == 1  # numbers do not give the subaction
    assert metadata.entry("S1", "WalkingDog").action == "WalkDog"
    assert metadata.entry("S9", "_ALL 1") is None
    assert metadata.entry("S1", "SittingDown 2").action == "SittingDown"  # not Sitting


@official
def test_writer_round_trip(metadata, tmp_path) -> None:
    written = read_metadata(write_metadata(tmp_path / "metadata.xml", metadata.entries, metadata.cameras))
    assert written.entries == metadata.entries
    for subject in metadata.cameras:
        for camera_id in metadata.camera_ids:
            np.testing.assert_allclose(
                written.camera(subject, camera_id).projection_matrix(),
                metadata.camera(subject, camera_id).projection_matrix(),
                rtol=1e-9,
                atol=1e-6,
            )


def test_missing_calibration_names_the_file(make_capture) -> None:
    root = make_capture(
        {"S1": {"Walking 1": 5}, "S5": {"Walking 1": 5}}, videos=False, metadata_subjects=["S1"]
    )
    metadata = read_metadata(root / "metadata.xml")
    with pytest.raises(
        MissingCameraError, match=r"metadata\.xml: no calibration for camera 54138969 of subject S5"
    ):
        metadata.camera("S5", "54138969")


def test_malformed_files_raise_named_errors(tmp_path) -> None:
    bad = tmp_path / "metadata.xml"
    bad.write_text("<a><mapping>")
    with pytest.raises(CorruptFileError, match=r"metadata.xml: not well-formed XML"):
        read_metadata(bad)
    bad.write_text("<a><dbcameras><index2id><item>1</item></index2id></dbcameras></a>")
    with pytest.raises(MetadataError, match="lists cameras \\['1'\\], expected 4"):
        read_metadata(bad)
