"""The card's figures (matplotlib, Agg): the biomechanical-validity section (per-action curvature
and lumbar range of motion from a build's ``kinematics``, a Markdown table and two figures), and one
still per action of what the labels look like (``stills``: the spine drawn over a frame where the
build has a ``frames`` config, else the keypoints in 3D).

Each mocap frame counts once (the rows of one camera). Angles are the definitions of
``biomech.curvature`` computed from the published coordinates with our model's kinematics; lumbar
range of motion is per sequence, averaged over an action's sequences.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from simspine_dataset.biomech.model_table import LUMBAR_LEVELS

if TYPE_CHECKING:
    from simspine_dataset.record import BuildRecord

FIGURES = ("figures/curvature_by_action.png", "figures/lumbar_rom_by_action.png")
COLUMNS = ("subject", "action", "subaction", "camera", "kinematics")


def sequence_coordinates(
    out: Path, report: BuildRecord
) -> tuple[list[tuple[str, np.ndarray, tuple[str, ...]]], str]:
    """(action, coordinates in table units, names) per sequence of the ``default`` config, and the
    model's spine variant."""
    import datasets  # noqa: F401 - registers Array2D before reading
    import pyarrow.parquet as pq

    from simspine_dataset.geometry.transforms import axes_is_translation, coordinates_from_published
    from simspine_dataset.stages.shards import build_shards

    axes = json.loads((out / "meta" / "kinematic_axes.json").read_text())
    names = tuple(a["name"] for a in axes)
    is_translation = axes_is_translation(axes)
    shards = [p for paths in build_shards(out, report).values() for p in paths]
    if not shards:
        return [], report.config.simulation.ik.spine
    camera = pq.read_table(shards[0], columns=["camera"]).column("camera")[0].as_py()
    table = pq.ParquetDataset(shards, filters=[("camera", "==", camera)]).read(columns=list(COLUMNS))
    subject, action = table.column("subject").to_numpy(), table.column("action").to_numpy()
    subaction = table.column("subaction").to_numpy()
    kinematics = np.stack(table.column("kinematics").to_numpy(zero_copy_only=False)).astype(float)
    keys = np.char.add(np.char.add(subject.astype(str), action.astype(str)), subaction.astype(str))
    sequences = []
    for key in dict.fromkeys(keys.tolist()):  # first-seen order
        rows = keys == key
        coordinates = coordinates_from_published(kinematics[rows], is_translation)
        sequences.append((str(action[rows][0]), coordinates, names))
    return sequences, report.config.simulation.ik.spine


def validity(out: str | Path, report: BuildRecord, plot: bool = True) -> str:
    """Write the figures into ``out/figures`` (unless not ``plot``) and return the Markdown table
    (empty build: a note); ``report``: the build's report, which names its shards."""
    from simspine_dataset.biomech.curvature import ADULT_STANDING_DEG, curvature_angles, summarize_by_action
    from simspine_dataset.biomech.kinematics import KinematicModel
    from simspine_dataset.biomech.model_table import model_spec

    out = Path(out)
    sequences, spine = sequence_coordinates(out, report)
    if not sequences:
        return "No rows were built."
    model = KinematicModel(model_spec(spine))
    if tuple(sequences[0][2]) != model.coordinate_names:
        return (
            "Not computed: the curvature definitions are our model's; this build's kinematics are "
            "another model's (a user-supplied one, or the release's), or there are none."
        )
    summary = summarize_by_action(model, sequences)
    per_frame: dict[str, dict[str, list[np.ndarray]]] = {}
    for action, coordinates, _ in sequences:
        for name, values in curvature_angles(model, coordinates).items():
            per_frame.setdefault(action, {}).setdefault(name, []).append(values)
    if plot:
        _plot(out, summary, per_frame, ADULT_STANDING_DEG)
    levels = " | ".join(f"ROM {level}" for level in LUMBAR_LEVELS)
    lines = [
        f"| action | lordosis | kyphosis | {levels} | neck bending range |",
        "|---|" + "---:|" * (3 + len(LUMBAR_LEVELS)),
    ]
    for action, row in summary.items():
        rom = " | ".join(f"{row[f'rom_{level}_deg']:.1f}" for level in LUMBAR_LEVELS)
        lines.append(
            f"| {action} | {row['lordosis_deg']:.1f} | {row['kyphosis_deg']:.1f} | {rom} | "
            f"{row['neck_bending_range_deg']:.1f} |"
        )
    return "\n".join(lines)


def _plot(out: Path, summary: dict, per_frame: dict, adult: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simspine_dataset.io.atomic import atomic_path

    actions = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, name, title in zip(
        axes, ("lordosis_deg", "kyphosis_deg"), ("Lumbar lordosis", "Thoracic kyphosis"), strict=True
    ):
        data = [np.concatenate(per_frame[a][name]) for a in actions]
        ax.boxplot(data, vert=False, showfliers=False)
        ax.set_yticks(range(1, len(actions) + 1), actions)
        ax.axvspan(*adult[name], color="tab:green", alpha=0.15, label="adult standing range")
        ax.set_title(title)
        ax.set_xlabel("deg")
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    with atomic_path(out / FIGURES[0]) as tmp:
        fig.savefig(tmp, dpi=110, metadata={"Software": None})
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    left = np.zeros(len(actions))
    for level in LUMBAR_LEVELS:
        values = np.array([summary[a][f"rom_{level}_deg"] for a in actions])
        ax.barh(actions, values, left=left, label=level)
        left += values
    ax.set_xlabel("flexion-extension range of motion per sequence (deg)")
    ax.set_title("Lumbar segmental range of motion")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out / FIGURES[1]) as tmp:
        fig.savefig(tmp, dpi=110, metadata={"Software": None})
    plt.close(fig)


STILL = "figures/still_{action}.png"
STILL_COLUMNS = ("subject", "action", "subaction", "frame", "camera", "keypoints_2d_px", "keypoints_visible",
                 "keypoints_3d_world_mm")  # fmt: skip


def stills(out: str | Path, report: BuildRecord, plot: bool = True) -> list[tuple[str, str]]:
    """One still per action (the first built sequence of it, its middle frame, the first camera):
    written to ``figures/still_<action>.png`` (unless not ``plot``: those already there); returns
    (action, path) in action order."""
    import pyarrow.dataset as pads

    from simspine_dataset.stages.shards import build_shards

    out = Path(out)
    built = report.built
    if not plot:
        actions = sorted({e["action"] for e in built})
        return [(a, STILL.format(action=a)) for a in actions if (out / STILL.format(action=a)).is_file()]
    frames_shards = [p for ps in build_shards(out, report, "frames").values() for p in ps]
    shards = frames_shards or [p for ps in build_shards(out, report).values() for p in ps]
    if not shards:
        return []
    table = pads.dataset([str(p) for p in shards], format="parquet")
    written = []
    for action in sorted({e["action"] for e in built}):
        entry = next(e for e in built if e["action"] == action)
        where = ((pads.field("subject") == entry["subject"]) & (pads.field("action") == action)
                 & (pads.field("subaction") == int(entry["subaction"])))  # fmt: skip
        columns = [*STILL_COLUMNS, *(("image", "crop_xywh_px") if frames_shards else ())]
        rows = table.to_table(columns=columns, filter=where).to_pylist()
        camera = min(r["camera"] for r in rows)
        mine = sorted((r for r in rows if r["camera"] == camera), key=lambda r: r["frame"])
        row = mine[len(mine) // 2]
        path = out / STILL.format(action=action)
        where_from = f"{entry['subject']} {entry['sequence']}, frame {row['frame']}, camera {camera}"
        _still(path, row, f"{action}: {where_from}")
        written.append((action, path.relative_to(out).as_posix()))
    return written


def _still(path: Path, row: dict, title: str) -> None:
    """The 37 keypoints of one row with the skeleton's edges, spine regions coloured: over its image
    (mapped into the crop) when it has one, else in 3D."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simspine_dataset import skeleton as sk
    from simspine_dataset.io.atomic import atomic_path

    colors = sk.display_colors() / 255.0
    if row.get("image"):
        from PIL import Image

        image = Image.open(io.BytesIO(row["image"]["bytes"]))
        x, y, w, h = row["crop_xywh_px"]
        points = (np.array(row["keypoints_2d_px"], float) - [x, y]) * np.array(image.size) / [w, h]
        fig, ax = plt.subplots(figsize=(3.2, 3.4))
        ax.imshow(image)
        ax.set_axis_off()
    else:
        points = np.array(row["keypoints_3d_world_mm"], float)
        fig = plt.figure(figsize=(3.2, 3.4))
        ax = fig.add_subplot(projection="3d")
        ax.view_init(elev=10, azim=-60)
        ax.set_box_aspect(np.ptp(points, axis=0) + 1)
        ax.set_axis_off()
    visible = np.array(row["keypoints_visible"], bool) if row.get("image") else np.isfinite(points).all(-1)
    for a, b in sk.BONES:
        if visible[a] and visible[b]:
            ax.plot(*points[[a, b]].T, color=colors[b], linewidth=1.5)
    ax.scatter(*points[visible].T, c=colors[visible], s=8)
    ax.set_title(title, fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, metadata={"Software": None})
    plt.close(fig)
