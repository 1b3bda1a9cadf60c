"""Names mmpretrain imports at import time, for its visual-grounding metric and DETR-style box utils.

Neither is reached by a pose model (ViTPose uses mmpretrain's VisionTransformer backbone only), so
they are not reimplemented: calling one says so instead of returning a wrong answer.
"""


def _unavailable(name: str):
    def call(*args, **kwargs):
        raise NotImplementedError(
            f"torchvision.ops.boxes.{name} is not provided by the simspine torchvision shim "
            "(baselines/pose2d/shim); install a real torchvision to use it"
        )

    call.__name__ = name
    return call


box_area = _unavailable("box_area")
box_iou = _unavailable("box_iou")
generalized_box_iou = _unavailable("generalized_box_iou")
_upcast = _unavailable("_upcast")
