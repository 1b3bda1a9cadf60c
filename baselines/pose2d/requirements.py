"""Print the runtime requirements of the mmpose stack, read from the installed packages' own metadata.

mmengine, mmcv, mmdet, mmpose, mmpretrain and xtcocotools are installed ``--no-deps`` (see install.sh); their
declared requirements, minus the three we deliberately replace, are then installed from this list, so
a new release of any of them that adds a requirement is followed without editing a hand-kept list.
Usage: ``python baselines/pose2d/requirements.py | xargs pip install``.
"""

from importlib.metadata import requires

from packaging.requirements import Requirement

STACK = ("mmengine", "mmcv", "mmdet", "mmpose", "mmpretrain", "xtcocotools")
REPLACED = {
    "chumpy": "only for SMPL models; does not build on numpy 2",
    "opencv-python": "would shadow opencv-python-headless, which simspine uses",
    "torchvision": "no CPU build for torch 2.13; shim/ provides the one class mmpose imports",
}


def runtime_requirements(stack: tuple[str, ...] = STACK) -> list[str]:
    """Requirements without extras whose environment markers hold here, minus REPLACED and the stack."""
    wanted = {}
    for dist in stack:
        for line in requires(dist) or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            name = req.name.lower().replace("_", "-")
            if name not in REPLACED and name not in stack:
                wanted.setdefault(name, str(req))
    return sorted(wanted.values())


if __name__ == "__main__":
    print("\n".join(runtime_requirements()))
