"""Small ONNX models with SpinePose's I/O, for tests, benchmarks and offline runs of ``detect``.

SpinePose's weights cannot be downloaded everywhere; these stand in for them with the same
signature: input ``(N, 3, H, W)`` float32, outputs ``simcc_x (N, 37, 2 W)`` then
``simcc_y (N, 37, 2 H)`` (keypoints in SpineTrack order). Built with ``onnx.helper`` (the ``onnx``
package, a development dependency):

- ``random_simcc_model``: a seeded random network whose outputs depend on the pixels (parity tests);
- ``fixed_peaks_model``: SimCC peaks at given crop positions whatever the image (geometry tests, a
  mean-pose detector); with ``runner_up``, a second, higher peak elsewhere that wins by less than
  int8 can resolve: float32 and int8 copies of it disagree (the int8 gate's test);
- ``conv_simcc_model``: a stride-2 convolution stack of a chosen width, compute comparable to
  RTMPose-s, for benchmarks;
- ``flat_lifter_model``: the official SIMSPINE lifter's I/O, a weak-perspective pose (plumbing tests).
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from simspine_dataset import skeleton as sk

OPSET = 17
SPLIT_RATIO = 2


def _write(
    path: str | Path,
    name: str,
    nodes: list,
    initializers: dict[str, np.ndarray],
    inputs: dict[str, list],
    outputs: dict[str, list],
) -> Path:
    """Check and save a one-graph float32 model (``inputs``/``outputs``: name -> shape)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def values(shapes: dict[str, list]) -> list:
        return [helper.make_tensor_value_info(k, TensorProto.FLOAT, v) for k, v in shapes.items()]

    tensors = [
        numpy_helper.from_array(v.astype(np.float32) if v.dtype.kind == "f" else v, k)
        for k, v in initializers.items()
    ]
    graph = helper.make_graph(nodes, name, values(inputs), values(outputs), tensors)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def _save(nodes: list, initializers: dict[str, np.ndarray], size_wh: tuple[int, int], path: Path) -> Path:
    """A model with SpinePose's SimCC I/O."""
    w, h = size_wh
    K = sk.NUM_KEYPOINTS
    outputs = {"simcc_x": ["batch", K, SPLIT_RATIO * w], "simcc_y": ["batch", K, SPLIT_RATIO * h]}
    return _write(path, "simcc", nodes, initializers, {"input": ["batch", 3, h, w]}, outputs)


def _heads(
    features: str, channels: int, grid_hw: tuple[int, int], size_wh: tuple[int, int], rng: np.random.Generator
) -> tuple[list, dict]:
    """SimCC heads on a (N, C, h, w) feature map: pool one axis, mix channels to 37 keypoints,
    a linear map to the 2 W (or 2 H) bins."""
    from onnx import helper

    K, (gh, gw), (w, h) = sk.NUM_KEYPOINTS, grid_hw, size_wh
    nodes, weights = [], {}
    for axis, name, cells, bins in ((2, "simcc_x", gw, SPLIT_RATIO * w), (3, "simcc_y", gh, SPLIT_RATIO * h)):
        weights[f"{name}_mix"] = rng.normal(0, 1 / np.sqrt(channels), (channels, K))
        weights[f"{name}_bins"] = rng.normal(0, 1 / np.sqrt(cells), (cells, bins))
        nodes += [
            helper.make_node("ReduceMean", [features], [f"{name}_pool"], axes=[axis], keepdims=0),
            helper.make_node("Transpose", [f"{name}_pool"], [f"{name}_t"], perm=[0, 2, 1]),
            helper.make_node("MatMul", [f"{name}_t", f"{name}_mix"], [f"{name}_k"]),
            helper.make_node("Transpose", [f"{name}_k"], [f"{name}_kt"], perm=[0, 2, 1]),
            helper.make_node("MatMul", [f"{name}_kt", f"{name}_bins"], [name]),
        ]
    return nodes, weights


def random_simcc_model(path: str | Path, size_wh: tuple[int, int] = (192, 256), seed: int = 0) -> Path:
    """A seeded random network (one 4 x 4 stride-4 convolution, ReLU, SimCC heads)."""
    from onnx import helper

    rng = np.random.default_rng(seed)
    channels = 8
    weights = {"conv_w": rng.normal(0, 0.05, (channels, 3, 4, 4)), "conv_b": rng.normal(0, 0.1, channels)}
    nodes = [
        helper.make_node("Conv", ["input", "conv_w", "conv_b"], ["conv"], strides=[4, 4]),
        helper.make_node("Relu", ["conv"], ["features"]),
    ]
    heads, head_weights = _heads("features", channels, (size_wh[1] // 4, size_wh[0] // 4), size_wh, rng)
    return _save(nodes + heads, weights | head_weights, size_wh, path)


def fixed_peaks_model(
    path: str | Path,
    crop_xy_px: np.ndarray,
    peak: float = 1.0,
    size_wh: tuple[int, int] = (192, 256),
    runner_up: tuple[np.ndarray, float] | None = None,
) -> Path:
    """Peaks (value ``peak``) at crop pixels (37, 2), SpineTrack order, rounded to SimCC's half-pixel
    bins, for every image; 0 elsewhere. ``runner_up`` (crop pixels (37, 2), margin): peaks of
    ``peak + margin`` there too, which win in float32; a margin below the outputs' int8 step
    (``peak / 255``) ties in an int8 copy, whose argmax then takes the lower bin: put them past
    ``crop_xy_px`` and the int8 keypoints move by the distance between the two."""
    from onnx import helper

    w, h = size_wh

    def bins(points: np.ndarray) -> np.ndarray:
        scaled = np.round(np.asarray(points, float) * SPLIT_RATIO).astype(int)
        return np.clip(scaled, 0, [SPLIT_RATIO * w - 1, SPLIT_RATIO * h - 1])

    peaks = {
        "x": np.zeros((1, sk.NUM_KEYPOINTS, SPLIT_RATIO * w)),
        "y": np.zeros((1, sk.NUM_KEYPOINTS, SPLIT_RATIO * h)),
    }
    for points, value in [(crop_xy_px, peak), *([(runner_up[0], peak + runner_up[1])] if runner_up else [])]:
        xy = bins(points)
        peaks["x"][0, np.arange(sk.NUM_KEYPOINTS), xy[:, 0]] = value
        peaks["y"][0, np.arange(sk.NUM_KEYPOINTS), xy[:, 1]] = value
    nodes = [  # outputs = peaks + 0 x (per-image mean), so the batch size follows the input
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["mean", "zero"], ["zeros"]),
        helper.make_node("Squeeze", ["zeros", "squeeze_axes"], ["zeros_n11"]),
        helper.make_node("Add", ["zeros_n11", "peaks_x"], ["simcc_x"]),
        helper.make_node("Add", ["zeros_n11", "peaks_y"], ["simcc_y"]),
    ]
    weights = {
        "zero": np.zeros(1),
        "squeeze_axes": np.array([3], np.int64),
        "peaks_x": peaks["x"],
        "peaks_y": peaks["y"],
    }
    return _save(nodes, weights, size_wh, path)


def conv_simcc_model(
    path: str | Path, width: int = 64, size_wh: tuple[int, int] = (192, 256), seed: int = 0
) -> Path:
    """A benchmark network: five 3 x 3 stride-2 convolutions (3 -> w/4 -> w/2 -> w -> 2w -> 4w
    channels), ReLU, SimCC heads. ``width`` 216 is ~1.4 GFLOP (0.7 G multiply-adds) per 256 x 192
    crop, RTMPose-s's 0.68 G."""
    from onnx import helper

    rng = np.random.default_rng(seed)
    channels = [3, width // 4, width // 2, width, 2 * width, 4 * width]
    nodes, weights, current = [], {}, "input"
    for i, (c_in, c_out) in enumerate(itertools.pairwise(channels)):
        weights[f"w{i}"] = rng.normal(0, np.sqrt(2 / (9 * c_in)), (c_out, c_in, 3, 3))
        weights[f"b{i}"] = np.zeros(c_out)
        nodes += [
            helper.make_node(
                "Conv", [current, f"w{i}", f"b{i}"], [f"c{i}"], strides=[2, 2], pads=[1, 1, 1, 1]
            ),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
        ]
        current = f"r{i}"
    grid = (size_wh[1] // 32, size_wh[0] // 32)
    heads, head_weights = _heads(current, channels[-1], grid, size_wh, rng)
    return _save(nodes + heads, weights | head_weights, size_wh, path)


def flat_lifter_model(path: str | Path) -> Path:
    """A lifter with the official SIMSPINE lifter's I/O ((N, 37, 2) normalised -> (N, 37, 3)) that
    returns its input on the image plane, depth 0: a weak-perspective pose, for plumbing tests."""
    from onnx import helper

    K = sk.NUM_KEYPOINTS
    nodes = [helper.make_node("Pad", ["input", "pads"], ["output"], mode="constant")]
    pads = {"pads": np.array([0, 0, 0, 0, 0, 1], np.int64)}
    return _write(path, "flat_lifter", nodes, pads, {"input": ["batch", K, 2]}, {"output": ["batch", K, 3]})


def person_detector_model(
    path: str | Path,
    boxes_cxcywh: np.ndarray,
    person_logits: np.ndarray,
    size_hw: tuple[int, int] = (576, 576),
) -> Path:
    """A person detector with RF-DETR's I/O as SpinePose runs it (input (1, 3, H, W); outputs boxes
    (1, Q, 4) normalised cx, cy, w, h, then logits (1, Q, 2), class 1 = person) that reports the
    given boxes and person logits whatever the image."""
    from onnx import helper

    boxes = np.asarray(boxes_cxcywh, float)[None]
    logits = np.stack([np.full(len(person_logits), -9.0), np.asarray(person_logits, float)], axis=-1)[None]
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Mul", ["mean", "zero"], ["zeros"]),
        helper.make_node("Squeeze", ["zeros", "squeeze_axes"], ["zeros_n11"]),
        helper.make_node("Add", ["zeros_n11", "boxes"], ["dets"]),
        helper.make_node("Add", ["zeros_n11", "logits"], ["labels"]),
    ]
    weights = {"zero": np.zeros(1), "squeeze_axes": np.array([3], np.int64), "boxes": boxes, "logits": logits}
    q = len(boxes[0])
    return _write(path, "person_detector", nodes, weights, {"input": [1, 3, *size_hw]},
                  {"dets": [1, q, 4], "labels": [1, q, 2]})  # fmt: skip
