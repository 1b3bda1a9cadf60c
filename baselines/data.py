"""Reading the published dataset for the baselines: ``datasets.load_dataset`` only.

``load_split`` returns numpy columns of a split (a local build folder or a Hub repo id);
``frame_groups`` gathers the camera rows of each mocap frame; ``row_cameras`` rebuilds the
calibrated cameras stored in the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from simspine_dataset.geometry.camera import Camera

VIEW_KEY = ("subject", "action", "subaction", "frame")


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
