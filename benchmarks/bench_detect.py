"""simspine detect: crops/s against the spinepose package's own per-box loop, same model, same machine.

    python benchmarks/bench_detect.py [--arch rtmpose-m|conv] [--onnx MODEL] [--precision fp32|int8]
        [--seconds 4] [--out /tmp/bench_detect]

A synthetic capture (S1, Walking, both takes, four cameras, 1000 x 1000 videos) is detected twice
with the same ONNX model and the same mocap boxes. The model: ``rtmpose-m`` (default, needs the
mmpose stack) is our RTMPose-m config (``baselines/pose2d/configs``: SpinePose-m's architecture,
37 keypoints, SimCC outputs) with random weights, exported by ``torch.onnx``: SpinePose-m's compute
without its weights; ``conv`` is ``synthetic.pose_onnx.conv_simcc_model`` (no mmpose needed).

- ours: ``detect`` (sequential decode in a thread, crops of many frames per inference call), at
  batch 32 and at batch 1 (to separate batching from the overlap); with ``--precision int8`` also
  at int8 (batch 32; the quantization, made once per model and capture, timed apart);
- the package's loop: frames read with ``cv2.VideoCapture`` as its video mode reads them, then
  ``spinepose.tools.RTMPose(image, bboxes=[box])`` one box per call (its API), the same files
  written.

Prints crops/s of each and the ratio, our time split (decode, crop, inference, write; they overlap),
the JSON files' write and read cost per camera-frame, and the plan for the real capture
(2,137,064 camera-frames) on this machine.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import time
from pathlib import Path

import numpy as np

import baselines.pose2d  # noqa: F401  (a stand-in torchvision where none is installed, for mmpose)

REAL_CAMERA_FRAMES = 2_137_064


def gflops(width: int) -> float:
    """Multiply-adds x 2 of ``conv_simcc_model`` on one 256 x 192 crop (convolutions dominate)."""
    channels = [3, width // 4, width // 2, width, 2 * width, 4 * width]
    h, w, total = 256, 192, 0.0
    for c_in, c_out in itertools.pairwise(channels):
        h, w = h // 2, w // 2
        total += 2 * 9 * c_in * c_out * h * w
    return total / 1e9


def export_rtmpose_m(path: Path) -> Path:
    """Our RTMPose-m config with random weights as an ONNX file with SpinePose's I/O."""
    import torch
    from mmpose.apis import init_model  # after baselines.pose2d: torchvision's stand-in

    model = init_model(
        "baselines/pose2d/configs/rtmpose-m_8xb256-420e_simspine-256x192.py", device="cpu"
    ).eval()

    class SimccOutputs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model.head(self.model.extract_feat(x))

    torch.onnx.export(
        SimccOutputs(), torch.zeros(1, 3, 256, 192), str(path), dynamo=False, input_names=["input"],
        output_names=["simcc_x", "simcc_y"], dynamic_axes={"input": {0: "batch"}}, opset_version=17,
    )  # fmt: skip
    return path


def package_loop(capture: Path, out: Path, model: Path) -> tuple[int, float]:
    """Detect every video as the package's video mode does (``cv2.VideoCapture``, then
    ``RTMPose(image, bboxes=[box])`` one box per call), with our mocap boxes and our files;
    returns (crops, seconds)."""
    import cv2
    from spinepose.tools import RTMPose

    from simspine_dataset import skeleton as sk
    from simspine_dataset.io import detections as det_io
    from simspine_dataset.stages.capture import discover
    from simspine_dataset.stages.crops import mocap_boxes, usable_box

    tool = RTMPose(str(model), model_input_size=(192, 256), hardware_acceleration=False)
    order = list(sk.TO_SPINETRACK)
    crops, start = 0, time.perf_counter()
    for record in discover(capture).sequences:
        for camera in record.cameras:
            boxes = mocap_boxes(record, camera)
            folder = det_io.video_folder(out, record.subject, record.sequence, camera.id)
            folder.mkdir(parents=True, exist_ok=True)
            video = cv2.VideoCapture(str(record.files.videos[camera.id]))
            for index in range(record.n_frames):
                ok, image = video.read()
                if not ok:
                    break
                if usable_box(boxes[index]):  # the camera sees the person
                    keypoints, scores = tool(image, bboxes=[boxes[index].tolist()])
                    text = det_io.frame_json(keypoints[0][order], scores[0][order])
                    crops += 1
                else:
                    text = det_io.frame_json(None, None)
                (folder / det_io.frame_file(index)).write_text(text)
            video.release()
    return crops, time.perf_counter() - start


def ours(
    capture: Path, out: Path, model: Path, batch: int, workers: int = 1, precision: str = "fp32"
) -> tuple[int, float, dict]:
    """(crops, seconds, time split) of ``detect``; at int8 the quantization is made first and not
    counted (it is made once per model and capture, and kept)."""
    from simspine_dataset.config import DetectConfig
    from simspine_dataset.stages.detect import detect, plan
    from simspine_dataset.stages.precision import prepare

    for folder in out.glob("S*"):  # the detections, not the quantized model (.int8)
        shutil.rmtree(folder)
    config = DetectConfig(onnx=str(model), batch_size=batch, workers=workers, precision=precision,
                          accept_int8=precision == "int8")  # fmt: skip  # random weights agree with nothing
    prepare(out, plan(capture, config)[0], config)
    start = time.perf_counter()
    report = detect(capture, out, config)
    seconds = time.perf_counter() - start
    split: dict[str, float] = {}
    for result in report["results"]:
        for key, value in result["seconds"].items():
            split[key] = split.get(key, 0.0) + value
    return sum(r["people"] for r in report["results"]), seconds, split


def read_cost(out: Path) -> tuple[int, float]:
    from simspine_dataset.io import detections as det_io

    frames, start = 0, time.perf_counter()
    for folder in sorted(out.glob("*/*.*")):
        if not folder.is_dir():
            continue
        sequence, camera = folder.name.rsplit(".", 1)
        n = len(list(folder.glob("frame_*.json")))
        det_io.read_sequence(out, folder.parent.name, sequence, camera, n)
        frames += n
    return frames, time.perf_counter() - start


def main() -> None:
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture
    from simspine_dataset.synthetic.pose_onnx import conv_simcc_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--arch", choices=["rtmpose-m", "conv"], default="rtmpose-m")
    parser.add_argument("--width", type=int, default=216, help="conv: channels (216: ~RTMPose-s compute)")
    parser.add_argument("--onnx", type=Path, help="this model instead (e.g. an exported checkpoint)")
    parser.add_argument("--precision", choices=["fp32", "int8"], default="fp32")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_detect"))
    args = parser.parse_args()
    capture = args.out / "capture"
    if not (capture / "metadata.xml").is_file():
        settings = CaptureSettings(
            subjects=("S1",), actions=("Walking",), seconds=args.seconds, detections=False
        )
        generate_capture(capture, settings)
    if args.onnx:
        model = args.onnx
        print(f"model: {model}; {os.cpu_count()} cores")
    elif args.arch == "rtmpose-m":
        model = export_rtmpose_m(args.out / "rtmpose-m.onnx")
        print(f"model: RTMPose-m (SpinePose-m's architecture), random weights; {os.cpu_count()} cores")
    else:
        model = conv_simcc_model(args.out / f"conv{args.width}.onnx", args.width)
        print(f"model: conv_simcc_model width {args.width}, {gflops(args.width):.2f} GFLOP per crop")
    if args.precision == "int8":
        start = time.perf_counter()
        n8, t8, split8 = ours(capture, args.out / "ours_int8", model, 32, precision="int8")
        print(f"int8 quantization (once per model and capture): {time.perf_counter() - start - t8:.1f} s")
    n32, t32, split = ours(capture, args.out / "ours32", model, 32)
    n1, t1, _ = ours(capture, args.out / "ours1", model, 1)
    cores = os.cpu_count() or 1
    nw, tw, _ = ours(capture, args.out / "ours_workers", model, 32, workers=cores)
    shutil.rmtree(args.out / "package", ignore_errors=True)
    n_pkg, t_pkg = package_loop(capture, args.out / "package", model)
    print(f"ours, batch 32:        {n32 / t32:7.1f} crops/s ({n32} crops, {t32:.1f} s)")
    print(f"ours, batch 1:         {n1 / t1:7.1f} crops/s")
    print(f"ours, {cores} workers x 1 thread, batch 32: {nw / tw:7.1f} crops/s")
    print(f"spinepose per-box loop:{n_pkg / t_pkg:7.1f} crops/s ({n_pkg} crops, {t_pkg:.1f} s)")
    print(f"ratio ours (batch 32) / package: {(n32 / t32) / (n_pkg / t_pkg):.2f}x; "
          f"ours ({cores} workers) / package: {(nw / tw) / (n_pkg / t_pkg):.2f}x")  # fmt: skip
    if args.precision == "int8":
        print(f"ours, int8, batch 32:  {n8 / t8:7.1f} crops/s ({n8} crops, {t8:.1f} s); "
              f"int8 / package: {(n8 / t8) / (n_pkg / t_pkg):.2f}x; int8 / our fp32: {(n8 / t8) / (n32 / t32):.2f}x; "
              f"inference {split8['inference']:.1f} s of {split8['total']:.1f} s")  # fmt: skip
        hours8 = REAL_CAMERA_FRAMES / (n8 / t8) / 3600
        print(f"real capture at int8 on this machine: {hours8:.1f} h of detect")
    total = sum(v for k, v in split.items() if k != "total")
    parts = ", ".join(f"{k} {v:.1f} s ({100 * v / total:.0f} %)" for k, v in split.items() if k != "total")
    print(f"time split (batch 32, decode and crop overlap inference): {parts}; wall {split['total']:.1f} s")
    frames, t_read = read_cost(args.out / "ours32")
    write_ms, read_ms = 1e3 * split["write"] / frames, 1e3 * t_read / frames
    print(f"JSON per camera-frame: write {write_ms:.3f} ms, read {read_ms:.3f} ms")
    hours = REAL_CAMERA_FRAMES / (n32 / t32) / 3600
    json_hours = REAL_CAMERA_FRAMES * (write_ms + read_ms) / 1e3 / 3600
    print(
        f"real capture ({REAL_CAMERA_FRAMES:,} camera-frames) on this machine: {hours:.1f} h of detect; "
        f"JSON write + read {json_hours:.2f} h ({100 * json_hours / hours:.1f} % of it)"
    )
    np.testing.assert_equal(n32, n_pkg)


if __name__ == "__main__":
    main()
