"""Stage: decoded video frames for the ``frames`` config (``simspine build --frames crop|full``).

Every ``stride``-th mocap frame of a sequence (frames 0, stride, 2 stride, ...), per camera:

- ``crop``: a square around the row's person box (``bbox_xywh_px``, already grown by 15 %), side =
  the box's longer edge, resized to ``size_px`` x ``size_px`` with ``cv2.warpAffine`` (bilinear;
  parts outside the image are black);
- ``full``: the whole image.

Each image is JPEG-encoded with OpenCV (libjpeg-turbo, deterministic for a given version) and stored
with ``crop_xywh_px``, the crop's box in full-image pixels: keypoints in the crop are
``(keypoints_2d_px - crop_xy) * size_px / crop_w`` (``full_to_crop_px``; inverse
``crop_to_full_px``). A frame where the camera sees nobody is cropped
around the image centre. The other columns are the ``default`` config's rows of those frames.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.config import FramesConfig
from simspine_dataset.errors import CorruptVideoError
from simspine_dataset.io.video import read_frames

if TYPE_CHECKING:
    from simspine_dataset.stages.capture import SequenceRecord

FRAME_CHUNK_FRAMES = 250  # mocap frames whose images are decoded at a time (x 4 cameras)


def crop_boxes(boxes_xywh: np.ndarray, image_size: np.ndarray) -> np.ndarray:
    """Square crop boxes (N, 4) around person boxes (N, 4), centred, side = the longer edge;
    the image's centred square where the box is missing (NaN)."""
    boxes = np.asarray(boxes_xywh, float)
    size = np.asarray(image_size, float)
    centre = boxes[:, :2] + boxes[:, 2:] / 2
    side = boxes[:, 2:].max(axis=1)
    missing = ~np.isfinite(boxes).all(axis=1) | (side <= 1)
    centre[missing], side[missing] = size[missing] / 2, size[missing].min(axis=1)
    return np.column_stack([centre - side[:, None] / 2, side, side])


def full_to_crop_px(points_px: np.ndarray, crops_xywh: np.ndarray, crop_widths_px: np.ndarray) -> np.ndarray:
    """Full-image pixels (N, K, 2) -> pixels of the stored crop images (N, K, 2); crops (N, 4),
    the stored images' widths (N,) (crops are square)."""
    scale = (np.asarray(crop_widths_px, float) / crops_xywh[:, 2])[:, None, None]
    return (points_px - crops_xywh[:, None, :2]) * scale


def crop_to_full_px(points_px: np.ndarray, crops_xywh: np.ndarray, crop_widths_px: np.ndarray) -> np.ndarray:
    """The inverse of ``full_to_crop_px``."""
    scale = (crops_xywh[:, 2] / np.asarray(crop_widths_px, float))[:, None, None]
    return points_px * scale + crops_xywh[:, None, :2]


def crop_image(rgb: np.ndarray, box_xywh: np.ndarray, size_px: int) -> np.ndarray:
    """The square ``box_xywh`` of an image resized to ``size_px`` (bilinear, black outside)."""
    import cv2

    x, y, w, _ = box_xywh
    s = size_px / w
    affine = np.array([[s, 0, -x * s], [0, s, -y * s]])
    return cv2.warpAffine(rgb, affine, (size_px, size_px), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV failed to encode a JPEG")
    return data.tobytes()


def frame_images(
    rows: dict[str, np.ndarray], videos: dict[str, str], config: FramesConfig
) -> tuple[list[dict], np.ndarray]:
    """Images for rows of the default config (columns ``camera``, ``frame``, ``bbox_xywh_px``,
    ``image_size``), decoded from each camera's video: (``Image`` values, crop boxes (N, 4))."""
    cameras, frames = np.asarray(rows["camera"]).astype(str), np.asarray(rows["frame"])
    if config.mode == "full":
        sizes = np.asarray(rows["image_size"], float)
        boxes = np.column_stack([np.zeros((len(frames), 2)), sizes])
    else:
        boxes = crop_boxes(rows["bbox_xywh_px"], rows["image_size"])
    images: list[dict | None] = [None] * len(frames)
    for camera in sorted(set(cameras.tolist())):
        mine = np.flatnonzero(cameras == camera)
        row_of = {int(frames[r]): r for r in mine}
        for index, rgb in read_frames(videos[camera], sorted(row_of)):
            r = row_of[index]
            picture = rgb if config.mode == "full" else crop_image(rgb, boxes[r], config.size_px)
            images[r] = {"bytes": encode_jpeg(picture, config.jpeg_quality), "path": None}
    lost = [f"{cameras[r]} frame {frames[r]}" for r, image in enumerate(images) if image is None]
    if lost:
        camera = lost[0].split()[0]
        raise CorruptVideoError(
            videos[camera], f"{len(lost)} wanted frames were not decoded ({lost[0]}, ...)"
        )
    return images, boxes.astype(np.float32)


def write_frames(path: Path, views_path: Path, record: SequenceRecord, config: FramesConfig) -> None:
    """Images of every ``stride``-th frame of the sequence's views (``frame_images``) into a Parquet
    file of the ``frames`` config, ``FRAME_CHUNK_FRAMES`` frames at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from simspine_dataset.schema import frames_features
    from simspine_dataset.stages.shards import write_parquet

    views = pq.read_table(views_path)
    wanted = np.flatnonzero(views.column("frame").to_numpy() % config.stride == 0)
    videos = {c: str(p) for c, p in record.files.videos.items()}
    chunk = FRAME_CHUNK_FRAMES * len(record.cameras)

    def tables() -> Iterator:
        for start in range(0, len(wanted), chunk):
            rows = views.take(wanted[start : start + chunk])
            columns = {
                name: rows.column(name).to_numpy(zero_copy_only=False)
                for name in ("camera", "frame", "image_size", "bbox_xywh_px")
            }
            for name in ("image_size", "bbox_xywh_px"):
                columns[name] = np.stack(columns[name])
            images, crops = frame_images(columns, videos, config)
            schema = frames_features(len(rows.column("kinematics")[0])).arrow_schema
            table = rows.append_column("image", pa.array(images, schema.field("image").type))
            table = table.append_column(
                "crop_xywh_px", pa.array(list(crops), schema.field("crop_xywh_px").type)
            )
            yield table.select(schema.names).cast(schema)

    write_parquet(path, tables())
