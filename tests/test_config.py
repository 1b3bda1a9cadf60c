"""Settings files are checked against their declared types before any work (``config.from_mapping``):
one line naming the file, the key, the value and the type expected."""

from __future__ import annotations

import pytest

from simspine_dataset.cli import main
from simspine_dataset.commands.build import BuildConfig


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
