"""``simspine view``: the recording read back with Rerun's own reader (``rerun.chunk.RrdReader``)
holds what the dataset's rows hold: the entity layout, every frame, a keypoint's 3D value, a
camera's pose, the 2D overlay; two builds and their distance; a raw capture with its frames."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rerun")  # the view extra: installed by scripts/test.sh (listed in conftest)

from simspine_dataset.commands.view import view


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    from simspine_dataset.commands.build import BuildConfig, build
    from simspine_dataset.config import FramesConfig
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    root = tmp_path_factory.mktemp("view")
    settings = CaptureSettings(("S1",), 0.4, seed=17, actions=("Walking",), detections=True)
    raw = generate_capture(root / "raw", settings)
    build(raw, root / "out", BuildConfig(frames=FramesConfig("crop", stride=4, size_px=64)))
    return raw, root / "out"


def read_back(path) -> dict[str, dict[str, list]]:
    """Entity path -> column name -> values (one per logged row, frames under "frame")."""
    import rerun.chunk

    entities: dict[str, dict[str, list]] = {}
    for chunk in rerun.chunk.RrdReader(path).stream():
        batch = chunk.to_record_batch()
        columns = entities.setdefault(chunk.entity_path, {})
        for name in batch.schema.names:
            columns.setdefault(name, []).extend(batch.column(name).to_pylist())
    return entities


def rows_of(out, sequence: str) -> dict[str, np.ndarray]:
    import json

    import pyarrow.parquet as pq
    from datasets import Features

    from simspine_dataset.loader import column_to_numpy

    entry = next(
        e
        for e in json.loads((out / "build_report.json").read_text())["sequences"]
        if e["sequence"] == sequence
    )
    table = pq.read_table(sorted(out.glob("data/default/*/*.parquet")))
    features = Features.from_arrow_schema(table.schema)
    rows = {n: column_to_numpy(table.column(n), features[n]) for n in table.schema.names}
    mine = (rows["action"] == entry["action"]) & (rows["subaction"] == entry["subaction"])
    return {n: v[mine] for n, v in rows.items()}


def test_a_build_read_back_holds_its_rows(build, tmp_path) -> None:
    _, out = build
    shown = view(out, subject="S1", sequence="Walking 1", save=tmp_path / "v.rrd")
    logged = read_back(tmp_path / "v.rrd")
    rows = rows_of(out, "Walking 1")
    cameras = sorted(set(rows["camera"]))
    for camera in cameras:
        for child in ("", "/image", "/image/keypoints"):
            assert f"/build/world/cameras/{camera}{child}" in logged
        assert f"/build/crops/{camera}" in logged and f"/build/crops/{camera}/keypoints" in logged
    assert (
        "/build/series/kinematics/L5_S1_Flex_Ext" in logged
        and "/build/series/curvature/lordosis_deg" in logged
    )
    keypoints = logged["/build/world/keypoints"]
    frames = sorted(set(rows["frame"].tolist()))
    assert keypoints["frame"] == frames and shown["frames"] == len(frames)
    first = rows["camera"] == cameras[0]
    k = 20  # Spine_01? any keypoint: its 3D value at frame 7 equals its row's
    assert np.allclose(
        keypoints["Points3D:positions"][7][k], rows["keypoints_3d_world_mm"][first][7][k], atol=1e-3
    )
    pose = logged[f"/build/world/cameras/{cameras[1]}"]
    row = np.flatnonzero(rows["camera"] == cameras[1])[0]
    assert np.allclose(pose["Transform3D:translation"][0], rows["camera_translation_mm"][row], atol=1e-3)
    assert np.allclose(
        np.reshape(pose["Transform3D:mat3x3"][0], (3, 3)).T, rows["camera_rotation"][row], atol=1e-6
    )
    overlay = logged[f"/build/world/cameras/{cameras[1]}/image/keypoints"]
    mine = rows["camera"] == cameras[1]
    visible = rows["keypoints_visible"][mine][3]
    assert np.allclose(overlay["Points2D:positions"][3], rows["keypoints_2d_px"][mine][3][visible], atol=1e-3)
    assert overlay["Points2D:keypoint_ids"][3] == np.flatnonzero(visible).tolist()
    crops = logged[f"/build/crops/{cameras[0]}"]
    assert crops["frame"] == [f for f in frames if f % 4 == 0]


def test_two_builds_side_by_side_with_their_distance(build, tmp_path) -> None:
    _, out = build
    view(out, subject="S1", save=tmp_path / "c.rrd", compare=out, max_frames=6)
    logged = read_back(tmp_path / "c.rrd")
    assert "/compare/world/keypoints" in logged and len(logged["/build/world/keypoints"]["frame"]) == 6
    assert np.allclose(logged["/distance/mean_all"]["Scalars:scalars"], 0.0)  # a build against itself


def test_a_raw_capture_before_building(build, tmp_path) -> None:
    raw, _ = build
    shown = view(raw, capture=True, subject="S1", sequence="Walking 1", stride=5, save=tmp_path / "r.rrd")
    logged = read_back(tmp_path / "r.rrd")
    assert len(logged["/capture/world/mocap"]["frame"]) == shown["frames"]
    assert "/capture/world/truth" in logged  # the synthetic capture's ground truth
    for camera in ("54138969", "60457274"):
        images = logged[f"/capture/world/cameras/{camera}/image"]
        assert images["frame"] == list(range(0, shown["frames"], 5))
        assert f"/capture/world/cameras/{camera}/image/detections" in logged


def test_the_command_line_saves_and_says_how_to_open(build, tmp_path, capsys, monkeypatch) -> None:
    from simspine_dataset.cli import main

    _, out = build
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["view", str(out), "--max-frames", "5"]) == 0
    printed = capsys.readouterr().out
    assert "rerun simspine-view-out.rrd" in printed and (tmp_path / "simspine-view-out.rrd").is_file()
    monkeypatch.setitem(__import__("sys").modules, "rerun", None)  # the extra not installed
    assert main(["view", str(out)]) == 2
    assert 'pip install -e ".[view]"' in capsys.readouterr().err


def test_the_card_shows_a_still_per_action_over_its_frames(build) -> None:
    """The card names one still per action; with a frames config it is drawn over the crop."""
    from PIL import Image

    _, out = build
    card = (out / "README.md").read_text()
    assert "![Walking](figures/still_Walking.png)" in card
    with Image.open(out / "figures" / "still_Walking.png") as still:
        pixels = np.asarray(still.convert("RGB"), float)
    assert still.size[0] > 200 and pixels.std() > 20  # a picture, not a blank figure
