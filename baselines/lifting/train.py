"""Train the lifting network.

    python -m baselines.lifting.train --dataset PATH_OR_REPO --keypoints spine|full --epochs N --out DIR

AdamW on the MSE of standardised targets, cosine learning-rate decay per step, seeded (weights,
dropout and the per-epoch shuffles), CPU or CUDA automatically. After every epoch ``DIR/checkpoint.pt``
is written atomically with the model (its normalisation statistics included), the optimiser, the
scheduler, the RNG state, the settings and the loss history; a re-run with the same settings resumes
from it and reaches the same weights as an uninterrupted run.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from baselines.lifting.data import KEYPOINT_SETS, STREAM_COLUMNS, LiftingArrays, batch_pair, load_arrays
from baselines.lifting.model import Lifter
from simspine_dataset.io.atomic import atomic_path, write_text_atomic

if TYPE_CHECKING:
    from datasets import Dataset

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    keypoints: str = "full"  # spine | full
    input: str = "gt"  # 2D input: gt | noisy | predictions .npz
    epochs: int = 30
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    width: int = 1024
    blocks: int = 2
    dropout: float = 0.5
    seed: int = 0
    stream: bool = False  # batches from simspine_dataset.loader.BatchLoader (the split never in memory)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_model(config: TrainConfig, num_keypoints: int) -> Lifter:
    return Lifter(num_keypoints, config.width, config.blocks, config.dropout)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[Lifter, TrainConfig, dict]:
    """The trained model (eval mode), its settings, and the whole checkpoint dict."""
    state = torch.load(Path(path), map_location=device, weights_only=False)
    config = TrainConfig(**state["config"])
    model = build_model(config, len(state["keypoints"])).to(device)
    model.load_state_dict(state["model"])
    return model.eval(), config, state


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    batches = list(order.split(batch_size))
    return batches if len(batches[-1]) > 1 else batches[:-1]  # BatchNorm needs 2 samples


def fit(
    arrays: LiftingArrays,
    out: str | Path,
    config: TrainConfig,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict:
    """Train on ``arrays`` into ``out`` (resuming from its checkpoint); returns a summary with the
    loss history and the training throughput (samples/s, data already in memory)."""
    device = torch.device(device) if device is not None else default_device()
    torch.manual_seed(config.seed)
    inputs = torch.as_tensor(arrays.inputs, device=device)
    targets = torch.as_tensor(arrays.targets, device=device)
    model = build_model(config, len(arrays.keypoints)).to(device)
    model.set_statistics(inputs, targets)

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        shuffle = torch.Generator().manual_seed(config.seed * 100003 + epoch)
        for rows in _batches(len(arrays), config.batch_size, shuffle):
            batch = rows.to(device)
            yield inputs[batch], model.normalise_target(targets[batch])

    steps = len(_batches(len(arrays), config.batch_size, torch.Generator().manual_seed(0)))
    return _train(model, batches, steps, len(arrays), Path(out), config, arrays.keypoints, device, progress)


def fit_streamed(
    split: Dataset,
    out: str | Path,
    config: TrainConfig,
    device: torch.device | str | None = None,
    progress: bool = True,
    stats: dict | None = None,
) -> dict:
    """Train from ``simspine_dataset.loader.BatchLoader`` batches of ``split`` (shuffled Arrow blocks,
    the split never held in memory): the standardisation statistics from the build's
    ``meta/stats.json`` (``stats``: ``loader.dataset_stats``; without it, one streamed pass), then
    the same training as ``fit``. Ground-truth 2D only (the noisy and predictions inputs are
    row-aligned arrays)."""
    from simspine_dataset.loader import BatchLoader

    if config.input != "gt":
        raise ValueError(
            f"streamed training reads the ground-truth 2D; --input {config.input} needs the arrays"
        )
    device = torch.device(device) if device is not None else default_device()
    torch.manual_seed(config.seed)
    keypoints = KEYPOINT_SETS[config.keypoints]
    loader = BatchLoader(split, STREAM_COLUMNS, batch_size=config.batch_size, seed=config.seed)
    model = build_model(config, len(keypoints)).to(device)
    if stats is None:
        _streamed_statistics(model, loader, keypoints)
    else:
        _set_statistics(model, _statistics_from_build(stats, keypoints))

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        loader.set_epoch(epoch)
        for batch in loader:
            inputs, targets = (torch.as_tensor(a, device=device) for a in batch_pair(batch, keypoints))
            if len(inputs) > 1:  # BatchNorm needs 2 samples
                yield inputs, model.normalise_target(targets)

    return _train(model, batches, len(loader), len(split), Path(out), config, keypoints, device, progress)


def _streamed_statistics(model: Lifter, loader: Iterable[dict], keypoints: Sequence[int]) -> None:
    """``Lifter.set_statistics`` over a stream of batches, from float64 sums: the inputs' mean and
    (population) std over their finite values, the targets' (root excluded) mean and unbiased std."""
    sums = {"n": 0.0, "x": 0.0, "xx": 0.0, "m": 0, "y": 0.0, "yy": 0.0}
    for batch in loader:
        inputs, targets = batch_pair(batch, tuple(keypoints))
        x = inputs.reshape(len(inputs), -1).astype(np.float64)
        y = targets[:, 1:].reshape(len(targets), -1).astype(np.float64)
        finite = np.isfinite(x)
        x = np.where(finite, x, 0.0)
        sums["n"] += finite.sum(0)
        sums["x"] += x.sum(0)
        sums["xx"] += (x**2).sum(0)
        sums["m"] += len(y)
        sums["y"] += y.sum(0)
        sums["yy"] += (y**2).sum(0)
    n, m = np.maximum(sums["n"], 1), sums["m"]
    in_mean, out_mean = sums["x"] / n, sums["y"] / m
    in_var = np.maximum(sums["xx"] / n - in_mean**2, 0.0)
    out_var = np.maximum(sums["yy"] - m * out_mean**2, 0.0) / max(m - 1, 1)  # unbiased, as torch.std
    statistics = {
        "in_mean": in_mean,
        "in_std": np.maximum(np.sqrt(in_var), 1e-6),
        "out_mean": out_mean,
        "out_std": np.maximum(np.sqrt(out_var), 1e-6),
    }
    _set_statistics(model, statistics)


def _statistics_from_build(stats: dict, keypoints: Sequence[int]) -> dict[str, np.ndarray]:
    """The standardisation of ``Lifter`` from the build's per-keypoint statistics: the inputs'
    population std, the targets' (root excluded) unbiased std, as ``Lifter.set_statistics``."""
    inputs, targets = stats["keypoints_2d_normalized"], stats["keypoints_3d_camera_mm - Hip"]
    chosen, moved = list(keypoints), list(keypoints[1:])
    count = targets["count"][moved]
    unbiased = np.sqrt(count / np.maximum(count - 1, 1))
    return {
        "in_mean": inputs["mean"][chosen].ravel(),
        "in_std": np.maximum(inputs["std"][chosen], 1e-6).ravel(),
        "out_mean": targets["mean"][moved].ravel(),
        "out_std": np.maximum(targets["std"][moved] * unbiased, 1e-6).ravel(),
    }


def _set_statistics(model: Lifter, statistics: dict[str, np.ndarray]) -> None:
    for name, values in statistics.items():
        buffer = getattr(model, name)
        buffer.copy_(torch.as_tensor(values, dtype=buffer.dtype))


def _train(
    model: Lifter,
    batches: Callable[[int], Iterator[tuple[torch.Tensor, torch.Tensor]]],
    steps_per_epoch: int,
    samples: int,
    out: Path,
    config: TrainConfig,
    keypoints: Sequence[int],
    device: torch.device,
    progress: bool,
) -> dict:
    """The optimisation: AdamW, cosine schedule, MSE on standardised targets; ``batches(epoch)``
    yields (inputs, standardised targets) on the device. Resumes from ``out``'s checkpoint."""
    from tqdm import tqdm

    path = out / CHECKPOINT
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs * steps_per_epoch)
    history, start_epoch = _resume(path, model, optimizer, scheduler, config, keypoints, device)
    trained, seconds = 0, 0.0
    epochs = tqdm(range(start_epoch, config.epochs), desc="lifting", unit="epoch", disable=not progress)
    for epoch in epochs:
        model.train()
        start, total = time.perf_counter(), 0.0
        for inputs, target_std in batches(epoch):
            loss = torch.nn.functional.mse_loss(model(inputs), target_std)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(inputs)
            trained += len(inputs)
        seconds += time.perf_counter() - start
        history.append(total / samples)
        epochs.set_postfix(loss=f"{history[-1]:.4f}")
        _save(path, model, optimizer, scheduler, config, keypoints, epoch + 1, history)
    return {
        "checkpoint": str(path),
        "epochs": config.epochs,
        "samples": samples,
        "loss_history": history,
        "train_samples_per_s": trained / seconds if seconds else None,
        "device": str(device),
    }


def _resume(
    path: Path,
    model: Lifter,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainConfig,
    keypoints: Sequence[int],
    device: torch.device,
) -> tuple[list, int]:
    """Restore a checkpoint written with the same settings; returns (loss history, next epoch)."""
    if not path.exists():
        return [], 0
    state = torch.load(path, map_location=device, weights_only=False)
    if state["config"] != asdict(config) or state["keypoints"] != list(keypoints):
        raise ValueError(f"{path}: trained with other settings {state['config']}; choose another --out")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
    if device.type == "cuda" and state.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(state["cuda_rng"])
    return state["history"], state["epoch"]


def _save(
    path: Path,
    model: Lifter,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainConfig,
    keypoints: Sequence[int],
    epoch: int,
    history: list[float],
) -> None:
    state = {
        "config": asdict(config),
        "keypoints": list(keypoints),
        "epoch": epoch,
        "history": history,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def train(dataset: str, out: str | Path, config: TrainConfig, split: str = "train", **kwargs) -> dict:
    """Load ``split`` of ``dataset`` (folder or Hub repo id) and ``fit``; writes ``summary.json``."""
    start = time.perf_counter()
    if config.stream:
        from datasets import load_dataset

        from simspine_dataset.loader import dataset_stats

        data = load_dataset(dataset, split=split)
        kwargs.setdefault("stats", dataset_stats(dataset, split))
    else:
        data = load_arrays(dataset, split, config.keypoints, config.input, config.seed)
    load_s = time.perf_counter() - start
    summary = {
        "dataset": dataset,
        "split": split,
        "load_s": load_s,
        "load_samples_per_s": len(data) / load_s,
    }
    summary |= (fit_streamed if config.stream else fit)(data, out, config, **kwargs)
    write_text_atomic(Path(out) / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def config_arguments(parser: argparse.ArgumentParser) -> None:
    """One command-line option per ``TrainConfig`` field."""
    for field in fields(TrainConfig):
        kind = type(field.default)
        if kind is bool:
            parser.add_argument(f"--{field.name.replace('_', '-')}", action="store_true")
            continue
        choices = sorted(KEYPOINT_SETS) if field.name == "keypoints" else None
        parser.add_argument(
            f"--{field.name.replace('_', '-')}", type=kind, default=field.default, choices=choices
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.lifting.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", required=True, help="build folder or ORG/NAME on the Hub")
    parser.add_argument("--split", default="train")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    config_arguments(parser)
    args = parser.parse_args(argv)
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    summary = train(args.dataset, args.out, config, args.split, device=args.device)
    print(json.dumps({k: v for k, v in summary.items() if k != "loss_history"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
