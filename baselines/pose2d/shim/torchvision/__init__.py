"""A shim, not torchvision: see baselines/pose2d/shim/pyproject.toml for why it exists."""

__version__ = "0.0.0+simspine.shim"
