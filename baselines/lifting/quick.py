"""The lifting baseline in quick mode (minutes on 2 CPU cores): spine-only and full-body side by side.

    python -m baselines.lifting.quick --dataset PATH_OR_REPO --out DIR

Trains both variants with a smaller network (``QUICK``) on the train split with ground-truth 2D
and scores them on the test split; writes ``DIR/{spine,full}/`` (checkpoint, results) and
``DIR/comparison.md``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from baselines.lifting.evaluate import SPINE_REGIONS, evaluate
from baselines.lifting.train import TrainConfig, train
from baselines.report import write_results
from simspine_dataset.io.atomic import write_text_atomic

QUICK = TrainConfig(epochs=40, width=256, blocks=2, dropout=0.1, batch_size=256, lr=2e-3)


def run_quick(dataset: str, out: str | Path, config: TrainConfig = QUICK, progress: bool = True) -> dict:
    """Train and score both keypoint sets; returns {"spine": ..., "full": ...} each with the
    results tables and the training summary."""
    out = Path(out)
    runs = {}
    for keypoints in ("spine", "full"):
        run_config = replace(config, keypoints=keypoints)
        summary = train(dataset, out / keypoints, run_config, progress=progress)
        results = evaluate(out / keypoints / "checkpoint.pt", dataset, "test")
        write_results(results, out / keypoints)
        runs[keypoints] = {"results": results, "summary": summary}
    write_text_atomic(out / "comparison.md", comparison(runs) + "\n")
    return runs


def comparison(runs: dict) -> str:
    """Spine-only vs full-body on the spine keypoints (mean over actions)."""
    lines = [
        "| model | " + " | ".join(f"MPJPE {r}" for r in SPINE_REGIONS) + " | P-MPJPE S |",
        "|---|" + "---:|" * (len(SPINE_REGIONS) + 1),
    ]
    for name, run in runs.items():
        mpjpe, p = run["results"]["mpjpe_mm"]["Mean"], run["results"]["p_mpjpe_mm"]["Mean"]
        lines.append(
            f"| {name} | " + " | ".join(f"{mpjpe[r]:.2f}" for r in SPINE_REGIONS) + f" | {p['S']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m baselines.lifting.quick", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=QUICK.epochs)
    args = parser.parse_args(argv)
    runs = run_quick(args.dataset, args.out, replace(QUICK, epochs=args.epochs))
    print(comparison(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
