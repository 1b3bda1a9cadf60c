"""Training batches: ``simspine_dataset.loader.BatchLoader`` over a shuffled epoch against a raw
pyarrow scan of the same Parquet columns (the limit), and the ``frames`` config's images/s against
decoding the same JPEGs in a plain loop, all in one run.

    python benchmarks/bench_loader.py [BUILD] [--rows 400000] [--images 3000]

BUILD: a build folder (``load_dataset(BUILD, split="train")``); without it a folder of ``--rows``
rows with the published features (random values) is written to a temporary folder. Prints
samples/s at 0, 1 and 2 workers with the ratio to the scan, and, on a generated ``frames`` split of
``--images`` 256 px JPEG crops, images/s against the plain loop.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np

COLUMNS = ["keypoints_3d_camera_mm", "keypoints_2d_px"]


def write_folder(root: Path, rows: int, images: int) -> None:
    """A dataset folder: ``default`` with random rows, ``frames`` with JPEG crops."""
    from datasets import Dataset, Features, Image, Value
    from PIL import Image as PILImage

    from simspine_dataset.schema import default_features

    features = default_features(43)
    rng = np.random.default_rng(0)
    chunk = 100_000
    for n, start in enumerate(range(0, rows, chunk)):
        m = min(chunk, rows - start)
        columns = {}
        for name, feature in features.items():
            arrow = features.arrow_schema.field(name).type
            if name in ("subject", "action", "camera"):
                columns[name] = ["S1"] * m
            elif hasattr(feature, "shape"):
                columns[name] = rng.random((m, *feature.shape), dtype=np.float32)
            elif hasattr(feature, "length") and feature.length > 0:
                kind = bool if "bool" in str(arrow) else (np.int32 if "int" in str(arrow) else np.float32)
                columns[name] = (
                    rng.random((m, feature.length)) > 0.5
                    if kind is bool
                    else rng.random((m, feature.length)).astype(kind)
                )
            else:
                columns[name] = rng.random(m).astype(feature.dtype if feature.dtype != "string" else float)
        path = root / "data" / "default" / "train" / f"shard-{n:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        Dataset.from_dict(columns, features=features).to_parquet(str(path))
    jpegs = []
    for i in range(images):
        x = np.linspace(0, 255, 256, dtype=np.float32)
        picture = np.stack([np.add.outer(x, x) / 2, np.tile(x, (256, 1)), np.full((256, 256), i % 256)], -1)
        buffer = io.BytesIO()
        PILImage.fromarray(picture.astype(np.uint8)).save(buffer, format="JPEG", quality=90)
        jpegs.append({"bytes": buffer.getvalue(), "path": None})
    frames = Features({"frame": Value("int32"), "image": Image()})
    path = root / "data" / "frames" / "train" / "shard-00000.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(
        {"frame": np.arange(images, dtype=np.int32), "image": jpegs}, features=frames
    ).to_parquet(str(path))
    (root / "README.md").write_text(
        "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/default/train/*.parquet\n"
        "- config_name: frames\n  data_files:\n  - split: train\n    path: data/frames/train/*.parquet\n---\n"
    )


def raw_scan(root: Path, columns: list[str]) -> float:
    """Rows/s of iterating the Parquet files' columns in batches of 256, to numpy arrays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    start, rows = time.perf_counter(), 0
    for path in sorted(root.glob("data/default/train/*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=256, columns=columns):
            for name in columns:
                array = batch.column(name)
                array = array.storage if isinstance(array, pa.ExtensionArray) else array
                while pa.types.is_list(array.type) or pa.types.is_fixed_size_list(array.type):
                    array = array.flatten()
                array.to_numpy(zero_copy_only=False)
            rows += batch.num_rows
    return rows / (time.perf_counter() - start)


def loader_rate(split, columns: list[str], workers: int, key: str) -> float:
    from torch.utils.data import DataLoader

    from simspine_dataset.loader import BatchLoader

    batches = BatchLoader(split, columns, batch_size=256, seed=1)
    start, seen = time.perf_counter(), 0
    for batch in DataLoader(batches, batch_size=None, num_workers=workers):
        seen += len(batch[key])
    assert seen == split.num_rows
    return seen / (time.perf_counter() - start)


def plain_decode(root: Path) -> float:
    import pyarrow.parquet as pq
    from PIL import Image

    table = pq.read_table(next(root.glob("data/frames/train/*.parquet")), columns=["image"])
    blobs = table.column("image").combine_chunks().field("bytes").to_pylist()
    start = time.perf_counter()
    for blob in blobs:
        np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))
    return len(blobs) / (time.perf_counter() - start)


def main() -> None:
    from datasets import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="?", type=Path)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--images", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / f"bench_loader_{Path(tmp).name}"  # datasets keys its cache by the name
        write_folder(generated, args.rows if args.build is None else 0, args.images)
        root = args.build or generated
        split = load_dataset(str(root), split="train")
        raw = raw_scan(root, COLUMNS)
        print(f"raw pyarrow scan, {split.num_rows:,} rows, {COLUMNS}: {raw:,.0f} rows/s")
        for workers in (0, 1, 2):
            rate = loader_rate(split, COLUMNS, workers, COLUMNS[0])
            print(
                f"BatchLoader, shuffled epoch, {workers} workers: {rate:,.0f} samples/s, ratio {rate / raw:.2f}"
            )
        frames = load_dataset(str(generated), "frames", split="train")
        plain = plain_decode(generated)
        print(
            f"frames: plain loop decoding the same {frames.num_rows:,} JPEGs (256 px): {plain:,.0f} images/s"
        )
        for workers in (0, 2):
            rate = loader_rate(frames, ["image"], workers, "image")
            print(f"BatchLoader, frames, {workers} workers: {rate:,.0f} images/s, ratio {rate / plain:.2f}")


if __name__ == "__main__":
    main()
