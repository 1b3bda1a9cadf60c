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
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from simspine_dataset.config import DetectConfig
from simspine_dataset.errors import CorruptVideoError, SimspineError
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.io import detections as det_io
from simspine_dataset.io.atomic import staging_folder, swap_in, write_text_atomic
from simspine_dataset.io.identity import stat_fingerprint
from simspine_dataset.pose_models import TopDownModel
from simspine_dataset.stages.capture import SequenceRecord, discover
from simspine_dataset.stages.crops import (
    PREFETCH_BATCHES,
    PersonDetector,
    Timer,
    camera_digest,
    mocap_boxes,
    person_crops,
    prefetch,
)
from simspine_dataset.stages.precision import prepare, report_entry

log = logging.getLogger(__name__)

REPORT = "detect_report.json"


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
        "precision": config.precision,
        "boxes": config.boxes,
        "stride": config.stride,
        "frames": record.frames_of(camera),
        "video": stat_fingerprint([record.files.videos[camera]]),
        "mocap": stat_fingerprint([record.files.d3_positions]) if config.boxes == "mocap" else None,
        # mocap boxes are the joints projected through the camera: a changed calibration moves them
        "calibration": camera_digest(record, camera) if config.boxes == "mocap" else None,
    }


def _key_of(marker: dict) -> dict | None:
    """A marker's key; markers written before precision was recorded were float32."""
    key = marker.get("key")
    return {**key, "precision": key.get("precision", "fp32")} if isinstance(key, dict) else key


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
    if previous is not None and _key_of(previous) == key:
        return VideoResult(*name, "skipped", previous.get("written", 0), previous.get("people", 0))
    if previous == {}:
        raise SimspineError(
            f"{folder}: exists and was not written by simspine detect; move it away or "
            "choose another DETECTIONS folder"
        )
    frames = np.arange(0, record.frames_of(camera.id), config.stride)
    boxes = mocap_boxes(record, camera) if detector is None else None
    tmp, timer, digest = staging_folder(folder), Timer(), hashlib.sha256()
    people = written = 0
    started = time.perf_counter()
    try:
        batches = person_crops(
            record.files.videos[camera.id],
            frames,
            boxes,
            model.input_size_wh,
            detector,
            config.batch_size,
            timer,
        )
        for chunk, with_person, batch in prefetch(batches, PREFETCH_BATCHES):
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
            "precision": report_entry(config, per_keypoint=False),
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
    config: DetectConfig | None = None,
    progress: Callable[[VideoResult], None] | None = None,
) -> dict:
    """Detect every video of the capture at ``raw`` into ``out`` (``workers`` processes); returns the
    report, also written to ``out/detect_report.json``. The model is loaded first, so unreadable
    weights fail at once (``ModelError``), and at int8 a model that disagrees with float32 stops it
    before any video (``precision.PrecisionError``)."""
    out, config = Path(out), config or DetectConfig()
    for message in config.ignored():
        log.warning(message)
    units, problems = plan(raw, config)
    config = prepare(out, units, config)  # int8: the quantized model, measured and gated
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
    """After units ran elsewhere (``distributed``, with the ``config`` that ``precision.prepare``
    returned): every planned video's recorded result (a unit that never finished is a failure,
    named), then ``detect_report.json`` as ``detect`` writes it."""
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
    """``detect_report.json``: settings, model, precision (at int8: its agreement with float32, per
    keypoint), per-video results and totals."""
    counts = {s: sum(r.status == s for r in results) for s in ("done", "skipped", "failed")}
    report = {
        "model": model_identity,
        "precision": report_entry(config),
        "config": json.loads(json.dumps(asdict(config), default=str)),
        "videos": counts,
        "frames": sum(r.frames for r in results if r.status != "failed"),
        "results": [asdict(r) for r in results],
    }
    write_text_atomic(Path(out) / REPORT, json.dumps(report, indent=1))
    return report
