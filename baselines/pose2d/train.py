"""Fine-tune (or train from scratch) an mmpose top-down model on the dataset's ``frames`` config.

    python -m baselines.pose2d.train --config baselines/pose2d/configs/<name>.py --dataset PATH_OR_REPO \\
        --work-dir DIR [--pretrained COCO.pth] [--external-ann ANN.json --external-images DIR --fraction 0.02]
        [--max-iters N] [--batch-size B] [--lr LR] [--device cpu|cuda]

The dataset is exported once to COCO-style files under ``DIR/data`` (``adapter``); the config gets
the paths and the keypoint metainfo generated from the skeleton table, then mmengine's Runner
trains. Data mixing as in the paper: with an external COCO-style dataset in SpineTrack's 37-keypoint
order (e.g. SpineTrack), training batches mix it and a ``--fraction`` of ours half and half
(mmpose's ``MultiSourceSampler``); the external keypoints are reordered into ours by
``KeypointConverter`` with the mapping of the skeleton table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from baselines.pose2d import full_unpickling
from baselines.pose2d.adapter import export
from simspine_dataset import skeleton as sk

if TYPE_CHECKING:
    from mmengine.config import Config


def configure(
    config_path: str | Path,
    dataset: str,
    work_dir: str | Path,
    *,
    pretrained: str | None = None,
    external_ann: str | Path | None = None,
    external_images: str | Path | None = None,
    fraction: float = 0.02,
    max_iters: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    device: str | None = None,
    splits: tuple[str, ...] = ("train", "test"),
) -> Config:
    """The mmengine ``Config`` ready to run: data exported, paths and metainfo set."""
    from mmengine.config import Config

    work_dir = Path(work_dir)
    data = work_dir / "data"
    for split in splits:
        export(dataset, split, data)
    cfg = Config.fromfile(str(config_path))
    cfg.work_dir = str(work_dir)
    metainfo = dict(from_file=str(data / "metainfo.py"))
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[loader].dataset.update(data_root=str(data), metainfo=metainfo)
    for evaluator in ("val_evaluator", "test_evaluator"):
        cfg[evaluator].ann_file = str(data / "annotations" / "test.json")
    if batch_size:
        cfg.train_dataloader.batch_size = batch_size
    if lr:
        cfg.optim_wrapper.optimizer.lr = lr
    if max_iters:  # short runs: iteration-based, validated at the end, warmed up over 10 % (<= 100)
        cfg.train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
        warmup = min(100, max_iters // 10)  # none for smoke runs of a few iterations
        cfg.param_scheduler = [
            dict(type="LinearLR", start_factor=1e-3, by_epoch=False, begin=0, end=warmup)
            if warmup
            else dict(type="ConstantLR", factor=1.0, by_epoch=False, begin=0, end=max_iters)
        ]
        cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=max_iters, by_epoch=False)
        cfg.log_processor.by_epoch = False
    if pretrained:
        cfg.load_from = str(pretrained)
    if external_ann:
        _mix(cfg, external_ann, external_images, fraction)
    if device:
        cfg.device = device
    return cfg


def _mix(cfg: Config, external_ann: str | Path, external_images: str | Path, fraction: float) -> None:
    ours = dict(cfg.train_dataloader.dataset)
    pipeline = ours.pop("pipeline")
    n_ours = len(json.loads((Path(ours["data_root"]) / ours["ann_file"]).read_text())["annotations"])
    ours["indices"] = max(1, round(fraction * n_ours))  # the first `fraction` of our images
    mapping = [(sk.TO_SPINETRACK[i], i) for i in range(sk.NUM_KEYPOINTS)]  # SpineTrack -> ours
    external = dict(
        type="CocoDataset",
        data_mode="topdown",
        data_root="",
        ann_file=str(external_ann),
        data_prefix=dict(img=str(external_images) + "/"),
        pipeline=[dict(type="KeypointConverter", num_keypoints=sk.NUM_KEYPOINTS, mapping=mapping)],
    )
    ours["pipeline"] = []
    cfg.train_dataloader.dataset = dict(
        type="CombinedDataset", metainfo=ours["metainfo"], datasets=[ours, external], pipeline=pipeline
    )
    cfg.train_dataloader.sampler = dict(
        type="MultiSourceSampler",
        batch_size=cfg.train_dataloader.batch_size,
        source_ratio=[1, 1],
        shuffle=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.pose2d.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument(
        "--dataset", required=True, help="build folder (with --frames) or ORG/NAME on the Hub"
    )
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--pretrained", type=Path, help="a local COCO checkpoint to fine-tune from")
    parser.add_argument("--external-ann", type=Path, help="COCO-style annotations in SpineTrack order")
    parser.add_argument("--external-images", type=Path)
    parser.add_argument("--fraction", type=float, default=0.02, help="share of our images mixed in")
    parser.add_argument("--max-iters", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="the optimizer's learning rate (default: the config's)")
    parser.add_argument("--device", choices=["cpu", "cuda"])
    args = parser.parse_args(argv)
    from mmengine.runner import Runner

    cfg = configure(
        args.config,
        args.dataset,
        args.work_dir,
        pretrained=args.pretrained,
        external_ann=args.external_ann,
        external_images=args.external_images,
        fraction=args.fraction,
        max_iters=args.max_iters,
        batch_size=args.batch_size,
        lr=args.lr,
        device=args.device,
    )
    with full_unpickling():  # --pretrained and resumed checkpoints
        Runner.from_cfg(cfg).train()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
