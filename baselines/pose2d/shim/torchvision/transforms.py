"""``ToPILImage`` as torchvision defines it for the inputs mmpose gives it (C x H x W tensors)."""

from __future__ import annotations

import numpy as np


class ToPILImage:
    """Tensor (C, H, W) or array (H, W, C) -> PIL image; float inputs in [0, 1] are scaled to 255."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic):
        from PIL import Image

        if hasattr(pic, "detach"):  # a torch tensor: C x H x W
            array = pic.detach().cpu().numpy()
            array = array[None] if array.ndim == 2 else array
            array = np.transpose(array, (1, 2, 0))
        else:
            array = np.asarray(pic)
            array = array[..., None] if array.ndim == 2 else array
        if np.issubdtype(array.dtype, np.floating):
            array = (array * 255).clip(0, 255).astype(np.uint8)  # torchvision: mul(255).byte()
        if array.shape[-1] == 1:
            array = array[..., 0]
        return Image.fromarray(array, mode=self.mode)
