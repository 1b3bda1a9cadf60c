"""Result tables of the 3D baselines: MPJPE and P-MPJPE per action x region, as Markdown and JSON."""

from __future__ import annotations

import json
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


def write_results(results: dict, out: Path) -> str:
    """Write ``results.json`` and ``results.md`` into ``out``; returns the Markdown."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(results)
    write_text_atomic(out / "results.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "results.md", text + "\n")
    return text
