"""``simspine view`` on a long sequence: logging a 2,000-frame sequence with four cameras and its
frames against reading the same rows with ``load_dataset``.

    python benchmarks/bench_view.py [--seconds 40] [--out /tmp/bench_view]

A synthetic capture of S1 walking, one take of ``--seconds`` (2,000 frames at 40 s), videos
rendered, built with ``--frames crop`` (every 10th frame). Then, each timed: reading the sequence's
rows through ``datasets.load_dataset`` (streaming with Parquet filters, the default and frames
configs: ``view.source.read_build``), and logging them into a saved recording
(``view.record.log_sequence``); the ratio of the two, and the recording's size.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_view"))
    args = parser.parse_args()
    import rerun as rr

    from simspine_dataset.commands.build import BuildConfig, build
    from simspine_dataset.commands.view.record import annotation_context, log_sequence
    from simspine_dataset.commands.view.source import read_build
    from simspine_dataset.config import FramesConfig
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    raw = args.out / "raw"
    if not (raw / "metadata.xml").is_file():
        generate_capture(
            raw, CaptureSettings(("S1",), args.seconds, seed=5, actions=("Walking",), detections=False)
        )
    out = args.out / "build"
    if not (out / "build_report.json").is_file():
        build(raw, out, BuildConfig(frames=FramesConfig("crop", stride=10), workers=2))
    start = time.perf_counter()
    shown = read_build(str(out), "S1", "Walking 1")
    read_s = time.perf_counter() - start
    images = sum(len(c.images) for c in shown.cameras.values())
    rows = sum(len(c.frames) for c in shown.cameras.values())
    recording = args.out / "view.rrd"
    start = time.perf_counter()
    rr.init("simspine-bench", spawn=False)
    rr.save(recording)
    rr.log("/", annotation_context(), static=True)
    log_sequence("build", shown)
    rr.disconnect()
    log_s = time.perf_counter() - start
    print(f"{shown.label}: {len(shown.frames):,} frames, {rows:,} rows of 4 cameras, {images:,} images")
    print(f"read with load_dataset (streamed, filtered): {read_s:.2f} s ({rows / read_s:,.0f} rows/s)")
    print(f"logged into the recording: {log_s:.2f} s ({rows / log_s:,.0f} rows/s); "
          f"logging / reading: {log_s / read_s:.2f}x; recording {recording.stat().st_size / 2**20:.1f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
