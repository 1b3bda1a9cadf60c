"""A stand-in, not torchvision: see baselines/pose2d/__init__.py for why it exists and how it is found."""

__version__ = "0.0.0+simspine.shim"
