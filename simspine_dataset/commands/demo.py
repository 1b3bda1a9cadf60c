"""``simspine demo``: the embedded default end to end, with a summary table.

synthetic capture (``synthetic.generator``) -> ``build`` -> ``load_dataset`` on the build folder
-> the triangulation baseline with ground-truth 2D and with the detector-noise model -> the lifting
baseline in quick mode (spine-only and full-body) -> summary.

The library does not import the baselines: the demo runs them through their own command lines
(``BASELINES``) in a subprocess and reads the ``results.json`` they write. The baselines are not
part of the installed package (``baselines/`` lies at the top of the repository, beside
``simspine_dataset/``): the demo runs them from the clone its package was installed from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from simspine_dataset.errors import SimspineError
from simspine_dataset.record import BuildRecord
from simspine_dataset.synthetic import DEMO_SUBJECTS
from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

POSE2D_SMOKE_CONFIG = "baselines/pose2d/configs/td-hm_res18-tiny_cpu_simspine-128x96.py"
BASELINES = {  # the entry points the demo uses, as a user would type them
    "triangulation": "baselines.triangulation",
    "lifting": "baselines.lifting.quick",
    "pose2d": "baselines.pose2d.train",
}
STAGES = ("capture", "build", "load", "triangulation", "lifting")


@dataclass(frozen=True)
class DemoSummary:
    """What the demo did: the summary text (printed by the command line) and whether every
    sequence was built."""

    text: str
    failed_sequences: int


def repository() -> Path:
    """The clone this package runs from (it holds ``baselines/``); ``SimspineError`` for an
    installed wheel, which has no baselines."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "baselines" / "__init__.py").is_file():
        raise SimspineError(
            f"the baselines are not installed with the package (no {root / 'baselines'}): run the demo from "
            "a clone of simspine-dataset installed with `pip install -e .` (scripts/demo.sh does)"
        )
    return root


def run_baseline(module: str, *args: str) -> None:
    """``python -m <module> <args>`` with the repository on the path; a failure raises with the last
    line it printed."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(repository()), os.environ.get("PYTHONPATH")))),
    }
    done = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=False, env=env
    )
    if done.returncode:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise SimspineError(f"python -m {module} {' '.join(args)} failed: {last}")


def _results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text())


def run_demo(
    out: str | Path, seconds: float = 2.0, workers: int = 2, lifting_epochs: int = 20, progress: bool = True
) -> DemoSummary:
    """Every stage in turn (a progress bar over ``STAGES``); returns the summary."""
    from datasets import load_dataset
    from tqdm import tqdm

    from simspine_dataset.commands.build import build
    from simspine_dataset.config import BuildConfig

    out = Path(out)
    dataset, timings = str(out / "dataset"), {}
    stages = tqdm(STAGES, desc="simspine demo", unit="stage", disable=not progress)
    for stage in stages:
        stages.set_postfix_str(stage)
        start = time.perf_counter()
        if stage == "capture":
            generate_capture(
                out / "capture", CaptureSettings(subjects=DEMO_SUBJECTS, seconds=seconds, workers=workers)
            )
        elif stage == "build":
            report = build(out / "capture", dataset, BuildConfig(workers=workers))
        elif stage == "load":
            splits = {name: split.num_rows for name, split in load_dataset(dataset).items()}
        elif stage == "triangulation":
            for mode in ("gt", "noisy"):
                run_baseline(
                    BASELINES["triangulation"],
                    "--dataset",
                    dataset,
                    "--input",
                    mode,
                    "--out",
                    str(out / "triangulation" / mode),
                )
        else:
            run_baseline(
                BASELINES["lifting"],
                "--dataset",
                dataset,
                "--out",
                str(out / "lifting"),
                "--epochs",
                str(lifting_epochs),
            )
        timings[stage] = time.perf_counter() - start
    failed = sum(e["status"] != "ok" for e in report.sequences)
    return DemoSummary(_summary(out, seconds, report, splits, timings), failed)


def _summary(out: Path, seconds: float, report: BuildRecord, splits: dict, timings: dict[str, float]) -> str:
    """The demo's summary: what was built and loaded, the baselines' headline numbers, the times."""
    failed = sum(e["status"] != "ok" for e in report.sequences)
    lines = [
        f"simspine demo: {out}",
        f"  capture      {len(DEMO_SUBJECTS)} subjects x 30 takes, {seconds:g} s each        "
        f"{timings['capture']:7.1f} s",
        f"  build        rows {dict(report.rows)}, {failed} failed   {timings['build']:7.1f} s",
        f"  load_dataset splits {splits}   {timings['load']:7.1f} s",
    ]
    for label, mode in (("ground-truth 2D", "gt"), ("detector-noise 2D", "noisy")):
        row = _results(out / "triangulation" / mode)["mpjpe_mm"]["Mean"]
        regions = "  ".join(f"{r} {row[r]:.2f}" for r in ("S_L", "S", "All"))
        lines.append(f"  triangulation ({label:17s}) MPJPE mm: {regions}")
    for name in ("spine", "full"):
        results = _results(out / "lifting" / name)
        mpjpe, p = results["mpjpe_mm"]["Mean"], results["p_mpjpe_mm"]["Mean"]
        lines.append(
            f"  lifting ({name:5s} model, ground-truth 2D) spine MPJPE {mpjpe['S']:.2f} mm, "
            f"P-MPJPE {p['S']:.2f} mm"
        )
    lines += [
        f"  lifting quick mode, both models                     {timings['lifting']:7.1f} s",
        f"  2D pose baseline (after bash baselines/pose2d/install.sh): python -m {BASELINES['pose2d']} "
        f"--config {POSE2D_SMOKE_CONFIG} --dataset DATASET_WITH_FRAMES --work-dir WORK",
    ]
    return "\n".join(lines)
