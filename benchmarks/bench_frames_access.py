"""The ``frames`` config's row groups: loading and random access with 64 MiB row groups (before)
against 100-row groups (``shards.IMAGE_GROUP_ROWS``, what ``datasets`` writes for images).

    python benchmarks/bench_frames_access.py [--seconds 60] [--out /tmp/bench_frames]

A synthetic capture of S9 (Walking and Eating, one take each of ``--seconds``, videos rendered) built
with ``--frames crop --frames-stride 1``; then its frames shards written both ways from the same
work units. Each timed: ``load_dataset(..., "frames")`` (fresh cache: Parquet -> Arrow), one
image row read straight from the Parquet shards at 200 random rows (what the Hub's viewer and a
reader of the files do: the row group that holds the row is read and decoded), and the first rows
of ``streaming=True``. Ratios before / after, and the shards' sizes.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def timed_random_rows(shards: list[Path], picks: np.ndarray) -> float:
    """Seconds to read ``picks`` (global row numbers) one by one from the Parquet files."""
    import pyarrow.parquet as pq

    files = [pq.ParquetFile(p) for p in shards]
    starts, groups = [], []  # (file, group) of each row group, with its first row
    first = 0
    for f in files:
        for g in range(f.num_row_groups):
            starts.append(first)
            groups.append((f, g))
            first += f.metadata.row_group(g).num_rows
    starts = np.asarray(starts)
    begin = time.perf_counter()
    for row in picks:
        i = int(np.searchsorted(starts, row, side="right") - 1)
        f, g = groups[i]
        table = f.read_row_group(g, columns=["image", "frame"])
        assert table.slice(int(row - starts[i]), 1).num_rows == 1
    return time.perf_counter() - begin


def measure(folder: Path, picks: np.ndarray) -> dict[str, float]:
    import datasets
    import pyarrow.parquet as pq

    shards = sorted((folder / "data" / "frames" / "test").glob("*.parquet"))
    group_rows = max(pq.ParquetFile(p).metadata.row_group(0).num_rows for p in shards)
    cache = tempfile.mkdtemp(prefix="bench-frames-cache-")
    begin = time.perf_counter()
    ds = datasets.load_dataset(str(folder), "frames", split="test", cache_dir=cache)
    load_s = time.perf_counter() - begin
    begin = time.perf_counter()
    for row in picks[:50]:
        ds[int(row)]["image"].load()
    cached_s = time.perf_counter() - begin
    begin = time.perf_counter()
    stream = datasets.load_dataset(str(folder), "frames", split="test", streaming=True)
    for _, _ in zip(range(10), stream, strict=False):
        pass
    stream_s = time.perf_counter() - begin
    shutil.rmtree(cache, ignore_errors=True)
    return {
        "rows": ds.num_rows,
        "group_rows": group_rows,
        "load_s": load_s,
        "random_parquet_ms": timed_random_rows(shards, picks) / len(picks) * 1e3,
        "random_arrow_ms": cached_s / 50 * 1e3,
        "stream_first10_s": stream_s,
        "mib": sum(p.stat().st_size for p in shards) / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_frames"))
    args = parser.parse_args()
    from simspine_dataset.commands.build import build
    from simspine_dataset.config import BuildConfig, FramesConfig
    from simspine_dataset.stages import shards
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    raw = args.out / "raw"
    if not (raw / "metadata.xml").is_file():
        settings = CaptureSettings(
            ("S9",), args.seconds, seed=5, actions=("Walking", "Eating"), detections=False
        )
        generate_capture(raw, settings)
    config = BuildConfig(frames=FramesConfig("crop", stride=1), workers=2)
    after = args.out / "after"
    build(raw, after, config)
    before = args.out / "before"
    shutil.rmtree(before, ignore_errors=True)
    shutil.copytree(after / "work", before / "work")
    shards.IMAGE_GROUP_ROWS = None  # the byte-bounded row groups of 64 MiB, as before
    build(raw, before, config)
    import pyarrow.parquet as pq

    rows = sum(
        pq.ParquetFile(p).metadata.num_rows for p in (after / "data" / "frames" / "test").glob("*.parquet")
    )
    picks = np.random.default_rng(0).integers(0, rows, 200)
    results = {name: measure(folder, picks) for name, folder in (("before", before), ("after", after))}
    for name, r in results.items():
        print(
            f"{name:6s} rows {r['rows']}, {r['group_rows']} rows per group, {r['mib']:.1f} MiB: load_dataset "
            f"{r['load_s']:.2f} s, a random row from Parquet {r['random_parquet_ms']:.1f} ms, from the Arrow "
            f"cache {r['random_arrow_ms']:.2f} ms, first 10 streamed rows {r['stream_first10_s']:.2f} s"
        )
    b, a = results["before"], results["after"]
    print(
        f"ratio before/after: load {b['load_s'] / a['load_s']:.2f}x, random Parquet row "
        f"{b['random_parquet_ms'] / a['random_parquet_ms']:.1f}x, streaming start "
        f"{b['stream_first10_s'] / a['stream_first10_s']:.1f}x, size {b['mib'] / a['mib']:.3f}x"
    )


if __name__ == "__main__":
    main()
