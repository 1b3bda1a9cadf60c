"""The dataset card (README.md of a build): YAML metadata and prose, generated from the build.

Rendered with huggingface_hub's ``DatasetCard`` and ``DatasetCardData`` from the packaged template
``simspine_dataset/data/card_template.md``; the column table comes from ``schema``, the keypoint
table from ``skeleton``, sizes and settings from ``build_report.json``, the biomechanical-validity
table and figures from the built kinematics (``figures``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from simspine_dataset import skeleton as sk
from simspine_dataset.io.atomic import write_text_atomic
from simspine_dataset.schema import DEFAULT_COLUMNS, FRAMES_COLUMNS


def _size_category(rows: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if rows < limit:
            return label
    return "1M<n<10M"


def _configs(out: Path) -> list[dict]:
    configs = []
    for name in ("default", "frames"):
        splits = sorted(p.name for p in (out / "data" / name).glob("*") if any(p.glob("*.parquet")))
        if splits:
            files = [{"split": s, "path": f"data/{name}/{s}/*.parquet"} for s in splits]
            configs.append(
                {"config_name": name, "data_files": files, **({"default": True} if name == "default" else {})}
            )
    return configs


def _tables(report: dict) -> dict[str, str]:
    columns = "\n".join(
        f"| `{c.name}` | {c.feature} | {c.meaning} |" for c in (*DEFAULT_COLUMNS, *FRAMES_COLUMNS)
    )
    keypoints = "\n".join(
        f"| {i} | {k.name} | {k.meaning} | {k.source} | {k.sigma} |" for i, k in enumerate(sk.KEYPOINTS)
    )
    frames = report.get("frames_rows", {})
    splits = "\n".join(
        f"| {split} | {rows:,} | {frames[split]:,} |" if split in frames else f"| {split} | {rows:,} | - |"
        for split, rows in sorted(report.get("rows", {}).items())
    )
    failed = [e for e in report.get("sequences", []) if e.get("status") != "ok"]
    return {
        "columns": columns,
        "keypoints": keypoints,
        "splits": splits,
        "failures": "\n".join(f"- {e['subject']} {e['sequence']}: {e.get('error', '')}" for e in failed)
        or "none",
    }


def _settings(report: dict) -> str:
    """The settings actually used, as a short list (all of them: ``build_report.json``)."""
    config = report.get("config", {})
    simulation = config.get("simulation", {})
    ik = simulation.get("ik", {})
    lines = [
        f"- model spine: `{ik.get('spine')}`, IK solver `{ik.get('solver')}`",
        f"- merge rules: `{json.dumps(simulation.get('merge', {}))}`",
        f"- low-pass filter: `{json.dumps(simulation.get('filter', {}))}`",
        f"- 2D detections as IK pseudo-markers: {'yes' if config.get('detections') else 'no'}",
        f"- frames: `{json.dumps(config.get('frames', {}))}`; release: `{config.get('release', 'full')}`",
        f"- versions: {', '.join(f'{k} {v}' for k, v in report.get('versions', {}).items())}",
    ]
    return "\n".join(lines)


def write_card(out: str | Path) -> Path:
    """(Re)render ``OUT/README.md`` from the build folder."""
    from huggingface_hub import DatasetCard, DatasetCardData

    out = Path(out)
    report = json.loads((out / "build_report.json").read_text())
    data = DatasetCardData(
        license="other",
        license_name="human36m-and-simspine-terms",
        task_categories=["keypoint-detection"],
        tags=["human-pose-estimation", "3d-pose-estimation", "spine", "biomechanics", "opensim", "human3.6m"],
        size_categories=[_size_category(sum(report.get("rows", {}).values()))],
        configs=_configs(out),
        pretty_name="SIMSPINE-style 3D spine keypoints",
    )
    template = resources.files("simspine_dataset").joinpath("data/card_template.md").read_text()
    from simspine_dataset.figures import validity

    card = DatasetCard.from_template(
        data,
        template_str=template,
        config_hash=report.get("config_hash", ""),
        validity=validity(out),
        settings=_settings(report),
        **_tables(report),
    )
    return write_text_atomic(out / "README.md", str(card))
