"""The command line and the light import."""

from __future__ import annotations

import subprocess
import sys

from simspine_dataset.cli import main

HEAVY = (
    "cdflib",
    "av",
    "scipy",
    "cv2",
    "torch",
    "opensim",
    "datasets",
    "pyarrow",
    "mmpose",
    "tqdm",
)


def test_import_is_light() -> None:
    code = (
        "import sys, simspine_dataset, simspine_dataset.skeleton, simspine_dataset.geometry, "
        "simspine_dataset.h36m, simspine_dataset.cli; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simspine_dataset", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in ("demo", "capture-demo", "detect", "build", "card", "validate", "publish", "inspect"):
        assert name in out


def test_public_release_refuses_frames(capsys) -> None:
    assert main(["build", "raw", "out", "--frames", "crop", "--release", "public"]) == 2
    assert "annotations only" in capsys.readouterr().err


def test_inspect_reports_problems(make_capture, capsys) -> None:
    root = make_capture({"S1": {"Walking 1": 8, "Waiting 1": 8}}, videos=False)
    assert main(["inspect", str(root), "--no-videos"]) == 0
    assert "2 sequences, 64 camera-frames, 0 problem(s)" in capsys.readouterr().out
    (root / "S1/MyPoseFeatures/D2_Positions/Waiting 1.55011271.cdf").unlink()
    assert main(["inspect", str(root), "--no-videos"]) == 1
    assert "PROBLEM MissingFileError" in capsys.readouterr().out
