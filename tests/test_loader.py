"""BatchLoader: every row once per epoch, the order a function of (seed, epoch), the dataset's
shapes and dtypes, workers splitting the rows, JPEG frames decoded, and clear errors."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from datasets import Dataset, Features, Image, Value, load_dataset  # noqa: E402
from fixtures import write_tiny_dataset  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from simspine_dataset.loader import BatchLoader  # noqa: E402


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = write_tiny_dataset(
        tmp_path_factory.mktemp("loader") / "tiny", {"S1": [("Walking", 1), ("Eating", 2)]}
    )
    ds = load_dataset(str(root), split="train")
    return ds.add_column("row", np.arange(ds.num_rows)).flatten_indices()


def rows_of(loader, workers: int = 0) -> np.ndarray:
    return np.concatenate(
        [b["row"].numpy() for b in DataLoader(loader, batch_size=None, num_workers=workers)]
    )


def test_every_row_once_per_epoch_in_an_order_set_by_seed_and_epoch(split) -> None:
    loader = BatchLoader(split, ["row"], batch_size=7, block_rows=5, buffer_blocks=3, seed=3)
    first = rows_of(loader)
    assert sorted(first) == list(range(split.num_rows)) and not np.array_equal(first, np.sort(first))
    assert np.array_equal(rows_of(loader), first)  # same seed and epoch: same order
    loader.set_epoch(1)
    second = rows_of(loader)
    assert sorted(second) == list(range(split.num_rows)) and not np.array_equal(second, first)
    other = BatchLoader(split, ["row"], batch_size=7, block_rows=5, buffer_blocks=3, seed=4)
    assert not np.array_equal(rows_of(other), first)
    in_order = BatchLoader(split, ["row"], batch_size=7, shuffle=False)
    assert np.array_equal(rows_of(in_order), np.arange(split.num_rows))
    assert len(in_order) == -(-split.num_rows // 7)


def test_two_workers_split_the_rows(split) -> None:
    loader = BatchLoader(split, ["row"], batch_size=4, block_rows=3, seed=0)
    assert sorted(rows_of(loader, workers=2)) == list(range(split.num_rows))
    dropped = BatchLoader(split, ["row"], batch_size=4, block_rows=3, drop_last=True)
    assert len(rows_of(dropped)) == split.num_rows - split.num_rows % 4


def test_columns_keep_the_dataset_shapes_and_values(split) -> None:
    columns = ["row", "keypoints_3d_world_mm", "keypoints_visible", "kinematics", "subject"]
    batch = next(iter(BatchLoader(split, columns, batch_size=6, seed=1)))
    rows = batch["row"].numpy()
    expected = split.with_format("numpy")[rows.tolist()]
    assert (
        batch["keypoints_3d_world_mm"].shape == (6, 37, 3)
        and batch["keypoints_3d_world_mm"].dtype == torch.float32
    )
    assert batch["keypoints_visible"].dtype == torch.bool and batch["kinematics"].shape[0] == 6
    np.testing.assert_array_equal(batch["keypoints_3d_world_mm"].numpy(), expected["keypoints_3d_world_mm"])
    np.testing.assert_array_equal(batch["kinematics"].numpy(), expected["kinematics"])
    assert list(batch["subject"]) == ["S1"] * 6


def test_frames_are_decoded_in_the_order_served() -> None:
    from PIL import Image as PILImage

    blobs = []
    for value in (10, 200, 90):
        buffer = io.BytesIO()
        PILImage.fromarray(np.full((8, 8, 3), value, np.uint8)).save(buffer, format="PNG")
        blobs.append({"bytes": buffer.getvalue(), "path": None})
    frames = Dataset.from_dict(
        {"frame": [0, 1, 2], "image": blobs}, features=Features({"frame": Value("int32"), "image": Image()})
    )
    batch = next(iter(BatchLoader(frames, ["frame", "image"], batch_size=3, seed=2)))
    assert batch["image"].shape == (3, 8, 8, 3) and batch["image"].dtype == torch.uint8
    values = {0: 10, 1: 200, 2: 90}
    assert [int(img[0, 0, 0]) for img in batch["image"]] == [values[int(f)] for f in batch["frame"]]


def test_bad_requests_are_named(split) -> None:
    with pytest.raises(ValueError, match="not in the dataset"):
        BatchLoader(split, ["nope"])
    with pytest.raises(ValueError, match="flatten_indices"):
        BatchLoader(split.select([4, 1, 2]), ["row"])
    part = split.select(range(3, 9))  # contiguous: a slice of the table, no mapping
    assert sorted(rows_of(BatchLoader(part, ["row"], batch_size=4))) == list(range(3, 9))


def test_full_frames_of_human36m_sizes_batch_together() -> None:
    """Human3.6M's full frames are 1000x1002 (two cameras) and 1000x1000: 49caca7 crashed ("could not
    broadcast (1000,1000,3) into (1002,1000,3)"). Each image keeps its pixels at their place."""
    from PIL import Image as PILImage

    sizes = [(1000, 1002), (1000, 1000), (1000, 1002), (1000, 1000)]  # width, height
    blobs = []
    for i, (w, h) in enumerate(sizes):
        buffer = io.BytesIO()
        pixels = np.full((h, w, 3), 10 * (i + 1), np.uint8)
        pixels[-1, -1] = 255  # the last pixel of each image
        PILImage.fromarray(pixels).save(buffer, format="PNG")
        blobs.append({"bytes": buffer.getvalue(), "path": None})
    frames = Dataset.from_dict({"frame": list(range(4)), "image": blobs},
                               features=Features({"frame": Value("int32"), "image": Image()}))  # fmt: skip
    batch = next(iter(BatchLoader(frames, ["frame", "image"], batch_size=4, shuffle=False)))
    assert batch["image"].shape == (4, 1002, 1000, 3)
    for i, (w, h) in enumerate(sizes):
        image = batch["image"][i].numpy()
        assert image[h - 1, w - 1, 0] == 255 and image[0, 0, 0] == 10 * (i + 1)
        assert (image[h:] == 0).all()  # padding below a 1000-high frame
