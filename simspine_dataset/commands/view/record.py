"""Logging what ``simspine view`` shows into a Rerun recording, column by column (``send_columns``:
a sequence's frames in one call per entity, not one call per frame).

Entity layout under a root (``build``, ``compare`` for a second build, ``capture`` for a raw one),
on the timelines ``frame`` (the 50 Hz mocap index) and ``time`` (seconds)::

    <root>/world                               Human3.6M world: mm, Z up
    <root>/world/keypoints                     the 37 keypoints (Points3D; the skeleton's edges and
                                               region colours from the annotation context; radius:
                                               the label's uncertainty, at least 5 mm)
    <root>/world/cameras/<id>                  world -> camera (Transform3D: X_cam = R X_world + t)
    <root>/world/cameras/<id>/image            Pinhole (fx, fy, cx, cy, image size); full frames
    <root>/world/cameras/<id>/image/keypoints  the rows' keypoints_2d_px (Human3.6M lens), visible ones
    <root>/crops/<id>                          crops (frames config), their keypoints mapped into the
                                               crop through crop_xywh_px
    <root>/series/<group>/<name>               kinematics, quality columns, curvature (Scalars)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.h36m import FPS_HZ

if TYPE_CHECKING:
    import rerun as rr

    from simspine_dataset.commands.view.source import CameraView, SequenceView
    from simspine_dataset.geometry.camera import Camera

SIMSPINE_CLASS = 1  # annotation-context class of the 37 keypoints
H36M_CLASS = 2  # of the 32 Human3.6M joints (a raw capture's mocap)
MIN_RADIUS_MM = 5.0


def annotation_context() -> rr.AnnotationContext:
    """Names, colours and edges of the 37 keypoints and of Human3.6M's 32 joints."""
    import rerun as rr

    colors = sk.display_colors()
    simspine = rr.ClassDescription(
        info=rr.AnnotationInfo(id=SIMSPINE_CLASS, label="SIMSPINE keypoints"),
        keypoint_annotations=[
            rr.AnnotationInfo(id=i, label=n, color=tuple(int(c) for c in colors[i]))
            for i, n in enumerate(sk.NAMES)
        ],
        keypoint_connections=list(sk.BONES),
    )
    h36m = rr.ClassDescription(
        info=rr.AnnotationInfo(id=H36M_CLASS, label="Human3.6M joints", color=sk.BODY_COLOR),
        keypoint_annotations=[rr.AnnotationInfo(id=i, label=n) for i, n in enumerate(sk.H36M_JOINT_NAMES)],
        keypoint_connections=[(p, i) for i, p in enumerate(sk.H36M_PARENTS) if p >= 0],
    )
    return rr.AnnotationContext([simspine, h36m])


def _times(frames: np.ndarray) -> list:
    import rerun as rr

    frames = np.asarray(frames, int)
    return [rr.TimeColumn("frame", sequence=frames), rr.TimeColumn("time", duration=frames / FPS_HZ)]


def log_points3d(
    path: str, frames: np.ndarray, points_mm: np.ndarray, radii_mm: np.ndarray | None, class_id: int
) -> None:
    """(T, K, 3) points at ``frames`` (T,), NaN points left out, as one column per frame."""
    import rerun as rr

    T, K = points_mm.shape[:2]
    keep = np.isfinite(points_mm).all(-1)  # (T, K)
    radii = (
        np.full((T, K), MIN_RADIUS_MM)
        if radii_mm is None
        else np.fmax(np.nan_to_num(radii_mm), MIN_RADIUS_MM)
    )
    ids = np.broadcast_to(np.arange(K), (T, K))
    columns = rr.Points3D.columns(
        positions=points_mm[keep],
        radii=radii[keep],
        keypoint_ids=ids[keep],
        class_ids=np.full(keep.sum(), class_id),
    ).partition(keep.sum(axis=1))
    rr.send_columns(path, indexes=_times(frames), columns=columns)


def log_points2d(
    path: str, frames: np.ndarray, points_px: np.ndarray, keep: np.ndarray, class_id: int
) -> None:
    """(N, K, 2) pixels at ``frames`` (N,), where ``keep`` (N, K), as one column per frame."""
    import rerun as rr

    keep = keep & np.isfinite(points_px).all(-1)
    ids = np.broadcast_to(np.arange(points_px.shape[1]), keep.shape)
    columns = rr.Points2D.columns(
        positions=points_px[keep], keypoint_ids=ids[keep], class_ids=np.full(keep.sum(), class_id)
    ).partition(keep.sum(axis=1))
    rr.send_columns(path, indexes=_times(frames), columns=columns)


def log_camera(path: str, camera: Camera) -> None:
    """A camera at its calibrated pose (static): world -> camera, and its pinhole."""
    import rerun as rr

    rr.log(
        path,
        rr.Transform3D(
            translation=camera.translation_mm,
            mat3x3=camera.rotation,
            relation=rr.TransformRelation.ChildFromParent,
        ),
        static=True,
    )
    fx, fy, cx, cy = camera.intrinsics[:4]
    rr.log(
        f"{path}/image",
        rr.Pinhole(
            focal_length=[fx, fy],
            principal_point=[cx, cy],
            resolution=camera.image_size,
            camera_xyz=rr.ViewCoordinates.RDF,
            image_plane_distance=500.0,
        ),
        static=True,
    )


def log_images(path: str, frames: np.ndarray, jpegs: Sequence[bytes]) -> None:
    import rerun as rr

    if not len(jpegs):
        return
    columns = rr.EncodedImage.columns(blob=list(jpegs), media_type=["image/jpeg"] * len(jpegs))
    rr.send_columns(path, indexes=_times(frames), columns=columns)


def log_scalars(path: str, frames: np.ndarray, values: np.ndarray) -> None:
    import rerun as rr

    finite = np.isfinite(values)
    if finite.any():
        rr.send_columns(
            path,
            indexes=_times(np.asarray(frames)[finite]),
            columns=rr.Scalars.columns(scalars=np.asarray(values, float)[finite]),
        )


def log_sequence(root: str, view: SequenceView) -> None:
    """A build's sequence under ``root`` (see the module's docstring)."""
    import rerun as rr

    rr.log(f"{root}/world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)
    log_points3d(
        f"{root}/world/keypoints", view.frames, view.keypoints_world_mm, view.uncertainty_mm, SIMSPINE_CLASS
    )
    for camera_id, camera in view.cameras.items():
        log_camera_view(root, camera_id, camera)
    for i, axis in enumerate(view.axes):
        log_scalars(f"{root}/series/kinematics/{axis['name']}", view.frames, view.kinematics[:, i])
    for name, values in view.series.items():
        log_scalars(f"{root}/series/quality/{name}", view.frames, values)
    spine = view.uncertainty_mm[:, list(sk.SPINE_SUBSET)].mean(axis=1)
    log_scalars(f"{root}/series/quality/keypoints_uncertainty_mm_spine15_mean", view.frames, spine)
    for name, values in curvature(view).items():
        log_scalars(f"{root}/series/curvature/{name}", view.frames, values)


def log_camera_view(root: str, camera_id: str, camera: CameraView) -> None:
    """A camera's pose and pinhole, its rows' 2D keypoints and its images: full frames on the image
    plane; crops in their own 2D space, with the keypoints mapped into them."""
    path = f"{root}/world/cameras/{camera_id}"
    log_camera(path, camera.camera)
    log_points2d(
        f"{path}/image/keypoints", camera.frames, camera.keypoints_px, camera.visible, SIMSPINE_CLASS
    )
    if not camera.images:
        return
    full = camera.crops_xywh_px is None or np.allclose(camera.crops_xywh_px[:, :2], 0)
    if full:
        log_images(f"{path}/image", camera.image_frames, camera.images)
        return
    crops = f"{root}/crops/{camera_id}"
    log_images(crops, camera.image_frames, camera.images)
    rows = np.searchsorted(camera.frames, camera.image_frames)
    box = camera.crops_xywh_px
    size = _jpeg_size(camera.images[0])
    scale = np.array(size, float)[None, None] / box[:, None, 2:]
    inside = (camera.keypoints_px[rows] - box[:, None, :2]) * scale
    log_points2d(f"{crops}/keypoints", camera.image_frames, inside, camera.visible[rows], SIMSPINE_CLASS)


def _jpeg_size(jpeg: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    return Image.open(io.BytesIO(jpeg)).size


def curvature(view: SequenceView) -> dict[str, np.ndarray]:
    """Lordosis and kyphosis per frame (deg) where the kinematics are our model's (their definitions
    are: ``biomech.curvature``); none for another model's or the release's."""
    from simspine_dataset.biomech.curvature import curvature_angles
    from simspine_dataset.biomech.kinematics import KinematicModel
    from simspine_dataset.biomech.model_table import model_spec
    from simspine_dataset.config import SPINES
    from simspine_dataset.geometry.transforms import axes_is_translation, coordinates_from_published

    names = [a["name"] for a in view.axes]
    for spine in SPINES:
        spec = model_spec(spine)
        if names == [c.name for c in spec.coordinates]:
            coordinates = coordinates_from_published(view.kinematics, axes_is_translation(list(view.axes)))
            return curvature_angles(KinematicModel(spec), coordinates)
    return {}
