"""Batched top-down inference against the ``spinepose`` package's own tool, and the crop geometry."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from simspine_dataset import skeleton as sk
from simspine_dataset.errors import ModelError
from simspine_dataset.pose_models import (
    CropBatch,
    SimccOnnxModel,
    crop_images,
    crop_transform,
    decode_simcc,
    load_model,
    spinepose_file,
)


@pytest.fixture
def onnx_models() -> object:
    """The ONNX model writers (``synthetic.pose_onnx``); only the tests that run a model need them."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from simspine_dataset.synthetic import pose_onnx

    return pose_onnx


SIZE = (192, 256)
THREADS = os.cpu_count() or 1  # as the package runs ONNX Runtime: sums in the same order
# boxes anywhere in a 1000 x 1002 image, two of them clipped by its border (partly outside)
BOXES = np.array(
    [
        [300.2, 200.7, 612.9, 911.4],
        [-60.0, 10.0, 180.5, 420.0],
        [850.0, 700.0, 1100.0, 1080.0],
        [480, 480, 530, 520],
    ]
)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (1002, 1000, 3), dtype=np.uint8)
    ramp = np.linspace(0, 255, 1000, dtype=np.uint8)[None, :, None]
    return np.where(np.arange(1002)[:, None, None] % 7 < 3, ramp, noise).astype(np.uint8)


def ours(model: SimccOnnxModel, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centres, scales = crop_transform(boxes, model.input_size_wh)
    return model.predict(CropBatch(crop_images(image, centres, scales, model.input_size_wh), centres, scales))


def test_batched_inference_equals_the_spinepose_package(
    tmp_path: Path, image: np.ndarray, onnx_models
) -> None:
    rtmpose = pytest.importorskip("spinepose.tools").RTMPose
    path = onnx_models.random_simcc_model(tmp_path / "random.onnx", SIZE, seed=1)
    xy, scores = ours(
        SimccOnnxModel(path, SIZE, threads=THREADS, max_batch=3), image, BOXES
    )  # batches of 3 and 1
    theirs_xy, theirs_scores = rtmpose(str(path), model_input_size=SIZE, hardware_acceleration=False)(
        image, bboxes=BOXES.tolist()
    )
    order = list(sk.TO_SPINETRACK)  # theirs in SpineTrack order, ours in SIMSPINE order
    theirs_xy, theirs_scores = theirs_xy[:, order], theirs_scores[:, order]
    found = theirs_scores > 0
    assert found.mean() > 0.3
    np.testing.assert_allclose(scores, np.where(found, theirs_scores, 0.0), atol=1e-6)
    np.testing.assert_allclose(xy[found], theirs_xy[found], atol=1e-3)
    assert np.isnan(xy[~found]).all()


def test_a_keypoint_without_a_positive_peak_is_missing() -> None:
    simcc_x, simcc_y = np.full((1, 2, 8), -1.0), np.full((1, 2, 10), -1.0)
    simcc_x[0, 0, 5], simcc_y[0, 0, 3] = 0.6, 0.2  # keypoint 0: peaks at x 2.5, y 1.5, score 0.4
    simcc_x[0, 1, 1], simcc_y[0, 1, 1] = 0.3, -0.5  # keypoint 1: mean peak -0.1 <= 0: not found
    xy, scores = decode_simcc(simcc_x, simcc_y, (4, 5))
    np.testing.assert_allclose(xy[0, 0], [2.5, 1.5])
    assert np.isnan(xy[0, 1]).all() and scores[0].tolist() == pytest.approx([0.4, 0.0])


def test_known_crop_peaks_land_on_known_image_pixels(tmp_path: Path, image: np.ndarray, onnx_models) -> None:
    rng = np.random.default_rng(0)
    crop_xy = np.round(rng.uniform([0, 0], SIZE, (sk.NUM_KEYPOINTS, 2)) * 2) / 2  # SimCC's half-pixel bins
    model = SimccOnnxModel(onnx_models.fixed_peaks_model(tmp_path / "peaks.onnx", crop_xy, 0.8, SIZE), SIZE)
    xy, scores = ours(model, image, BOXES)
    for box, got in zip(BOXES, xy, strict=True):  # independent of crop_transform: written out here
        w, h = (box[2:] - box[:2]) * 1.25
        w, h = (w, w * 256 / 192) if w / h > 192 / 256 else (h * 192 / 256, h)
        centre = (box[:2] + box[2:]) / 2
        expected = centre + (crop_xy - np.array(SIZE) / 2) * np.array([w, h]) / np.array(SIZE)
        np.testing.assert_allclose(got[list(sk.FROM_SPINETRACK)], expected, atol=1e-6)
    np.testing.assert_allclose(scores, 0.8, atol=1e-6)


def test_models_are_named_and_missing_weights_say_where_to_put_them(
    tmp_path: Path, monkeypatch, onnx_models
) -> None:
    assert spinepose_file("spinepose-m") == "spinepose-m_32xb256-10e_simspine-256x192.onnx"
    assert spinepose_file("spinepose-s", "v1") == "spinepose-s_32xb256-10e_spinetrack-256x192.onnx"
    assert spinepose_file("spinepose-x") == "spinepose-x_32xb128-10e_spinetrack-384x288.onnx"
    with pytest.raises(ValueError, match="published as v1 only"):
        spinepose_file("spinepose-x", "v2")
    monkeypatch.setattr("simspine_dataset.pose_models.SPINEPOSE_CACHE", tmp_path / "cache")
    monkeypatch.setattr("simspine_dataset.pose_models.SPINEPOSE_URL", "http://127.0.0.1:9/{file}")  # refused
    with pytest.raises(ModelError, match=r"copy spinepose-l_32xb256-10e_simspine-256x192\.onnx there"):
        load_model("spinepose-l")
    cached = onnx_models.random_simcc_model(tmp_path / "cache" / spinepose_file("spinepose-l"), SIZE)
    assert load_model("spinepose-l").identity.startswith("spinepose-l-v2:")  # found in the cache
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"bad\.onnx: cannot be loaded"):
        load_model(onnx=tmp_path / "bad.onnx")
    with pytest.raises(ModelError, match="input"):
        load_model(onnx=cached, input_size_wh=(288, 384))
