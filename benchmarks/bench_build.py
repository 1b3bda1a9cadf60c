"""The builder: throughput with 1 and 2 workers, loading speed, bytes per row, memory on a long
sequence, and the plan for the real Human3.6M scale.

    python benchmarks/bench_build.py CAPTURE [--builds-only] [--detections]

CAPTURE: a capture folder (e.g. the demo's ``demo_out/capture``). Prints:
- build time and camera-frames/s with 1 and 2 workers (fresh output folders), and the ratio;
- ``load_dataset(...).with_format("torch")`` through a DataLoader (batch 256) in samples/s vs a raw
  pyarrow scan of the same Parquet files (the limit), as a ratio;
- bytes per row of the ``default`` config, and of the ``frames`` config (256 px crops, every 10th
  frame) with the frames stage's images/s;
- peak resident memory of a build of one generated 30,000-frame sequence (mocap only), against
  the 2 GB limit;
- the real-scale plan: the measured per-camera-frame cost times the 2,137,064 camera-frames of the
  official metadata.xml, on 2 and 16 cores, and the dataset's size.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REAL_CAMERA_FRAMES = 2_137_064  # S1, S5-S9, S11 without _ALL (tests/io/test_h36m_metadata.py)


def timed_build(capture: Path, out: Path, workers: int, detections: bool = False) -> tuple[float, dict]:
    """A fresh build; with ``detections`` the capture's ``detections/`` folder as pseudo-markers
    (SIMSPINE's method) and the videos not checked (a capture generated without them)."""
    from simspine_dataset.commands.build import BuildConfig, build

    config = BuildConfig(workers=workers)
    if detections:
        config = BuildConfig(workers=workers, detections=str(capture / "detections"), check_videos=False)
    start = time.perf_counter()
    report = build(capture, out, config)
    return time.perf_counter() - start, report


def loading(out: Path) -> tuple[float, float]:
    import pyarrow.parquet as pq
    import torch
    from datasets import load_dataset

    files = sorted(out.glob("data/default/*/*.parquet"))
    start = time.perf_counter()
    rows = 0
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(
            batch_size=256, columns=["keypoints_3d_world_mm", "keypoints_2d_px"]
        ):
            rows += batch.num_rows
    raw = rows / (time.perf_counter() - start)
    ds = load_dataset(str(out), split="train", download_mode="force_redownload")
    ds = ds.select_columns(["keypoints_3d_world_mm", "keypoints_2d_px"]).with_format("torch")
    rates = []
    slices = [slice(i, min(i + 256, ds.num_rows)) for i in range(0, ds.num_rows, 256)]
    for loader in (
        torch.utils.data.DataLoader(ds, batch_size=256),  # index lists: datasets' slow path
        torch.utils.data.DataLoader(ds, batch_size=None, sampler=slices),
    ):  # contiguous slices
        start, seen = time.perf_counter(), 0
        for batch in loader:
            seen += len(batch["keypoints_2d_px"])
        rates.append(seen / (time.perf_counter() - start))
    return rates, raw


def frames_build(capture: Path, tmp: Path) -> tuple[float, float, int]:
    """The frames stage alone (the 2-worker build's units reused): images/s and bytes per row."""
    import shutil

    from simspine_dataset.commands.build import BuildConfig, build
    from simspine_dataset.config import FramesConfig

    shutil.copytree(tmp / "w2" / "work", tmp / "frames" / "work")
    start = time.perf_counter()
    report = build(capture, tmp / "frames", BuildConfig(workers=2, frames=FramesConfig("crop")))
    seconds = time.perf_counter() - start
    rows = sum(report.frames_rows.values())
    size = sum(p.stat().st_size for p in (tmp / "frames").glob("data/frames/*/*.parquet"))
    return rows / seconds, size / rows, rows


def long_sequence_peak_mb(folder: Path) -> float:
    """Generate one 30,000-frame take (mocap only) and build it in a child process; its peak RSS."""
    code = (
        "from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture\n"
        "from simspine_dataset.commands.build import BuildConfig, build\n"
        f"generate_capture('{folder}/raw', CaptureSettings(subjects=('S9',), seconds=600, actions=('Walking',), "
        "videos=False, detections=False))\n"
        f"build('{folder}/raw', '{folder}/out', BuildConfig(check_videos=False))\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, "-c", code], check=True)
    return max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument(
        "--builds-only", action="store_true", help="only the 1- and 2-worker builds and the plan"
    )
    parser.add_argument(
        "--detections", action="store_true", help="build with CAPTURE/detections, videos not checked"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        seconds = {}
        for workers in (1, 2):
            seconds[workers], report = timed_build(
                args.capture, tmp / f"w{workers}", workers, args.detections
            )
        rows = sum(report.rows.values())
        print(
            f"build: {rows:,} camera-frames; 1 worker {seconds[1]:.1f} s ({rows / seconds[1]:.0f}/s), "
            f"2 workers {seconds[2]:.1f} s ({rows / seconds[2]:.0f}/s); scaling {seconds[1] / seconds[2]:.2f}x"
        )
        if args.builds_only:
            plan(seconds, rows, None)
            return
        (index_rate, slice_rate), raw_rate = loading(tmp / "w2")
        print(
            f"loading: DataLoader over load_dataset(...).with_format('torch'): index lists {index_rate:,.0f} "
            f"samples/s, slices {slice_rate:,.0f} samples/s; raw pyarrow scan {raw_rate:,.0f} rows/s; "
            f"ratios {index_rate / raw_rate:.3f} / {slice_rate / raw_rate:.3f}"
        )
        size = sum(p.stat().st_size for p in (tmp / "w2").glob("data/default/*/*.parquet"))
        print(f"size: {size / rows:.0f} bytes per row (default config, zstd)")
        frames_rate, frames_bytes, frame_rows = frames_build(args.capture, tmp)
        print(
            f"frames: crop 256 px every 10th frame, {frame_rows:,} images at {frames_rate:.0f} images/s "
            f"(2 workers, simulation units reused); {frames_bytes:,.0f} bytes per row (frames config)"
        )
        peak = long_sequence_peak_mb(tmp / "long")
        print(f"memory: one 30,000-frame sequence built with peak RSS {peak:.0f} MB (limit 2,048 MB)")
        plan(seconds, rows, size)


def plan(seconds: dict[int, float], rows: int, size: float | None) -> None:
    """The real-scale plan from the measured per-frame cost and 2-core parallel efficiency."""
    per_frame_core_s = seconds[1] / rows  # includes per-subject scaling, amortised over short takes
    efficiency = seconds[1] / seconds[2] / 2  # parallel efficiency measured on 2 cores
    for cores in (2, 16):
        hours = per_frame_core_s * REAL_CAMERA_FRAMES / (cores * efficiency) / 3600
        print(
            f"plan: {REAL_CAMERA_FRAMES:,} camera-frames on {cores} cores: ~{hours:.1f} h "
            f"(per-frame cost and parallel efficiency {efficiency:.2f} as measured; an upper bound)"
        )
    if size is not None:
        print(f"plan: dataset size ~{size / rows * REAL_CAMERA_FRAMES / 1e9:.1f} GB (default config)")


if __name__ == "__main__":
    main()
