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


SUBCOMMANDS = ("demo", "capture-demo", "detect", "build", "export", "card", "validate", "publish", "view",
               "clean", "inspect")  # fmt: skip


def test_help_lists_every_subcommand() -> None:
    """Each subcommand by its whole name in the help's command list ("demo" inside "capture-demo"
    does not count), and none that is not documented here."""
    import re

    out = subprocess.run(
        [sys.executable, "-m", "simspine_dataset", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = re.findall(r"^    ([a-z][a-z0-9-]*)(?:\s|$)", out, flags=re.MULTILINE)
    assert sorted(listed) == sorted(SUBCOMMANDS)


def test_public_release_refuses_frames(tmp_path, capsys) -> None:
    assert main(["build", str(tmp_path), "out", "--frames", "crop", "--release", "public"]) == 2
    assert "annotations only" in capsys.readouterr().err


def test_inspect_reports_problems(make_capture, capsys) -> None:
    root = make_capture({"S1": {"Walking 1": 8, "Waiting 1": 8}}, videos=False)
    assert main(["inspect", str(root), "--no-videos"]) == 0
    assert "2 sequences, 64 camera-frames, 0 problem(s)" in capsys.readouterr().out
    (root / "S1/MyPoseFeatures/D2_Positions/Waiting 1.55011271.cdf").unlink()
    assert main(["inspect", str(root), "--no-videos"]) == 1
    assert "PROBLEM MissingFileError" in capsys.readouterr().out


def test_expected_errors_are_one_line_with_a_hint(tmp_path, capsys) -> None:
    """Bad input: ``simspine: error: <what> (<hint>)`` on one line, exit status 2, no traceback."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "bad.toml").write_text("[simulation.ik]\nsolver = 'fast'\n")
    (tmp_path / "nobuild").mkdir()
    cases = {
        ("build", str(tmp_path / "missing"), "out"): "missing: no such folder",
        ("build", str(tmp_path / "raw"), "out"): "metadata.xml not found (RAW must be a Human3.6M-layout",
        ("validate", str(tmp_path / "nobuild")): "nobuild: not a build folder",
        ("export", str(tmp_path / "nobuild"), str(tmp_path / "dest")): "nobuild: not a finished build",
        ("build", str(tmp_path / "raw"), "out", "--config", str(tmp_path / "bad.toml")): "ik.solver",
    }
    for argv, expected in cases.items():
        assert main(list(argv)) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("simspine: error: ") and expected in err and err.count("\n") == 1, err
        assert "Traceback" not in err


def test_every_argument_has_help() -> None:
    from simspine_dataset.cli import _parser

    parser = _parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.dest != "help":
                assert action.help, f"simspine {name}: {action.dest} has no help text"
