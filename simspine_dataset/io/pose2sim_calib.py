"""Pose2Sim's calibration file (``Calib_<S>.toml``, the official release's ``cameras/``).

One table per camera (``[cam_54138969]``) with ``name`` (the bare id, which the official
preprocessing copies into image names), ``size``, ``matrix``, ``distortions`` (k1, k2, p1, p2),
``rotation`` (Rodrigues), ``translation`` (metres) and ``fisheye``; tables lacking any of these are
not cameras (Pose2Sim's ``[metadata]``). OpenCV's convention, ``x = K distort(R X + t)``. The
conversion from a Human3.6M camera is ``geometry.camera.to_opencv``; a build always takes its
cameras from the capture's metadata.xml, never from this file.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from simspine_dataset.errors import MetadataError
from simspine_dataset.geometry.camera import OpenCVCamera
from simspine_dataset.io.atomic import write_text_atomic

CAMERA_KEYS = ("name", "size", "matrix", "distortions", "rotation", "translation", "fisheye")


def _numbers(values: np.ndarray) -> str:
    return "[" + ", ".join(repr(float(v)) for v in np.ravel(values)) + "]"


def write_calibration(path: str | Path, cameras: Sequence[OpenCVCamera]) -> Path:
    """Write the cameras as a Pose2Sim calibration TOML (full float precision)."""
    lines = []
    for camera in cameras:
        matrix = ", ".join(_numbers(row) for row in camera.matrix)
        section = camera.name if camera.name[:1].isalpha() else f"cam_{camera.name}"  # a bare id
        lines += [
            f"[{section}]",
            f'name = "{camera.name}"',
            f"size = [{camera.size_px[0]}, {camera.size_px[1]}]",
            f"matrix = [{matrix}]",
            f"distortions = {_numbers(camera.distortions)}",
            f"rotation = {_numbers(camera.rotation_rodrigues)}",
            f"translation = {_numbers(camera.translation_m)}",
            "fisheye = false",
            "",
        ]
    lines += ["[metadata]", "adjusted = false", "error = 0.0", ""]
    return write_text_atomic(path, "\n".join(lines))


def read_calibration(path: str | Path) -> list[OpenCVCamera]:
    """The cameras of a Pose2Sim calibration TOML, in file order."""
    path = Path(path)
    try:
        tables = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise MetadataError(path, f"not a readable calibration TOML ({e})") from e
    cameras = []
    for key, table in tables.items():
        if not isinstance(table, dict) or not all(k in table for k in CAMERA_KEYS):
            continue
        try:
            cameras.append(
                OpenCVCamera(
                    str(table["name"]),
                    (int(table["size"][0]), int(table["size"][1])),
                    np.array(table["matrix"], dtype=np.float64).reshape(3, 3),
                    np.array(table["distortions"], dtype=np.float64),
                    np.array(table["rotation"], dtype=np.float64).reshape(3),
                    np.array(table["translation"], dtype=np.float64).reshape(3),
                )
            )
        except (TypeError, ValueError, IndexError) as e:
            raise MetadataError(path, f"camera table [{key}] is malformed ({e})") from e
    return cameras
