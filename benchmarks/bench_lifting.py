"""The lifting baseline: is loading the bottleneck? Training samples/s on this machine.

    python benchmarks/bench_lifting.py DATASET [--width 1024 --blocks 2 --batch 256 --steps 60]

DATASET: a build folder (e.g. ``demo_out/dataset``). Prints, in one run:
- data pipeline: ``load_arrays`` (``load_dataset`` -> normalised numpy arrays) in samples/s,
  drawing shuffled training batches from the in-memory tensors in samples/s, and the streamed
  path of ``train --stream`` (``BatchLoader`` batches made into lifting pairs) in samples/s;
- model: forward + backward + AdamW step of the default network (1024 x 2 blocks) in samples/s;
- the ratio data / model (> 1: the model, not the data, limits training).
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()

    from baselines.lifting.data import load_arrays
    from baselines.lifting.model import Lifter

    load_arrays(args.dataset, "train", "full")  # warm the datasets cache (a one-off Arrow conversion)
    start = time.perf_counter()
    arrays = load_arrays(args.dataset, "train", "full")
    load_rate = len(arrays) / (time.perf_counter() - start)

    inputs, targets = torch.as_tensor(arrays.inputs), torch.as_tensor(arrays.targets)
    model = Lifter(inputs.shape[1], args.width, args.blocks)
    model.set_statistics(inputs, targets)
    target_std = model.normalise_target(targets)
    start, drawn = time.perf_counter(), 0
    for _ in range(20):
        for batch in torch.randperm(len(inputs)).split(args.batch):
            pair = (inputs[batch], target_std[batch])
            drawn += len(pair[0])
    batch_rate = drawn / (time.perf_counter() - start)

    from datasets import load_dataset

    from baselines.lifting.data import STREAM_COLUMNS, batch_pair
    from simspine_dataset.loader import BatchLoader

    loader = BatchLoader(load_dataset(args.dataset, split="train"), STREAM_COLUMNS, batch_size=args.batch)
    start, streamed = time.perf_counter(), 0
    for batch in loader:
        pair = batch_pair(batch, tuple(range(37)))
        streamed += len(pair[0])
    stream_rate = streamed / (time.perf_counter() - start)

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    batches = [torch.randint(0, len(inputs), (args.batch,)) for _ in range(args.steps + 5)]
    for i, batch in enumerate(batches):
        if i == 5:
            start = time.perf_counter()  # after warm-up
        loss = torch.nn.functional.mse_loss(model(inputs[batch]), target_std[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    train_rate = args.steps * args.batch / (time.perf_counter() - start)

    print(f"samples: {len(arrays)} (train split, 37 keypoints), torch threads {torch.get_num_threads()}")
    print(f"load_dataset -> arrays      {load_rate:12,.0f} samples/s")
    print(f"shuffled batches in memory  {batch_rate:12,.0f} samples/s")
    print(f"train step {args.width}x{args.blocks} b{args.batch}    {train_rate:12,.0f} samples/s")
    print(f"streamed batches (--stream) {stream_rate:12,.0f} samples/s")
    print(f"ratio batches / train       {batch_rate / train_rate:12.1f}x")
    print(f"ratio streamed / train      {stream_rate / train_rate:12.1f}x")


if __name__ == "__main__":
    main()
