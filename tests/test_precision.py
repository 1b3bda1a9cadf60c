"""``simspine detect --precision int8``: the model quantized on the capture's own crops and cached,
the precision recorded in each video's marker (a change redoes the video), and the gate that stops
detect on a model whose int8 copy disagrees with float32; the crops of frames at a stride."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from simspine_dataset import skeleton as sk
from simspine_dataset.cli import main
from simspine_dataset.config import DetectConfig
from simspine_dataset.io import detections as det_io
from simspine_dataset.stages.detect import REPORT, detect, plan

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from simspine_dataset.stages import precision
from simspine_dataset.synthetic.pose_onnx import fixed_peaks_model, random_simcc_model

# Where the constant model puts its keypoints in the crop, and where its runner-up peaks lie.
NEAR = np.tile([[60.0, 80.0]], (sk.NUM_KEYPOINTS, 1)) + np.arange(sk.NUM_KEYPOINTS)[:, None]
FAR = NEAR + np.array([40.0, 60.0])


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    root = tmp_path_factory.mktemp("precision") / "capture"
    settings = CaptureSettings(seconds=0.4, actions=("Walking", "Sitting"), detections=False, workers=2)
    return generate_capture(root, settings)


@pytest.fixture(scope="module")
def model(capture: Path) -> Path:
    """Keypoints fixed in the crop: int8 keeps them (its peaks are exactly representable)."""
    return fixed_peaks_model(capture.parent / "fixed.onnx", NEAR, 0.6)


@pytest.fixture(scope="module")
def fragile(capture: Path) -> Path:
    """Peaks at FAR win over those at NEAR by 0.001 in float32, below int8's step of 0.6 / 255."""
    return fixed_peaks_model(capture.parent / "fragile.onnx", NEAR, 0.6, runner_up=(FAR, 1e-3))


def statuses(report: dict) -> set[str]:
    return {r["status"] for r in report["results"]}


def test_crop_sets_take_every_subject_in_turn_and_share_no_frame(capture: Path) -> None:
    units, _ = plan(capture, DetectConfig())
    calibration, check = precision.sample(units, "mocap")
    for chosen in (calibration, check):
        assert {v.record.subject for v in chosen} == {"S1", "S9"}
        assert len({v.record.action for v in chosen}) == 2
        assert sum(len(v.frames) for v in chosen) >= precision.CALIBRATION_CROPS
    ordered = [u[0].subject for u in precision.in_turn(units)]
    assert all(a != b for a, b in itertools.pairwise(ordered))  # 16 units each
    used = {(v.record.key, v.camera.id, f) for v in calibration for f in v.frames}
    assert not used & {(v.record.key, v.camera.id, f) for v in check for f in v.frames}
    assert precision.sample(units, "mocap") == (calibration, check)  # the same sample every run


def test_quantized_model_runs_int8_close_to_fp32(capture: Path, tmp_path: Path) -> None:
    """A network with pixel-dependent outputs, calibrated on the capture's crops: QDQ nodes, int8
    weights, and SimCC outputs within a few int8 steps of float32's on crops it never saw."""
    import onnx
    from onnx import numpy_helper

    from simspine_dataset.pose_models import model_input, onnx_session, quantize_int8

    units, _ = plan(capture, DetectConfig())
    calibration, check = precision.sample(units, "mocap")
    crops = precision.cut(calibration, (192, 256), None)
    held_out = precision.cut(check, (192, 256), None)
    fp32 = random_simcc_model(tmp_path / "random.onnx")
    int8 = quantize_int8(fp32, crops.images, tmp_path / "random_int8.onnx")
    graph = onnx.load(str(int8)).graph
    assert {"QuantizeLinear", "DequantizeLinear"} <= {n.op_type for n in graph.node}
    assert any(numpy_helper.to_array(t).dtype == np.int8 for t in graph.initializer)
    tensor = model_input(held_out.images)
    outputs = [onnx_session(path, 2, "cpu").run(None, {"input": tensor}) for path in (fp32, int8)]
    for ours, theirs in zip(*outputs, strict=True):
        step = (ours.max() - ours.min()) / 255  # one uint8 step of the output's range
        error = np.abs(ours - theirs) / step
        assert np.percentile(error, 99) < 3 and np.median(error) < 1
        assert error.max() > 0  # it is quantized: not the same numbers


def test_the_quantized_model_is_made_once_per_model_and_sample(
    capture: Path, model: Path, fragile: Path, tmp_path: Path, monkeypatch
) -> None:
    units, _ = plan(capture, DetectConfig())
    config = DetectConfig(onnx=str(model), precision="int8")
    ready = precision.prepare(tmp_path, units, config)
    made = Path(ready.int8_model)
    record = json.loads(made.with_suffix(".json").read_text())
    assert made.parent == tmp_path / precision.FOLDER and made.is_file()
    assert record["calibration"]["crops"] >= precision.CALIBRATION_CROPS
    assert record["measured"]["passed"] and record["measured"]["crop_px"]["p95"] == 0.0

    def no_quantizing(*args: object) -> None:
        raise AssertionError("quantized again")

    monkeypatch.setattr(precision, "quantize_int8", no_quantizing)
    assert precision.prepare(tmp_path, units, config).int8_model == str(made)  # found, not made
    with pytest.raises(AssertionError, match="quantized again"):  # another model: another file
        precision.prepare(tmp_path, units, DetectConfig(onnx=str(fragile), precision="int8"))
    with pytest.raises(AssertionError, match="quantized again"):  # other crops: another file
        precision.prepare(tmp_path, units[: len(units) // 2], config)


def test_a_change_of_precision_redoes_the_videos(capture: Path, model: Path, tmp_path: Path) -> None:
    out = tmp_path / "detections"
    fp32 = DetectConfig(onnx=str(model))
    int8 = DetectConfig(onnx=str(model), precision="int8")
    assert statuses(detect(capture, out, fp32)) == {"done"}
    report = detect(capture, out, int8)
    assert statuses(report) == {"done"}  # not skipped: the precision changed
    agreed = report["precision"]["agreement"]
    assert agreed["passed"] and set(agreed["per_keypoint"]) == set(sk.NAMES)
    assert report["model"].startswith("fixed.onnx-int8:")
    markers = [json.loads(p.read_text()) for p in out.glob(f"*/*/{det_io.MARKER}")]
    assert {m["key"]["precision"] for m in markers} == {"int8"}
    assert {m["precision"]["agreement"]["crops"] for m in markers} == {agreed["crops"]}
    assert statuses(detect(capture, out, int8)) == {"skipped"}

    videos = [(r.subject, r.sequence, c.id) for r, c in plan(capture, fp32)[0]]
    (maker,) = det_io.makers(out, videos)
    assert maker["precision"] == "int8" and maker["videos"] == len(videos)
    from simspine_dataset.commands.card import _maker_text

    text = _maker_text(maker)
    assert f"{len(videos)} videos by `fixed.onnx-int8:" in text and "at int8 (against fp32 on" in text

    assert statuses(detect(capture, out, fp32)) == {"done"}
    marker_path = next(out.glob(f"*/*/{det_io.MARKER}"))
    marker = json.loads(marker_path.read_text())
    del marker["key"]["precision"]  # a marker written before precision was recorded: float32
    marker_path.write_text(json.dumps(marker))
    assert statuses(detect(capture, out, fp32)) == {"skipped"}


def test_the_gate_stops_detect_on_a_model_that_int8_moves(
    capture: Path, fragile: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "detections"
    argv = ["detect", str(capture), str(out), "--onnx", str(fragile), "--precision", "int8"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    moved = float(np.hypot(40, 60))
    assert err.startswith("simspine: error: int8 disagrees with fp32 on ") and "\n" not in err
    assert f"{moved:.2f} input px (gate 2)" in err and "--accept-int8" in err
    assert not list(out.glob("*/*/frame_*.json")) and not (out / REPORT).exists()

    assert main([*argv, "--accept-int8"]) == 0
    assert "accepted beyond it" in capsys.readouterr().out
    report = json.loads((out / REPORT).read_text())
    agreed = report["precision"]["agreement"]
    assert (agreed["passed"], agreed["accepted"]) == (False, True)
    assert agreed["worst_keypoint"]["p95_crop_px"] == pytest.approx(moved, abs=0.5)
    assert main([*argv, "--int8-max-px", "100"]) == 0  # a looser gate passes; the videos are done
    assert json.loads((out / REPORT).read_text())["videos"]["skipped"] == report["videos"]["done"]


def test_int8_is_refused_where_it_cannot_run(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not mmpose checkpoints"):
        DetectConfig(mmpose_config="c.py", checkpoint="c.pth", precision="int8")
    with pytest.raises(ValueError, match="runs on the CPU"):
        DetectConfig(onnx="m.onnx", precision="int8", device="cuda")
    assert DetectConfig(accept_int8=True).ignored() == ["accept_int8 = True is ignored at --precision fp32"]


def test_frames_at_a_stride_are_cropped_with_their_own_boxes(
    capture: Path, model: Path, tmp_path: Path
) -> None:
    """Every third frame detected at stride 3 equals the same frame detected at stride 1 (the boxes
    were once taken by position in the strided list: frame 30 cropped with frame 10's box)."""
    detect(capture, tmp_path / "all", DetectConfig(onnx=str(model)))
    detect(capture, tmp_path / "third", DetectConfig(onnx=str(model), stride=3))
    compared = 0
    for path in (tmp_path / "third").glob("*/*/frame_*.json"):
        assert path.read_text() == (tmp_path / "all" / path.relative_to(tmp_path / "third")).read_text()
        compared += json.loads(path.read_text())["people"] != []
    assert compared > 100


def test_int8_on_an_executor_runs_the_one_quantized_model(capture: Path, model: Path, tmp_path: Path) -> None:
    """``run_detect`` quantizes once, before its tasks; every task runs that file, the report and
    the markers record its agreement as a local run does."""
    pytest.importorskip("datatrove")
    from simspine_dataset.commands.distributed import run_detect

    config = DetectConfig(onnx=str(model), subjects=("S9",), workers=2, precision="int8")
    report = run_detect(capture, tmp_path / "dt", config, "datatrove", tasks=2)
    assert report["videos"] == {"done": 16, "skipped": 0, "failed": 0}
    assert (
        report["precision"]["agreement"]["passed"]
        and len(list((tmp_path / "dt" / ".int8").glob("*.onnx"))) == 1
    )
    models = {
        json.loads(p.read_text())["key"]["model"] for p in (tmp_path / "dt").glob(f"*/*/{det_io.MARKER}")
    }
    assert models == {report["model"]} and report["model"].startswith("fixed.onnx-int8:")
