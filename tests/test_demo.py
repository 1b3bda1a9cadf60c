"""``simspine demo`` end to end, small: capture -> build -> load_dataset -> both 3D baselines."""

from __future__ import annotations

import importlib.util
import json
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
    # the numbers, not only the words: ground-truth 2D of a calibrated capture triangulates back to
    # the labels (the oracle, 0.00 mm), the detector-noise model does not, and the summary prints
    # what the baselines wrote
    demo = tmp_path / "demo"
    gt = json.loads((demo / "triangulation" / "gt" / "results.json").read_text())["mpjpe_mm"]["Mean"]
    noisy = json.loads((demo / "triangulation" / "noisy" / "results.json").read_text())["mpjpe_mm"]["Mean"]
    assert max(gt.values()) < 0.005 and 2.0 < noisy["All"] < 50.0, (gt, noisy)
    assert f"S_L {gt['S_L']:.2f}  S {gt['S']:.2f}  All {gt['All']:.2f}" in text
    assert f"All {noisy['All']:.2f}" in text
    spine = json.loads((demo / "lifting" / "spine" / "results.json").read_text())["mpjpe_mm"]["Mean"]["S"]
    assert 0 < spine < 200 and f"spine MPJPE {spine:.2f} mm" in text
