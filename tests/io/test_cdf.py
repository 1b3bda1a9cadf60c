"""Pose CDF files: round trip and the named errors."""

from __future__ import annotations

import numpy as np
import pytest

from simspine_dataset.errors import (
    BadArrayError,
    CorruptFileError,
    MissingFileError,
    NonFiniteError,
)
from simspine_dataset.io import cdf


def test_round_trip_in_the_real_layout(tmp_path) -> None:
    import cdflib

    pose = np.random.default_rng(0).normal(0, 1000, (12, 32, 3))
    path = cdf.write_pose(tmp_path / "Walking 1.cdf", pose)
    assert cdflib.CDF(str(path))["Pose"].shape == (1, 12, 96)  # as Human3.6M stores it
    np.testing.assert_allclose(cdf.read_pose(path, 3), pose, rtol=1e-6)  # float32 on disk
    assert cdf.count_pose_frames(path, 3) == 12


def test_bad_files_are_named(tmp_path) -> None:
    with pytest.raises(MissingFileError, match=r"nothing.cdf: file not found"):
        cdf.read_pose(tmp_path / "nothing.cdf", 3)
    pose2d = cdf.write_pose(tmp_path / "two.cdf", np.zeros((4, 32, 2)))
    with pytest.raises(BadArrayError, match=r"two.cdf: Pose has shape \(1, 4, 64\), expected \(1, N, 96\)"):
        cdf.read_pose(pose2d, 3)
    with pytest.raises(BadArrayError, match=r"two.cdf"):
        cdf.count_pose_frames(pose2d, 3)
    holey = np.zeros((9, 32, 3))
    holey[4:6, 3] = np.nan
    path = cdf.write_pose(tmp_path / "holey.cdf", holey)
    with pytest.raises(NonFiniteError, match=r"holey.cdf: 2 of 9 frames hold NaN/inf .first at frame 4"):
        cdf.read_pose(path, 3)
    junk = tmp_path / "junk.cdf"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(CorruptFileError, match=r"junk.cdf: cannot be read as CDF"):
        cdf.read_pose(junk, 3)
