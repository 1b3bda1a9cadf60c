"""Stage 0, detect: 2D keypoints of every video of a capture (SIMSPINE's front end).

``simspine detect RAW DETECTIONS`` runs a top-down 2D model (``pose_models``: SpinePose's published
ONNX models, any ONNX with their I/O, or a checkpoint of our mmpose baseline) over the person in
every frame of every camera and writes SpinePose's own video output, which
``simspine build --detections`` reads (``pseudo_markers``)::

    DETECTIONS/<subject>/<sequence>.<camera>/frame_NNNNN.json    OpenPose-style, SpineTrack order
    DETECTIONS/<subject>/<sequence>.<camera>/simspine_detect.json  what made them (the unit's marker)
    DETECTIONS/detect_report.json                                  per video: status, counts, timings

Person boxes come from the mocap by default: the Human3.6M joints projected through the camera's
lens, their extent grown as the dataset's boxes are (``views.person_boxes``); the model pads it by
1.25 as SpinePose does. ``boxes="detector"`` uses SpinePose's RF-DETR person detector instead.

A video is one unit: it is decoded once, sequentially (PyAV), in a thread that also cuts the crops,
while the model runs on batches of crops of many frames; its files are written into a temporary
folder that is renamed into place when complete, with a marker recording the model, boxes, stride
and the video's fingerprint, so a re-run skips finished videos and redoes those whose inputs or
model changed. A failing video is reported by name and the others finish.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from simspine_dataset.errors import CorruptVideoError, SimspineError
from simspine_dataset.geometry.camera import Camera, in_view
from simspine_dataset.io import detections as det_io
from simspine_dataset.io.atomic import staging_folder, swap_in, write_text_atomic
from simspine_dataset.io.identity import stat_fingerprint
from simspine_dataset.pose_models import CropBatch, TopDownModel, crop_images, crop_transform
from simspine_dataset.stages.capture import SequenceRecord, discover, load_mocap

log = logging.getLogger(__name__)

REPORT = "detect_report.json"
BOX_SOURCES = ("mocap", "detector")
DETECTOR_FILE = "rfdetr_m_v142_576x576.onnx"  # SpinePose's default person detector (its "large" mode)
DETECTOR_URL = "https://huggingface.co/saifkhichi96/opendetect/resolve/main/rfdetr/" + DETECTOR_FILE
DETECTOR_INPUT = (576, 576)
PREFETCH_BATCHES = 2  # batches of crops cut ahead of the model


@dataclass(frozen=True)
class DetectConfig:
    """How ``detect`` runs: the model (a SpinePose name and version, or ``onnx`` with
    ``input_size``, or an mmpose ``mmpose_config`` + ``checkpoint``), where the boxes come from,
    which frames (every ``stride``-th), and the compute (batch, workers, threads per worker, device)."""

    model: str = "spinepose-m"
    version: str | None = None  # v2 (SIMSPINE fine-tuned, default where published) | v1
    onnx: str | None = None
    input_size: tuple[int, int] | None = None  # (W, H) of --onnx models; default 192 x 256
    mmpose_config: str | None = None
    checkpoint: str | None = None
    boxes: str = "mocap"
    stride: int = 1
    subjects: tuple[str, ...] | None = None
    batch_size: int = 32
    workers: int = 1
    threads: int | None = None  # inference threads per worker (default: cores / workers)
    device: str = "auto"  # auto | cpu | cuda

    def __post_init__(self) -> None:
        if self.boxes not in BOX_SOURCES:
            raise ValueError(f"boxes must be one of {BOX_SOURCES}, got {self.boxes!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be auto, cpu or cuda, got {self.device!r}")
        for name in ("stride", "batch_size", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def ignored(self) -> list[str]:
        """The settings given that this model source does not use, as sentences (logged as
        warnings): with ``--onnx`` the SpinePose name and version; with an mmpose checkpoint the
        name, version, input size and threads."""
        plain = DetectConfig()
        used = {"model", "version"} if self.onnx else set()
        if self.mmpose_config or self.checkpoint:
            used = {"model", "version", "input_size", "threads"}
        source = "--onnx" if self.onnx else "an mmpose checkpoint"
        return [f"{name} = {getattr(self, name)!r} is ignored with {source}"
                for name in sorted(used) if getattr(self, name) != getattr(plain, name)]  # fmt: skip

    def load_model(self) -> TopDownModel:
        from simspine_dataset.pose_models import default_threads, load_model

        return load_model(
            self.model,
            version=self.version,
            onnx=self.onnx,
            input_size_wh=self.input_size,
            mmpose_config=self.mmpose_config,
            checkpoint=self.checkpoint,
            threads=self.threads or default_threads(self.workers),
            device=self.device,
        )


@dataclass(frozen=True)
class VideoResult:
    """One video's outcome: ``done`` (detected now), ``skipped`` (already done) or ``failed``."""

    subject: str
    sequence: str
    camera: str
    status: str
    frames: int = 0  # frames written
    people: int = 0  # frames with a person box
    error: str = ""
    seconds: dict[str, float] = field(default_factory=dict)  # decode, crop, inference, write, total


def unit_key(record: SequenceRecord, camera: str, model_identity: str, config: DetectConfig) -> dict:
    """What a video's detections depend on: recorded in its marker, compared on re-runs."""
    return {
        "model": model_identity,
        "boxes": config.boxes,
        "stride": config.stride,
        "frames": record.frames_of(camera),
        "video": stat_fingerprint([record.files.videos[camera]]),
        "mocap": stat_fingerprint([record.files.d3_positions]) if config.boxes == "mocap" else None,
        # mocap boxes are the joints projected through the camera: a changed calibration moves them
        "calibration": _calibration(record, camera) if config.boxes == "mocap" else None,
    }


def _calibration(record: SequenceRecord, camera: str) -> str:
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
class _Timer:
    seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("decode", "crop", "inference", "write"), 0.0)
    )

    def add(self, name: str, start: float) -> float:
        now = time.perf_counter()
        self.seconds[name] += now - start
        return now


def _batches(
    video: Path,
    frames: np.ndarray,
    boxes: np.ndarray | None,
    model: TopDownModel,
    detector: PersonDetector | None,
    batch_size: int,
    timer: _Timer,
) -> Iterator[tuple[list[int], list[int], CropBatch | None]]:
    """(frame indices, those with a person, their crops) for batches of up to ``batch_size`` frames,
    decoded in order."""
    from simspine_dataset.io.video import read_frames

    wanted = {int(f): i for i, f in enumerate(frames)}
    chunk: list[int] = []
    people: list[int] = []
    crops, centres, scales = [], [], []
    start = time.perf_counter()
    for index, image in read_frames(video, frames, pixel_format="bgr24"):
        start = timer.add("decode", start)
        box = detector(image) if detector is not None else boxes[wanted[index]]
        chunk.append(index)
        if usable_box(box):
            centre, scale = crop_transform(box, model.input_size_wh)
            crops.append(crop_images(image, centre, scale, model.input_size_wh)[0])
            centres.append(centre[0])
            scales.append(scale[0])
            people.append(index)
        start = timer.add("crop", start)
        if len(chunk) == batch_size:
            yield chunk, people, _crop_batch(crops, centres, scales)
            chunk, people, crops, centres, scales = [], [], [], [], []
            start = time.perf_counter()
    if chunk:
        yield chunk, people, _crop_batch(crops, centres, scales)


def _crop_batch(crops: list, centres: list, scales: list) -> CropBatch | None:
    return CropBatch(np.stack(crops), np.array(centres), np.array(scales)) if crops else None


def _prefetch(items: Iterator, depth: int) -> Iterator:
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


def _previous(folder: Path) -> dict | None:
    """The marker of an earlier run, ``{}`` for a folder not written by ``detect``, None if absent."""
    if not folder.exists():
        return None
    try:
        return json.loads((folder / det_io.MARKER).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def detect_video(
    out: Path,
    record: SequenceRecord,
    camera: Camera,
    model: TopDownModel,
    config: DetectConfig,
    detector: PersonDetector | None = None,
) -> VideoResult:
    """Detect one video into ``out`` (skipped when its marker matches); raises on bad input. Holds
    the video's lock: another ``detect`` on the same folder waits for it, then finds it done."""
    from filelock import FileLock

    folder = det_io.video_folder(out, record.subject, record.sequence, camera.id)
    lock = Path(out) / ".locks" / record.subject / f"{folder.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(lock):
        return _detect_video(folder, record, camera, model, config, detector)


def _detect_video(
    folder: Path,
    record: SequenceRecord,
    camera: Camera,
    model: TopDownModel,
    config: DetectConfig,
    detector: PersonDetector | None,
) -> VideoResult:
    """``detect_video``'s work, under the video's lock."""
    key = unit_key(record, camera.id, model.identity, config)
    previous = _previous(folder)
    name = (record.subject, record.sequence, camera.id)
    if previous is not None and previous.get("key") == key:
        return VideoResult(*name, "skipped", previous.get("written", 0), previous.get("people", 0))
    if previous == {}:
        raise SimspineError(
            f"{folder}: exists and was not written by simspine detect; move it away or "
            "choose another DETECTIONS folder"
        )
    frames = np.arange(0, record.frames_of(camera.id), config.stride)
    boxes = mocap_boxes(record, camera) if detector is None else None
    tmp, timer, digest = staging_folder(folder), _Timer(), hashlib.sha256()
    people = written = 0
    started = time.perf_counter()
    try:
        batches = _batches(
            record.files.videos[camera.id], frames, boxes, model, detector, config.batch_size, timer
        )
        for chunk, with_person, batch in _prefetch(batches, PREFETCH_BATCHES):
            start = time.perf_counter()
            xy, scores = model.predict(batch) if batch is not None else (None, None)
            start = timer.add("inference", start)
            row = {index: i for i, index in enumerate(with_person)}
            for index in chunk:
                i = row.get(index)
                text = det_io.frame_json(None if i is None else xy[i], None if i is None else scores[i])
                (tmp / det_io.frame_file(index)).write_text(text)
                digest.update(text.encode())
            people, written = people + len(with_person), written + len(chunk)
            timer.add("write", start)
        if written != len(frames):
            raise CorruptVideoError(
                record.files.videos[camera.id], f"decoded {written} of {len(frames)} wanted frames"
            )
        seconds = {
            **{k: round(v, 3) for k, v in timer.seconds.items()},
            "total": round(time.perf_counter() - started, 3),
        }
        marker = {
            "key": key,
            "written": len(frames),
            "people": people,
            "digest": digest.hexdigest()[:16],
            "seconds": seconds,
        }
        (tmp / det_io.MARKER).write_text(json.dumps(marker, indent=1))
        swap_in(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return VideoResult(*name, "done", len(frames), people, seconds=seconds)


# One model per worker process, loaded on its first unit.
_WORKER: dict[str, object] = {}


def run_unit(args: tuple[Path, SequenceRecord, Camera, DetectConfig]) -> VideoResult:
    """A video unit that never raises: any failure is recorded in its result."""
    out, record, camera, config = args
    try:
        if "model" not in _WORKER:
            _WORKER["model"] = config.load_model()
            _WORKER["detector"] = PersonDetector() if config.boxes == "detector" else None
        return detect_video(out, record, camera, _WORKER["model"], config, _WORKER["detector"])
    except Exception as e:  # noqa: BLE001 - one bad video must not stop the others; reported
        log.error("%s camera %s: %s", record.key, camera.id, e)
        return VideoResult(
            record.subject, record.sequence, camera.id, "failed", error=f"{type(e).__name__}: {e}"
        )


def plan(raw: str | Path, config: DetectConfig) -> tuple[list, list[VideoResult]]:
    """The capture's video units (sequence, camera) and a failed result per discovery problem."""
    capture = discover(raw, config.subjects, check_videos=True)
    units = [(record, camera) for record in capture.sequences for camera in record.cameras]
    problems = [
        VideoResult("", str(getattr(p, "path", "")), "", "failed", error=f"{type(p).__name__}: {p}")
        for p in capture.problems
    ]
    return units, problems


def detect(
    raw: str | Path,
    out: str | Path,
    config: DetectConfig = DetectConfig(),
    progress: Callable[[VideoResult], None] | None = None,
) -> dict:
    """Detect every video of the capture at ``raw`` into ``out`` (``workers`` processes); returns the
    report, also written to ``out/detect_report.json``. The model is loaded first, so unreadable
    weights fail at once (``ModelError``)."""
    out = Path(out)
    for message in config.ignored():
        log.warning(message)
    units, problems = plan(raw, config)
    model = config.load_model()  # fails here, before any work, on a bad model
    _WORKER.update(model=model, detector=PersonDetector() if config.boxes == "detector" else None)
    jobs = [(out, record, camera, config) for record, camera in units]
    results: list[VideoResult] = []
    if config.workers > 1:
        _WORKER.clear()  # each worker loads its own
        with ProcessPoolExecutor(config.workers) as pool:
            for result in pool.map(run_unit, jobs):
                results.append(result)
                progress and progress(result)
    else:
        for job in jobs:
            results.append(run_unit(job))
            progress and progress(results[-1])
    _WORKER.clear()
    return write_report(out, model.identity, config, [*results, *problems])


UNIT_RESULT = ".results/{subject}/{sequence}.{camera}.json"  # a video unit's result, for executors


def record_result(out: Path, result: VideoResult) -> None:
    """Keep a video unit's result beside the detections (units that run as separate tasks)."""
    write_text_atomic(
        _result_path(out, result.subject, result.sequence, result.camera), json.dumps(asdict(result))
    )


def _result_path(out: Path, subject: str, sequence: str, camera: str) -> Path:
    return Path(out) / UNIT_RESULT.format(subject=subject, sequence=sequence, camera=camera)


def collect(raw: str | Path, out: Path, config: DetectConfig) -> dict:
    """After units ran elsewhere (``distributed``): every planned video's recorded result (a unit
    that never finished is a failure, named), then ``detect_report.json`` as ``detect`` writes it."""
    units, problems = plan(raw, config)
    results = []
    for record, camera in units:
        path = _result_path(out, record.subject, record.sequence, camera.id)
        try:
            results.append(VideoResult(**json.loads(path.read_text())))
        except (OSError, json.JSONDecodeError, TypeError):
            results.append(VideoResult(record.subject, record.sequence, camera.id, "failed",
                                       error=f"its unit did not finish (no {path.name})"))  # fmt: skip
    return write_report(out, config.load_model().identity, config, [*results, *problems])


def write_report(out: Path, model_identity: str, config: DetectConfig, results: list[VideoResult]) -> dict:
    """``detect_report.json``: settings, model, per-video results and totals."""
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    report = {
        "model": model_identity,
        "config": json.loads(json.dumps(asdict(config), default=str)),
        "videos": counts,
        "frames": sum(r.frames for r in results if r.status != "failed"),
        "results": [asdict(r) for r in results],
    }
    write_text_atomic(Path(out) / REPORT, json.dumps(report, indent=1))
    return report
