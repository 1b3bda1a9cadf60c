"""Result files of the baselines: ``results.json`` and ``results.md`` (the Markdown by default the 3D
baselines' MPJPE and P-MPJPE tables per action x region; the 2D baseline passes its own)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from simspine_dataset.io.atomic import write_text_atomic

TABLES = (("MPJPE (mm)", "mpjpe_mm"), ("P-MPJPE (mm)", "p_mpjpe_mm"))


def markdown(results: dict) -> str:
    """The protocol line, then one table per metric (rows: actions and their mean)."""
    lines = [f"Protocol: {results['protocol']}.", ""]
    for name, key in TABLES:
        regions = list(next(iter(results[key].values())))
        lines += [
            f"### {name}",
            "",
            "| action | " + " | ".join(regions) + " |",
            "|---|" + "---:|" * len(regions),
        ]
        lines += [
            f"| {action} | " + " | ".join(f"{row[r]:.2f}" for r in regions) + " |"
            for action, row in results[key].items()
        ]
        lines.append("")
    return "\n".join(lines)


def write_results(results: dict, out: Path, render: Callable[[dict], str] = markdown) -> str:
    """Write ``results.json`` and ``results.md`` (``render(results)``) into ``out``; returns the Markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    text = render(results)
    write_text_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "results.md", text + "\n")
    return text
