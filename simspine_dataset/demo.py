"""``simspine demo``: the embedded default end to end, with a summary table.

synthetic capture (``synthetic.generator``) -> ``build`` -> ``load_dataset`` on the build folder
-> the triangulation baseline with ground-truth 2D and with the detector-noise model -> the lifting
baseline in quick mode (spine-only and full-body) -> summary.
"""

from __future__ import annotations

import time
from pathlib import Path

from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

POSE2D_SMOKE_CONFIG = "baselines/pose2d/configs/td-hm_res18-tiny_cpu_simspine-128x96.py"


def run_demo(out: str | Path, seconds: float = 2.0, workers: int = 2, lifting_epochs: int = 20) -> int:
    from dataclasses import replace

    from datasets import load_dataset
    from tqdm import tqdm

    from baselines.lifting.quick import QUICK, run_quick
    from baselines.triangulation.run import evaluate
    from simspine_dataset.build import BuildConfig, build

    out = Path(out)
    timings = {}
    stages = tqdm(
        ["capture", "build", "load", "triangulation", "lifting"], desc="simspine demo", unit="stage"
    )
    for stage in stages:
        stages.set_postfix_str(stage)
        start = time.perf_counter()
        if stage == "capture":
            generate_capture(
                out / "capture", CaptureSettings(subjects=("S1", "S9"), seconds=seconds, workers=workers)
            )
        elif stage == "build":
            report = build(out / "capture", out / "dataset", BuildConfig(workers=workers))
        elif stage == "load":
            dataset = load_dataset(str(out / "dataset"))
        elif stage == "triangulation":
            oracle = evaluate(str(out / "dataset"), "test", "gt")
            noisy = evaluate(str(out / "dataset"), "test", "noisy")
        else:
            lifting = run_quick(
                str(out / "dataset"), out / "lifting", replace(QUICK, epochs=lifting_epochs), progress=False
            )
        timings[stage] = time.perf_counter() - start
    failed = [e for e in report["sequences"] if e["status"] != "ok"]
    print(f"\nsimspine demo: {out}")
    print(f"  capture      2 subjects x 30 takes, {seconds:g} s each        {timings['capture']:7.1f} s")
    print(f"  build        rows {dict(report['rows'])}, {len(failed)} failed   {timings['build']:7.1f} s")
    splits = {k: v.num_rows for k, v in dataset.items()}
    print(f"  load_dataset splits {splits}   {timings['load']:7.1f} s")
    for label, result in (("ground-truth 2D", oracle), ("detector-noise 2D", noisy)):
        row = result["mpjpe_mm"]["Mean"]
        regions = "  ".join(f"{r} {row[r]:.2f}" for r in ("S_L", "S", "All"))
        print(f"  triangulation ({label:17s}) MPJPE mm: {regions}")
    for name, run in lifting.items():
        mpjpe, p = run["results"]["mpjpe_mm"]["Mean"], run["results"]["p_mpjpe_mm"]["Mean"]
        print(
            f"  lifting ({name:5s} model, ground-truth 2D) spine MPJPE {mpjpe['S']:.2f} mm, "
            f"P-MPJPE {p['S']:.2f} mm"
        )
    print(f"  lifting quick mode, both models                     {timings['lifting']:7.1f} s")
    print(
        "  2D pose baseline (after bash baselines/pose2d/install.sh): python -m baselines.pose2d.train "
        f"--config {POSE2D_SMOKE_CONFIG} --dataset DATASET_WITH_FRAMES --work-dir WORK"
    )
    return 1 if failed else 0
