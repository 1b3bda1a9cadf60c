"""The dataset card (README.md of a build): YAML metadata and prose, generated from the build.

Rendered with huggingface_hub's ``DatasetCard`` and ``DatasetCardData`` from the packaged template
``simspine_dataset/data/card_template.md``; the column table comes from ``schema``, the keypoint
table from ``skeleton``, sizes and settings from the build's record (``record.BuildRecord``), the
biomechanical-validity table and figures from the built kinematics (``figures``).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset import skeleton as sk
from simspine_dataset.io.atomic import write_text_atomic
from simspine_dataset.schema import DEFAULT_COLUMNS, FRAMES_COLUMNS
from simspine_dataset.stages.shards import build_shards

if TYPE_CHECKING:
    from simspine_dataset.config import BuildConfig, FilterConfig
    from simspine_dataset.record import BuildRecord


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


def _configs(out: Path, report: BuildRecord) -> list[dict]:
    """The YAML ``configs``: every shard named (their names carry their content digests, so the
    card, which ``datasets`` hashes for its cache, changes whenever the data does)."""
    configs = []
    for name in ("default", "frames"):
        if splits := build_shards(out, report, name):
            files = [
                {"split": s, "path": [p.relative_to(out).as_posix() for p in paths]}
                for s, paths in splits.items()
            ]
            configs.append(
                {"config_name": name, "data_files": files, **({"default": True} if name == "default" else {})}
            )
    return configs


def _dataset_info(out: Path, report: BuildRecord) -> list[dict]:
    """The YAML ``dataset_info`` of each config: features, splits (rows, bytes), sizes."""
    import pyarrow.parquet as pq
    from datasets import DatasetInfo, Features, SplitDict, SplitInfo

    infos = []
    for name in ("default", "frames"):
        if not (splits := build_shards(out, report, name)):
            continue
        features = Features.from_arrow_schema(pq.read_schema(next(iter(splits.values()))[0]))
        split_dict = SplitDict()
        for split, paths in splits.items():
            meta = [pq.ParquetFile(p).metadata for p in paths]
            rows = sum(m.num_rows for m in meta)
            size = sum(m.row_group(i).total_byte_size for m in meta for i in range(m.num_row_groups))
            split_dict.add(SplitInfo(name=split, num_bytes=size, num_examples=rows))
        info = DatasetInfo(
            config_name=name,
            features=features,
            splits=split_dict,
            download_size=sum(p.stat().st_size for paths in splits.values() for p in paths),
            dataset_size=sum(s.num_bytes for s in split_dict.values()),
        )
        infos.append(info._to_yaml_dict())
    return infos


def _tables(report: BuildRecord) -> dict[str, str]:
    columns = "\n".join(
        f"| `{c.name}` | {c.card_feature} | {c.meaning} |" for c in (*DEFAULT_COLUMNS, *FRAMES_COLUMNS)
    )
    keypoints = "\n".join(
        f"| {i} | {k.name} | {k.meaning} | {value_from(k, report.config, report.annotations)} | {k.sigma} |"
        for i, k in enumerate(sk.KEYPOINTS)
    )
    frames = report.frames_rows
    splits = "\n".join(
        f"| {split} | {rows:,} | {frames[split]:,} |" if split in frames else f"| {split} | {rows:,} | - |"
        for split, rows in sorted(report.rows.items())
    )
    failed = [e for e in report.sequences if e["status"] == "failed"]
    flagged = [e for e in report.sequences if e["status"] == "flagged"]
    return {
        "columns": columns,
        "keypoints": keypoints,
        "splits": splits,
        "failures": "\n".join(f"- {e['subject']} {e['sequence']}: {e.get('error', '')}" for e in failed)
        or "none",
        "short_videos": "\n".join(f"- {problem}" for problem in report.short_videos) or "none",
        "known_problems": "\n".join(f"- {problem}" for problem in report.known_problems) or "none",
        "flagged": "\n".join(f"- {e['subject']} {e['sequence']}: {'; '.join(e['flagged'])}" for e in flagged)
        or "none",
    }


def value_from(keypoint: sk.Keypoint, config: BuildConfig, annotations: dict | None = None) -> str:
    """Where this build's values of a keypoint come from (the merge rules, as configured, or the
    official release's files with ``--annotations``)."""
    if annotations:
        if keypoint.name in annotations.get("missing_keypoints", []):
            return "missing (NaN): not in the release's files"
        return (
            "the official SIMSPINE release (Human3.6M mocap where its files lack it)"
            if keypoint.source == "mocap"
            else "the official SIMSPINE release"
        )
    merge = config.simulation.merge
    model = "the user's OpenSim model" if config.model else "the model"
    if _is_simspines(config):
        model = "SIMSPINE's model"
    if keypoint.source == "mocap":
        source = "Human3.6M mocap"
    elif keypoint.source == "triangulated":
        source = f"triangulated 2D detections ({model} where unseen)" if config.detections else model
    else:
        source = model
        if keypoint.name in sk.VERTEBRAL_CHAIN and keypoint.name != "Hip":
            if merge.reanchor_spine:
                source += ", re-anchored on the mocap Hip->Neck"
            if merge.blend_detections and config.detections:
                source += f", blended {merge.blend_detections:.0%} with triangulated detections"
    hidden = config.release == "public" and keypoint.source != "simulated"
    return f"hidden (NaN) in this public release; {source}" if hidden else source


def _pipeline(report: BuildRecord) -> str:
    """The build's own pipeline line: its model, solver, detections and filter."""
    config = report.config
    if annotations := report.annotations:
        kinematics = (
            "" if annotations.get("kinematics") else " The release gave no kinematics: `kinematics` is empty."
        )
        return (
            f"The 3D keypoints{' and kinematics' if annotations.get('kinematics') else ''} are the official "
            "SIMSPINE release's labels, read from "
            f"`{Path(annotations['source']).name}` (`simspine build --annotations`); this build did not "
            "simulate them. Rows per camera, 2D keypoints and boxes come from the capture's own Human3.6M "
            "calibration (metadata.xml) -> per-camera views. Sequences left out because only one side "
            f"has them: {len(annotations['sequences_without_annotations'])} of the capture, "
            f"{len(annotations['annotations_without_sequence'])} of the release (`build_report.json`)."
            + kinematics
        )
    ik = config.simulation.ik
    solvers = {
        "batched": "our batched solver (validated against OpenSim's)",
        "opensim": "OpenSim's InverseKinematicsSolver",
    }
    solver = solvers["opensim" if config.model else ik.solver]  # a user's model: OpenSim's solver
    rays = " (and, where one camera alone saw a keypoint, that camera's ray)" if ik.single_view_rays else ""
    detections = (
        f"triangulated SpinePose 2D detections as confidence-weighted pseudo-markers{rays}"
        if config.detections
        else "no 2D detections (the spine follows Human3.6M's trunk joints)"
    )
    weights = (
        "weighted by their measured noise (1 / variance)"
        if ik.weights == "measured"
        else "with the configured weights"
    )
    rounds = ik.acceleration_rounds
    em = f", re-estimated {rounds}x from the joint solution (expectation-maximisation)" if rounds else ""
    temporal = (
        f", then all frames jointly with an acceleration penalty set from the data{em} (temporal IK)"
        if ik.temporal and not config.model
        else ", frame by frame"
    )
    return (
        f"Human3.6M mocap (world mm) -> per-subject scaling of {_model_text(config)} -> inverse kinematics "
        f"per sequence with {solver} on the mocap joints and {detections}, "
        f'{weights}{temporal} -> virtual vertebra markers and the merge rules (column "value from" '
        f"below) -> {_filter_text(config.simulation.filter)} -> per-camera views." + _definition_text(config)
    )


# A build's labels against the other model's truth of the same motion (noise-free mocap, with
# detections): mean distance per region (mm) and total lumbar flexion RMS (deg), per build model.
# benchmarks/bench_models.py (S5, seed 21, 4 actions x 2 takes of 4 s), docs/benchmarks.md
CROSS_MODEL = {
    "ours": {"spine-15": 7.37, "lumbar": 12.02, "thoracic": 6.45, "cervical": 8.94, "lumbar flexion": 29.2},
    "simspine": {
        "spine-15": 9.34,
        "lumbar": 11.96,
        "thoracic": 9.81,
        "cervical": 11.35,
        "lumbar flexion": 40.6,
    },
}


def _is_simspines(config: BuildConfig) -> bool:
    """Built with SIMSPINE's own model (``--model simspine`` or an ``.osim`` with its markers)."""
    model = config.model or ""
    return model == "simspine" or model.endswith(".osim")


def _model_text(config: BuildConfig) -> str:
    if _is_simspines(config):
        return (
            "SIMSPINE's own OpenSim model (`--model simspine`: Pose2Sim's full-body model with five lumbar "
            "bodies and a rigid thoracic and cervical torso, SIMSPINE's 33 markers; the paper's keypoint "
            "definition)"
        )
    if config.model:
        return "the user's OpenSim model (`--model`)"
    return f"our OpenSim spine model (`{config.simulation.ik.spine}` spine)"


def _definition_text(config: BuildConfig) -> str:
    """Which model defines the keypoints, and how far the other definition lies."""
    if config.model and not _is_simspines(config):
        return ""
    ours = not config.model
    c = CROSS_MODEL["ours" if ours else "simspine"]
    return (
        f" The keypoints are {'our model' if ours else 'SIMSPINE'}'s definition of the vertebrae, not "
        f"{'SIMSPINE' if ours else 'our model'}'s (`--model {'simspine' if ours else 'default'}`): on a "
        f"synthetic motion whose truth is the other model, these labels lie {c['spine-15']:.1f} mm from "
        f"it on average over the spine-15 keypoints (lumbar {c['lumbar']:.1f}, thoracic "
        f"{c['thoracic']:.1f}, cervical {c['cervical']:.1f} mm; total lumbar flexion "
        f"{c['lumbar flexion']:.0f} deg RMS; `benchmarks/bench_models.py`): compare labels of one "
        "definition only."
    )


def _filter_text(f: FilterConfig) -> str:
    """The filter step as the card states it."""
    if f.space == "none":
        return "no filter"
    how = (
        f"zero-phase Butterworth low-pass ({f.cutoff_hz} Hz, effective order {f.order})"
        if f.method == "butterworth"
        else "an adaptive smoother (strength per signal from its measured noise and motion)"
    )
    if f.space == "keypoints":
        return f"{how} on each of the 37 keypoints"
    return (
        f"{how} on the model's coordinates (model-derived keypoints follow by forward kinematics) "
        "and on the mocap and triangulated points"
    )


def _filter_limitation(f: FilterConfig) -> str:
    if f.space == "keypoints":
        return (
            "- The filter smooths each keypoint independently: distances that are rigid in the model "
            "vary by up to ~14 mm during fast movements."
        )
    return (
        "- Keypoints on one rigid model segment keep their distances (checked by `simspine validate`); "
        "the mocap joints are measured points and their bone lengths vary with the measurement."
    )


def _quality(out: Path, report: BuildRecord) -> str:
    """The distribution of the label-quality columns over every row of the default config."""
    import pyarrow.parquet as pq

    from simspine_dataset.commands.validate import median_p95

    columns = ["ik_residual_mocap_mm", "ik_residual_detections_mm", "keypoints_uncertainty_mm"]
    shards = [p for paths in build_shards(out, report).values() for p in paths]
    if not shards:
        return "No rows."
    if not set(columns) <= set(pq.read_schema(shards[0]).names):  # damaged: validate's schema check fails
        return "The shards lack the label-quality columns (`simspine validate` fails their schema)."
    parts = [pq.read_table(p, columns=columns) for p in shards]
    values = {name: np.concatenate([t[name].to_numpy() for t in parts]).astype(float) for name in columns[:2]}
    uncertainty = np.concatenate(  # fixed-size lists: flattened, not row by row
        [t["keypoints_uncertainty_mm"].combine_chunks().flatten().to_numpy() for t in parts]
    ).reshape(-1, sk.NUM_KEYPOINTS)
    values["keypoints_uncertainty_mm, spine-15 mean"] = uncertainty[:, list(sk.SPINE_SUBSET)].mean(1)
    lines = ["| column | median (mm) | 95th percentile (mm) | rows with a value |", "|---|---:|---:|---:|"]
    for name, column in values.items():
        count = int(np.isfinite(column).sum())
        if count:
            lines.append("| {} | {:.2f} | {:.2f} | {:,} |".format(name, *median_p95(column), count))
        else:
            lines.append(f"| {name} | - | - | 0 |")
    return "\n".join(lines)


def _settings(report: BuildRecord) -> str:
    """The settings actually used, as a short list (all of them: ``build_report.json``)."""
    config = report.config
    simulation = asdict(config.simulation)
    ik = simulation["ik"]
    lines = [
        f"- model spine: `{ik['spine']}`, IK solver `{ik['solver']}`",
        f"- merge rules: `{json.dumps(simulation['merge'])}`",
        f"- inverse kinematics: `{json.dumps({k: v for k, v in ik.items() if not k.endswith('_weights')})}`",
        f"- filter: `{json.dumps(simulation['filter'])}`",
        f"- 2D detections as IK pseudo-markers: {_detections_text(report)}",
        f"- frames: `{json.dumps(asdict(config.frames))}`; release: `{config.release}`",
        f"- versions: {', '.join(f'{k} {v}' for k, v in report.versions.items())}",
    ]
    return "\n".join(lines)


def _stills_table(images: list[tuple[str, str]], per_row: int = 5) -> str:
    """The stills as a Markdown table of images, ``per_row`` to a row."""
    if not images:
        return "No rows were built."
    cells = [f"![{action}]({path})" for action, path in images]
    rows = [cells[i : i + per_row] for i in range(0, len(cells), per_row)]
    width = min(per_row, len(cells))
    lines = ["| " + " | ".join([""] * width) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(row + [""] * (width - len(row))) + " |" for row in rows]
    return "\n".join(lines)


def _detections_text(report: BuildRecord) -> str:
    """Whether detections were used, which sequences' cameras had none, and who made them (the
    model, its precision and, at int8, its measured agreement with float32)."""
    if not report.config.detections:
        return "no"
    missing = (report.detections or {}).get("sequences_without_detections", {})
    made_by = "".join(f"; {_maker_text(m)}" for m in (report.detections or {}).get("made_by", []))
    if not missing:
        return f"yes, for every sequence and camera{made_by}"
    listed = "; ".join(f"{key} ({', '.join(cameras)})" for key, cameras in missing.items())
    return f"yes, except these sequences' cameras, which had none: {listed}{made_by}"


def _maker_text(maker: dict) -> str:
    """One model's share of the detections, e.g. "48 videos by `spinepose-m-v2-int8:...` at int8
    (against fp32 on 64 held-out crops of the capture: median 0.50, 95th percentile 1.41 input px)"."""
    videos = f"{maker['videos']} video{'s' if maker['videos'] != 1 else ''}"
    if maker["model"] is None:
        return f"{videos} by another program than simspine detect (no marker: model and precision unknown)"
    text = f"{videos} by `{maker['model']}` at {maker['precision']}"
    agreed = maker.get("agreement")
    if maker["precision"] == "int8" and agreed:
        worst = agreed["worst_keypoint"]
        beyond = "; accepted beyond its gate" if not agreed.get("passed", True) else ""
        text += (
            f" (against fp32 on {agreed['crops']} held-out crops of the capture: median "
            f"{agreed['crop_px']['median']:.2f}, 95th percentile {agreed['crop_px']['p95']:.2f} input px; "
            f"worst keypoint {worst['name']} {worst['p95_crop_px']:.2f}, "
            f"gate {agreed['max_p95_crop_px']:g}{beyond})"
        )
    return text


def write_card(out: str | Path) -> Path:
    """(Re)render ``OUT/README.md`` and its figures from the build folder (``render_card``)."""
    return write_text_atomic(Path(out) / "README.md", render_card(out, figures=True))


def render_card(out: str | Path, location: str | None = None, figures: bool = False) -> str:
    """The card of a build folder; ``location`` is what ``load_dataset`` is given in its "how to
    load" (default: the folder's path; ``publish`` gives the repo id); ``figures``: (re)draw the
    figures it shows (else those in ``figures/`` are named)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from simspine_dataset.record import read_record

    out = Path(out)
    report = read_record(out)
    location = location or out.resolve().as_posix()
    frames = bool(build_shards(out, report, "frames"))
    data = DatasetCardData(
        license="other",
        license_name="human36m-and-simspine-terms",
        task_categories=["keypoint-detection"],
        tags=["human-pose-estimation", "3d-pose-estimation", "spine", "biomechanics", "opensim", "human3.6m"],
        size_categories=[_size_category(sum(report.rows.values()))],
        configs=_configs(out, report),
        dataset_info=_dataset_info(out, report),
        pretty_name="SIMSPINE-style 3D spine keypoints",
    )
    template = resources.files("simspine_dataset").joinpath("data/card_template.md").read_text()
    from simspine_dataset.commands.figures import stills, validity

    card = DatasetCard.from_template(
        data,
        template_str=template,
        config_hash=report.config_hash,
        validity=validity(out, report, plot=figures),
        stills=_stills_table(stills(out, report, plot=figures)),
        settings=_settings(report),
        pipeline=_pipeline(report),
        quality=_quality(out, report),
        filter_limitation=_filter_limitation(report.config.simulation.filter),
        location=location,
        frames_loading=f'\nThe `frames` config: `load_dataset("{location}", "frames")`.\n' if frames else "",
        **_tables(report),
    )
    return str(card)
