"""Export a SimCC checkpoint of the 2D baseline (e.g. RTMPose-m) to ONNX with SpinePose's I/O.

    python -m baselines.pose2d.export_onnx --config CFG --checkpoint CKPT --out MODEL.onnx

The file runs wherever SpinePose's models run: ``simspine detect --onnx MODEL.onnx`` (and its
``--precision int8``), ``python -m baselines.pose2d.evaluate --onnx``, SpinePose's own tools. Its
input is SpinePose's: a BGR crop (N, 3, H, W) normalised with ImageNet's mean and std in the order
SpinePose applies them (``pose_models.MEAN_BGR``); the graph undoes that normalisation and applies
the config's own data preprocessor (its channel order, mean and std), so the network sees exactly
what mmpose fed it in training. Outputs ``simcc_x`` (N, 37, r W) and ``simcc_y`` (N, 37, r H),
keypoints in SpineTrack order, as SpinePose's models give them. Flip testing is not exported
(neither SpinePose's models nor ``detect`` flip).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import baselines.pose2d  # noqa: F401  (a stand-in torchvision where none is installed, for mmpose)
from baselines.pose2d import full_unpickling
from simspine_dataset import skeleton as sk
from simspine_dataset.io.atomic import atomic_path
from simspine_dataset.pose_models import MEAN_BGR, STD_BGR

if TYPE_CHECKING:
    import torch

OPSET = 17


def spinepose_io_module(model: torch.nn.Module) -> torch.nn.Module:
    """The mmpose top-down model as a module from SpinePose's input to its SimCC outputs."""
    import torch

    preprocessor = model.data_preprocessor
    if not hasattr(model.head, "simcc_split_ratio"):
        raise ValueError(f"{type(model.head).__name__} is not a SimCC head: SpinePose's I/O is SimCC")
    swap = bool(getattr(preprocessor, "_channel_conversion", False))
    # SpinePose's input x = (bgr - MEAN_BGR) / STD_BGR; the network wants (c - mean) / std of its
    # channels c (RGB when the preprocessor converts): one per-channel affine map and a swap.
    order = [2, 1, 0] if swap else [0, 1, 2]
    ours_mean = preprocessor.mean.detach().reshape(3).double()
    ours_std = preprocessor.std.detach().reshape(3).double()
    their_mean = torch.tensor(MEAN_BGR, dtype=torch.float64)[order]
    their_std = torch.tensor(STD_BGR, dtype=torch.float64)[order]
    gain = (their_std / ours_std).float().reshape(1, 3, 1, 1)
    offset = ((their_mean - ours_mean) / ours_std).float().reshape(1, 3, 1, 1)
    to_spinetrack = torch.tensor(sk.FROM_SPINETRACK, dtype=torch.long)  # SpineTrack k <- ours FROM[k]

    class SpinePoseIO(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.register_buffer("gain", gain)
            self.register_buffer("offset", offset)
            self.register_buffer("order", torch.tensor(order, dtype=torch.long))
            self.register_buffer("to_spinetrack", to_spinetrack)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = x.index_select(1, self.order) * self.gain + self.offset
            simcc_x, simcc_y = self.model.head(self.model.extract_feat(x))
            return simcc_x.index_select(1, self.to_spinetrack), simcc_y.index_select(1, self.to_spinetrack)

    return SpinePoseIO().eval()


def export_onnx(config: str | Path, checkpoint: str | Path | None, out: str | Path) -> Path:
    """Write the ONNX file of ``config`` with ``checkpoint``'s weights (None: the config's own
    initialisation, for benchmarks of compute alone); returns its path."""
    import torch
    from mmpose.apis import init_model

    with full_unpickling():
        model = init_model(str(config), str(checkpoint) if checkpoint else None, device="cpu").eval()
    if model.cfg.model.head.out_channels != sk.NUM_KEYPOINTS:
        raise ValueError(f"{config}: {model.cfg.model.head.out_channels} keypoints, not {sk.NUM_KEYPOINTS}")
    w, h = model.cfg.codec["input_size"]
    module = spinepose_io_module(model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, torch.no_grad():
        torch.onnx.export(
            module, torch.zeros(1, 3, h, w), str(tmp), dynamo=False, input_names=["input"],
            output_names=["simcc_x", "simcc_y"], dynamic_axes={"input": {0: "batch"}}, opset_version=OPSET,
        )  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.pose2d.export_onnx", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(f"wrote {export_onnx(args.config, args.checkpoint, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
