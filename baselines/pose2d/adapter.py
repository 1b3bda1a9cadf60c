"""The ``frames`` config -> what mmpose trains on: COCO-style keypoint annotations and image files.

    export(dataset, split, out) -> out/annotations/<split>.json, out/images/<split>/<id>.jpg,
                                   out/metainfo.py

Images are the dataset's JPEG bytes, written as they are (no re-encoding). Keypoints are moved into
the image's pixels with ``frames.full_to_crop_px`` (the crop's one definition), with
visibility 2 where the row says visible and 0 (and (0, 0)) otherwise; the box is the row's person
box moved the same way. Each image also records its row's key (subject, action, subaction, frame,
camera) and crop, so predictions map back to full-image pixels for the triangulation baseline.
An export is complete when its JSON exists (written last, atomically): re-runs skip it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from baselines.data import ROW_KEY
from baselines.pose2d.metainfo import write_metainfo
from simspine_dataset import skeleton as sk
from simspine_dataset.io.atomic import write_text_atomic
from simspine_dataset.stages.frames import full_to_crop_px

BATCH = 512


def categories() -> list[dict]:
    return [{
        "id": 1, "name": "person", "supercategory": "person", "keypoints": list(sk.NAMES),
        "skeleton": [[p + 1, c + 1] for p, c in sk.BONES],  # COCO links are 1-based
    }]  # fmt: skip


def export(dataset: str, split: str, out: str | Path) -> Path:
    """Write the split's images and annotations under ``out``; returns the annotation file."""
    from datasets import Image as ImageFeature
    from datasets import load_dataset
    from PIL import Image

    out = Path(out)
    ann_path = out / "annotations" / f"{split}.json"
    write_metainfo(out / "metainfo.py")
    if ann_path.is_file():
        return ann_path
    ds = load_dataset(dataset, "frames", split=split)
    image_dir = out / "images" / split
    image_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    numeric = ds.select_columns(["keypoints_2d_px", "keypoints_visible", "bbox_xywh_px", "crop_xywh_px"])
    numeric = numeric.with_format("numpy")
    encoded = ds.select_columns([*ROW_KEY, "image"]).cast_column("image", ImageFeature(decode=False))
    for start in range(0, ds.num_rows, BATCH):
        rows = encoded[start : start + BATCH]
        arrays = numeric[start : start + BATCH]
        crops = arrays["crop_xywh_px"].astype(float)
        for i, image in enumerate(rows["image"]):
            index = start + i
            file_name = f"{index:08d}.jpg"
            (image_dir / file_name).write_bytes(image["bytes"])
            width, height = Image.open(image_dir / file_name).size
            box = arrays["bbox_xywh_px"][i].astype(float).reshape(2, 2)  # corner and size
            points = np.concatenate([arrays["keypoints_2d_px"][i].astype(float), box[:1]])
            moved = full_to_crop_px(points[None], crops[i : i + 1], [width])[0]
            keypoints, box = moved[:-1], np.r_[moved[-1], box[1] * width / crops[i, 2]]
            visible = arrays["keypoints_visible"][i].astype(bool)
            coco = np.zeros((sk.NUM_KEYPOINTS, 3))
            coco[visible, :2], coco[visible, 2] = keypoints[visible], 2
            source = {**{k: _plain(rows[k][i]) for k in ROW_KEY}, "crop_xywh_px": crops[i].tolist()}
            images.append(
                {"id": index, "file_name": file_name, "width": width, "height": height, "simspine": source}
            )
            annotations.append({
                "id": index, "image_id": index, "category_id": 1, "iscrowd": 0,
                "keypoints": coco.ravel().round(3).tolist(), "num_keypoints": int(visible.sum()),
                "bbox": box.round(3).tolist(), "area": float(box[2] * box[3]),
            })  # fmt: skip
    data = {"images": images, "annotations": annotations, "categories": categories()}
    write_text_atomic(ann_path, json.dumps(data))
    return ann_path


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value
