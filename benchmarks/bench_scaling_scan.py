"""Subject scaling over many captures no one tuned on, with one BLAS thread as a build runs units.

    python benchmarks/bench_scaling_scan.py [--seeds 101 ... 109] [--noise-mm 0 1 3] [--workers 2]
        [--threads-check 4] [--out /tmp/bench_scan]

Per subject-capture (7 subjects x seeds x noise levels; 2 s takes of all 15 actions, mocap only):
the worst segment factor's error against the generator's, the torso factor's error, the scaling's
marker RMSE, the distance-only estimate's RMSE, and the scaling gate (``biomech.gates``): the
RMSE over what the measured marker noise explains, and whether the gate trips. A capture is
generated once under ``--out`` and reused. Prints one line per capture, then per noise level: the
worst factor error over all captures against the target (1 % at 3 mm), the gate's largest ratio
and its trips (target 0), and with ``--threads-check N`` the largest factor difference between 1
and 2 and N BLAS threads on the first N captures (target 0.1 %).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")


def capture(out: Path, subject: str, seed: int, noise_mm: float) -> Path:
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    root = out / f"{subject}_seed{seed}_noise{noise_mm:g}"
    if not (root / "metadata.xml").is_file():
        settings = CaptureSettings((subject,), 2.0, seed=seed, mocap_noise_mm=noise_mm, videos=False,
                                   detections=False)  # fmt: skip
        generate_capture(root, settings)
    return root


def scale(args: tuple) -> dict:
    """One capture's scaling with ``threads`` BLAS threads, against the generator's factors."""
    from threadpoolctl import threadpool_limits

    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.biomech.pipeline import scale_from_mocap
    from simspine_dataset.config import SimulationConfig
    from simspine_dataset.stages.capture import discover, load_mocap
    from simspine_dataset.synthetic.generator import subject_factors

    out, subject, seed, noise_mm, threads = args
    root = capture(out, subject, seed, noise_mm)
    mocap = [load_mocap(r).joints_world_mm for r in discover(root, check_videos=False).sequences]
    config = SimulationConfig()
    with threadpool_limits(threads):
        start = time.perf_counter()
        result = scale_from_mocap(subject, mocap, config, model_spec(config.ik.spine))
        seconds = time.perf_counter() - start
    true = subject_factors(subject, seed)
    errors = {s: 100.0 * (f / true[s] - 1.0) for s, f in result.segment_factors.items()}
    gate = result.gate(config.gates.residual_factor)
    return {
        "subject": subject, "seed": seed, "noise_mm": noise_mm, "threads": threads,
        "factors": result.segment_factors, "worst_pct": max(abs(e) for e in errors.values()),
        "torso_pct": errors["torso"], "rmse_mm": result.marker_rmse_m * 1e3,
        "distance_rmse_mm": result.distance_marker_rmse_m * 1e3, "expected_mm": gate.expected_mm,
        "ratio": gate.found_mm / gate.expected_mm, "tripped": not gate.passed, "seconds": seconds,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(101, 110)))
    parser.add_argument("--noise-mm", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    parser.add_argument("--subjects", nargs="+", default=list(SUBJECTS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-check", type=int, default=0, help="compare 1, 2 and N BLAS threads")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_scan"))
    args = parser.parse_args()
    jobs = [(args.out, s, seed, n, 1) for n in args.noise_mm for seed in args.seeds for s in args.subjects]
    for job in jobs:  # generated first, in this process: the workers then only read
        capture(*job[:4])
    print(
        f"{'capture':>22} {'worst %':>8} {'torso %':>8} {'rmse mm':>8} {'dist. mm':>8} {'ratio':>6} gate  s"
    )
    results = []
    with ProcessPoolExecutor(args.workers) as pool:
        for r in pool.map(scale, jobs):
            results.append(r)
            print(
                f"{r['subject']:>4} seed {r['seed']:4d} {r['noise_mm']:3g} mm {r['worst_pct']:8.2f} "
                f"{r['torso_pct']:+8.2f} {r['rmse_mm']:8.2f} {r['distance_rmse_mm']:8.2f} {r['ratio']:6.2f} "
                f"{'TRIP' if r['tripped'] else 'ok  '} {r['seconds']:4.1f}",
                flush=True,
            )
    summarize(results)
    if args.threads_check:
        threads_check(args.out, jobs[: args.threads_check], args.threads_check)


def summarize(results: list[dict]) -> None:
    print(f"\n{'noise':>5} {'captures':>8} {'worst %':>8} {'p95 worst %':>11} {'|torso| max %':>13} "
          f"{'rmse <= dist.':>13} {'ratio max':>9} {'trips':>5} {'s/capture':>9}")  # fmt: skip
    for noise in sorted({r["noise_mm"] for r in results}):
        mine = [r for r in results if r["noise_mm"] == noise]
        worst = np.array([r["worst_pct"] for r in mine])
        not_worse = sum(r["rmse_mm"] <= r["distance_rmse_mm"] + 1e-9 for r in mine)
        print(
            f"{noise:5g} {len(mine):8d} {worst.max():8.2f} {np.percentile(worst, 95):11.2f} "
            f"{max(abs(r['torso_pct']) for r in mine):13.2f} {not_worse:>6d}/{len(mine):<6d} "
            f"{max(r['ratio'] for r in mine):9.2f} {sum(r['tripped'] for r in mine):5d} "
            f"{np.mean([r['seconds'] for r in mine]):9.1f}"
        )
    from simspine_dataset.config import GateConfig

    print("(worst: the largest |error| of the 8 segment factors against the generator's; ratio: the "
          "scaling RMSE over what the measured noise explains; the gate trips above "
          f"{GateConfig().residual_factor:g})")  # fmt: skip


def threads_check(out: Path, jobs: list[tuple], most: int) -> None:
    """The same captures scaled with 1, 2 and ``most`` BLAS threads: the largest factor difference."""
    worst = 0.0
    for job in jobs:
        runs = [scale((*job[:4], threads)) for threads in sorted({1, 2, most})]
        for run in runs[1:]:
            diff = max(abs(run["factors"][s] / runs[0]["factors"][s] - 1) for s in run["factors"]) * 100
            worst = max(worst, diff)
    print(f"\nBLAS threads 1 vs 2 vs {most} on {len(jobs)} captures: largest factor difference {worst:.4f} %")


if __name__ == "__main__":
    main()
