"""The build's record (``build_report.json``) read back as the typed, versioned ``BuildRecord``."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from simspine_dataset.config import BuildConfig, FilterConfig, FramesConfig, IKConfig, SimulationConfig
from simspine_dataset.errors import SimspineError
from simspine_dataset.record import FORMAT_VERSION, REPORT, BuildRecord, read_record


def _write(folder, data: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT).write_text(json.dumps(data))


def test_a_record_reads_back_as_the_settings_it_was_built_with(tmp_path) -> None:
    """Every type survives the JSON: tuples, integer-keyed weights, nested settings, None."""
    ik = IKConfig(solver="opensim", h36m_weights={0: 2.5, 25: 0.25}, single_view_rays=False)
    config = BuildConfig(
        subjects=("S1", "S9"),
        detections="/d",
        frames=FramesConfig("crop", stride=5, size_px=64),
        train_subjects=("S1",),
        test_subjects=("S9", "S11"),
        simulation=SimulationConfig(ik=ik, filter=FilterConfig(space="keypoints", method="butterworth")),
    )
    record = BuildRecord(config=config, config_hash="abc", rows={"train": 3}, sequences=[{"status": "ok"}])
    (tmp_path / REPORT).write_text(record.to_json())
    again = read_record(tmp_path)
    assert again == record and again.config.simulation.ik.h36m_weights == {0: 2.5, 25: 0.25}
    assert json.loads(record.to_json())["format_version"] == FORMAT_VERSION


def test_settings_a_record_lacks_take_the_configs_own_defaults(tmp_path) -> None:
    """Readers never carry defaults of their own (the card once said "keypoints" / "butterworth"
    where the config's defaults are "coordinates" / "adaptive")."""
    from simspine_dataset.commands.card import _filter_text

    _write(tmp_path, {"format_version": FORMAT_VERSION, "config": {}, "config_hash": "x", "rows": {},
                      "sequences": []})  # fmt: skip
    record = read_record(tmp_path)
    assert record.config == BuildConfig() and record.files == {} and record.annotations is None
    assert record.config.simulation.filter == FilterConfig(space="coordinates", method="adaptive")
    text = _filter_text(record.config.simulation.filter)
    assert "adaptive smoother" in text and "on the model's coordinates" in text
    keypoints = replace(record.config.simulation.filter, space="keypoints", method="butterworth")
    assert "Butterworth" in _filter_text(keypoints) and "each of the 37 keypoints" in _filter_text(keypoints)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"config": {}, "config_hash": "x", "rows": {}, "sequences": []}, "format version 1"),
        ({"format_version": FORMAT_VERSION + 1}, f"format version {FORMAT_VERSION + 1}"),
        ({"format_version": FORMAT_VERSION, "config": {"workers": "2"}, "config_hash": "x", "rows": {},
          "sequences": []}, "config.workers = '2' is not of type int"),
    ],
)  # fmt: skip
def test_another_format_or_a_wrong_setting_is_refused_naming_the_file(tmp_path, data, says) -> None:
    _write(tmp_path, data)
    with pytest.raises(SimspineError) as e:
        read_record(tmp_path)
    assert str(tmp_path / REPORT) in str(e.value) and says in str(e.value) and "\n" not in str(e.value)
