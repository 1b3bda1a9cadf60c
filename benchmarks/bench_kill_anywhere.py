"""Fault injection: ``simspine build`` SIGKILLed at random instants, over an earlier build in the
same folder (half of them drawn over the whole run, half over its last 40 %); after every kill the folder must load, ``validate`` must tell the truth, and a re-run
must give the clean run's bytes.

    python benchmarks/bench_kill_anywhere.py [--kills 24] [--seed 0] [--out /tmp/bench_kill]

The folder starts as a finished build of S1 without frames (the "previous" build). The killed
build is S1 and S9 with a ``frames`` config: new scale, simulate, views and frames units, then the
shards, the report, the card and the pruning, so kill instants drawn uniformly over its measured
duration land in every stage. After each kill:

- the folder loads: ``load_dataset`` of its card gives the rows of the previous build or of the
  new one, whole (never a missing file);
- ``validate`` tells the truth: it passes when the report and the card describe the same build,
  and fails its ``files`` check, naming an interrupted build, exactly when they do not;
- the re-run exits 0, ``validate`` passes, nothing but the named shards lies under ``data/``, and
  every shard is the clean run's, byte for byte.

Prints one line per kill (instant, the stage the kill landed in, what loaded, validate's verdict)
and the counts.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BUILD = ["-m", "simspine_dataset", "build"]
NEW = ["--frames", "crop", "--frame-stride", "5", "--crop-size", "64", "--workers", "1"]


def run(raw: Path, out: Path, *args: str, kill_after_s: float | None = None) -> int | None:
    """``simspine build`` in a subprocess; SIGKILLed after ``kill_after_s`` (None: to the end)."""
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, *BUILD, str(raw), str(out), *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    if kill_after_s is None:
        return process.wait()
    try:
        return process.wait(timeout=kill_after_s)  # it finished first
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return None


def shards(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((out / "data").rglob("*"))
        if p.is_file()
    }


def stage_of(out: Path, previous_work: set[Path]) -> str:
    """Where the build was when killed, from what it left: the last work stage with a new unit, new
    shards no card names yet, a report the card does not match yet, or old shards not yet pruned."""
    import json

    from simspine_dataset.commands.validate import card_files
    from simspine_dataset.stages.shards import named_files

    report = json.loads((out / "build_report.json").read_text())
    named = {p.relative_to(out).as_posix() for s in card_files(out).values() for ps in s.values() for p in ps}
    on_disk = {p.relative_to(out).as_posix() for p in (out / "data").rglob("*") if p.is_file()}
    if report.get("files") and named_files(report["files"]) != named:
        return "card"
    if "frames" in report.get("files", {}):  # the new build's card is written
        return "pruning" if on_disk - named else "after card"
    if on_disk - named:
        return "shards"
    work = {p for p in (out / "work").rglob("*") if p.is_file()} - previous_work
    for stage in ("4_frames", "3_views", "2_simulate", "1_scale"):
        if any(stage in p.parts for p in work):
            return stage
    return "no unit yet"


def check(out: Path) -> tuple[dict[str, int], str]:
    """What loads (rows per split) and validate's verdict."""
    from datasets import load_dataset

    from simspine_dataset.commands.validate import validate

    loaded = load_dataset(str(out), download_mode="force_redownload")
    rows = {split: ds.num_rows for split, ds in loaded.items()}
    failed = {c.name: c.detail for c in validate(out) if not c.ok}
    if not failed:
        return rows, "pass"
    if list(failed) == ["files"] and "interrupted build" in failed["files"]:
        return rows, "interrupted"
    raise AssertionError(f"validate failed unexpectedly: {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench_kill"))
    args = parser.parse_args()
    from simspine_dataset.synthetic.generator import CaptureSettings, generate_capture

    shutil.rmtree(args.out, ignore_errors=True)
    settings = CaptureSettings(("S1", "S9"), 0.4, seed=3, actions=("Walking", "Eating"), detections=False)
    raw = generate_capture(args.out / "raw", settings)
    previous = args.out / "previous"
    assert run(raw, previous, "--subjects", "S1") == 0
    clean = args.out / "clean"
    shutil.copytree(previous, clean)
    start = time.perf_counter()
    assert run(raw, clean, *NEW) == 0
    duration = time.perf_counter() - start
    reference = shards(clean)
    previous_rows, clean_rows = check(previous)[0], check(clean)[0]
    previous_work = {p.relative_to(previous) for p in (previous / "work").rglob("*") if p.is_file()}
    print(f"the killed build takes {duration:.1f} s; kills drawn uniformly over it")
    rng = np.random.default_rng(args.seed)
    outcomes = []
    # half over the whole run, half over its last 40 % (the shards, the report, the card and the
    # pruning take a second or two of it, the units and the imports the rest)
    late = args.kills // 2
    instants = np.concatenate(
        [rng.uniform(0.5, duration, args.kills - late), rng.uniform(0.6, 1.0, late) * duration]
    )
    for i, instant in enumerate(np.sort(instants)):
        out = args.out / f"kill{i:02d}"
        shutil.rmtree(out, ignore_errors=True)
        shutil.copytree(previous, out)
        finished = run(raw, out, *NEW, kill_after_s=float(instant)) is not None
        stage = "finished" if finished else stage_of(out, {out / p for p in previous_work})
        rows, verdict = check(out)
        which = "previous" if rows == previous_rows else "new" if rows == clean_rows else rows
        assert which in ("previous", "new"), f"kill {i}: loaded {rows}"
        assert run(raw, out, *NEW) == 0, f"kill {i}: the re-run failed"
        assert shards(out) == reference, f"kill {i}: the re-run's shards differ from the clean run's"
        assert check(out)[1] == "pass"
        outcomes.append((stage, verdict))
        print(f"kill {i:2d} at {instant:5.1f} s: in {stage:11s} loads the {which} build, validate {verdict}; "
              "re-run: the clean run's bytes", flush=True)  # fmt: skip
        shutil.rmtree(out)
    stages = sorted({s for s, _ in outcomes})
    print(f"\n{len(outcomes)} kills ({', '.join(f'{s}: {sum(o[0] == s for o in outcomes)}' for s in stages)}); "
          f"validate: {sum(v == 'pass' for _, v in outcomes)} pass, "
          f"{sum(v == 'interrupted' for _, v in outcomes)} named an interrupted build; every folder loaded "
          "the previous build or the new one, whole; every re-run gave the clean run's bytes")  # fmt: skip


if __name__ == "__main__":
    main()
