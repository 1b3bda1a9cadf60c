"""Reading the published dataset for the baselines: ``datasets.load_dataset`` only.

``load_split`` returns numpy columns of a split (a local build folder or a Hub repo id);
``frame_groups`` gathers the camera rows of each mocap frame; ``row_cameras`` rebuilds the
calibrated cameras stored in the rows; ``input_2d`` gives every row's 2D input for the 3D
baselines: ground truth, the documented detector noise model, or a predictions file.

Predictions file (``.npz``, e.g. from the 2D baseline): arrays ``subject``, ``action``,
``subaction``, ``frame``, ``camera`` (R,), ``keypoints_2d_px`` (R, 37, 2), ``scores`` (R, 37).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.synthetic.detector import DetectorNoise, facing_camera, simulate_detections

VIEW_KEY = ("subject", "action", "subaction", "frame")
ROW_KEY = (*VIEW_KEY, "camera")
# Columns ``input_2d`` reads for each mode.
INPUT_COLUMNS = {
    "gt": ("keypoints_2d_px", "keypoints_visible"),
    "noisy": ("keypoints_2d_px", "keypoints_3d_world_mm", "camera_rotation", "camera_translation_mm",
              "image_size", "subject", "camera"),
    "predictions": ROW_KEY,
}  # fmt: skip


def input_columns(mode: str) -> tuple[str, ...]:
    return INPUT_COLUMNS.get(mode, INPUT_COLUMNS["predictions"])


def load_split(
    dataset: str, split: str, columns: Sequence[str], config: str = "default"
) -> dict[str, np.ndarray]:
    """Numpy columns of one split. ``dataset``: a build folder or ``ORG/NAME`` on the Hub."""
    from datasets import load_dataset

    ds = load_dataset(dataset, config, split=split).select_columns(list(columns)).with_format("numpy")
    batch = ds[:]  # one numpy batch per column (Array2D columns load as (N, ...) arrays)
    return {name: np.asarray(batch[name]) for name in columns}


def frame_groups(columns: dict[str, np.ndarray], camera_ids: Sequence[str]) -> tuple[np.ndarray, list[dict]]:
    """Rows of frames seen by every camera in ``camera_ids``: an index array (G, C) into the rows,
    camera order as given, and each group's key (subject, action, subaction, frame)."""
    position = {c: i for i, c in enumerate(camera_ids)}
    groups: dict[tuple, np.ndarray] = {}
    keys = zip(*(columns[k].tolist() for k in VIEW_KEY), strict=True)
    for row, (key, camera) in enumerate(zip(keys, columns["camera"].tolist(), strict=True)):
        if camera in position:
            groups.setdefault(key, np.full(len(camera_ids), -1))[position[camera]] = row
    complete = sorted((k, v) for k, v in groups.items() if (v >= 0).all())
    index = np.array([v for _, v in complete], dtype=int).reshape(-1, len(camera_ids))
    return index, [dict(zip(VIEW_KEY, k, strict=True)) for k, _ in complete]


def row_cameras(columns: dict[str, np.ndarray], rows: Sequence[int]) -> list[Camera]:
    """The calibrated cameras of the given rows (one camera per row)."""
    return [
        Camera(
            str(columns["camera"][r]),
            np.asarray(columns["camera_intrinsics"][r], float),
            np.asarray(columns["camera_rotation"][r], float),
            np.asarray(columns["camera_translation_mm"][r], float),
            *(int(v) for v in columns["image_size"][r]),
        )
        for r in rows
    ]


def input_2d(mode: str, columns: dict[str, np.ndarray], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every row's 2D input (N, 37, 2) px, NaN where missing, and its confidence (N, 37).

    ``mode``: ``gt`` (the dataset's keypoints, confidence 1 where visible), ``noisy`` (the detector
    noise model of ``simspine_dataset.synthetic.detector``, seeded; rows drawn per subject and
    camera in row order), or the path of a predictions ``.npz``."""
    if mode == "gt":
        visible = columns["keypoints_visible"].astype(bool)
        px = columns["keypoints_2d_px"].astype(float)
        return np.where(visible[..., None], px, np.nan), visible.astype(float)
    if mode == "noisy":
        return _noisy(columns, np.random.default_rng(seed))
    return _predictions(mode, columns)


def _noisy(columns: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    true_px = columns["keypoints_2d_px"].astype(float)
    px, conf = np.empty_like(true_px), np.empty(true_px.shape[:2])
    rotation = columns["camera_rotation"].astype(float)
    centers = -np.einsum("nji,nj->ni", rotation, columns["camera_translation_mm"].astype(float))
    views = np.char.add(columns["subject"].astype(str), np.char.add("/", columns["camera"].astype(str)))
    for view in sorted(set(views.tolist())):
        rows = np.flatnonzero(views == view)
        facing = facing_camera(columns["keypoints_3d_world_mm"][rows].astype(float), centers[rows[0]])
        size = tuple(int(v) for v in columns["image_size"][rows[0]])
        px[rows], conf[rows] = simulate_detections(true_px[rows], facing, size, rng, DetectorNoise())
    return px, conf


def _predictions(path: str, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows matched to a predictions file by (subject, action, subaction, frame, camera); rows it
    lacks are missing (NaN, confidence 0)."""
    pred = np.load(path)
    missing = [k for k in (*ROW_KEY, "keypoints_2d_px", "scores") if k not in pred]
    if missing:
        raise ValueError(f"{path}: predictions file lacks arrays {missing}")

    def keys(source: Mapping[str, np.ndarray]) -> list[tuple]:
        return list(zip(*(np.asarray(source[k]).astype(str).tolist() for k in ROW_KEY), strict=True))

    lookup = {key: i for i, key in enumerate(keys(pred))}
    found = np.array([lookup.get(key, -1) for key in keys(columns)], dtype=int)
    n = len(found)
    px, conf = np.full((n, sk.NUM_KEYPOINTS, 2), np.nan), np.zeros((n, sk.NUM_KEYPOINTS))
    hit = found >= 0
    px[hit] = np.asarray(pred["keypoints_2d_px"], float)[found[hit]]
    conf[hit] = np.asarray(pred["scores"], float)[found[hit]]
    px[conf <= 0] = np.nan
    return px, conf
