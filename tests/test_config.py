"""Settings files are checked against their declared types before any work (``config.from_mapping``):
one line naming the file, the key, the value and the type expected."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simspine_dataset.cli import main
from simspine_dataset.config import BuildConfig


@pytest.mark.parametrize(
    ("text", "message"),
    [  # each was accepted by 49caca7: "false" as true, "S1" as subjects "S" and "1", 2.5 -> TypeError
        ('[simulation.ik]\ntemporal = "false"', "simulation.ik.temporal = 'false' is not of type bool"),
        ('subjects = "S1"', "setting subjects = 'S1' is not of type tuple[str, ...] | None"),
        ("workers = 2.5", "setting workers = 2.5 is not of type int"),
        ("[frames]\nsize_px = 1.5", "setting frames.size_px = 1.5 is not of type int"),
        ("[simulation.ik.h36m_weights]\n0 = true", "setting simulation.ik.h36m_weights = {'0': True}"),
        ("[simulation]\nik = 3", "setting simulation.ik = 3 is not a table of settings"),
        ("[simulation.ik]\nsolvr = 'batched'", "unknown setting(s) ['simulation.ik.solvr']"),
    ],
)
def test_a_setting_of_the_wrong_type_is_one_line_naming_file_key_and_type(tmp_path, capsys, text, message):
    settings = tmp_path / "bad.toml"
    settings.write_text(text + "\n")
    raw = tmp_path / "raw"
    raw.mkdir()
    assert main(["build", str(raw), str(tmp_path / "out"), "--config", str(settings)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"simspine: error: {settings}: ") and message in err and "\n" not in err


def test_well_typed_settings_keep_their_json_meaning(tmp_path) -> None:
    settings = tmp_path / "ok.toml"
    settings.write_text(
        'subjects = ["S1", "S9"]\nworkers = 2\n[simulation.scaling]\nmass_kg = 70\n'
        "[simulation.ik.h36m_weights]\n0 = 1\n"
    )
    config = BuildConfig.from_toml(settings)
    assert config.subjects == ("S1", "S9") and config.workers == 2
    assert config.simulation.scaling.mass_kg == 70.0 and config.simulation.ik.h36m_weights == {0: 1.0}


def test_settings_a_mode_ignores_are_named() -> None:
    """A setting that does nothing in the build's mode is a warning naming it, never silent."""
    from simspine_dataset.config import (
        BuildConfig,
        FramesConfig,
        IKConfig,
        SimulationConfig,
        ignored_settings,
    )
    from simspine_dataset.stages.detect import DetectConfig

    assert ignored_settings(BuildConfig()) == [] and DetectConfig().ignored() == []
    ik = IKConfig(h36m_weights={**IKConfig().h36m_weights, 0: 3.0, 1: 0.0})  # 1: switched off, which counts
    said = ignored_settings(BuildConfig(simulation=SimulationConfig(ik=ik)))
    assert len(said) == 1 and "ik.h36m_weights values of 0 are ignored" in said[0]
    assert (
        ignored_settings(BuildConfig(simulation=SimulationConfig(ik=replace(ik, weights="configured")))) == []
    )
    released = BuildConfig(annotations="/r", simulation=SimulationConfig(ik=IKConfig(temporal=False)))
    assert ignored_settings(released) == [
        "simulation.ik.temporal = False is ignored with --annotations (the labels are the release's)"
    ]
    user = ignored_settings(
        BuildConfig(model="m.json", simulation=SimulationConfig(ik=IKConfig(block_frames=5)))
    )
    assert user == ["ik.block_frames = 5 is ignored with --model (OpenSim's solver, frame by frame)"]
    assert ignored_settings(BuildConfig(frames=FramesConfig(stride=5))) == [
        "frames.stride = 5 is ignored without --frames"
    ]
    full = FramesConfig("full", size_px=64)
    assert ignored_settings(BuildConfig(frames=full)) == [
        "frames.size_px = 64 is ignored with --frames full (whole images)"
    ]
    assert full.key == FramesConfig("full").key != FramesConfig("crop", size_px=64).key  # no rebuild for it
    assert DetectConfig(onnx="m.onnx", version="v1").ignored() == ["version = 'v1' is ignored with --onnx"]
    mmpose = DetectConfig(mmpose_config="c.py", checkpoint="c.pth", threads=4)
    assert mmpose.ignored() == ["threads = 4 is ignored with an mmpose checkpoint"]
