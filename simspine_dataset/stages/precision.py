"""Detect's int8 precision: the ONNX model quantized on the capture's own crops, its agreement with
float32 measured on held-out crops of the same capture, and the gate that stops ``detect`` when
they disagree.

    DETECTIONS/.int8/<model>-<sample>.onnx   the quantized model
    DETECTIONS/.int8/<model>-<sample>.json   what it was made from, and how well it agrees

``<model>`` is the float32 file's content digest, ``<sample>`` the digest of the two crop sets
(their videos' fingerprints, frames and box inputs): a changed model or capture quantizes anew, a
re-run (or another worker, another task on shared storage) finds the file and decodes nothing.

The crops: videos taken in turn from every subject (each subject's videos shuffled with a fixed
seed, so actions and cameras mix), each into the calibration set or the held-out check set,
whichever has fewer of its subject's, so both hold every subject; frames drawn from those where
the person is in view, none in both sets. Calibration fixes the activations'
ranges (``pose_models.quantize_int8``); the check runs both models on crops calibration never saw.

The gate: every keypoint's 95th percentile distance between int8 and float32, in the model's input
pixels, at most ``DetectConfig.int8_max_px`` (default ``config.INT8_MAX_P95_PX``, where its reason is
written). Input pixels, not image pixels: the number means the same for a person near or far and at
any resolution.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.config import INT8_MAX_P95_PX, DetectConfig
from simspine_dataset.errors import SimspineError
from simspine_dataset.geometry.camera import Camera
from simspine_dataset.io.atomic import write_text_atomic
from simspine_dataset.io.identity import content_digest, stat_fingerprint
from simspine_dataset.pose_models import (
    Agreement,
    CropBatch,
    SimccOnnxModel,
    agreement,
    default_threads,
    onnx_source,
    quantize_int8,
)
from simspine_dataset.stages.capture import SequenceRecord
from simspine_dataset.stages.crops import (
    PersonDetector,
    Timer,
    camera_digest,
    mocap_boxes,
    person_crops,
    usable_box,
)

FOLDER = ".int8"
SAMPLE_VIDEOS = 16  # videos each crop set is drawn from
CALIBRATION_CROPS = 64
CHECK_CROPS = 64
SEED = 0
# How ``quantize_int8`` quantizes: part of the cache key, so a change of method makes a new file.
METHOD = "onnxruntime static QDQ, per-channel int8 weights, uint8 activations, MinMax calibration"


class PrecisionError(SimspineError):
    """int8 disagrees with float32 beyond the gate (the numbers and the override in the message)."""


@dataclass(frozen=True)
class SampledVideo:
    """Frames of one video chosen for a crop set."""

    record: SequenceRecord
    camera: Camera
    frames: tuple[int, ...]

    def identity(self, boxes: str) -> dict:
        """What these crops depend on: the video, the frames, and where their boxes come from."""
        mocap = boxes == "mocap"
        return {
            "video": f"{self.record.subject}/{self.record.sequence}.{self.camera.id}",
            "fingerprint": stat_fingerprint([self.record.files.videos[self.camera.id]]),
            "frames": list(self.frames),
            "boxes": boxes,
            "mocap": stat_fingerprint([self.record.files.d3_positions]) if mocap else None,
            "camera": camera_digest(self.record, self.camera.id) if mocap else None,
        }


def in_turn(units: list[tuple[SequenceRecord, Camera]], seed: int = SEED) -> list:
    """The video units ordered so that consecutive ones come from different subjects, each
    subject's own units shuffled (``seed``) so that its actions and cameras mix."""
    rng = np.random.default_rng(seed)
    by_subject: dict[str, list] = {}
    for unit in sorted(units, key=lambda u: (u[0].subject, u[0].sequence, u[1].id)):
        by_subject.setdefault(unit[0].subject, []).append(unit)
    queues = [[group[i] for i in rng.permutation(len(group))] for group in by_subject.values()]
    return [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]


def sample(
    units: list[tuple[SequenceRecord, Camera]],
    boxes: str,
    crops: tuple[int, int] = (CALIBRATION_CROPS, CHECK_CROPS),
) -> tuple[list[SampledVideo], list[SampledVideo]]:
    """The calibration and check sets: videos in turn (``in_turn``), each to the set with fewer of
    its subject's, so that both hold every subject; frames drawn without repetition among those
    with a person box (every frame with the person detector)."""
    ordered = in_turn(units)[: 2 * SAMPLE_VIDEOS]
    if not ordered:
        raise SimspineError("int8 calibration: the capture has no videos to sample crops from")
    sets: tuple[list, list] = ([], [])
    for unit in ordered:  # each video to the set with fewer of its subject's (then fewer in all)
        mine = [sum(u[0].subject == unit[0].subject for u in chosen) for chosen in sets]
        sets[min((0, 1), key=lambda i: (mine[i], len(sets[i])))].append(unit)
    if not sets[1]:  # a capture of one video: both sets draw from it, on different frames
        sets[1].append(sets[0][0])
    rng = np.random.default_rng(SEED)
    taken: dict[tuple[str, str, str], set[int]] = {}
    chosen: tuple[list[SampledVideo], list[SampledVideo]] = ([], [])
    for videos, want, out in zip(sets, crops, chosen, strict=True):
        per_video = math.ceil(want / len(videos))
        for record, camera in videos:
            name = (record.subject, record.sequence, camera.id)
            if boxes == "mocap":
                usable = np.flatnonzero([usable_box(box) for box in mocap_boxes(record, camera)])
            else:
                usable = np.arange(record.frames_of(camera.id))
            free = np.setdiff1d(usable, sorted(taken.get(name, ())))
            frames = np.sort(rng.choice(free, min(per_video, len(free)), replace=False))
            taken.setdefault(name, set()).update(frames.tolist())
            if len(frames):
                out.append(SampledVideo(record, camera, tuple(int(f) for f in frames)))
    return chosen


def cut(
    videos: list[SampledVideo], input_size_wh: tuple[int, int], detector: PersonDetector | None
) -> CropBatch:
    """The crops of a set, cut exactly as ``detect`` cuts them."""
    parts = []
    for video in videos:
        boxes = mocap_boxes(video.record, video.camera) if detector is None else None
        path = video.record.files.videos[video.camera.id]
        frames = np.asarray(video.frames)
        for _, _, batch in person_crops(path, frames, boxes, input_size_wh, detector, len(frames), Timer()):
            if batch is not None:
                parts.append(batch)
    if not parts:
        raise SimspineError("int8 calibration: no frame of the sampled videos shows a person")
    return CropBatch(
        *(np.concatenate([getattr(b, f) for b in parts]) for f in ("images", "centres", "scales"))
    )


def summarise(found: Agreement) -> dict:
    """The agreement record: pooled and per keypoint (SIMSPINE names), the median and 95th
    percentile of the distances (input and image pixels) and of the absolute score differences,
    the keypoints found by one model only; the worst keypoint and whether it passes the default
    gate (``config.INT8_MAX_P95_PX``: a fixed reference kept in the cached record; the user's own
    ``--int8-max-px`` is applied by ``gate`` on every run, never written here, so it cannot go stale)."""

    def stats(values: np.ndarray) -> dict[str, float | None]:
        values = values[np.isfinite(values)]
        if not len(values):
            return {"median": None, "p95": None}
        return {
            "median": round(float(np.median(values)), 4),
            "p95": round(float(np.percentile(values, 95)), 4),
        }

    def block(k: slice | int) -> dict:
        return {
            "crop_px": stats(found.crop_px[:, k].ravel()),
            "image_px": stats(found.image_px[:, k].ravel()),
            "score_abs_diff": stats(np.abs(found.score_diff[:, k]).ravel()),
            "found_by_one": int(found.found_by_one[:, k].sum()),
        }

    per_keypoint = {name: block(k) for k, name in enumerate(sk.NAMES)}
    p95 = {name: per_keypoint[name]["crop_px"]["p95"] for name in sk.NAMES}
    worst = max(sk.NAMES, key=lambda n: -1.0 if p95[n] is None else p95[n])
    return {
        "crops": len(found.crop_px),
        **block(slice(None)),
        "worst_keypoint": {"name": worst, "p95_crop_px": p95[worst]},
        "max_p95_crop_px": INT8_MAX_P95_PX,
        "passed": p95[worst] is None or p95[worst] <= INT8_MAX_P95_PX,
        "per_keypoint": per_keypoint,
    }


def prepare(
    out: str | Path, units: list[tuple[SequenceRecord, Camera]], config: DetectConfig
) -> DetectConfig:
    """``config`` ready to run: at int8, its quantized model made (or found in ``OUT/.int8``), its
    agreement with float32 measured and gated, and ``config.int8_model`` pointing at it. Raises
    ``PrecisionError`` beyond the gate unless ``config.accept_int8``."""
    from dataclasses import replace

    from filelock import FileLock

    if config.precision != "int8":
        return config
    path, size, name = onnx_source(config.model, config.version, config.onnx, config.input_size)
    if not path.is_file():
        from simspine_dataset.errors import ModelError

        raise ModelError(path, "ONNX model not found")
    calibration, check = sample(units, config.boxes)
    key = {
        "model": content_digest(path),
        "input_size": list(size),
        "calibration": [v.identity(config.boxes) for v in calibration],
        "check": [v.identity(config.boxes) for v in check],
        "method": METHOD,
    }
    stem = f"{key['model'][:12]}-{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]}"
    folder = Path(out) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    quantized, record_path = folder / f"{stem}.onnx", folder / f"{stem}.json"
    with FileLock(folder / f"{stem}.lock"):
        record = _read(record_path)
        if record.get("key") != key or not quantized.is_file():
            record = _make(path, size, name, quantized, calibration, check, config) | {"key": key}
            write_text_atomic(record_path, json.dumps(record, indent=1))
    gate(record, record_path, config)
    return replace(config, int8_model=str(quantized))


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _make(
    path: Path,
    size: tuple[int, int],
    name: str,
    quantized: Path,
    calibration: list[SampledVideo],
    check: list[SampledVideo],
    config: DetectConfig,
) -> dict:
    """Quantize on the calibration crops, then measure both models on the check crops (on the CPU,
    where ONNX Runtime runs int8)."""
    detector = PersonDetector() if config.boxes == "detector" else None
    calibration_crops = cut(calibration, size, detector)
    check_crops = cut(check, size, detector)
    quantize_int8(path, calibration_crops.images, quantized)
    threads = config.threads or default_threads(config.workers)
    fp32 = SimccOnnxModel(path, size, name=name, threads=threads, device="cpu")
    int8 = SimccOnnxModel(quantized, size, name=f"{name}-int8", threads=threads, device="cpu")
    found = agreement(fp32, int8, check_crops)
    return {
        "model": fp32.identity,
        "int8_model": int8.identity,
        "method": METHOD,
        "calibration": {"crops": len(calibration_crops.images), "videos": len(calibration)},
        "check": {"crops": len(check_crops.images), "videos": len(check)},
        "measured": summarise(found),
    }


def gate(record: dict, record_path: Path, config: DetectConfig) -> dict:
    """The agreement under ``config``'s threshold (the measurement is kept; the threshold is the
    user's); raises ``PrecisionError`` beyond it unless ``config.accept_int8``."""
    measured = record["measured"]
    worst = measured["worst_keypoint"]
    verdict = {
        **{k: measured[k] for k in ("crops", "crop_px", "image_px", "score_abs_diff", "found_by_one")},
        "worst_keypoint": worst,
        "max_p95_crop_px": config.int8_max_px,
        "passed": worst["p95_crop_px"] is None or worst["p95_crop_px"] <= config.int8_max_px,
        "accepted": config.accept_int8,
    }
    if not verdict["passed"] and not config.accept_int8:
        raise PrecisionError(
            f"int8 disagrees with fp32 on {measured['crops']} held-out crops of this capture: "
            f"{worst['name']}'s 95th percentile is {worst['p95_crop_px']:.2f} input px (gate "
            f"{config.int8_max_px:g}); all keypoints: median {measured['crop_px']['median']:.2f}, "
            f"95th percentile {measured['crop_px']['p95']:.2f} input px, "
            f"{measured['found_by_one']} found by one model only (per keypoint in {record_path}). "
            "Detect at --precision fp32, or pass --accept-int8 (or a larger --int8-max-px) to go on"
        )
    return verdict


def report_entry(config: DetectConfig, per_keypoint: bool = True) -> dict:
    """What ``detect_report.json`` (``per_keypoint``) and each video's marker (pooled numbers only)
    record of the precision: fp32, or int8 with its models, its crop sets and its agreement."""
    if config.precision != "int8" or not config.int8_model:
        return {"precision": config.precision}
    path = Path(config.int8_model).with_suffix(".json")
    record = _read(path)
    verdict = gate(record, path, config)
    if per_keypoint:
        verdict["per_keypoint"] = record["measured"]["per_keypoint"]
    fields = ("model", "int8_model", "method", "calibration", "check")
    return {"precision": "int8", **{k: record[k] for k in fields}, "agreement": verdict}
