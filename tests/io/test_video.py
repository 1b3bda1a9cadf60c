"""Videos: exact frame counts, frames by index, damage detected."""

from __future__ import annotations

import numpy as np
import pytest

from simspine_dataset.errors import CorruptVideoError, MissingFileError
from simspine_dataset.io.video import probe_video, read_frames, write_video


def grey_frames(n: int):
    for i in range(n):
        yield np.full((48, 64, 3), (i * 3) % 250, dtype=np.uint8)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "Walking 1.54138969.mp4"
    assert write_video(path, grey_frames(437)) == 437
    return path


def test_exact_frame_count(video) -> None:
    info = probe_video(video)
    assert (info.n_frames, info.width_px, info.height_px, info.fps_hz) == (437, 64, 48, 50.0)
    assert sum(1 for _ in read_frames(video)) == 437


def test_frames_by_index_with_seeks(video) -> None:
    wanted = [0, 1, 7, 200, 201, 430, 436, 900]  # far jumps seek; 900 is past the end
    got = list(read_frames(video, wanted))
    assert [i for i, _ in got] == wanted[:-1]
    for index, rgb in got:
        assert rgb.shape == (48, 64, 3)
        assert abs(float(rgb.mean()) - (index * 3) % 250) < 3  # H.264 is lossy


def test_damaged_videos_are_named(video, tmp_path) -> None:
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    with pytest.raises(CorruptVideoError, match=r"cut.mp4"):
        probe_video(truncated)
    with pytest.raises(MissingFileError, match=r"gone.mp4: video not found"):
        probe_video(tmp_path / "gone.mp4")
