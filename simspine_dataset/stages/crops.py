"""Person crops of a capture's videos, as the 2D models take them: boxes from the mocap (the
Human3.6M joints projected through the camera, grown by the dataset's box rule) or from SpinePose's
person detector, frames decoded in order in a thread ahead of the model, crops cut with RTMPose's
top-down affine. Used by ``detect`` (every frame) and by its int8 calibration (``precision``: a
sample of frames).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simspine_dataset.geometry.camera import Camera, in_view
from simspine_dataset.pose_models import CropBatch, crop_images, crop_transform
from simspine_dataset.stages.capture import SequenceRecord, load_mocap

DETECTOR_FILE = "rfdetr_m_v142_576x576.onnx"  # SpinePose's default person detector (its "large" mode)
DETECTOR_URL = "https://huggingface.co/saifkhichi96/opendetect/resolve/main/rfdetr/" + DETECTOR_FILE
DETECTOR_INPUT = (576, 576)
PREFETCH_BATCHES = 2  # batches of crops cut ahead of the model


def camera_digest(record: SequenceRecord, camera: str) -> str:
    """A digest of one camera's calibration (mocap boxes move with it)."""
    from simspine_dataset.io.identity import text_digest

    return text_digest(json.dumps(record.cameras[record.camera_ids.index(camera)].parameters()))


def mocap_boxes(record: SequenceRecord, camera: Camera) -> np.ndarray:
    """Person boxes (T, 4) xyxy px of a sequence in one camera from its mocap joints (NaN where the
    camera sees none): the dataset's box rule (``views.person_boxes``) on the projected joints."""
    from simspine_dataset.stages.views import person_boxes

    joints = load_mocap(record).joints_world_mm
    px = camera.project(joints)
    visible = in_view(camera.world_to_camera(joints)[..., 2], px, camera.image_size)
    xywh = person_boxes(px, visible, camera.image_size)
    return np.column_stack([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]])


def usable_box(box_xyxy: np.ndarray) -> bool:
    """A box to crop: finite, with positive width and height (else the frame has nobody)."""
    return bool(np.isfinite(box_xyxy).all() and (box_xyxy[2:] > box_xyxy[:2]).all())


class PersonDetector:
    """SpinePose's RF-DETR person detector (through the package), the most confident person."""

    def __init__(self) -> None:
        from simspine_dataset.errors import ModelError
        from simspine_dataset.pose_models import SPINEPOSE_CACHE

        cached = SPINEPOSE_CACHE.expanduser() / DETECTOR_FILE
        try:
            from spinepose.tools.object_detection import RFDETR

            self.model = RFDETR(
                str(cached) if cached.is_file() else DETECTOR_URL,
                model_input_size=DETECTOR_INPUT,
                hardware_acceleration=False,
            )
        except Exception as e:  # ImportError, or the package's download failing offline
            raise ModelError(
                cached,
                f"SpinePose's person detector is unavailable ({e}); copy "
                f"{DETECTOR_FILE} there or use --boxes mocap",
            ) from e

    def __call__(self, image_bgr: np.ndarray) -> np.ndarray:
        """The most confident person's box (4,) xyxy px, NaN when there is none."""
        found = self.model.predict(image_bgr)
        if len(found["xyxy"]) == 0:
            return np.full(4, np.nan)
        return np.asarray(found["xyxy"][int(np.argmax(found["confidence"]))], float)


@dataclass
class Timer:
    """Seconds spent per step of detecting a video (the steps overlap: decode and crop run ahead)."""

    seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("decode", "crop", "inference", "write"), 0.0)
    )

    def add(self, name: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[name] += now - start
        return now


def person_crops(
    video: Path,
    frames: np.ndarray,
    boxes: np.ndarray | None,
    input_size_wh: tuple[int, int],
    detector: PersonDetector | None,
    batch_size: int,
    timer: Timer,
) -> Iterator[tuple[list[int], list[int], CropBatch | None]]:
    """(frame indices, those with a person, their crops) for batches of up to ``batch_size`` frames,
    decoded in order."""
    from simspine_dataset.io.video import read_frames

    chunk: list[int] = []
    people: list[int] = []
    crops, centres, scales = [], [], []
    start = time.perf_counter()
    for index, image in read_frames(video, frames, pixel_format="bgr24"):
        start = timer.add("decode", start)
        box = detector(image) if detector is not None else boxes[index]
        chunk.append(index)
        if usable_box(box):
            centre, scale = crop_transform(box, input_size_wh)
            crops.append(crop_images(image, centre, scale, input_size_wh)[0])
            centres.append(centre[0])
            scales.append(scale[0])
            people.append(index)
        start = timer.add("crop", start)
        if len(chunk) == batch_size:
            yield chunk, people, crop_batch(crops, centres, scales)
            chunk, people, crops, centres, scales = [], [], [], [], []
            start = time.perf_counter()
    if chunk:
        yield chunk, people, crop_batch(crops, centres, scales)


def crop_batch(crops: list, centres: list, scales: list) -> CropBatch | None:
    return CropBatch(np.stack(crops), np.array(centres), np.array(scales)) if crops else None


def prefetch(items: Iterator, depth: int) -> Iterator:
    """Run an iterator in a thread, ``depth`` items ahead of the consumer (decoding and cutting
    crops release the GIL, so they overlap inference). Exceptions reach the consumer."""
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def fill() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            q.put(e)

    thread = threading.Thread(target=fill, daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
