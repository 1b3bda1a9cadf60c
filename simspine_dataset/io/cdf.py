"""Human3.6M pose CDF files: one variable ``Pose`` of shape (1, N, 32 * D), D = 3 (mm) or 2 (px).

Read with cdflib (NASA's CDF format in pure Python); written with cdflib's writer, in the same
layout, for fixtures and the synthetic capture.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simspine_dataset.errors import (
    BadArrayError,
    CorruptFileError,
    MissingFileError,
    NonFiniteError,
)
from simspine_dataset.h36m import NUM_JOINTS
from simspine_dataset.io.atomic import atomic_path

POSE_VARIABLE = "Pose"


def _open(path: Path):  # -> cdflib.CDF
    import cdflib

    if not path.is_file():
        raise MissingFileError(path, "file not found")
    try:
        return cdflib.CDF(str(path))
    except Exception as e:  # cdflib raises bare OSError/ValueError/struct errors on damage
        raise CorruptFileError(path, f"cannot be read as CDF ({type(e).__name__}: {e})") from e


def count_pose_frames(path: str | Path, dims: int) -> int:
    """Number of frames N in a Pose CDF, from its header only (no data read)."""
    path = Path(path)
    cdf = _open(path)
    try:
        info = cdf.varinq(POSE_VARIABLE)
    except Exception as e:
        raise BadArrayError(path, f"no variable {POSE_VARIABLE!r}") from e
    sizes = list(info.Dim_Sizes)
    if len(sizes) != 2 or sizes[1] != NUM_JOINTS * dims:
        raise BadArrayError(
            path, f"{POSE_VARIABLE} has dimensions {sizes}, expected [N, {NUM_JOINTS * dims}]"
        )
    return int(sizes[0])


def read_pose(path: str | Path, dims: int) -> np.ndarray:
    """Read ``Pose`` as (N, 32, dims) float64 (mm or px, as stored). Raises on NaN or bad shape."""
    path = Path(path)
    cdf = _open(path)
    try:
        pose = np.asarray(cdf.varget(POSE_VARIABLE), dtype=np.float64)
    except Exception as e:
        raise BadArrayError(path, f"no readable variable {POSE_VARIABLE!r} ({e})") from e
    if pose.ndim == 2:  # some writers drop the record axis
        pose = pose[None]
    if pose.ndim != 3 or pose.shape[0] != 1 or pose.shape[2] != NUM_JOINTS * dims:
        raise BadArrayError(
            path, f"{POSE_VARIABLE} has shape {pose.shape}, expected (1, N, {NUM_JOINTS * dims})"
        )
    pose = pose[0].reshape(-1, NUM_JOINTS, dims)
    bad = ~np.isfinite(pose).all(axis=(1, 2))
    if bad.any():
        frames = np.flatnonzero(bad)
        raise NonFiniteError(
            path, f"{bad.sum()} of {len(pose)} frames hold NaN/inf (first at frame {frames[0]})"
        )
    return pose


def write_pose(path: str | Path, pose: np.ndarray) -> Path:
    """Write (N, 32, D) as a Human3.6M ``Pose`` CDF (float32, one record), atomically."""
    from cdflib.cdfwrite import CDF

    pose = np.asarray(pose)
    if pose.ndim != 3 or pose.shape[1] != NUM_JOINTS or pose.shape[2] not in (2, 3):
        raise BadArrayError(path, f"pose must have shape (N, 32, 2|3), got {pose.shape}")
    flat = pose.reshape(1, len(pose), -1).astype(np.float32)
    with atomic_path(path) as tmp:
        writer = CDF(str(tmp), cdf_spec={"Compressed": False}, delete=True)
        try:
            spec = {
                "Variable": POSE_VARIABLE,
                "Data_Type": CDF.CDF_FLOAT,
                "Num_Elements": 1,
                "Rec_Vary": True,
                "Dim_Sizes": list(flat.shape[1:]),
                "Compress": 0,  # gzip would stamp the write time: files must be reproducible
            }
            writer.write_var(spec, var_data=flat)
        finally:
            writer.close()
    return Path(path)
