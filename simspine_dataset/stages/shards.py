"""Stage: the per-sequence work files -> the published shards of each config.

    OUT/data/{config}/{split}/shard-NNNNN-<digest>.parquet   (<digest>: of the shard's bytes)

Rows in a fixed order (split, subject, action, subaction, frame, camera), streamed sequence by
sequence (memory: one row group), cut into row groups of ~``GROUP_BYTES`` and shards of
~``SHARD_BYTES`` of Arrow data (Parquet with zstd is smaller; the published limits are ~100 MB and
~500 MB), page index on, features in the schema metadata: two builds of the same input give the
same bytes. ``ShardWriter`` writes each shard under a temporary name and renames it onto its
content-addressed name when complete (a context manager: the shard being written is removed on an
exception).

A rebuild writes its shards beside the previous build's (``write_config``; the names differ
wherever the bytes do), and nothing is removed until the card, which names every shard a build
holds, has been replaced: the card is the commit point. ``load_dataset`` reads only the files the
card names, so the folder loads the previous build or the new one at every instant, and a kill
anywhere leaves files no card names, which ``prune`` (after the card, and at the start of every
build: ``remove_leftovers``) deletes and ``publish`` never uploads.

While the ``default`` config is written, ``SplitStats`` sums, per split, what trainers normalise by
(``meta/stats.json``, ``STATS_COLUMNS``), so that no trainer needs a pass over the data for it.

``release="public"`` writes annotations only, as Human3.6M's licence requires: the keypoints whose
value comes from the Human3.6M mocap or from detections on its videos (``PUBLIC_HIDDEN``) are NaN
and not visible in every keypoint column; the simulated keypoints, kinematics and cameras remain.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator, Mapping
from os import getpid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.config import RELEASES
from simspine_dataset.io.atomic import atomic_path
from simspine_dataset.io.identity import content_digest

if TYPE_CHECKING:
    from types import TracebackType

    import pyarrow as pa
    import pyarrow.parquet as pq

    from simspine_dataset.record import BuildRecord

SHARD_FILE = "shard-{index:05d}-{digest}.parquet"  # digest: of its bytes, so other data has another name
# (and ``datasets``' cache, keyed by the card's YAML that names every shard, another entry)
GROUP_BYTES = 64 * 2**20
SHARD_BYTES = 400 * 2**20
# Rows per row group of a config with images (``frames``): what ``datasets`` writes for image
# datasets (``datasets.config.PARQUET_ROW_GROUP_SIZE_FOR_IMAGE_DATASETS``), so that reading one row
# decodes one small group, not thousands of JPEGs, and the Hub's viewer pages through it
IMAGE_GROUP_ROWS = 100
PUBLIC_HIDDEN: tuple[int, ...] = tuple(i for i, k in enumerate(sk.KEYPOINTS) if k.source != "simulated")
KEYPOINT_COLUMNS = ("keypoints_3d_world_mm", "keypoints_3d_camera_mm", "keypoints_2d_px")


class ShardWriter:
    """Streams tables into one split's folder as ``shard-NNNNN.parquet`` files with byte-bounded row
    groups. A context manager: ``close`` on a normal exit, ``abort`` (the shard being written is
    removed, never renamed into place) on an exception."""

    def __init__(self, folder: Path, group_rows: int | None = None) -> None:
        self.folder = Path(folder)
        self.group_rows = group_rows  # at most this many rows per row group (None: bytes alone)
        self.buffer: list = []
        self.buffered_bytes = 0.0
        self.shard_bytes = 0.0
        self.index = 0
        self.rows = 0
        self.names: list[str] = []  # the shards written, in order
        self._tmp: Path | None = None
        self._writer = None

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(exc_type, exc, tb)

    def abort(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        """Drop the shard being written (its temporary file is removed)."""
        if self._writer is not None:
            self._writer.close()
            self._tmp.unlink(missing_ok=True)
            self._writer, self._tmp = None, None

    def add(self, table: pa.Table) -> None:
        bytes_per_row = table.nbytes / max(table.num_rows, 1)
        while table.num_rows:
            room = max(1, int((GROUP_BYTES - self.buffered_bytes) / bytes_per_row))
            if self.group_rows:
                room = min(room, self.group_rows - sum(t.num_rows for t in self.buffer))
            part, table = table.slice(0, room), table.slice(room)
            self.buffer.append(part)
            self.buffered_bytes += part.num_rows * bytes_per_row
            full_rows = self.group_rows and sum(t.num_rows for t in self.buffer) >= self.group_rows
            if full_rows or self.buffered_bytes >= GROUP_BYTES - bytes_per_row:
                self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.buffer:
            return
        group = pa.concat_tables(self.buffer)
        if self._writer is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._tmp = self.folder / f".shard-{self.index:05d}.tmp{getpid()}.parquet"
            self._writer = pq.ParquetWriter(
                self._tmp, group.schema, compression="zstd", write_page_index=True
            )
        self._writer.write_table(group, row_group_size=group.num_rows)
        self.rows += group.num_rows
        self.shard_bytes += self.buffered_bytes
        self.buffer, self.buffered_bytes = [], 0.0
        if self.shard_bytes + GROUP_BYTES > SHARD_BYTES:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._writer is not None:
            self._writer.close()  # complete: renamed onto its name, which carries its content digest
            name = SHARD_FILE.format(index=self.index, digest=content_digest(self._tmp, 12))
            self._tmp.rename(self.folder / name)
            self.names.append(name)
            self._writer, self._tmp = None, None
            self.index += 1
            self.shard_bytes = 0.0

    def close(self) -> int:
        """Write what is buffered, finish the last shard; returns the rows written."""
        self._flush()
        self._close_shard()
        return self.rows


def public_table(table: pa.Table) -> pa.Table:
    """The annotations-only version of a table of the ``default`` config (``PUBLIC_HIDDEN``)."""
    import pyarrow as pa
    from datasets import Dataset, Features

    features = Features.from_arrow_schema(table.schema)
    columns = Dataset(table).with_format("numpy")[:]
    hidden = list(PUBLIC_HIDDEN)
    for name in KEYPOINT_COLUMNS:
        values = np.array(columns[name], dtype=np.float32)
        values[:, hidden] = np.nan
        columns[name] = values
    visible = np.array(columns["keypoints_visible"], dtype=bool)
    visible[:, hidden] = False
    columns["keypoints_visible"] = visible
    result = Dataset.from_dict(columns, features=features).data.table
    return pa.Table.from_batches(result.to_batches(), schema=table.schema)


# meta/stats.json: per keypoint and axis, over the values present (finite; 2D: where visible)
STATS_COLUMNS = {
    "keypoints_3d_world_mm": "world frame, mm",
    "keypoints_3d_camera_mm": "camera frame, mm",
    "keypoints_3d_camera_mm - Hip": "camera frame relative to the Hip (root) keypoint, mm",
    "keypoints_2d_px": "image pixels, visible keypoints",
    "keypoints_2d_normalized": "(u - cx) / fx, (v - cy) / fy with the row's intrinsics (no undistortion), "
    "visible keypoints",
}


class SplitStats:
    """Float64 sums, in row order, of the ``STATS_COLUMNS`` of one split's rows (the same bytes for
    the same build); ``summary`` gives count, mean and population standard deviation per keypoint
    and axis."""

    def __init__(self) -> None:
        self.rows = 0
        self.sums: dict[str, list[np.ndarray]] = {}

    def add(self, table: pa.Table) -> None:
        from datasets import Features

        from simspine_dataset.geometry.camera import pixels_to_normalized
        from simspine_dataset.loader import column_to_numpy

        features = Features.from_arrow_schema(table.schema)

        def column(name: str) -> np.ndarray:
            return column_to_numpy(table.column(name), features[name]).astype(np.float64)

        visible = column("keypoints_visible").astype(bool)[..., None]
        camera, px = column("keypoints_3d_camera_mm"), column("keypoints_2d_px")
        hip = sk.INDEX["Hip"]
        values = {
            "keypoints_3d_world_mm": column("keypoints_3d_world_mm"),
            "keypoints_3d_camera_mm": camera,
            "keypoints_3d_camera_mm - Hip": camera - camera[:, hip : hip + 1],
            "keypoints_2d_px": np.where(visible, px, np.nan),
            "keypoints_2d_normalized": np.where(
                visible, pixels_to_normalized(px, column("camera_intrinsics")), np.nan
            ),
        }
        self.rows += table.num_rows
        for name, array in values.items():
            present = np.isfinite(array)
            x = np.where(present, array, 0.0)
            sums = [present.sum(0).astype(np.float64), x.sum(0), (x * x).sum(0)]
            self.sums[name] = [a + b for a, b in zip(self.sums.get(name, [0.0] * 3), sums, strict=True)]

    def summary(self) -> dict:
        columns = {}
        for name, (count, total, squares) in self.sums.items():
            n = np.maximum(count, 1)
            mean = total / n
            std = np.sqrt(np.maximum(squares / n - mean**2, 0.0))
            columns[name] = {  # count 0: no value (mean and std 0)
                "about": STATS_COLUMNS[name],
                "count": count.astype(int).tolist(),
                "mean": mean.round(9).tolist(),
                "std": std.round(9).tolist(),
            }
        return {"rows": self.rows, "columns": columns}


def write_split(
    folder: Path,
    sources: Iterable[Path],
    release: str = "full",
    group_rows: int | None = None,
    stats: SplitStats | None = None,
) -> list[str]:
    """Stream the work files ``sources`` (in order) into one split's folder (row groups of at most
    ``group_rows`` rows, when given; every table also into ``stats``, when given); returns the
    names of the shards written."""
    import datasets  # noqa: F401 - registers its Arrow extension types (Array2D) before reading
    import pyarrow.parquet as pq

    if release not in RELEASES:
        raise ValueError(f"release must be one of {RELEASES}, got {release!r}")
    with ShardWriter(folder, group_rows) as writer:
        for source in sources:
            for batch_table in _row_groups(pq.ParquetFile(source)):
                table = public_table(batch_table) if release == "public" else batch_table
                writer.add(table)
                if stats is not None:
                    stats.add(table)
    return writer.names


def write_config(
    out: Path,
    config: str,
    splits: Mapping[str, Iterable[Path]],
    release: str = "full",
    stats: dict[str, SplitStats] | None = None,
) -> dict[str, list[str]]:
    """Write every split of a config into ``data/{config}/{split}/`` beside any earlier shards (and,
    given ``stats``, each split's statistics into ``stats[split]``); returns each split's shard paths
    (relative to ``out``), which the build's report and card name."""
    out = Path(out)
    files = {}
    for split, sources in splits.items():
        group_rows = IMAGE_GROUP_ROWS if config == "frames" else None
        split_stats = stats.setdefault(split, SplitStats()) if stats is not None else None
        names = write_split(out / "data" / config / split, sources, release, group_rows, split_stats)
        files[split] = [f"data/{config}/{split}/{name}" for name in names]
    return files


def build_shards(out: Path, record: BuildRecord, config: str = "default") -> dict[str, list[Path]]:
    """A build's shards of one config per split, as its record names them (the files its card
    names and ``load_dataset`` reads)."""
    out = Path(out)
    splits = record.files.get(config, {})
    return {split: [out / p for p in paths] for split, paths in splits.items() if paths}


def named_files(files: Mapping[str, Mapping[str, list[str]]]) -> set[str]:
    """Every shard path of a build's ``files`` ({config: {split: [paths]}})."""
    return {path for splits in files.values() for paths in splits.values() for path in paths}


def prune(out: Path, keep: set[str]) -> list[Path]:
    """Remove every file under ``data/`` that ``keep`` (paths relative to ``out``) does not name,
    and the folders left empty: an earlier build's shards, a killed build's temporary files.
    Returns what was removed."""
    out = Path(out)
    removed = []
    for path in sorted((out / "data").rglob("*"), reverse=True):  # files before their folders
        if path.is_file() and path.relative_to(out).as_posix() not in keep:
            path.unlink()
            removed.append(path)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return removed


def remove_leftovers(out: Path) -> None:
    """What a killed build or an older version left beside the shards: staging and old folders
    (``data/.<config>.staging*``, ``.old*``) and temporary shard files. Run at the start of a build."""
    data = Path(out) / "data"
    if not data.is_dir():
        return
    for path in [*data.glob(".*"), *data.glob("*/*/.*"), *data.glob("*/*/*.tmp*")]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _row_groups(parquet: pq.ParquetFile) -> Iterator[pa.Table]:
    """One row group at a time: bounded memory on long sequences."""
    for index in range(parquet.num_row_groups):
        yield parquet.read_row_group(index)


def write_parquet(path: Path, tables: Iterable[pa.Table]) -> None:
    """Stream tables of one schema (pyarrow) into one Parquet file, written under a temporary name:
    a work unit's output."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        writer = None
        for table in tables:
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        if writer is not None:
            writer.close()
