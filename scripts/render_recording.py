"""A picture of one frame of a ``simspine view`` recording, rendered from the recording itself (read
back with Rerun's ``RrdReader``, drawn with matplotlib): the 3D keypoints with the cameras' centres,
each camera's crop with its 2D keypoints, and the lumbar flexion over time. For the README, on
machines without a display for the viewer.

    python scripts/render_recording.py RECORDING.rrd OUT.png [--frame 50] [--root build]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np


def read_back(path: Path) -> dict[str, dict[str, list]]:
    """Entity path -> column name -> values, one per logged row."""
    import rerun.chunk

    entities: dict[str, dict[str, list]] = {}
    for chunk in rerun.chunk.RrdReader(path).stream():
        batch = chunk.to_record_batch()
        columns = entities.setdefault(chunk.entity_path, {})
        for name in batch.schema.names:
            columns.setdefault(name, []).extend(batch.column(name).to_pylist())
    return entities


def at(columns: dict[str, list], frame: int, name: str) -> object:
    """The value of ``name`` logged at ``frame`` (or the latest before it)."""
    frames = np.asarray(columns["frame"])
    index = int(np.flatnonzero(frames <= frame)[-1])
    return columns[name][index]


def render(recording: Path, picture: Path, frame: int, root: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    from simspine_dataset import skeleton as sk

    logged = read_back(recording)
    colors = sk.display_colors() / 255.0
    cameras = sorted(
        p.rsplit("/", 1)[-1] for p in logged if p.startswith(f"/{root}/crops/") and p.count("/") == 3
    )
    fig = plt.figure(figsize=(12, 4.6))
    grid = fig.add_gridspec(2, 2 + len(cameras) // 2, width_ratios=[1.6, 1.6, *[1] * (len(cameras) // 2)])
    ax = fig.add_subplot(grid[:, 0], projection="3d")
    points = np.array(at(logged[f"/{root}/world/keypoints"], frame, "Points3D:positions"))
    for a, b in sk.BONES:
        ax.plot(*points[[a, b]].T, color=colors[b], linewidth=2)
    ax.scatter(*points.T, c=colors, s=10)
    for camera in cameras:
        pose = logged[f"/{root}/world/cameras/{camera}"]
        rotation = np.reshape(pose["Transform3D:mat3x3"][0], (3, 3)).T
        centre = -rotation.T @ np.ravel(pose["Transform3D:translation"][0])
        ax.scatter(*centre, marker="^", color="black", s=30)
        ax.text(*centre, camera, fontsize=6)
    ax.set_title(f"{root}/world/keypoints, frame {frame}", fontsize=8)
    ax.set_box_aspect((1, 1, 0.6))
    ax.tick_params(labelsize=5)
    for i, camera in enumerate(cameras):
        crop = logged[f"/{root}/crops/{camera}"]
        image = Image.open(io.BytesIO(bytes(at(crop, frame, "EncodedImage:blob")[0])))
        keypoints = logged[f"/{root}/crops/{camera}/keypoints"]
        xy = np.array(at(keypoints, frame, "Points2D:positions"))
        ids = np.array(at(keypoints, frame, "Points2D:keypoint_ids"))
        sub = fig.add_subplot(grid[i % 2, 2 + i // 2])
        sub.imshow(image)
        sub.scatter(xy[:, 0], xy[:, 1], c=colors[ids], s=6)
        sub.set_title(f"crops/{camera}", fontsize=7)
        sub.set_axis_off()
    series = logged[f"/{root}/series/kinematics/L5_S1_Flex_Ext"]
    plot = fig.add_subplot(grid[:, 1])
    plot.plot(series["frame"], series["Scalars:scalars"], color=colors[sk.INDEX["Spine_01"]])
    plot.axvline(frame, color="black", linewidth=0.8)
    plot.set_title("series/kinematics/L5_S1_Flex_Ext (deg)", fontsize=8)
    plot.set_xlabel("frame (50 Hz)", fontsize=7)
    plot.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(picture, dpi=90, metadata={"Software": None})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path)
    parser.add_argument("picture", type=Path)
    parser.add_argument("--frame", type=int, default=50)
    parser.add_argument("--root", default="build")
    args = parser.parse_args()
    render(args.recording, args.picture, args.frame, args.root)


if __name__ == "__main__":
    main()
