"""The simple-baseline lifting network (Martinez et al., ICCV 2017) with its normalisation inside.

``ResidualMLP``: Linear -> BatchNorm -> ReLU -> Dropout, then ``blocks`` residual blocks of two such
layers, then a Linear to the output. ``Lifter`` wraps it with the training split's standardisation
statistics as buffers, so a checkpoint's state dict carries them and ``Lifter`` maps normalised 2D
(N, K, 2) straight to root-relative millimetres (N, K, 3), root included (always 0).
"""

from __future__ import annotations

import torch
from torch import nn


def _layer(width: int, dropout: float) -> list[nn.Module]:
    return [nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)]


class ResidualBlock(nn.Module):
    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(*_layer(width, dropout), *_layer(width, dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class ResidualMLP(nn.Module):
    def __init__(
        self, in_features: int, out_features: int, width: int = 1024, blocks: int = 2, dropout: float = 0.5
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)
        )
        self.blocks = nn.Sequential(*(ResidualBlock(width, dropout) for _ in range(blocks)))
        self.head = nn.Linear(width, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


class Lifter(nn.Module):
    """Normalised 2D (N, K, 2), NaN where missing -> root-relative 3D mm (N, K, 3).

    Keypoint 0 of the set is the root (Hip in both sets): the network predicts the other K - 1."""

    def __init__(self, num_keypoints: int, width: int = 1024, blocks: int = 2, dropout: float = 0.5) -> None:
        super().__init__()
        self.num_keypoints = num_keypoints
        n_in, n_out = num_keypoints * 2, (num_keypoints - 1) * 3
        self.net = ResidualMLP(n_in, n_out, width, blocks, dropout)
        for name, size in (("in_mean", n_in), ("in_std", n_in), ("out_mean", n_out), ("out_std", n_out)):
            self.register_buffer(name, torch.zeros(size) if "mean" in name else torch.ones(size))

    def set_statistics(self, inputs: torch.Tensor, targets: torch.Tensor) -> None:
        """Standardisation statistics from training inputs (N, K, 2) and targets (N, K, 3)."""
        x, y = inputs.flatten(1), targets[:, 1:].flatten(1)
        finite = torch.isfinite(x)
        count = finite.sum(0).clamp(min=1)
        mean = torch.where(finite, x, 0).sum(0) / count
        var = torch.where(finite, (x - mean) ** 2, 0).sum(0) / count
        self.in_mean.copy_(mean)
        self.in_std.copy_(var.sqrt().clamp(min=1e-6))
        self.out_mean.copy_(y.mean(0))
        self.out_std.copy_(y.std(0).clamp(min=1e-6))

    def normalise_input(self, inputs: torch.Tensor) -> torch.Tensor:
        x = (inputs.flatten(1) - self.in_mean) / self.in_std
        return torch.nan_to_num(x, nan=0.0)

    def normalise_target(self, targets: torch.Tensor) -> torch.Tensor:
        return (targets[:, 1:].flatten(1) - self.out_mean) / self.out_std

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Standardised network output (N, (K - 1) * 3): what the loss compares."""
        return self.net(self.normalise_input(inputs))

    def predict_mm(self, inputs: torch.Tensor) -> torch.Tensor:
        """Root-relative millimetres (N, K, 3), root row 0."""
        y = self(inputs) * self.out_std + self.out_mean
        root = torch.zeros(len(y), 1, 3, dtype=y.dtype, device=y.device)
        return torch.cat([root, y.view(len(y), self.num_keypoints - 1, 3)], dim=1)
