"""Training batches for PyTorch from a dataset split, at the speed of an Arrow scan.

``datasets`` answers a list of row indices (a ``DataLoader``'s default batching) ~40x slower than a
contiguous slice (``docs/benchmarks.md``). ``BatchLoader`` never asks for rows one by one: it cuts
the split's Arrow table into blocks of consecutive rows, reads a block's columns straight to numpy
(fixed-size lists and ``Array2D`` flattened without copies), and shuffles in two stages, the order
of the blocks and the rows within a buffer of several blocks, both drawn from ``(seed, epoch)``.

- Every row is served exactly once per epoch; the order is the same for the same seed, epoch and
  number of workers, and another for another seed or epoch (``set_epoch``: resume at an epoch
  boundary by setting the epoch you stopped at).
- With ``DataLoader(loader, batch_size=None, num_workers=n)`` each worker reads its own blocks
  (every n-th of the epoch's order), so workers never read the same rows.
- Numeric columns come as tensors of the dataset's shape (``keypoints_3d_world_mm`` (B, 37, 3)
  float32); string columns as numpy arrays of str; the ``frames`` config's ``image`` as uint8
  tensors (B, H, W, 3), JPEGs decoded in the worker (full frames of different sizes zero-padded
  at the bottom and right to the batch's largest).

    from datasets import load_dataset
    from torch.utils.data import DataLoader
    from simspine_dataset.loader import BatchLoader

    split = load_dataset("simspine", split="train")
    batches = BatchLoader(split, ["keypoints_2d_px", "keypoints_3d_camera_mm"], batch_size=256)
    for epoch in range(10):
        batches.set_epoch(epoch)
        for batch in DataLoader(batches, batch_size=None, num_workers=2):
            ...
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa
    from datasets.features.features import FeatureType

try:  # torch is an optional dependency (the baselines' extra); the loader needs it
    from torch.utils.data import IterableDataset
except ImportError:  # pragma: no cover - exercised only without torch
    IterableDataset = object


class BatchLoader(IterableDataset):
    """Shuffled batches of ``columns`` of a ``datasets.Dataset`` (one split, local or Hub)."""

    def __init__(
        self,
        dataset: datasets.Dataset,
        columns: Sequence[str],
        batch_size: int = 256,
        *,
        shuffle: bool = True,
        seed: int = 0,
        block_rows: int = 1024,
        buffer_blocks: int = 16,
        drop_last: bool = False,
    ) -> None:
        missing = sorted(set(columns) - set(dataset.column_names))
        if missing:
            raise ValueError(f"columns {missing} are not in the dataset; it has {dataset.column_names}")
        if getattr(dataset, "_indices", None) is not None:
            raise ValueError(
                "the dataset has an indices mapping (select, shuffle, filter): call "
                "dataset.flatten_indices() first, or pass the split as loaded"
            )
        if batch_size < 1 or block_rows < 1 or buffer_blocks < 1:
            raise ValueError("batch_size, block_rows and buffer_blocks must be >= 1")
        self.table = dataset.data.table.select(list(columns))
        self.features = {name: dataset.features[name] for name in columns}
        self.columns = tuple(columns)
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.block_rows, self.buffer_blocks, self.drop_last = block_rows, buffer_blocks, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order the next iteration serves (resume: the epoch you stopped at)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        """Batches per epoch with one worker."""
        rows = self.table.num_rows
        return rows // self.batch_size if self.drop_last else -(-rows // self.batch_size)

    def block_order(self) -> np.ndarray:
        """The epoch's order of blocks (their first rows)."""
        starts = np.arange(0, self.table.num_rows, self.block_rows)
        if self.shuffle:
            starts = np.random.default_rng([self.seed, self.epoch]).permutation(starts)
        return starts

    def __iter__(self) -> Iterator[dict]:
        from torch.utils.data import get_worker_info

        worker = get_worker_info()
        starts = self.block_order()
        if worker is not None:
            starts = starts[worker.id :: worker.num_workers]
        rng = np.random.default_rng([self.seed, self.epoch, 0 if worker is None else worker.id + 1])
        carry: dict | None = None
        for group in range(0, len(starts), self.buffer_blocks):
            rows = self._read(starts[group : group + self.buffer_blocks])
            if self.shuffle:
                order = rng.permutation(_length(rows))
                rows = {name: values[order] for name, values in rows.items()}
            if carry is not None:
                rows = {name: np.concatenate([carry[name], rows[name]]) for name in rows}
            n = _length(rows)
            full = n - n % self.batch_size
            for start in range(0, full, self.batch_size):
                yield self._tensors(
                    {name: values[start : start + self.batch_size] for name, values in rows.items()}
                )
            carry = {name: values[full:] for name, values in rows.items()}
        if carry is not None and _length(carry) and not self.drop_last:
            yield self._tensors(carry)

    def _read(self, starts: np.ndarray) -> dict[str, np.ndarray]:
        """The columns of the blocks at ``starts``, as numpy arrays in the dataset's shapes."""
        parts = [self.table.slice(int(s), self.block_rows) for s in starts]
        return {
            name: np.concatenate([column_to_numpy(p.column(name), self.features[name]) for p in parts])
            for name in self.columns
        }

    def _tensors(self, rows: dict[str, np.ndarray]) -> dict:
        """A batch's arrays as tensors; images decoded here, after the shuffle, once."""
        import torch
        from datasets import Image

        out = {}
        for name, values in rows.items():
            if isinstance(self.features[name], Image):
                out[name] = torch.from_numpy(_decode_images(values))
            elif values.dtype.kind in "biuf":
                out[name] = torch.from_numpy(np.ascontiguousarray(values))
            else:
                out[name] = values
        return out


def _length(rows: dict[str, np.ndarray]) -> int:
    return len(next(iter(rows.values())))


def column_to_numpy(column: pa.ChunkedArray, feature: FeatureType) -> np.ndarray:
    """One column (a pyarrow ChunkedArray) -> numpy of the feature's shape: (n, *shape)."""
    import pyarrow as pa
    from datasets import Array2D, Image, List, Value

    array = column.combine_chunks()
    n = len(array)
    if isinstance(feature, Image):  # the encoded bytes; decoded per batch (``_tensors``)
        blobs = np.empty(n, dtype=object)  # (an array of bytes objects, not of their characters)
        blobs[:] = array.field("bytes").to_pylist()
        return blobs
    if isinstance(feature, Value):
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            return np.asarray(array.to_pylist(), dtype=str)
        return array.to_numpy(zero_copy_only=False)
    if isinstance(feature, Array2D):
        array, shape = array.storage, feature.shape
    elif isinstance(feature, List) and feature.length > 0:
        shape = (feature.length,)
    else:
        return np.asarray(array.to_pylist(), dtype=object)
    while (
        pa.types.is_list(array.type)
        or pa.types.is_fixed_size_list(array.type)
        or pa.types.is_large_list(array.type)
    ):
        array = array.flatten()
    return array.to_numpy(zero_copy_only=False).reshape(n, *shape)


def _decode_images(blobs: np.ndarray) -> np.ndarray:
    """Encoded images (JPEG/PNG bytes) -> (n, H, W, 3) uint8. Images of different sizes in one batch
    (full Human3.6M frames: two cameras are 1000x1002, two 1000x1000) are padded with zeros at the
    bottom and right to the largest, so pixel coordinates keep their meaning (``image_size`` holds
    each image's own size)."""
    from PIL import Image as PILImage

    if not len(blobs):
        return np.zeros((0, 0, 0, 3), np.uint8)
    images = [np.asarray(PILImage.open(io.BytesIO(blob)).convert("RGB")) for blob in blobs]
    height, width = max(i.shape[0] for i in images), max(i.shape[1] for i in images)
    out = np.zeros((len(images), height, width, 3), np.uint8)
    for i, image in enumerate(images):
        out[i, : image.shape[0], : image.shape[1]] = image
    return out


def dataset_stats(location: str, split: str = "train") -> dict[str, dict[str, np.ndarray]]:
    """What the build measured over a split (``meta/stats.json`` of a build folder or Hub repo):
    column -> ``count``, ``mean`` and population ``std`` per keypoint and axis (count 0: no value),
    so that a trainer normalises without a pass over the data. ``SimspineError`` naming the file
    when it is missing, of another format, lacks the split, or (a folder) was measured over other
    shards than the card names: a build killed between the two, never served as this data's."""
    from pathlib import Path

    from simspine_dataset.errors import SimspineError
    from simspine_dataset.record import STATS, STATS_VERSION, card_files, read_json

    data = read_json(location, STATS)
    where = Path(location) / STATS
    if not isinstance(data, dict) or data.get("format_version") != STATS_VERSION:
        version = data.get("format_version") if isinstance(data, dict) else None
        raise SimspineError(f"{where}: stats format {version}, expected {STATS_VERSION}: rebuild the dataset")
    if split not in data["splits"]:
        raise SimspineError(f"{where}: no split {split!r} (it has {sorted(data['splits'])})")
    measured = data["splits"][split]
    if Path(location).is_dir():  # a Hub repo is published in one commit: card and stats agree
        named = card_files(Path(location)).get("default", {}).get(split, [])
        if sorted(p.relative_to(location).as_posix() for p in named) != sorted(measured["files"]):
            raise SimspineError(
                f"{where}: measured over other shards than the card names (a build was interrupted "
                f"between them): re-run simspine build {location}"
            )
    return {
        name: {key: np.asarray(column[key], dtype=np.float64) for key in ("count", "mean", "std")}
        for name, column in measured["columns"].items()
    }
