"""mmpose dataset metadata (``dataset_info``) generated from the skeleton table, never by hand."""

from __future__ import annotations

from pathlib import Path

from simspine_dataset import skeleton as sk

_COLORS = {"spine": [255, 128, 0], "left": [0, 255, 0], "right": [51, 153, 255], "centre": [255, 255, 255]}


def _side(name: str) -> str:
    if sk.KEYPOINTS[sk.INDEX[name]].spine_centric and name[0] not in "LR":
        return "spine"
    return {"L": "left", "R": "right"}.get(name[0], "centre")


def dataset_info() -> dict:
    """The dict mmpose's ``parse_pose_metainfo`` reads: keypoints (name, swap, type, colour),
    skeleton links (the parent bones), joint weights and the OKS sigmas."""
    keypoints = {
        i: {
            "name": k.name,
            "id": i,
            "color": _COLORS[_side(k.name)],
            "type": "upper" if i in sk.UPPER_BODY else "lower",
            "swap": sk.NAMES[sk.FLIP_INDEX[i]] if sk.FLIP_INDEX[i] != i else "",
        }
        for i, k in enumerate(sk.KEYPOINTS)
    }
    links = {
        j: {"link": (sk.NAMES[p], sk.NAMES[c]), "id": j, "color": _COLORS[_side(sk.NAMES[c])]}
        for j, (p, c) in enumerate(sk.BONES)
    }
    return {
        "dataset_name": "simspine",
        "paper_info": {"title": "SIMSPINE (CVPR 2026)", "container": "simspine-dataset"},
        "keypoint_info": keypoints,
        "skeleton_info": links,
        "joint_weights": [1.0] * sk.NUM_KEYPOINTS,
        "sigmas": list(sk.SIGMAS),
    }


def write_metainfo(path: str | Path) -> Path:
    """A Python file defining ``dataset_info``, for configs' ``metainfo=dict(from_file=...)``."""
    from simspine_dataset.io.atomic import write_text_atomic

    text = "# generated from simspine_dataset.skeleton by baselines.pose2d.metainfo; do not edit\n"
    return write_text_atomic(path, text + f"dataset_info = {dataset_info()!r}\n")
