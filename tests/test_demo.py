"""``simspine demo`` end to end, small: capture -> build -> load_dataset -> both 3D baselines."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from simspine_dataset.cli import main


def test_demo_runs_end_to_end_and_names_commands_that_exist(tmp_path, capsys) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo"), "--seconds", "0.3", "--workers", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    text = "\n".join(lines)
    assert "triangulation (ground-truth 2D" in text and "lifting (spine model" in text
    assert "load_dataset splits {'test':" in text and ", 0 failed" in text
    last = lines[-1]
    module = last.split("python -m ")[1].split()[0]
    assert importlib.util.find_spec(module) is not None, module  # the command it names exists
    config = last.split("--config ")[1].split()[0]
    assert (Path(__file__).parents[1] / config).is_file()
    assert (tmp_path / "demo" / "dataset" / "README.md").is_file()
