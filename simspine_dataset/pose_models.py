"""Top-down 2D pose models for ``simspine detect``: one interface, three sources.

- ``spinepose-s|m|l|x``: the SpinePose package's published ONNX models (``v2``: fine-tuned on
  SIMSPINE, the default where it exists; ``v1``: SpineTrack only), found in the package's own cache
  (``~/.cache/spinepose/hub/checkpoints/<file>``) or fetched by the package's own download;
- ``--onnx PATH``: any ONNX model with SpinePose's SimCC I/O (input (N, 3, H, W) float32, a BGR
  crop normalised with ImageNet's mean and std; outputs ``simcc_x`` (N, 37, r W) then ``simcc_y``
  (N, 37, r H), keypoints in SpineTrack order);
- an mmpose config and checkpoint of our own 2D baseline (``baselines/pose2d``), keypoints in our
  order.

ONNX sources also run at ``int8`` precision (``quantize_int8``: ONNX Runtime's static QDQ
quantization, calibrated on crops the caller chooses; ``agreement`` measures it against float32).

Every model takes a batch of person boxes of many frames at once (``TopDownModel.predict``) and
returns keypoints in full-image pixels, SIMSPINE order, NaN with score 0 where a keypoint is not
found. The crop is RTMPose's top-down affine (the box padded by 1.25, grown to the input's aspect,
no rotation), so ours and the package's see the same pixels.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.errors import ModelError
from simspine_dataset.io.identity import content_digest

if TYPE_CHECKING:
    import onnxruntime

log = logging.getLogger(__name__)

BOX_PADDING = 1.25  # RTMPose's (and SpinePose's) box padding before the affine crop
MEAN_BGR = (123.675, 116.28, 103.53)  # as SpinePose applies them, to the BGR crop
STD_BGR = (58.395, 57.12, 57.375)
PRECISIONS = ("fp32", "int8")
SPINEPOSE_URL = "https://huggingface.co/dfki-av/spinepose/resolve/main/{file}"
SPINEPOSE_CACHE = Path("~/.cache/spinepose/hub/checkpoints")  # the package's own cache
# name -> (file template, input (W, H), versions published); {data}: simspine (v2) | spinetrack (v1)
SPINEPOSE_MODELS: dict[str, tuple[str, tuple[int, int], tuple[str, ...]]] = {
    "spinepose-s": ("spinepose-s_32xb256-10e_{data}-256x192.onnx", (192, 256), ("v2", "v1")),
    "spinepose-m": ("spinepose-m_32xb256-10e_{data}-256x192.onnx", (192, 256), ("v2", "v1")),
    "spinepose-l": ("spinepose-l_32xb256-10e_{data}-256x192.onnx", (192, 256), ("v2", "v1")),
    "spinepose-x": ("spinepose-x_32xb128-10e_{data}-384x288.onnx", (288, 384), ("v1",)),
}
_TRAINING_DATA = {"v2": "simspine", "v1": "spinetrack"}


def crop_transform(
    boxes_xyxy: np.ndarray, input_size_wh: tuple[int, int], padding: float = BOX_PADDING
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) xyxy px -> crop centres (N, 2) and sizes (N, 2) px, padded and grown to the
    input's aspect ratio (RTMPose's ``bbox_xyxy2cs`` + ``top_down_affine``)."""
    boxes = np.asarray(boxes_xyxy, float).reshape(-1, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = (boxes[:, 2:] - boxes[:, :2]) * padding
    aspect = input_size_wh[0] / input_size_wh[1]
    wide = size[:, 0] > size[:, 1] * aspect
    scales = np.where(
        wide[:, None],
        np.column_stack([size[:, 0], size[:, 0] / aspect]),
        np.column_stack([size[:, 1] * aspect, size[:, 1]]),
    )
    return centres, scales


def warp_matrix(centre: np.ndarray, scale: np.ndarray, input_size_wh: tuple[int, int]) -> np.ndarray:
    """The 2 x 3 affine taking full-image pixels into the crop (from three float32 point pairs, as
    mmpose and SpinePose build it, so the warped pixels are the same)."""
    import cv2

    w, h = input_size_wh
    src = np.array([centre, centre + np.array([0, -scale[0] / 2])], np.float32)
    dst = np.array([[w / 2, h / 2], [w / 2, h / 2 - w / 2]], np.float32)
    # the third point of each triangle: the second turned 90 degrees about the first, in float32
    src = np.vstack([src, src[1] + np.array([-1, 1], np.float32) * (src[0] - src[1])[::-1]])
    dst = np.vstack([dst, dst[1] + np.array([-1, 1], np.float32) * (dst[0] - dst[1])[::-1]])
    return cv2.getAffineTransform(src, dst)


def crop_images(
    image_bgr: np.ndarray, centres: np.ndarray, scales: np.ndarray, input_size_wh: tuple[int, int]
) -> np.ndarray:
    """The crops (N, H, W, 3) uint8 of one image for boxes given as centres and sizes (N, 2)."""
    import cv2

    return np.stack(
        [
            cv2.warpAffine(image_bgr, warp_matrix(c, s, input_size_wh), input_size_wh, flags=cv2.INTER_LINEAR)
            for c, s in zip(centres, scales, strict=True)
        ]
    )


def crop_to_image(
    points_crop: np.ndarray, centres: np.ndarray, scales: np.ndarray, input_size_wh: tuple[int, int]
) -> np.ndarray:
    """Crop pixels (N, K, 2) -> full-image pixels (N, K, 2), the inverse of ``warp_matrix``."""
    size = np.asarray(input_size_wh, float)
    return points_crop / size * scales[:, None] + centres[:, None] - scales[:, None] / 2


def decode_simcc(
    simcc_x: np.ndarray, simcc_y: np.ndarray, input_size_wh: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """SimCC vectors (N, K, r W), (N, K, r H) -> crop pixels (N, K, 2) and scores (N, K).

    Location = argmax / r; score = the mean of the two peaks (not a probability); a keypoint whose
    score is <= 0 is not found (NaN)."""
    ratio = simcc_x.shape[-1] / input_size_wh[0]
    xy = np.stack([simcc_x.argmax(-1), simcc_y.argmax(-1)], axis=-1).astype(float) / ratio
    scores = 0.5 * (simcc_x.max(-1) + simcc_y.max(-1)).astype(float)
    xy[scores <= 0] = np.nan
    return xy, np.where(scores > 0, scores, 0.0)


@dataclass(frozen=True)
class CropBatch:
    """Person crops of one or more frames: ``images`` (N, H, W, 3) uint8 BGR, and the crop centres
    and sizes (N, 2) in full-image pixels that map crop pixels back to the image."""

    images: np.ndarray
    centres: np.ndarray
    scales: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 4 or self.centres.shape != (n, 2) or self.scales.shape != (n, 2):
            raise ValueError(
                f"CropBatch wants images (N, H, W, 3), centres and scales (N, 2); got "
                f"{self.images.shape}, {self.centres.shape}, {self.scales.shape}"
            )


def model_input(crops_bgr: np.ndarray) -> np.ndarray:
    """SpinePose's input tensor (N, 3, H, W) float32 of crops (N, H, W, 3) uint8 BGR."""
    return ((crops_bgr - np.array(MEAN_BGR)) / np.array(STD_BGR)).astype(np.float32).transpose(0, 3, 1, 2)


class TopDownModel(Protocol):
    """What ``detect`` needs of a model: its input size, an identity that changes with its weights,
    and batched prediction (full-image pixels (N, 37, 2), SIMSPINE order; scores (N, 37))."""

    name: str
    identity: str
    input_size_wh: tuple[int, int]

    def predict(self, batch: CropBatch) -> tuple[np.ndarray, np.ndarray]: ...


def default_threads(workers: int = 1) -> int:
    """CPU threads for one worker's inference: the machine's cores shared among the workers."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def onnx_session(path: str | Path, threads: int, device: str = "auto") -> onnxruntime.InferenceSession:
    """An ONNX Runtime session: the CUDA provider when ``device`` allows it and it is installed
    with a GPU present, else the CPU with ``threads`` threads."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        raise ModelError(path, 'needs onnxruntime: pip install -e ".[detect]"') from e
    providers = ["CPUExecutionProvider"]
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    elif device == "cuda":
        raise ModelError(
            path, "--device cuda, but onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as e:  # onnxruntime raises its own (unexported) error types
        raise ModelError(path, f"cannot be loaded by ONNX Runtime ({e})") from e


class SimccOnnxModel:
    """An ONNX model with SpinePose's SimCC I/O, run on whole batches of crops."""

    def __init__(
        self,
        path: str | Path,
        input_size_wh: tuple[int, int] = (192, 256),
        name: str | None = None,
        threads: int = 1,
        device: str = "auto",
        max_batch: int = 64,
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(self.path, "ONNX model not found")
        self.name = name or self.path.name
        self.identity = f"{self.name}:{content_digest(self.path)}:{input_size_wh[0]}x{input_size_wh[1]}"
        self.input_size_wh = (int(input_size_wh[0]), int(input_size_wh[1]))
        self.session = onnx_session(self.path, threads, device)
        self._check_io()
        batch = self.session.get_inputs()[0].shape[0]
        self.max_batch = 1 if batch == 1 else max_batch  # a model exported for one crop at a time

    def _check_io(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = inputs[0].shape if len(inputs) == 1 else None
        want = (3, self.input_size_wh[1], self.input_size_wh[0])
        if (
            shape is None
            or len(shape) != 4
            or any(isinstance(d, int) and d != w for d, w in zip(shape[1:], want, strict=True))
        ):
            raise ModelError(
                self.path, f"input {shape} is not (N, 3, {want[1]}, {want[2]}) (see --input-size)"
            )
        if len(outputs) != 2:
            raise ModelError(self.path, f"has {len(outputs)} outputs, expected simcc_x and simcc_y")

    def predict(self, batch: CropBatch) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (N, 37, 2) full-image px, SIMSPINE order, and scores (N, 37)."""
        xy_parts, score_parts = [], []
        for start in range(0, len(batch.images), self.max_batch):
            tensor = model_input(batch.images[start : start + self.max_batch])
            simcc_x, simcc_y = self.session.run(None, {self.session.get_inputs()[0].name: tensor})
            if simcc_x.shape[1] != sk.NUM_KEYPOINTS:
                raise ModelError(
                    self.path, f"outputs {simcc_x.shape[1]} keypoints, expected {sk.NUM_KEYPOINTS}"
                )
            xy, scores = decode_simcc(simcc_x, simcc_y, self.input_size_wh)
            xy_parts.append(xy)
            score_parts.append(scores)
        xy, scores = np.concatenate(xy_parts), np.concatenate(score_parts)
        xy = crop_to_image(xy, batch.centres, batch.scales, self.input_size_wh)
        order = list(sk.TO_SPINETRACK)  # SpineTrack -> SIMSPINE order
        return xy[:, order], scores[:, order]


_NO_WEIGHTS_ONLY = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


@contextmanager
def full_unpickling() -> Iterator[None]:
    """``torch.load`` unpickles fully inside this block only. mmengine 0.10.7 saves numpy objects in
    its checkpoints and loads them with torch.load's default, which torch >= 2.6 made
    ``weights_only=True``: they no longer load. The checkpoints loaded here are the user's own (or
    their chosen COCO ones: ``simspine detect --checkpoint``, the 2D baseline), trusted as code;
    the process's setting is restored after."""
    before = os.environ.get(_NO_WEIGHTS_ONLY)
    os.environ[_NO_WEIGHTS_ONLY] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_NO_WEIGHTS_ONLY, None)
        else:
            os.environ[_NO_WEIGHTS_ONLY] = before


class MmposeModel:
    """A checkpoint of our mmpose 2D baseline (its config and ``.pth``), batched over crops.

    The crops are cut here exactly as for the ONNX models; mmpose's own data preprocessor
    normalises them and its codec decodes the heatmaps or SimCC vectors."""

    def __init__(self, config: str | Path, checkpoint: str | Path, device: str = "auto") -> None:
        try:
            from mmpose.apis import init_model
        except ImportError as e:
            raise ModelError(config, "needs the mmpose stack: bash baselines/pose2d/install.sh") from e
        for path in (config, checkpoint):
            if not Path(path).is_file():
                raise ModelError(path, "not found")
        self.device = "cpu" if device == "auto" else device
        with full_unpickling():
            self.model = init_model(str(config), str(checkpoint), device=self.device)
        w, h = self.model.cfg.codec["input_size"]
        self.input_size_wh = (int(w), int(h))
        self.name = Path(config).stem
        self.identity = f"{self.name}:{content_digest(checkpoint)}:{w}x{h}"

    def predict(self, batch: CropBatch) -> tuple[np.ndarray, np.ndarray]:
        """Keypoints (N, 37, 2) full-image px, SIMSPINE order, and scores (N, 37)."""
        import torch
        from mmengine.structures import InstanceData
        from mmpose.structures import PoseDataSample

        w, h = self.input_size_wh
        flip_indices = self.model.dataset_meta["flip_indices"]  # for configs that test with flipping
        samples = []
        for centre, scale in zip(batch.centres, batch.scales, strict=True):
            box = np.r_[centre - scale / 2, centre + scale / 2][None]
            sample = PoseDataSample(gt_instances=InstanceData(bboxes=box, bbox_scores=np.ones(1)))
            sample.set_metainfo({"input_size": (w, h), "input_center": centre, "input_scale": scale,
                                 "flip_indices": flip_indices})  # fmt: skip
            samples.append(sample)
        inputs = [torch.from_numpy(np.ascontiguousarray(c.transpose(2, 0, 1))) for c in batch.images]
        with torch.no_grad():
            results = self.model.test_step({"inputs": inputs, "data_samples": samples})
        xy = np.stack([r.pred_instances.keypoints[0] for r in results]).astype(float)
        scores = np.stack([r.pred_instances.keypoint_scores[0] for r in results]).astype(float)
        xy[scores <= 0] = np.nan
        return xy, np.where(scores > 0, scores, 0.0)


def spinepose_file(name: str, version: str | None = None) -> str:
    """The published file of a SpinePose model (``version`` None: the latest published)."""
    if name not in SPINEPOSE_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(SPINEPOSE_MODELS)}")
    template, _, versions = SPINEPOSE_MODELS[name]
    version = version or versions[0]
    if version not in versions:
        raise ValueError(f"{name} is published as {', '.join(versions)} only, not {version}")
    return template.format(data=_TRAINING_DATA[version])


def spinepose_weights(name: str, version: str | None = None) -> Path:
    """The local path of a published SpinePose model: from the package's cache, else downloaded by
    the package itself. Raises ``ModelError`` saying where to copy the file on an offline machine."""
    file = spinepose_file(name, version)
    cached = SPINEPOSE_CACHE.expanduser() / file
    if cached.is_file():
        return cached
    try:
        from spinepose.tools.utils.file import download_checkpoint

        return Path(download_checkpoint(SPINEPOSE_URL.format(file=file)))
    except Exception as e:  # ImportError, or whatever urllib raises offline
        raise ModelError(
            cached,
            f"weights of {name} not cached and not downloadable ({type(e).__name__}: {e}); copy "
            f"{file} there (from {SPINEPOSE_URL.format(file=file)}) or pass --onnx PATH",
        ) from e


def onnx_source(
    model: str = "spinepose-m",
    version: str | None = None,
    onnx: str | Path | None = None,
    input_size_wh: tuple[int, int] | None = None,
) -> tuple[Path, tuple[int, int], str]:
    """The float32 ONNX file a user named (``--onnx``, else a SpinePose name), its input size and
    the name it is reported by."""
    if onnx:
        return Path(onnx), input_size_wh or (192, 256), Path(onnx).name
    path = spinepose_weights(model, version)
    return (
        path,
        input_size_wh or SPINEPOSE_MODELS[model][1],
        f"{model}-{version or SPINEPOSE_MODELS[model][2][0]}",
    )


def load_model(
    model: str = "spinepose-m",
    *,
    version: str | None = None,
    onnx: str | Path | None = None,
    input_size_wh: tuple[int, int] | None = None,
    mmpose_config: str | Path | None = None,
    checkpoint: str | Path | None = None,
    threads: int = 1,
    device: str = "auto",
    int8: str | Path | None = None,
) -> TopDownModel:
    """The model a user named: an mmpose config + checkpoint, an ONNX file, or a SpinePose name;
    ``int8``: the quantized file of that ONNX source (``quantize_int8``) runs in its place."""
    if mmpose_config or checkpoint:
        if not (mmpose_config and checkpoint):
            raise ValueError("an mmpose model needs both its config and its checkpoint")
        if int8:
            raise ValueError(
                "int8 precision is for ONNX models (SpinePose's, --onnx), not mmpose checkpoints"
            )
        return MmposeModel(mmpose_config, checkpoint, device)
    path, size, name = onnx_source(model, version, onnx, input_size_wh)
    if int8:
        path, name = Path(int8), f"{name}-int8"
    return SimccOnnxModel(path, size, name=name, threads=threads, device=device)


def quantize_int8(model: str | Path, calibration: np.ndarray, out: str | Path) -> Path:
    """ONNX Runtime's static quantization of a float32 SimCC model into ``out``: QDQ format, int8
    weights per output channel, uint8 activations whose ranges are the minimum and maximum seen on
    ``calibration`` (crops (N, H, W, 3) uint8 BGR, normalised as ``predict`` feeds them). The graph is
    first put through ONNX Runtime's pre-processing (shape inference, optimisation), as its
    documentation asks. Written to a temporary name and renamed when complete."""
    import tempfile

    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quant_pre_process,
            quantize_static,
        )
    except ImportError as e:
        raise ModelError(
            model, "int8 needs onnxruntime and onnx: pip install 'simspine-dataset[detect]'"
        ) from e
    from simspine_dataset.io.atomic import atomic_path

    if len(calibration) == 0:
        raise ValueError("int8 calibration needs at least one crop")
    import onnx

    input_name = onnx.load(str(model), load_external_data=False).graph.input[0].name
    tensors = model_input(np.asarray(calibration))

    class Crops(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(np.array_split(tensors, max(1, len(tensors) // 8)))

        def get_next(self) -> dict | None:
            batch = next(self.batches, None)
            return None if batch is None else {input_name: batch}

    with tempfile.TemporaryDirectory(prefix="simspine-int8-") as work, atomic_path(out) as tmp:
        prepared = Path(work) / "prepared.onnx"
        try:
            quant_pre_process(str(model), str(prepared), skip_symbolic_shape=True)
        except Exception as e:  # onnxruntime's optimiser raises its own (unexported) error types
            raise ModelError(model, f"ONNX Runtime cannot prepare it for quantization ({e})") from e
        quantize_static(
            str(prepared), str(tmp), Crops(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )  # fmt: skip
    return Path(out)


@dataclass(frozen=True)
class Agreement:
    """How far one model's keypoints lie from a reference model's on the same crops, (N, 37) each,
    SIMSPINE order: distances in the model's input pixels (crop pixels: independent of the image's
    resolution and of the person's size) and in full-image pixels, score differences, and the
    keypoints found by one model only (their distance: the crop's diagonal). NaN where neither found it."""

    crop_px: np.ndarray
    image_px: np.ndarray
    score_diff: np.ndarray
    found_by_one: np.ndarray


def agreement(reference: TopDownModel, other: TopDownModel, batch: CropBatch) -> Agreement:
    """``other`` against ``reference`` on ``batch`` (``Agreement``)."""
    xy_ref, score_ref = reference.predict(batch)
    xy, scores = other.predict(batch)
    offset = xy - xy_ref
    per_crop_px = np.asarray(reference.input_size_wh, float) / batch.scales  # input px per image px
    crop_px = np.linalg.norm(offset * per_crop_px[:, None], axis=-1)
    image_px = np.linalg.norm(offset, axis=-1)
    one = np.isfinite(xy).all(-1) != np.isfinite(xy_ref).all(-1)
    crop_px[one] = float(np.hypot(*reference.input_size_wh))
    image_px[one] = np.broadcast_to(np.hypot(*batch.scales.T)[:, None], one.shape)[one]
    return Agreement(crop_px, image_px, scores - score_ref, one)
