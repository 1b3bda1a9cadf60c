"""What ``pip install simspine-dataset`` claims and needs: no top-level name it does not own, a core
that loads and triangulates without the build stack (OpenSim, PyAV, OpenCV, h5py, matplotlib,
cdflib), and a one-line error naming the extra when a command needs what is not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
BUILD_STACK = ("opensim", "av", "cv2", "h5py", "matplotlib", "cdflib", "jinja2", "onnxruntime", "rerun")


def _names(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[\s<>=!~\[;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_package_installs_only_its_own_name_and_a_light_core() -> None:
    found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert found == ["simspine_dataset*"]  # baselines/ stays in the repository
    core = _names(PYPROJECT["project"]["dependencies"])
    heavy = {
        "opensim",
        "av",
        "opencv-python-headless",
        "h5py",
        "matplotlib",
        "cdflib",
        "onnxruntime",
        "torch",
    }
    assert not core & heavy
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert heavy - {"onnxruntime", "torch"} <= _names(extras["build"])
    assert _names(extras["all"]) == {"simspine-dataset"}
    for name in ("build", "baselines", "distributed", "detect", "view"):
        assert name in extras["all"][0], name


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
"""


def _run_without_build_stack(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(BLOCKER.format(blocked=set(BUILD_STACK)) + textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False, cwd=ROOT
    )


def test_the_loader_and_the_geometry_work_without_the_build_stack(tmp_path) -> None:
    pytest.importorskip("torch")
    from fixtures import write_tiny_dataset

    root = write_tiny_dataset(tmp_path / "tiny", {"S9": [("Walking", 1)]})
    done = _run_without_build_stack(
        f"""
        import numpy as np
        from datasets import load_dataset
        sys.path.insert(0, {str(ROOT)!r})
        from baselines.data import frame_groups, row_cameras
        from simspine_dataset import triangulate
        from simspine_dataset.loader import BatchLoader

        split = load_dataset({str(root)!r}, split="test")
        batch = next(iter(BatchLoader(split, ["keypoints_2d_px", "keypoints_3d_world_mm"], batch_size=8)))
        columns = {{k: np.asarray(v) for k, v in split.with_format("numpy")[:].items()}}
        index, _ = frame_groups(columns, sorted(set(columns["camera"].tolist())))
        rows = index[0]
        points = columns["keypoints_2d_px"][rows]
        result = triangulate(points, np.ones(points.shape[:2]), row_cameras(columns, rows))
        error = np.linalg.norm(result.points_mm - columns["keypoints_3d_world_mm"][rows[0]], axis=-1)
        print(tuple(batch["keypoints_2d_px"].shape), float(np.nanmax(error)))
        assert not [m for m in sys.modules if m.split(".")[0] in {set(BUILD_STACK)!r}]
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shape, error = done.stdout.split(")")
    assert shape == "(8, 37, 2" and float(error) < 0.01


def test_a_command_whose_extra_is_missing_says_which_in_one_line(tmp_path) -> None:
    done = _run_without_build_stack(
        f"""
        from simspine_dataset.cli import main
        raise SystemExit(main(["capture-demo", {str(tmp_path / "raw")!r}, "--seconds", "0.2"]))
        """,
        tmp_path,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    err = done.stderr.strip()
    assert (
        "\n" not in err
        and err.startswith("simspine: error: ")
        and "pip install 'simspine-dataset[build]'" in err
    )
