"""``torchvision.ops``: only the ``boxes`` module that mmpretrain imports at import time."""
