"""``simspine view``: a build (a folder or a Hub repo), two builds side by side, or a raw capture, in
the Rerun viewer (``rerun-sdk``, the ``view`` extra).

    simspine view OUT [--subject S1] [--sequence "Walking 1"] [--save FILE.rrd | --serve]
    simspine view OUT --compare OUT2           # both builds, and each keypoint's distance over time
    simspine view RAW --capture [--stride 5]   # mocap, videos, detections (and a synthetic truth)

One recording, on the timelines ``frame`` (50 Hz) and ``time``; the entity layout is
``view.record``'s. Without ``--save`` or ``--serve`` the native viewer is spawned where a display
is, else the recording is saved and the command says how to open it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.errors import SimspineError

if TYPE_CHECKING:
    from simspine_dataset.commands.view.source import CaptureView, SequenceView

INSTALL = 'simspine view needs rerun-sdk: pip install -e ".[view]" (rerun-sdk==0.41.0)'


def _rerun():  # -> module rerun
    try:
        import rerun
    except ImportError as e:
        raise SimspineError(INSTALL) from e
    return rerun


def _has_display() -> bool:
    return sys.platform == "darwin" or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def view(
    location: str | Path,
    *,
    subject: str | None = None,
    sequence: str | None = None,
    save: str | Path | None = None,
    serve: bool = False,
    compare: str | Path | None = None,
    capture: bool = False,
    stride: int = 5,
    max_frames: int | None = None,
    detections: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Log the sequence and show or save it; returns {"label", "frames", "saved" (a path or None),
    "url" (with ``serve``)}."""
    rr = _rerun()
    step = progress or (lambda stage: None)
    rr.init("simspine", spawn=False)
    where: dict = {"saved": None, "url": None}
    if save or not (serve or _has_display()):
        where["saved"] = Path(save) if save else Path(f"simspine-view-{Path(str(location)).name}.rrd")
        rr.save(where["saved"])
    elif serve:
        where["url"] = rr.serve_grpc()
        rr.serve_web_viewer(connect_to=where["url"], open_browser=False)
    else:
        rr.spawn()
    from simspine_dataset.commands.view.record import annotation_context

    rr.log("/", annotation_context(), static=True)
    step("read")
    if capture:
        from simspine_dataset.commands.view.source import read_capture

        shown = read_capture(location, subject, sequence, stride, max_frames, detections)
        step("log")
        log_capture("capture", shown)
    else:
        shown = _log_builds(str(location), subject, sequence, compare, max_frames, step)
    if where["saved"]:
        rr.disconnect()
    return {"label": shown.label, "frames": len(shown.frames), **where}


def _log_builds(
    location: str,
    subject: str | None,
    sequence: str | None,
    compare: str | Path | None,
    max_frames: int | None,
    step: Callable[[str], None],
):
    from simspine_dataset.commands.view.record import log_sequence
    from simspine_dataset.commands.view.source import read_build

    shown = read_build(location, subject, sequence, max_frames)
    other = None
    if compare:
        subject_, name = shown.label.split(" ", 1)
        other = read_build(str(compare), subject_, name, max_frames)
    step("log")
    log_sequence("build", shown)
    if other is not None:
        log_sequence("compare", other)
        log_distances("distance", shown, other)
    return shown


def log_distances(root: str, a: SequenceView, b: SequenceView) -> None:
    """Each keypoint's distance between two builds over their common frames, and its mean over the
    spine-15 and over all 37 (mm)."""
    from simspine_dataset import skeleton as sk
    from simspine_dataset.commands.view.record import log_scalars

    frames, ia, ib = np.intersect1d(a.frames, b.frames, return_indices=True)
    distance = np.linalg.norm(a.keypoints_world_mm[ia] - b.keypoints_world_mm[ib], axis=-1)  # (T, 37)
    for k, name in enumerate(sk.NAMES):
        log_scalars(f"{root}/{name}", frames, distance[:, k])
    log_scalars(f"{root}/mean_spine15", frames, np.nanmean(distance[:, list(sk.SPINE_SUBSET)], axis=1))
    log_scalars(f"{root}/mean_all", frames, np.nanmean(distance, axis=1))


def log_capture(root: str, shown: CaptureView) -> None:
    """A raw capture's sequence: mocap joints, cameras with their frames and detections, the truth."""
    import rerun as rr

    from simspine_dataset.commands.view.record import (
        H36M_CLASS,
        SIMSPINE_CLASS,
        log_camera,
        log_images,
        log_points2d,
        log_points3d,
        log_scalars,
    )

    rr.log(f"{root}/world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    log_points3d(f"{root}/world/mocap", shown.frames, shown.joints_world_mm, None, H36M_CLASS)
    if shown.truth_world_mm is not None:
        log_points3d(f"{root}/world/truth", shown.frames, shown.truth_world_mm, None, SIMSPINE_CLASS)
    for camera_id, camera in shown.cameras.items():
        path = f"{root}/world/cameras/{camera_id}"
        log_camera(path, camera)
        log_images(f"{path}/image", *shown.images[camera_id])
        if camera_id in shown.detections:
            xy, scores = shown.detections[camera_id]
            log_points2d(f"{path}/image/detections", shown.frames, xy, scores > 0, SIMSPINE_CLASS)
            seen = np.where(scores > 0, scores, np.nan)
            with np.errstate(invalid="ignore"):
                mean = np.nanmean(seen, axis=1) if np.isfinite(seen).any() else np.full(len(seen), np.nan)
            log_scalars(f"{root}/series/detections/{camera_id}/mean_score", shown.frames, mean)
